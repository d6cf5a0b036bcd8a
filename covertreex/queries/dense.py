"""Blocked dense residual k-NN: BLAS blocks of V . V, then a fused exact selection per row.

The residual distance concentrates near 1 for most pairs, so at the k-th neighbour's scale the tree
may have to look at most points; then a blocked dense pass (compute-bound BLAS instead of one 4 KB
feature row fetched per distance) is faster.  Results are exactly the tree's: every pair that could be
in a row's top k is recomputed with the scalar kernel (``_dense_numba``).  Columns run in id order, so
a predecessor row only multiplies the ids below it.
"""

from __future__ import annotations

import numpy as np

from covertreex.core.tree import PCCTree
from covertreex.metrics.residual_dense import ScreenRows, screen_gamma
from covertreex.queries._dense_numba import dense_block_knn
from covertreex.queries.types import KnnResult

ROW_BLOCK = 512
COL_BLOCK = 8192


def rows_by_id(tree: PCCTree) -> np.ndarray:
    """The tree's feature rows in id order (the column order of the dense search)."""
    return tree.points[tree.position_of]


def dense_knn(Fx: np.ndarray, metric, queries: np.ndarray, q_rows: np.ndarray, exclude: np.ndarray,
              id_limit: np.ndarray, k: int) -> KnnResult:
    """k nearest rows of ``Fx`` (feature rows in id order) for each ``queries[q_rows[r]]``; ids
    ``exclude[r]`` and ids >= ``id_limit[r]`` are not candidates.  Rows come back in ``q_rows`` order."""
    dim, m = metric.dim, metric.m
    Vx = Fx[:, dim + 1:]
    sx = ScreenRows.of(Fx, dim)
    sq = sx if queries is Fx else ScreenRows.of(queries, dim)  # self-queries pass the columns as queries
    nq, n = q_rows.shape[0], Fx.shape[0]
    out_ids = np.full((nq, k), -1, dtype=np.int64)
    out_dist = np.full((nq, k), np.inf)
    evals = np.zeros(nq, dtype=np.int64)
    stop_all = np.minimum(id_limit, n)
    order = np.argsort(stop_all, kind="stable")  # rows with similar limits share column blocks
    gamma = screen_gamma(m)
    for start in range(0, nq, ROW_BLOCK):
        rows = order[start:start + ROW_BLOCK]
        Fq = queries[q_rows[rows]]  # gathered once per row block, reused by every column block
        Vq = Fq[:, dim + 1:]
        sq_block = sq.take(q_rows[rows])
        stop = stop_all[rows]
        ids_b, dist_b, ev_b = out_ids[rows], out_dist[rows], evals[rows]
        local = np.arange(rows.shape[0], dtype=np.int64)
        for c0 in range(0, int(stop.max(initial=0)), COL_BLOCK):
            c1 = min(n, c0 + COL_BLOCK)
            G = Vq @ Vx[c0:c1].T
            col_stop = np.clip(stop - c0, 0, c1 - c0).astype(np.int64)
            sx_block = sx.span(c0, c1)
            dense_block_knn(metric.slots, gamma, Fq, local, sq_block.coords, sq_block.sqrt_p, sq_block.v_norm,
                            Fx[c0:c1], c0, sx_block.coords, sx_block.sqrt_p, sx_block.v_norm, col_stop, G,
                            exclude[rows], k, ids_b, dist_b, ev_b)
        out_ids[rows], out_dist[rows], evals[rows] = ids_b, dist_b, ev_b
    return KnnResult(ids=out_ids, distances=out_dist, distance_evaluations=evals, engine="dense")
