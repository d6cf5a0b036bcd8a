"""Blocked dense residual k-NN: BLAS blocks of V . V, a vectorised screen, an exact re-check.

When the residual distances concentrate near 1 no bound prunes, and exact search is a float64 GEMM
problem: 2m flops per pair.  This engine runs it near the machine's GEMM rate: for a block of query rows
and a block of columns, BLAS computes G = V_Q V_X^T; a fused Numba pass (``_dense_numba``) turns each
entry into bounds on |rho| with an approximate kernel whose error is bounded, keeps the k best lower
bounds per row and collects the few columns whose upper bound can still reach them; those are
re-computed with the scalar kernel and the top k kept by (distance, id), so answers are exactly the
tree search's.  Columns run in id order and query rows are sorted by their id limit, so a predecessor
block multiplies only the columns below its last row (half the flops of the full square).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from covertreex.kernels._approx_numba import KERNEL_ABS_ERR, KERNEL_REL_ERR
from covertreex.metrics.residual_dense import screen_gamma, split_rows
from covertreex.queries._dense_numba import finish_rows, screen_block
from covertreex.queries.types import KnnResult

ROW_BLOCK = 128  # query rows per BLAS block: G is ROW_BLOCK x COL_BLOCK float64 (4 MB per thread)
COL_BLOCK = 4096
# candidate buffer per row, as a multiple of k: once the heap is full only columns near the threshold
# enter, so the buffer rarely fills; when it does, it is compacted or re-checked exactly
CANDIDATES_PER_K = 8
MIN_CANDIDATES = 256
_EPS = np.finfo(np.float64).eps


def rows_by_id(tree) -> np.ndarray:
    """A tree's feature rows in id order (the column order of the dense search)."""
    return tree.points[tree.position_of]


def block_gram(Vq: np.ndarray, Vx: np.ndarray) -> np.ndarray:
    """G = Vq Vx^T by BLAS (in any summation order: the screen's bound allows for it)."""
    return Vq @ Vx.T


def pair_error(metric, vmax_q: float, vmax_x: float) -> float:
    """E: a bound on |a - |k - V_q . V_x|| for every pair, where a is the screen's |k~ - G| and the
    second the scalar path's: both dot products within gamma_m |V_q| |V_x| of the exact one, the
    approximate kernel within KERNEL_REL_ERR of the scalar one (plus the cut), and the subtraction's
    rounding."""
    vv = vmax_q * vmax_x
    return (2.0 * screen_gamma(metric.m) * vv + 2.0 * _EPS * (metric.variance + vv)
            + (KERNEL_REL_ERR + KERNEL_ABS_ERR) * metric.variance)


def dense_knn(Fx: np.ndarray, metric, queries: np.ndarray, q_rows: np.ndarray, exclude: np.ndarray,
              id_limit: np.ndarray, k: int) -> KnnResult:
    """k nearest rows of ``Fx`` (feature rows in id order) for each ``queries[q_rows[r]]``; ids
    ``exclude[r]`` and ids >= ``id_limit[r]`` are not candidates.  Rows come back in ``q_rows`` order."""
    slots = metric.slots
    dim = slots.dim
    xx, px, Vx = split_rows(Fx, dim)
    xq, pq, Vq_all = split_rows(queries, dim)
    Xt = np.ascontiguousarray(xx.T)
    ux = 1.0 / np.sqrt(px)
    uq_all = 1.0 / np.sqrt(pq)
    vnorm_x = np.sqrt(np.einsum("ij,ij->i", Vx, Vx))
    vmax_x = float(vnorm_x.max(initial=0.0))
    vmax_q = vmax_x if queries is Fx else float(np.sqrt(np.einsum("ij,ij->i", Vq_all, Vq_all)).max(initial=0.0))
    E = pair_error(slots, vmax_q, vmax_x)
    nq, n = q_rows.shape[0], Fx.shape[0]
    out_ids = np.full((nq, k), -1, dtype=np.int64)
    out_dist = np.full((nq, k), np.inf)
    evals = np.zeros(nq, dtype=np.int64)
    stop_all = np.minimum(id_limit, n)
    order = np.argsort(stop_all, kind="stable")  # rows with similar limits share column blocks
    cap = max(MIN_CANDIDATES, CANDIDATES_PER_K * k)

    def row_block(start: int) -> None:
        rows = order[start:start + ROW_BLOCK]
        b = rows.shape[0]
        qr = q_rows[rows]
        Vq = Vq_all[qr]  # gathered once per row block, reused by every column block
        Cq = np.ascontiguousarray(xq[qr])
        uq = uq_all[qr]
        stop = stop_all[rows]
        heap = np.empty((b, k))
        heap_n = np.zeros(b, dtype=np.int64)
        thr = np.full(b, -np.inf)
        cand_id = np.empty((b, cap), dtype=np.int64)
        cand_up = np.empty((b, cap))
        cand_n = np.zeros(b, dtype=np.int64)
        best_d = np.empty((b, k))
        best_i = np.empty((b, k), dtype=np.int64)
        best_n = np.zeros(b, dtype=np.int64)
        for c0 in range(0, int(stop.max(initial=0)), COL_BLOCK):
            c1 = min(n, c0 + COL_BLOCK)
            G = block_gram(Vq, Vx[c0:c1])
            col_stop = np.clip(stop - c0, 0, c1 - c0).astype(np.int64)
            screen_block(slots, E, queries, qr, Cq, uq, Fx, Xt, ux, c0, col_stop, exclude[rows], G, k,
                         heap, heap_n, thr, cand_id, cand_up, cand_n, best_d, best_i, best_n)
        finish_rows(slots, queries, qr, Fx, thr, cand_id, cand_up, cand_n, best_d, best_i, best_n, k)
        out_ids[rows], out_dist[rows] = best_i, best_d
        evals[rows] = stop - ((exclude[rows] >= 0) & (exclude[rows] < stop))

    # one row block per thread at a time, each with a single-threaded GEMM: BLAS threads that spin
    # between calls would otherwise take the cores the screen runs on
    starts = range(0, nq, ROW_BLOCK)
    workers = numba.get_num_threads()
    with threadpool_limits(limits=1, user_api="blas"):
        if workers == 1 or len(starts) == 1:
            for start in starts:
                row_block(start)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(row_block, starts))
    return KnnResult(ids=out_ids, distances=out_dist, distance_evaluations=evals, engine="dense")
