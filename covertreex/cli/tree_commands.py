"""``covertreex build`` and ``covertreex query``: a tree from a point file, neighbours to a file."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from covertreex.cli.tables import Sheet
from covertreex.api.persist import load_tree, save_tree
from covertreex.api.tree import CoverTree
from covertreex.queries.types import KnnResult
from covertreex.reference.brute_force import brute_force_knn
from covertreex.bench.euclidean import check_euclidean
from covertreex.cli.common import ThreadsOption, new_console, progress_points
from covertreex.io import POINT_SUFFIXES, check_output, read_points, write_neighbours
from covertreex.runtime.config import Runtime
from covertreex.telemetry.events import emit_query
from covertreex.telemetry.writer import TelemetryWriter

TelemetryOption = Annotated[Path | None, typer.Option(help="Append JSONL telemetry events to this file.")]
PrecisionOption = Annotated[str | None, typer.Option(help="float64 or float32 storage (default: Runtime's).")]


def _runtime(precision: str | None, threads: int | None, seed: int | None = None) -> Runtime:
    changes = {k: v for k, v in (("precision", precision), ("threads", threads), ("seed", seed)) if v is not None}
    return Runtime.from_env().with_updates(**changes)


def _writer(path: Path | None, runtime: Runtime):
    return None if path is None else TelemetryWriter(path, runtime)


def build(
    data: Annotated[Path, typer.Argument(help=f"Points, one row each ({', '.join(POINT_SUFFIXES)}).")],
    out: Annotated[Path, typer.Option(help="Where to save the tree (.npz).")],
    precision: PrecisionOption = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Runtime seed (batch order).")] = None,
    threads: ThreadsOption = None,
    telemetry: TelemetryOption = None,
) -> None:
    """Build a Euclidean cover tree over a point file and save it (.npz) for ``covertreex query``."""
    try:
        if out.suffix != ".npz":
            raise ValueError(f"--out must end in .npz, got {str(out)!r}")
        runtime = _runtime(precision, threads, seed).with_updates(query_engine="tree")  # the tree is what is saved
        X = read_points(data, "DATA")
        writer = _writer(telemetry, runtime)
        start = time.perf_counter()
        with progress_points(new_console(), f"building over {data.name}") as progress:
            tree = CoverTree(runtime).fit(X, telemetry=writer, progress=progress)
        seconds = time.perf_counter() - start
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    if writer is not None:
        writer.close()
    save_tree(tree, out)
    table = Sheet(f"built {data.name}", ["points", "dimension", "rounds", "seconds", "saved to"])
    table.add(f"{tree.num_points:,}", str(tree.dimension), str(len(tree.build_stats)), f"{seconds:.3f}", str(out))
    table.print(new_console())


def _load(source: Path, runtime: Runtime, writer) -> CoverTree:
    if source.suffix == ".npz":
        tree = load_tree(source)
        return CoverTree(tree.runtime.with_updates(threads=runtime.threads), _tree=tree.arrays)
    return CoverTree(runtime).fit(read_points(source, "SOURCE"), telemetry=writer)


def query(
    source: Annotated[Path, typer.Argument(help="A tree saved by 'covertreex build' (.npz), or a point file "
                                                f"({', '.join(POINT_SUFFIXES)}) to build one from.")],
    out: Annotated[Path, typer.Option(help="Neighbours: .npy (ids; distances beside it) or .parquet (long table).")],
    k: Annotated[int, typer.Option(min=1, help="Neighbours per query.")] = 10,
    queries: Annotated[Path | None, typer.Option(help="Query points file; default: every tree point against the "
                                                      "others (all-points k-NN).")] = None,
    predecessor: Annotated[bool, typer.Option(help="Vecchia predecessor sets: only smaller ids (no --queries).")]
    = False,
    verify_rows: Annotated[int, typer.Option(min=0, help="Rows checked against brute force; the recall goes to "
                                                          "the screen and the telemetry.")] = 0,
    precision: PrecisionOption = None,
    threads: ThreadsOption = None,
    telemetry: TelemetryOption = None,
) -> None:
    """Exact k nearest neighbours from a saved tree or a point file, written to .npy or .parquet."""
    try:
        check_output(out)
        if predecessor and queries is not None:
            raise ValueError("--predecessor selects tree points: use it without --queries")
        runtime = _runtime(precision, threads)
        writer = _writer(telemetry, runtime)
        tree = _load(source, runtime, writer)
        Q = None if queries is None else read_points(queries, "--queries")
        jit_start = time.perf_counter()  # first call: Numba compile or cache load, reported apart
        tree.knn_result(None if Q is None else Q[:1], k=k, **({"query_ids": [0]} if Q is None else {}))
        jit_s = time.perf_counter() - jit_start
        start = time.perf_counter()
        with progress_points(new_console(), "queries answered") as progress:
            result = _knn_in_chunks(tree, Q, k, predecessor, progress)
        seconds = time.perf_counter() - start
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from None
    recall = _recall(tree, Q, k, predecessor, result, verify_rows) if verify_rows else None
    if writer is not None:
        mode = "points" if Q is not None else ("predecessor" if predecessor else "self")
        emit_query(writer, mode, result, k, tree.num_points, seconds, recall=recall)
        writer.close()
    files = write_neighbours(out, result.ids, result.distances)
    rows = result.ids.shape[0]
    table = Sheet(f"{rows:,} queries, k={k} (first call, JIT or cache load: {jit_s:.2f} s, not included)",
                  ["seconds", "queries/s", "evals/query", "nodes visited/query", "recall", "written"])
    visited = result.counter("nodes_visited")
    table.add(f"{seconds:.3f}", f"{rows / seconds:,.0f}" if seconds > 0 else "—",
                  f"{result.distance_evaluations.mean():,.1f}" if rows else "—",
                  f"{visited.mean():,.1f}" if rows and visited is not None else "—",
                  "—" if recall is None else f"{recall:.4f} ({min(verify_rows, rows)} rows)",
              ", ".join(str(f) for f in files))
    table.print(new_console())


# all-points and point queries run in chunks of this many rows, so that a progress bar can move (the answer
# is the same: every row is searched on its own)
QUERY_CHUNK = 65_536


def _knn_in_chunks(tree: CoverTree, Q, k: int, predecessor: bool, progress) -> KnnResult:
    """``tree.knn_result`` over every row (of ``Q``, or of the tree), ``QUERY_CHUNK`` rows per call,
    reporting ``progress(rows answered, rows)``."""
    rows = tree.num_points if Q is None else Q.shape[0]
    parts = []
    for lo in range(0, max(rows, 1), QUERY_CHUNK):
        hi = min(rows, lo + QUERY_CHUNK)
        if Q is None:
            ids = None if rows <= QUERY_CHUNK else np.arange(lo, hi)
            parts.append(tree.knn_result(k=k, query_ids=ids, predecessor=predecessor))
        else:
            parts.append(tree.knn_result(Q[lo:hi], k=k))
        progress(hi, rows)
    if len(parts) == 1:
        return parts[0]
    traversal = None if parts[0].traversal is None else np.concatenate([p.traversal for p in parts])
    return dataclasses.replace(parts[0], ids=np.concatenate([p.ids for p in parts]),
                               distances=np.concatenate([p.distances for p in parts]),
                               distance_evaluations=np.concatenate([p.distance_evaluations for p in parts]),
                               traversal=traversal)


def _recall(tree: CoverTree, Q, k: int, predecessor: bool, result, verify_rows: int) -> float:
    """Recall against brute force (``check_euclidean``) on a seeded sample of rows."""
    n_rows = result.ids.shape[0]
    rows = np.sort(np.random.default_rng(0).choice(n_rows, min(verify_rows, n_rows), replace=False))
    X = tree.points
    if Q is None:
        oracle = brute_force_knn(X, k=k, rows=rows, predecessor=predecessor)
        return check_euclidean(X, X[rows], result.ids[rows], oracle, owners=rows, predecessor=predecessor)[0]
    at = np.asarray(Q, dtype=X.dtype)[rows]
    return check_euclidean(X, at, result.ids[rows], brute_force_knn(X, at, k=k))[0]
