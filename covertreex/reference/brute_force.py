"""The brute-force oracle: exact k-NN by computing every distance, in blocks, with NumPy.

Euclidean distances are accumulated in float64 coordinate by coordinate (the same order of operations
as the tree kernels), so ties are exact and results can be compared id for id.  Residual distances are
screened with BLAS in blocks (``metrics.residual_dense``, with a rigorous error bound) and every pair
that could be among the k nearest is recomputed with the scalar kernel the tree uses.  Rows are
ordered by (distance, id).
"""

from __future__ import annotations

import numpy as np

from covertreex.validation import as_ids, as_points, check_k
from covertreex.metrics._pairwise_numba import listed_distances
from covertreex.metrics.residual import Residual, ResidualFactors
from covertreex.metrics.residual_dense import screen_block

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


def select_k_padded(dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``select_k`` where +inf marks a non-candidate: those slots become id -1 / distance +inf."""
    ids, out = select_k(dist, k)
    ids[~np.isfinite(out)] = -1
    return ids, out


def _mask(d: np.ndarray, query_ids: np.ndarray | None, start: int, predecessor: bool) -> None:
    """Non-candidates of rows start.. -> +inf: the query's own id, or every id >= it (predecessor)."""
    if query_ids is None:
        return
    qi = query_ids[start:start + d.shape[0]]
    if predecessor:
        d[np.arange(d.shape[1])[None, :] >= qi[:, None]] = np.inf
    else:
        d[np.arange(d.shape[0]), qi] = np.inf


def brute_force_knn(X, Q=None, k: int = 1, *, return_distances: bool = True, rows=None,
                    predecessor: bool = False, metric: str = "euclidean",
                    residual: Residual | ResidualFactors | None = None, v_matrix=None, p_diag=None,
                    block_bytes: int = DEFAULT_BLOCK_BYTES, backend: str = "numpy"):
    """Exact k nearest rows of ``X`` for each row of ``Q``.

    ``Q=None`` means every point of ``X`` against the *other* points (its own row excluded; exact
    duplicates of it are still neighbours).  ``rows`` restricts that all-points mode to a subset of
    query ids.  ``predecessor=True`` (no ``Q``): row i only considers ids j < i, padded with id -1 and
    distance +inf.  Euclidean inputs are used in their own dtype, like the tree's stored points.

    ``metric="residual"``: ``residual`` is a ``Residual`` policy (fitted to ``X`` exactly as the tree
    fits it) or fitted ``ResidualFactors``; ``v_matrix``/``p_diag`` pass precomputed factors for ``X``.
    ``backend="jax"`` (residual, extra ``jax``) screens the pairs in JAX — on a GPU when there is one —
    before the same exact re-check: the same answers.  Returns ``(ids, distances)`` or just ``ids``.
    """
    if metric not in ("euclidean", "residual"):
        raise ValueError(f"metric must be 'euclidean' or 'residual', got {metric!r}")
    if backend not in ("numpy", "jax"):
        raise ValueError(f"backend must be 'numpy' or 'jax', got {backend!r}")
    if backend == "jax" and metric != "residual":
        raise ValueError("backend='jax' screens residual distances; the Euclidean oracle runs in NumPy")
    if not isinstance(predecessor, bool):
        raise TypeError(f"predecessor must be a bool, got {predecessor!r}")
    if metric == "residual":
        factors, X, queries = _residual_rows(X, Q, residual, v_matrix, p_diag)
    else:
        if residual is not None or v_matrix is not None or p_diag is not None:
            raise ValueError("residual, v_matrix and p_diag are only used with metric='residual'")
        dtype = np.asarray(X).dtype if np.asarray(X).dtype in (np.float32, np.float64) else np.float64
        X = as_points(X, "X", dtype, defines_scale=True)
        queries = None if Q is None else as_points(Q, "Q", X.dtype, dim=X.shape[1], allow_empty=True)
        factors = None
    n = X.shape[0]
    if Q is None:
        query_ids = np.arange(n, dtype=np.int64) if rows is None else as_ids(rows, "rows", n)
        queries = X[query_ids]
        k = check_k(k, n - 1, "the number of other points")
    else:
        if rows is not None or predecessor:
            raise ValueError("rows and predecessor select points of X: pass them without Q")
        query_ids = None
        k = check_k(k, n, "the number of points")
    m = queries.shape[0]
    ids = np.empty((m, k), dtype=np.int64)
    dist = np.empty((m, k), dtype=np.float64)
    # Euclidean: three (block, n) float64 arrays; residual: about eight (screen, bounds, masks)
    block = max(1, block_bytes // (8 * max(n, 1) * (3 if factors is None else 8)))
    for start in range(0, m, block):
        stop = min(m, start + block)
        if factors is None:
            d = euclidean_block(queries[start:stop], X)
            _mask(d, query_ids, start, predecessor)
            ids[start:stop], dist[start:stop] = select_k_padded(d, k)
        else:
            ids[start:stop], dist[start:stop] = _residual_block(factors, queries[start:stop], X, query_ids,
                                                               start, predecessor, k, backend)
    return (ids, dist) if return_distances else ids


def _residual_rows(X, Q, residual, v_matrix, p_diag):
    """Fitted factors and feature rows of X (and of Q) for the residual oracle."""
    if isinstance(residual, Residual):
        coords = as_points(X, "X", np.float64, defines_scale=True)
        factors = residual.fit(coords, v_matrix, p_diag)
    elif isinstance(residual, ResidualFactors):
        coords = as_points(X, "X", np.float64, dim=residual.dim, defines_scale=True)
        factors = residual
    else:
        raise TypeError("metric='residual' needs residual= a covertreex.Residual policy or fitted ResidualFactors")
    rows = factors.rows(coords, v_matrix, p_diag)
    queries = None
    if Q is not None:
        queries = factors.rows(as_points(Q, "Q", np.float64, dim=factors.dim, allow_empty=True), name="Q")
    return factors, rows, queries


def _residual_block(factors, Fq, Fx, query_ids, start, predecessor, k, backend="numpy"):
    """Top-k of a block of residual queries: BLAS (or JAX) screen, then exact scalar distances for every
    pair whose error interval reaches below the k-th smallest upper bound of its row."""
    if backend == "jax":
        from covertreex.reference.jax_screen import screen_block_jax  # extra "jax"
        approx, err = screen_block_jax(factors.slots, Fq, Fx)
    else:
        approx, err = screen_block(factors.slots, Fq, Fx)
    lower = approx - err
    upper = approx + err
    _mask(upper, query_ids, start, predecessor)
    _mask(lower, query_ids, start, predecessor)
    kk = min(k, Fx.shape[0])
    kth_upper = np.partition(upper, kk - 1, axis=1)[:, kk - 1]
    cand_r, cand_c = np.nonzero((lower <= kth_upper[:, None]) & np.isfinite(lower))
    exact = np.full(approx.shape, np.inf)
    exact[cand_r, cand_c] = listed_distances(factors.slots, Fq, cand_r.astype(np.int64),
                                             Fx, cand_c.astype(np.int64))
    return select_k_padded(exact, k)
