"""The brute-force oracle: exact k-NN by computing every distance, in blocks, with NumPy.

Distances are accumulated in float64 coordinate by coordinate (the same order of operations as the
tree kernels), so ties are exact and results can be compared id for id.  Rows are ordered by
(distance, id).
"""

from __future__ import annotations

import numpy as np

from covertreex.core.validation import as_points, check_k

DEFAULT_BLOCK_BYTES = 64 * 2**20


def euclidean_block(Q: np.ndarray, X: np.ndarray) -> np.ndarray:
    """(len(Q), len(X)) float64 Euclidean distances, summed in coordinate order."""
    acc = np.zeros((Q.shape[0], X.shape[0]), dtype=np.float64)
    for t in range(X.shape[1]):
        diff = Q[:, t, None].astype(np.float64) - X[None, :, t].astype(np.float64)
        acc += diff * diff
    return np.sqrt(acc, out=acc)


def select_k(dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k smallest entries by (value, column), ties at the k-th value included by column."""
    m, n = dist.shape
    if k < n:
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(dist, part, axis=1).max(axis=1)
    else:
        kth = dist.max(axis=1)
    ids = np.empty((m, k), dtype=np.int64)
    out = np.empty((m, k), dtype=np.float64)
    for r in range(m):
        cand = np.flatnonzero(dist[r] <= kth[r])
        order = np.lexsort((cand, dist[r, cand]))[:k]
        ids[r] = cand[order]
        out[r] = dist[r, cand[order]]
    return ids, out


def brute_force_knn(X, Q=None, k: int = 1, *, return_distances: bool = True, rows=None,
                    block_bytes: int = DEFAULT_BLOCK_BYTES):
    """Exact k nearest rows of ``X`` for each row of ``Q``.

    ``Q=None`` means every point of ``X`` against the *other* points (its own row excluded; exact
    duplicates of it are still neighbours).  ``rows`` restricts that all-points mode to a subset of
    query ids (for spot-checking big runs).  Inputs are used in their own dtype, like the tree's
    stored points.  Returns ``(ids, distances)`` or just ``ids``.
    """
    X = as_points(X, "X", np.asarray(X).dtype if np.asarray(X).dtype in (np.float32, np.float64) else np.float64)
    n = X.shape[0]
    if Q is None:
        self_rows = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        if self_rows.ndim != 1 or (self_rows.size and (self_rows.min() < 0 or self_rows.max() >= n)):
            raise ValueError(f"rows must be a 1-D array of point ids in [0, {n})")
        queries = X[self_rows]
        k = check_k(k, n - 1, "the number of other points")
    else:
        if rows is not None:
            raise ValueError("rows is only meaningful without Q (all-points mode)")
        queries = as_points(Q, "Q", X.dtype, dim=X.shape[1], allow_empty=True)
        self_rows = None
        k = check_k(k, n, "the number of points")
    m = queries.shape[0]
    ids = np.empty((m, k), dtype=np.int64)
    dist = np.empty((m, k), dtype=np.float64)
    block = max(1, block_bytes // (8 * max(n, 1) * 3))
    for start in range(0, m, block):
        stop = min(m, start + block)
        d = euclidean_block(queries[start:stop], X)
        if self_rows is not None:
            d[np.arange(stop - start), self_rows[start:stop]] = np.inf
        ids[start:stop], dist[start:stop] = select_k(d, k)
    return (ids, dist) if return_distances else ids
