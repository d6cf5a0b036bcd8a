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

import threading
from typing import NamedTuple

import numpy as np

from covertreex.core.tree import readonly_view
from covertreex.kernels._approx_numba import KERNEL_ABS_ERR, KERNEL_REL_ERR
from covertreex.metrics.blas import in_parallel
from covertreex.metrics.residual_dense import screen_gamma, split_rows, v_norms
from covertreex.queries._dense_numba import finish_rows, screen_block, screen_pair
from covertreex.queries.types import KnnResult

ROW_BLOCK = 128  # query rows per BLAS block: G is ROW_BLOCK x COL_BLOCK float64 (4 MB per thread)
COL_BLOCK = 4096
# all-points k-NN: square blocks of rows (= columns) multiplied and screened once per pair (G: 2 MB)
PAIR_BLOCK = 512
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


def _largest_norm(V: np.ndarray) -> float:
    return float(v_norms(V).max(initial=0.0))


def pair_error(metric, vmax_q: float, vmax_x: float) -> float:
    """E: a bound on |a - |k - V_q . V_x|| for every pair, where a is the screen's |k~ - G| and the
    second the scalar path's: both dot products within gamma_m |V_q| |V_x| of the exact one, the
    approximate kernel within KERNEL_REL_ERR of the scalar one (plus the cut), and the subtraction's
    rounding."""
    vv = vmax_q * vmax_x
    return (2.0 * screen_gamma(metric.m) * vv + 2.0 * _EPS * (metric.variance + vv)
            + (KERNEL_REL_ERR + KERNEL_ABS_ERR) * metric.variance)


class RowState(NamedTuple):
    """Per query row, what the screen carries from block to block: the heap of the k best lower bounds
    and its threshold, the candidate buffer and the exact best list."""

    heap: np.ndarray
    heap_n: np.ndarray
    thr: np.ndarray
    cand_id: np.ndarray
    cand_up: np.ndarray
    cand_n: np.ndarray
    best_d: np.ndarray
    best_i: np.ndarray

    @staticmethod
    def empty(rows: int, k: int) -> "RowState":
        cap = max(MIN_CANDIDATES, CANDIDATES_PER_K * k)
        return RowState(np.empty((rows, k)), np.zeros(rows, dtype=np.int64), np.full(rows, -np.inf),
                        np.empty((rows, cap), dtype=np.int64), np.empty((rows, cap)),
                        np.zeros(rows, dtype=np.int64), np.full((rows, k), np.inf),
                        np.full((rows, k), -1, dtype=np.int64))

    def rows(self, lo: int, hi: int) -> "RowState":
        """The state of rows lo .. hi-1 (views)."""
        return RowState(*(a[lo:hi] for a in self))


class Columns(NamedTuple):
    """The candidate side of the search: feature rows in id order and what the screen reads of them."""

    F: np.ndarray
    coords: np.ndarray  # scaled coordinates (n, D)
    coords_t: np.ndarray  # the same transposed, contiguous (D, n)
    u: np.ndarray  # 1/sqrt(p)
    V: np.ndarray
    v_max: float  # largest |V| row norm

    @staticmethod
    def of(F: np.ndarray, dim: int, v_max: float | None = None) -> "Columns":
        """``v_max``: the largest |V| row norm when the caller knows it (else computed)."""
        xx, px, V = split_rows(F, dim)
        return Columns(F, xx, np.ascontiguousarray(xx.T), 1.0 / np.sqrt(px), V,
                       _largest_norm(V) if v_max is None else v_max)


# The kernels read their inputs through read-only views: tree rows are read-only, fresh query rows
# are not, and each mix would compile the kernels again (~6 s cold for the second signature).
def _screen(slots, E, queries, q_rows, Cq, uq, cols: Columns, c0, col_stop, exclude, G, k, state: RowState):
    inputs = map(readonly_view, (queries, q_rows, Cq, uq, cols.F, cols.coords_t, cols.u))
    screen_block(slots, E, *inputs, c0, readonly_view(col_stop), readonly_view(exclude), readonly_view(G), k,
                 *state)


def _finish(slots, queries, q_rows, cols: Columns, state: RowState):
    finish_rows(slots, readonly_view(queries), readonly_view(q_rows), readonly_view(cols.F), state.thr,
                state.cand_id, state.cand_up, state.cand_n, state.best_d, state.best_i)


def dense_knn(Fx: np.ndarray, metric, queries: np.ndarray, q_rows: np.ndarray, exclude: np.ndarray,
              id_limit: np.ndarray, k: int) -> KnnResult:
    """k nearest rows of ``Fx`` (feature rows in id order) for each ``queries[q_rows[r]]``; ids
    ``exclude[r]`` and ids >= ``id_limit[r]`` are not candidates.  Rows come back in ``q_rows`` order."""
    slots = metric.slots
    cols = Columns.of(Fx, slots.dim)
    xq, pq, Vq_all = split_rows(queries, slots.dim)
    uq_all = 1.0 / np.sqrt(pq)
    vmax_q = cols.v_max if queries is Fx else _largest_norm(Vq_all)
    E = pair_error(slots, vmax_q, cols.v_max)
    nq, n = q_rows.shape[0], Fx.shape[0]
    out_ids = np.full((nq, k), -1, dtype=np.int64)
    out_dist = np.full((nq, k), np.inf)
    evals = np.zeros(nq, dtype=np.int64)
    stop_all = np.minimum(id_limit, n)
    order = np.argsort(stop_all, kind="stable")  # rows with similar limits share column blocks

    def row_block(start: int) -> None:
        rows = order[start:start + ROW_BLOCK]
        qr = q_rows[rows]
        Vq = Vq_all[qr]  # gathered once per row block, reused by every column block
        Cq = np.ascontiguousarray(xq[qr])
        uq = uq_all[qr]
        stop = stop_all[rows]
        state = RowState.empty(rows.shape[0], k)
        last = int(stop.max(initial=0))  # no row of the block reads a column at or past this
        for c0 in range(0, last, COL_BLOCK):
            c1 = min(last, c0 + COL_BLOCK)
            G = block_gram(Vq, cols.V[c0:c1])
            col_stop = np.clip(stop - c0, 0, c1 - c0).astype(np.int64)
            _screen(slots, E, queries, qr, Cq, uq, cols, c0, col_stop, exclude[rows], G, k, state)
        _finish(slots, queries, qr, cols, state)
        out_ids[rows], out_dist[rows] = state.best_i, state.best_d
        evals[rows] = stop - ((exclude[rows] >= 0) & (exclude[rows] < stop))

    in_parallel(row_block, range(0, nq, ROW_BLOCK))
    return KnnResult(ids=out_ids, distances=out_dist, distance_evaluations=evals, engine="dense")


def block_pairs(blocks: int) -> list[tuple[int, int]]:
    """Every block pair (I, J), I <= J, ordered so that neighbouring pairs share no block (the two
    threads then rarely wait for the same rows): by offset J - I, then alternating runs of I."""
    pairs = [(i, i + d) for d in range(blocks) for i in range(blocks - d)]
    return sorted(pairs, key=lambda p: (p[1] - p[0], (p[0] // max(1, p[1] - p[0])) % 2, p[0]))


def dense_all_points(Fx: np.ndarray, metric, k: int) -> KnnResult:
    """The k nearest other rows of every row of ``Fx`` (feature rows in id order), each block pair
    multiplied and screened once: G = V_I V_J^T bounds the rows of block I against the columns of J and
    the rows of J against the columns of I in one pass (half the flops and kernel values of
    ``dense_knn`` over all rows).  A pair holds both blocks' locks (taken in block order), so pairs run
    in parallel in any order; the answers do not depend on the order (exact re-check, ties by id)."""
    slots = metric.slots
    cols = Columns.of(Fx, slots.dim)
    E = pair_error(slots, cols.v_max, cols.v_max)
    n = Fx.shape[0]
    ids = np.arange(n, dtype=np.int64)
    coords = np.ascontiguousarray(cols.coords)
    state = RowState.empty(n, k)
    bounds = [(s, min(n, s + PAIR_BLOCK)) for s in range(0, n, PAIR_BLOCK)]
    locks = [threading.Lock() for _ in bounds]

    def pair(p: tuple[int, int]) -> None:
        I, J = p
        (i0, i1), (j0, j1) = bounds[I], bounds[J]
        G = block_gram(cols.V[i0:i1], cols.V[j0:j1])
        if I == J:  # the diagonal block: its rows against its columns, the row itself excluded
            with locks[I]:
                _screen(slots, E, Fx, ids[i0:i1], coords[i0:i1], cols.u[i0:i1], cols, j0,
                        np.full(i1 - i0, j1 - j0, dtype=np.int64), ids[i0:i1], G, k, state.rows(i0, i1))
            return
        with locks[I], locks[J]:
            screen_pair(slots, E, Fx, cols.coords_t, cols.u, i0, j0, G, k, *state)

    in_parallel(pair, block_pairs(len(bounds)))
    _finish(slots, Fx, ids, cols, state)
    return KnnResult(ids=state.best_i, distances=state.best_d,
                     distance_evaluations=np.full(n, n - 1, dtype=np.int64), engine="dense")


def dense_among(Fx: np.ndarray, metric, queries: np.ndarray, q_rows: np.ndarray, exclude: np.ndarray,
                id_limit: np.ndarray, k: int, among: np.ndarray, norms: np.ndarray, buffer: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """One block of rows (single-threaded): the k nearest of the rows ``Fx[among]`` (``among``: sorted
    ids) to each ``queries[q_rows[r]]``, ids ``exclude[r]`` and ids >= ``id_limit[r]`` left out.
    ``norms``: |V| of every row of ``Fx``; ``buffer``: room for at least ``len(among)`` rows of ``Fx``
    (reused between blocks: a fresh allocation per block costs page faults).  Returns (ids, distances),
    exact and ordered by (distance, id), padded with -1 / +inf."""
    slots = metric.slots
    sub = buffer[: among.shape[0]]
    np.take(Fx, among, axis=0, out=sub)
    cols = Columns.of(sub, slots.dim, float(norms[among].max(initial=0.0)))
    xq, pq, Vq = split_rows(queries[q_rows], slots.dim)
    pos = np.searchsorted(among, exclude)
    hit = (exclude >= 0) & (pos < among.shape[0]) & (among[np.minimum(pos, among.shape[0] - 1)] == exclude)
    local_exclude = np.where(hit, pos, -1).astype(np.int64)
    col_stop = np.searchsorted(among, np.minimum(id_limit, Fx.shape[0])).astype(np.int64)
    state = RowState.empty(q_rows.shape[0], k)
    E = pair_error(slots, _largest_norm(Vq), cols.v_max)
    G = block_gram(Vq, cols.V)
    _screen(slots, E, queries, q_rows, np.ascontiguousarray(xq), 1.0 / np.sqrt(pq), cols, 0, col_stop,
            local_exclude, G, k, state)
    _finish(slots, queries, q_rows, cols, state)
    found = state.best_i >= 0
    return np.where(found, among[np.maximum(state.best_i, 0)], -1), state.best_d
