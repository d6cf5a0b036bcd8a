"""Running a gated search in the cell layout (``Gate(search="cells")``, ``gates.cells``): queries grouped
by cell, each group screened against its cell's halo in the local basis (one float32 GEMM) and re-checked
exactly (``_cells_numba.cell_search``); groups in parallel."""

from __future__ import annotations

import numpy as np

from covertreex.gates._cells_numba import cell_search
from covertreex.gates.cells import CellIndex, query_features
from covertreex.metrics.blas import in_parallel
from covertreex.queries._knn_numba import NO_LIMIT
from covertreex.queries.dense import dense_knn
from covertreex.queries.types import KnnResult

# Predecessor queries with fewer than n / EXACT_SHARE predecessors are answered exactly (their scan is
# short, and their neighbours lie far down a halo ordered over all points); calibration scores them 0.
EXACT_SHARE = 4
# A halo of at least n / FALLBACK_SHARE points saves too little: with ``Gate.fallback`` the exact engine answers.
FALLBACK_SHARE = 2
_U32 = 2.0 ** -24


def exact_first(ids: np.ndarray, n: int, predecessor: bool) -> np.ndarray:
    """Which of the query points ``ids`` the cell search answers exactly."""
    return ids < n // EXACT_SHARE if predecessor else np.zeros(ids.shape[0], dtype=bool)


def _gamma32(rank: int) -> float:
    """Rounding of a float32 product of rank-length rows (any summation order) and of the rows' rounding."""
    t = (rank + 3) * _U32
    return t / (1.0 - t)


def run(index: CellIndex, metric, fx: np.ndarray, fq: np.ndarray, q_rows: np.ndarray, cells: np.ndarray,
        exclude: np.ndarray, limit: np.ndarray, prefix: np.ndarray, exact: np.ndarray, k: int,
        fallback: bool, near: np.ndarray | None = None) -> KnnResult:
    """Row r answers ``fq[q_rows[r]]`` in cell ``cells[r]`` from the first ``prefix[r]`` points of the
    cell's halo (ids ``exclude[r]`` and >= ``limit[r]`` left out), or exactly where ``exact[r]``.  A cell's
    queries run in the order of ``near`` (neighbours next to each other: their exact re-checks read the
    same rows while they are in cache)."""
    slots = metric.slots
    nq, n = q_rows.shape[0], fx.shape[0]
    ids = np.full((nq, k), -1, dtype=np.int64)
    dist = np.full((nq, k), np.inf)
    evals = np.zeros(nq, dtype=np.int64)
    if fallback and nq and FALLBACK_SHARE * float(prefix.mean()) >= n:
        exact = np.ones(nq, dtype=bool)
    rows_exact = np.flatnonzero(exact)
    if rows_exact.size:
        got = dense_knn(fx, metric, fq, q_rows[rows_exact], exclude[rows_exact], limit[rows_exact], k)
        ids[rows_exact], dist[rows_exact], evals[rows_exact] = got.ids, got.distances, got.distance_evaluations
    if rows_exact.size == nq:
        return KnnResult(ids=ids, distances=dist, distance_evaluations=evals, engine="dense")
    todo = np.flatnonzero(~exact)
    todo = todo[np.lexsort((todo if near is None else near[todo], cells[todo]))]
    bounds = np.flatnonzero(np.diff(cells[todo])) + 1
    groups = np.split(todo, bounds)
    scalar = metric.rho_error_bound(1.0)  # the scalar kernel's rounding of c, in units of sqrt(p_q p_y)

    def one(rows: np.ndarray) -> None:
        b = index.bases[int(cells[rows[0]])]
        Wq, wn_q, se_q, ip_q = query_features(slots, fx, b, fq[q_rows[rows]])
        width = int(prefix[rows].max())
        prod = Wq @ b.W[:width].T
        heap, lower, upper = np.empty(k), np.empty(width), np.empty(width)
        got_ids = np.empty((rows.shape[0], k), dtype=np.int64)
        got_dist = np.empty((rows.shape[0], k))
        got_evals = np.empty(rows.shape[0], dtype=np.int64)
        cell_search(slots, fq, q_rows[rows], fx, prod, b.halo, b.inv_sqrt_p, b.sqrt_e, b.w_norm, ip_q, se_q, wn_q,
                    exclude[rows], limit[rows], prefix[rows], _gamma32(b.rank), scalar, heap, lower, upper, got_ids,
                    got_dist, got_evals)
        ids[rows], dist[rows], evals[rows] = got_ids, got_dist, got_evals

    in_parallel(one, groups)
    return KnnResult(ids=ids, distances=dist, distance_evaluations=evals, engine="gated")


def cells_self(index: CellIndex, metric, rows: np.ndarray, profile, k: int, query_ids: np.ndarray | None,
               predecessor: bool) -> KnnResult:
    """Gated ``knn_self`` in the cell layout: tree points' k nearest other points (ids below theirs when
    ``predecessor``)."""
    n = rows.shape[0]
    ids = np.arange(n, dtype=np.int64) if query_ids is None else query_ids.astype(np.int64)
    limit = ids if predecessor else np.full(ids.shape[0], NO_LIMIT)
    prefix = np.minimum(profile.budget_of(rows[ids, metric.dim]), index.size)
    return run(index, metric, rows, rows, ids, index.part.cell_of[ids], ids, limit, prefix,
               exact_first(ids, n, predecessor), k, profile.gate.fallback, index.part.position[ids])


def cells_points(index: CellIndex, metric, rows: np.ndarray, profile, queries: np.ndarray, pts: np.ndarray,
                 k: int) -> KnnResult:
    """Gated ``knn_points`` in the cell layout: the k nearest tree points of new feature rows ``queries``
    (``pts``: their proxy coordinates), each answered in the cell whose box is nearest."""
    m = queries.shape[0]
    order = np.arange(m, dtype=np.int64)
    prefix = np.minimum(profile.budget_of(queries[:, metric.dim]), index.size)
    return run(index, metric, rows, queries, order, index.part.nearest_cell(pts), np.full(m, -1, dtype=np.int64),
               np.full(m, NO_LIMIT), prefix, np.zeros(m, dtype=bool), k, profile.gate.fallback)
