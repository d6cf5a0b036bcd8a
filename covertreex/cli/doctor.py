"""``covertreex doctor``: what this installation is running on."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version

import numba
import numpy as np
import psutil
from rich.table import Table

from covertreex.cli.common import new_console
from covertreex.queries.jax_dense import devices as jax_devices

# (import name, distribution, what needs it)
OPTIONAL = (
    ("scipy", "scipy", "bench peers (cKDTree)"),
    ("sklearn", "scikit-learn", "bench peers (KDTree, BallTree)"),
    ("mlpack", "mlpack", "bench peers (cover tree, kd-tree)"),
    ("faiss", "faiss-cpu", "bench peer (exact flat index)"),
    ("hnswlib", "chroma-hnswlib", "bench peer (HNSW, approximate)"),
    ("gpboost", "gpboost", "bench peers (Vecchia / VIF)"),
    ("jax", "jax", "query_engine='jax' (the dense residual screen in JAX, CPU or GPU)"),
    ("pandas", "pandas", "telemetry loading, parquet"),
    ("pyarrow", "pyarrow", "parquet files"),
    ("plotly", "plotly", "breakdown / scaling reports"),
    ("pytest", "pytest", "tests"),
    ("hypothesis", "hypothesis", "property tests"),
)


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _threading_layer() -> str:
    """Numba's threading layer (a tiny parallel kernel runs first so that it is chosen)."""
    from covertreex.api.tree import CoverTree

    CoverTree().fit(np.random.default_rng(0).standard_normal((64, 2))).knn(k=1)
    try:
        return numba.threading_layer()
    except ValueError:
        return "unset"


def doctor() -> None:
    """Versions, Numba threading layer and thread count, and which optional extras are installed."""
    import covertreex

    console = new_console()
    info = Table(title="covertreex doctor", show_header=False)
    info.add_column("item")
    info.add_column("value")
    rows = [
        ("covertreex", covertreex.__version__),
        ("python", platform.python_version()),
        ("platform", platform.platform()),
        ("numpy", np.__version__),
        ("numba", numba.__version__),
        ("numba threading layer", _threading_layer()),
        ("numba threads (current / started with)", f"{numba.get_num_threads()} / {numba.config.NUMBA_NUM_THREADS}"),
        ("CPU cores (logical / physical)", f"{os.cpu_count()} / {psutil.cpu_count(logical=False)}"),
        ("memory", f"{psutil.virtual_memory().total / 2**30:.1f} GiB"),
        ("numba cache dir", numba.config.CACHE_DIR or "(beside the sources)"),
        ("JAX devices", ", ".join(jax_devices()) or "(JAX not installed)"),
    ]
    for row in rows:
        info.add_row(*row)
    console.print(info)
    extras = Table(title="optional packages")
    for col in ("package", "version", "used for"):
        extras.add_column(col)
    for _, dist, use in OPTIONAL:
        v = _version(dist)
        extras.add_row(dist, v or "[red]missing[/red]", use)
    console.print(extras)
