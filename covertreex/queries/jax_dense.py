"""The dense exact residual engine with its screen in JAX (extra ``jax``): CPU today, a GPU when present.

The float64 bulk — the kernel values and the Gram block V_Q V_X^T, a = |k - V_Q . V_X| for a block of
query rows against every column — runs as one jitted XLA program (``ROW_BLOCK_BYTES`` bounds a block's
working set).  The host then keeps, per row, every column whose upper bound on |rho| reaches the k-th
largest lower bound (``_jax_screen_numba``; XLA's CPU sort took ten times the GEMM): a superset of the
k nearest and of every column tied with the k-th, by the error bound E of the Numba screen
(``dense.pair_error``, doubled: XLA's exp and summation order are other roundings within it).  The
candidates are ranked exactly by the kernels' own arithmetic (``_rerank_numba``), so ids and distances
are bit for bit those of the Numba engines.  A row with more than ``CAPACITY`` candidates (nothing
prunes there) is answered by the Numba dense engine instead.

JAX is imported only when this engine is asked for, with ``jax_enable_x64`` (float64 throughout).
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from covertreex.kernels._kernels_numba import MATERN12, MATERN32, RBF
from covertreex.metrics.residual_dense import split_rows
from covertreex.queries._jax_screen_numba import select_candidates
from covertreex.queries._knn_numba import NO_LIMIT
from covertreex.queries._rerank_numba import rerank
from covertreex.queries.dense import _largest_norm, dense_knn, pair_error
from covertreex.queries.types import KnnResult

CAPACITY = 2048  # candidates kept per row; a row with more is answered by the Numba dense engine
ROW_BLOCK_BYTES = 512 * 2**20  # float64 working set of one block of rows (about six rows x n arrays)
E_MARGIN = 2.0  # the screen's error bound E, doubled for XLA's roundings
# a block of rows reads the columns below its largest id limit (predecessor rows), rounded up to this
# many: few distinct shapes, so few compilations
COLUMN_QUANTUM = 4096


def _jax():
    try:
        import jax
    except ImportError:
        raise ValueError("engine='jax' needs JAX: pip install 'covertreex[jax]' (or jax[cuda12] for a GPU)") from None
    jax.config.update("jax_enable_x64", True)
    return jax


def devices() -> list[str]:
    """The JAX devices (e.g. ``['cpu:0']`` or ``['cuda:0']``); empty when JAX is not installed."""
    try:
        jax = _jax()
    except ValueError:
        return []
    return [f"{d.platform}:{d.id}" for d in jax.devices()]


@functools.lru_cache(maxsize=None)
def _screen_program(code: int):
    """The jitted screen of one row block for a kernel ``code`` (compiled once per shape)."""
    jax = _jax()
    jnp = jax.numpy

    def kernel(r2, variance):
        if code == RBF:
            return variance * jnp.exp(-0.5 * r2)
        r = jnp.sqrt(r2)
        if code == MATERN12:
            return variance * jnp.exp(-r)
        a = (3.0 ** 0.5 if code == MATERN32 else 5.0 ** 0.5) * r
        poly = 1.0 + a if code == MATERN32 else 1.0 + a + a * a / 3.0
        return variance * poly * jnp.exp(-a)

    def screen(cq, vq, cx, vx, variance):
        """a = |k(x_q, x) - V_q . V_x| for the block's rows and every column."""
        r2 = jnp.zeros((cq.shape[0], cx.shape[0]), dtype=jnp.float64)
        for t in range(cq.shape[1]):  # column by column: no |a|^2 + |b|^2 - 2ab cancellation
            diff = cq[:, t:t + 1] - cx[None, :, t]
            r2 = r2 + diff * diff
        return jnp.abs(kernel(r2, variance) - vq @ vx.T)

    return jax.jit(screen)


def jax_knn(Fx: np.ndarray, metric, queries: np.ndarray, q_rows: np.ndarray, exclude: np.ndarray,
            id_limit: np.ndarray, k: int) -> KnnResult:
    """``dense.dense_knn`` (same arguments, identical answers) with the screen in JAX."""
    jax = _jax()
    jnp = jax.numpy
    slots = metric.slots
    xx, px, V = split_rows(Fx, slots.dim)
    xq, pq, Vq = split_rows(queries, slots.dim)
    error = E_MARGIN * pair_error(slots, _largest_norm(V) if queries is Fx else _largest_norm(Vq), _largest_norm(V))
    n, nq = Fx.shape[0], q_rows.shape[0]
    capacity = min(CAPACITY, n)
    rows = max(1, min(nq, ROW_BLOCK_BYTES // (6 * 8 * max(n, 1))))
    program = _screen_program(int(metric.kernel.code))
    cx, vx = jnp.asarray(np.ascontiguousarray(xx)), jnp.asarray(np.ascontiguousarray(V))
    ux, uq = 1.0 / np.sqrt(px), 1.0 / np.sqrt(pq)
    limit = np.minimum(id_limit, n).astype(np.int64)
    order = np.argsort(limit, kind="stable")  # rows with similar id limits share a block (and its columns)
    cands = np.empty((nq, capacity), dtype=np.int64)
    counts = np.empty(nq, dtype=np.int64)
    for lo in range(0, nq, rows):
        block = order[np.arange(lo, lo + rows) % nq]  # full blocks (wrapping around): one row shape
        hi = min(nq, lo + rows)
        mine = block[: hi - lo]
        stop = min(n, -(-int(limit[mine].max()) // COLUMN_QUANTUM) * COLUMN_QUANTUM) if mine.size else n
        qr = q_rows[block]
        a = np.asarray(program(jnp.asarray(np.ascontiguousarray(xq[qr])), jnp.asarray(np.ascontiguousarray(Vq[qr])),
                               cx[:stop], vx[:stop], float(slots.variance)))
        got_c = np.empty((mine.size, capacity), dtype=np.int64)
        got_n = np.empty(mine.size, dtype=np.int64)
        select_candidates(a[: mine.size], uq[q_rows[mine]], ux, exclude[mine], limit[mine], float(error),
                          int(min(k, n)), got_c, got_n)
        cands[mine], counts[mine] = got_c, got_n
    out_ids = np.full((nq, k), -1, dtype=np.int64)
    out_dist = np.full((nq, k), np.inf)
    rerank(slots, queries, q_rows, Fx, cands, k, out_ids, out_dist, 4 * numba.get_num_threads())
    over = np.flatnonzero(counts > capacity)  # nothing pruned enough: the Numba engine answers these rows
    if over.size:
        rest = dense_knn(Fx, metric, queries, q_rows[over], exclude[over], id_limit[over], k)
        out_ids[over], out_dist[over] = rest.ids, rest.distances
    evals = np.minimum(id_limit, n) - ((exclude >= 0) & (exclude < np.minimum(id_limit, n)))
    return KnnResult(ids=out_ids, distances=out_dist, distance_evaluations=evals, engine="jax")


def jax_self(rows: np.ndarray, metric, k: int, query_ids: np.ndarray | None = None,
             predecessor: bool = False) -> KnnResult:
    """The JAX engine's all-points / query-id / predecessor search over the feature rows in id order."""
    ids = np.arange(rows.shape[0], dtype=np.int64) if query_ids is None else query_ids.astype(np.int64)
    return jax_knn(rows, metric, rows, ids, ids, ids if predecessor else np.full(ids.shape[0], NO_LIMIT), k)


def jax_points(rows: np.ndarray, metric, queries: np.ndarray, k: int, limit: np.ndarray | None = None
               ) -> KnnResult:
    """The JAX engine at new coordinates (``queries``: their feature rows; ``limit``: id limits per row)."""
    m = queries.shape[0]
    return jax_knn(rows, metric, queries, np.arange(m, dtype=np.int64), np.full(m, -1, dtype=np.int64),
                   np.full(m, NO_LIMIT) if limit is None else limit.astype(np.int64), k)
