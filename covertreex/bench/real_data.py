"""Points for a benchmark from a ``covertreex.data`` set or a point file (``--data NAME|FILE``)."""

from __future__ import annotations

import numpy as np

from covertreex.data import DATASETS, load
from covertreex.io import read_points
from covertreex.validation import as_points


def benchmark_data(source: str, n: int | None, seed: int) -> np.ndarray:
    """float64 points of the data set named ``source`` (its seeded order) or of the file ``source``;
    the first ``n`` rows when ``n`` is given."""
    if source in DATASETS:
        return load(source, n, seed)
    if not source.endswith((".npy", ".csv", ".parquet")):
        raise ValueError(f"--data must name a data set ({', '.join(DATASETS)}) or a .npy/.csv/.parquet file, "
                         f"got {source!r}")
    X = as_points(read_points(source, "--data"), "--data", np.float64)
    if n is not None:
        if n > X.shape[0]:
            raise ValueError(f"--n {n:,} exceeds the {X.shape[0]:,} points of {source}")
        X = X[:n]
    return X
