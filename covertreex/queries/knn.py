"""Exact k-NN queries on a ``PCCTree``: at new coordinates, or for the tree's own points."""

from __future__ import annotations

import numba
import numpy as np

from covertreex.core.tree import PCCTree
from covertreex.queries._knn_numba import knn_kernel
from covertreex.queries.types import KnnResult


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view: tree arrays are read-only, so every call compiles to one signature."""
    v = a.view()
    v.setflags(write=False)
    return v


def _run(tree: PCCTree, metric, queries, query_order, out_row, exclude, k: int, n_out: int) -> KnnResult:
    queries, query_order, out_row, exclude = map(_readonly, (queries, query_order, out_row, exclude))
    ids = np.empty((n_out, k), dtype=np.int64)
    dist = np.empty((n_out, k), dtype=np.float64)
    evals = np.zeros(n_out, dtype=np.int64)
    knn_kernel(metric.kind, metric.params, tree.points, tree.ids, tree.radius, tree.child_ptr, tree.child_idx,
               tree.edge_points, tree.edge_radius, tree.edge_parent_dist,
               tree.edge_ids, tree.edge_size, queries, query_order, out_row, exclude, k, ids, dist, evals,
               16 * numba.get_num_threads())
    return KnnResult(ids=ids, distances=dist, distance_evaluations=evals)


def knn_points(tree: PCCTree, metric, queries: np.ndarray, k: int) -> KnnResult:
    """k nearest tree points of every row of ``queries`` (validated, tree dtype)."""
    m = queries.shape[0]
    rows = np.arange(m, dtype=np.int64)
    return _run(tree, metric, queries, rows, rows, np.full(m, -1, dtype=np.int64), k, m)


def knn_self(tree: PCCTree, metric, k: int) -> KnnResult:
    """Every tree point's k nearest *other* points; row i belongs to point id i.

    Queries run in tree (depth-first) order, so consecutive queries touch the same memory.
    """
    positions = np.arange(tree.num_points, dtype=np.int64)
    return _run(tree, metric, tree.points, positions, tree.ids, positions, k, tree.num_points)
