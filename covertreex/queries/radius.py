"""Exact radius queries on a ``PCCTree``: at new coordinates, or for the tree's own points."""

from __future__ import annotations

import numba
import numpy as np

from covertreex.core.tree import PCCTree
from covertreex.queries._knn_numba import NO_LIMIT
from covertreex.queries._radius_numba import radius_kernel
from covertreex.queries.knn import CHUNKS_PER_THREAD
from covertreex.queries.types import RadiusResult


def _run(tree: PCCTree, metric, queries, order, exclude, limit, radius) -> RadiusResult:
    nq = order.shape[0]
    indptr = np.zeros(nq + 1, dtype=np.int64)
    slack = metric.prune_slack(tree.points, queries)
    chunks = CHUNKS_PER_THREAD * numba.get_num_threads()
    none_i, none_d = np.empty(0, dtype=np.int64), np.empty(0)
    args = (metric.slots, slack, tree.view, queries, order, exclude, limit, radius)
    radius_kernel(*args, indptr, none_i, none_d, tree.stack_size, chunks)  # counts
    np.cumsum(indptr, out=indptr)
    ids = np.empty(int(indptr[-1]), dtype=np.int64)
    dist = np.empty(int(indptr[-1]))
    if ids.size:
        radius_kernel(*args, indptr, ids, dist, tree.stack_size, chunks)
    row = np.repeat(np.arange(nq), np.diff(indptr))
    by = np.lexsort((ids, dist, row))  # each row by (distance, id)
    return RadiusResult(indptr, ids[by], dist[by])


def radius_points(tree: PCCTree, metric, queries: np.ndarray, radius: np.ndarray) -> RadiusResult:
    """Tree points within ``radius[r]`` of each row of ``queries`` (rows in the tree's feature layout)."""
    m = queries.shape[0]
    return _run(tree, metric, queries, np.arange(m, dtype=np.int64), np.full(m, -1, dtype=np.int64),
                np.full(m, NO_LIMIT), radius)


def radius_self(tree: PCCTree, metric, radius: np.ndarray, query_ids: np.ndarray | None = None,
                predecessor: bool = False) -> RadiusResult:
    """Other tree points within ``radius[r]`` of tree point ``query_ids[r]`` (every id in order when None);
    ``predecessor``: only points with a smaller id."""
    ids = np.arange(tree.num_points, dtype=np.int64) if query_ids is None else query_ids.astype(np.int64)
    positions = tree.position_of[ids]
    limit = ids if predecessor else np.full(ids.shape[0], NO_LIMIT)
    return _run(tree, metric, tree.points, positions, positions, limit, radius)
