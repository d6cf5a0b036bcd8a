"""Euclidean k-NN by a block scan, for data where a tree search evaluates most points anyway.

In moderate dimensions with no low-dimensional structure (N(0, I) in 8 or 16 dimensions) a cover-tree
search of k=10 evaluates a third of the points or more, one row at a time.  There a scan of contiguous
blocks is cheaper per distance: the points are cut into leaves of at most ``LEAF`` points by median splits
along the widest coordinate, the query rows into blocks the same way, and each block's rows scan every
leaf in vectorised column passes, nearest leaf first, skipping a leaf whose bounding box lies beyond all
of a group of rows' k-th best distances, or whose ids are all at or above the rows' id limits
(``_blockscan_numba``).  Distances are ``point_sqdistance``'s, bit for bit, and ties are kept by id, so
the answers equal the tree search's and the brute-force oracle's.  ``knn.knn_self`` and
``knn.knn_points`` pick it when a pilot of tree searches evaluates at least ``BLOCK_SCAN_SHARE`` of the
candidate points (all points, tree points, predecessor rows and new points alike).
"""

from __future__ import annotations

import numpy as np

from covertreex.core.leaves import LEAF, Leaves, kd_leaves
from covertreex.core.tree import readonly_view
from covertreex.queries._blockscan_numba import scan_block
from covertreex.queries._knn_numba import NO_LIMIT
from covertreex.queries.types import KnnResult
from covertreex.threads import each_in_threads

def knn_blockscan(X: np.ndarray, k: int, rows: np.ndarray, exclude: np.ndarray, id_limit: np.ndarray,
                  leaf: int = LEAF, leaves: Leaves | None = None) -> KnnResult:
    """The k nearest points of ``X`` (points in id order) to each row of ``rows`` (coordinates), by
    (distance, id), padded with -1 / +inf; row r leaves out id ``exclude[r]`` (-1: none) and ids at or
    above ``id_limit[r]``.  Rows come back in the order given.  ``leaves``: ``Leaves.of(X, leaf)`` when
    already made."""
    m = rows.shape[0]
    best_d = np.full((m, k), np.inf)
    best_i = np.full((m, k), -1, dtype=np.int64)
    evals = np.zeros(m, dtype=np.int64)
    if m == 0 or X.shape[0] == 0:
        return KnnResult(ids=best_i, distances=best_d, distance_evaluations=evals, engine="block-scan")
    cols = Leaves.of(X, leaf) if leaves is None else leaves
    # query rows in blocks of nearby rows: the rows' own k-d leaves (the points' when they are the points)
    qperm, qstarts = (cols.ids, cols.starts) if rows is X else kd_leaves(rows, leaf)
    R = np.ascontiguousarray(rows[qperm], dtype=np.float64)
    ex, lim = exclude[qperm].astype(np.int64), id_limit[qperm].astype(np.int64)
    args = tuple(map(readonly_view, (R,))), tuple(map(readonly_view, (ex, lim, *cols)))

    def work(j: int) -> None:
        scan_block(*args[0], qstarts[j], qstarts[j + 1], *args[1], best_d, best_i, evals)

    each_in_threads(work, range(qstarts.shape[0] - 1))
    ids = np.empty_like(best_i)
    dist = np.empty_like(best_d)
    counts = np.empty_like(evals)
    ids[qperm], dist[qperm], counts[qperm] = best_i, best_d, evals
    return KnnResult(ids=ids, distances=dist, distance_evaluations=counts, engine="block-scan")


def knn_all_blockscan(X: np.ndarray, k: int, leaf: int = LEAF) -> KnnResult:
    """The k nearest other rows of every row of ``X`` (points in id order), rows in id order."""
    return scan_self(X, k, leaf=leaf)


def scan_self(X: np.ndarray, k: int, query_ids: np.ndarray | None = None, predecessor: bool = False,
              leaves: Leaves | None = None, leaf: int = LEAF) -> KnnResult:
    """The k nearest *other* points of the points ``query_ids`` (all, in id order, when None) of ``X``
    (points in id order); ``predecessor``: among the points of smaller id only."""
    ids = np.arange(X.shape[0], dtype=np.int64) if query_ids is None else query_ids.astype(np.int64)
    rows = X if query_ids is None else X[ids]  # the points themselves: their leaves are the query blocks
    return knn_blockscan(X, k, rows, ids, ids if predecessor else np.full(ids.shape[0], NO_LIMIT), leaf, leaves)


def scan_points(X: np.ndarray, queries: np.ndarray, k: int, limit: np.ndarray | None = None,
                leaves: Leaves | None = None) -> KnnResult:
    """The k nearest points of ``X`` (points in id order) to each row of ``queries``; with ``limit``, row
    r's candidates are the ids below ``limit[r]``."""
    m = queries.shape[0]
    bound = np.full(m, NO_LIMIT) if limit is None else limit.astype(np.int64)
    return knn_blockscan(X, k, queries, np.full(m, -1, dtype=np.int64), bound, leaves=leaves)
