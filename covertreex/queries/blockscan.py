"""All-points Euclidean k-NN by a block scan, for data where a tree search evaluates most points anyway.

In moderate dimensions with no low-dimensional structure (N(0, I) in 8 or 16 dimensions) a cover-tree
search of k=10 evaluates a third of the points or more, one row at a time.  There a scan of contiguous
blocks is cheaper per distance: the points are cut into leaves of at most ``LEAF`` points by median splits
along the widest coordinate, and each leaf's rows scan every leaf in vectorised column passes, nearest
leaf first, skipping a leaf whose bounding box lies beyond all of a block of rows' k-th best distances
(``_blockscan_numba``).  Distances are ``point_sqdistance``'s, bit for bit, and ties are kept by id, so
the answers equal the tree search's and the brute-force oracle's.  ``knn.knn_self`` picks it when its
pilot of tree searches evaluates at least ``BLOCK_SCAN_SHARE`` of the points.
"""

from __future__ import annotations

import numpy as np

from covertreex.core.tree import readonly_view
from covertreex.queries._blockscan_numba import scan_leaf
from covertreex.queries.types import KnnResult
from covertreex.threads import each_in_threads

LEAF = 128  # points per leaf (measured at d=8: 64 -> 1.08 s, 128 -> 0.96 s, 256 -> 1.34 s at 32,768 points)


def kd_leaves(X: np.ndarray, leaf: int = LEAF) -> tuple[np.ndarray, np.ndarray]:
    """A permutation of the rows of ``X`` that makes leaves contiguous, and the leaves' start offsets
    (with the end appended): each split halves a range at the median of its widest coordinate."""
    n = X.shape[0]
    perm = np.arange(n, dtype=np.int64)
    starts = []
    todo = [(0, n)]
    while todo:
        a, b = todo.pop()
        if b - a <= leaf:
            starts.append(a)
            continue
        sub = X[perm[a:b]]
        axis = int(np.argmax(sub.max(axis=0) - sub.min(axis=0)))
        half = (b - a) // 2
        perm[a:b] = perm[a:b][np.argpartition(sub[:, axis], half, kind="introselect")]
        todo += [(a + half, b), (a, a + half)]
    return perm, np.array(sorted(starts) + [n], dtype=np.int64)


def knn_all_blockscan(X: np.ndarray, k: int, leaf: int = LEAF) -> KnnResult:
    """The k nearest other rows of every row of ``X`` (points in id order), rows in id order, by
    (distance, id), padded with -1 / +inf."""
    n = X.shape[0]
    perm, starts = kd_leaves(X, leaf)
    P = np.ascontiguousarray(X[perm], dtype=np.float64)
    Xt = np.ascontiguousarray(P.T)
    lo = np.minimum.reduceat(P, starts[:-1], axis=0) if n else np.empty((0, X.shape[1]))
    hi = np.maximum.reduceat(P, starts[:-1], axis=0) if n else np.empty((0, X.shape[1]))
    best_d = np.full((n, k), np.inf)
    best_i = np.full((n, k), -1, dtype=np.int64)
    evals = np.zeros(n, dtype=np.int64)
    args = tuple(map(readonly_view, (P, Xt, perm, starts, lo, hi)))

    def work(j: int) -> None:
        scan_leaf(*args, j, best_d, best_i, evals)

    each_in_threads(work, range(starts.shape[0] - 1))
    ids = np.empty_like(best_i)
    dist = np.empty_like(best_d)
    ids[perm], dist[perm] = best_i, best_d
    counts = np.empty_like(evals)
    counts[perm] = evals
    return KnnResult(ids=ids, distances=dist, distance_evaluations=counts, engine="block-scan")
