"""Calibrating, running and auditing a gated residual search on a fitted residual ``CoverTree``.

* ``proxy_rows``: the proxy coordinates of feature rows (scaled coordinates, or V rows).
* ``gated_self`` / ``gated_points``: candidates from a Euclidean cover tree over the proxy coordinates
  of the tree's points (built once per tree version and proxy), re-ranked exactly.
* ``calibrate``: exact answers for S seeded calibration points; each point's score is the smallest
  budget that serves it (``_gated_numba.proxy_scores``); per band of p the split-conformal budget.
* ``audit``: gated vs exact answers on held-out points; recall@k and served fraction with exact
  Clopper–Pearson intervals.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numba
import numpy as np

from covertreex.algo.insert import insert_points
from covertreex.core.tree import PCCTree
from covertreex.gates._gated_numba import candidate_kernel, proxy_scores
from covertreex.gates.cell_search import cells_points, cells_self, exact_first
from covertreex.gates.cells import cell_scores
from covertreex.queries._rerank_numba import rerank
from covertreex.gates.calibration import clopper_pearson, conformal_budget
from covertreex.gates.policy import Gate
from covertreex.gates.profile import GateAudit, GateProfile, Stamp
from covertreex.metrics.euclidean import EuclideanMetric
from covertreex.metrics.residual_dense import v_norms
from covertreex.queries._knn_numba import NO_LIMIT
from covertreex.metrics.blas import in_parallel
from covertreex.queries.dense import dense_among, dense_knn
from covertreex.queries.knn import CHUNKS_PER_THREAD, LEAF_SCAN_LOW_DIM, dense_self
from covertreex.queries.types import KnnResult
from covertreex.runtime.config import Runtime

PROXY_METRIC = EuclideanMetric()


def proxy_rows(metric, rows: np.ndarray, proxy: str) -> np.ndarray:
    """The proxy coordinates of residual feature rows ``[x / lengthscale (D), p, V (m)]``."""
    cols = rows[:, : metric.dim] if proxy == "scaled" else rows[:, metric.dim + 1:]
    return np.ascontiguousarray(cols)


def build_proxy_tree(metric, rows: np.ndarray, proxy: str, runtime: Runtime) -> PCCTree:
    """A Euclidean cover tree over the proxy coordinates of the tree's rows (ids = point ids)."""
    proxy_runtime = Runtime(seed=runtime.seed, threads=runtime.threads)
    tree, _ = insert_points(None, proxy_rows(metric, rows, proxy), proxy_runtime, PROXY_METRIC)
    return tree


# Queries per re-rank block: a block's rows are multiplied against the union of their candidates, so
# blocks hold queries whose candidate sets overlap — about as many queries as one candidate set holds.
MIN_BLOCK, MAX_BLOCK = 8, 128
SUPERBLOCK = 4096  # queries whose candidate lists are held at once (SUPERBLOCK x budget ids)


# When the candidates would cost more than the exact dense scan, the gated search answers exactly instead
# (recall 1).  A candidate is a feature row fetched from memory and re-ranked; a scanned column is a
# share of a GEMM: measured on the 2-core development machine (1,024 query ids, N = 32,768, wall time per
# candidate over wall time per dense column) 68x at m = 512 and 37x at m = 256.  ``Gate.fallback``.
CANDIDATE_COST = 50.0
# Budgets up to this many candidates are re-ranked query by query with the scalar kernel (few rows,
# read once each); larger ones in blocks against the union of their candidates by GEMM.
SCALAR_BUDGET = 512


def walk_is_dearer(mean_budget: float, mean_columns: float) -> bool:
    """True when fetching a mean of ``mean_budget`` candidates costs more than scanning ``mean_columns``
    columns exactly (``CANDIDATE_COST``): the walk's fallback rule, and ``Gate(search="auto")``'s."""
    return CANDIDATE_COST * mean_budget > mean_columns


def _block_size(queries: int, points: int, budget: int) -> int:
    return int(np.clip(budget * queries / max(points, 1), MIN_BLOCK, MAX_BLOCK))


def _run(proxy_tree: PCCTree, metric, fx, proxy_q, fq, order, out_row, exclude, limit, budget, k, n_out,
         fallback: bool) -> KnnResult:
    """Candidates of the queries in ``order`` (proxy stage), then blocks of consecutive queries re-ranked
    exactly against the union of their candidates by the dense engine's GEMM screen (a superset of each
    query's own candidates: never fewer true neighbours than calibrated)."""
    ids = np.full((n_out, k), -1, dtype=np.int64)
    dist = np.full((n_out, k), np.inf)
    exact_evals = np.zeros(n_out, dtype=np.int64)
    ex_ids = np.where(exclude >= 0, proxy_tree.ids[np.maximum(exclude, 0)], -1)
    columns = np.minimum(limit, fx.shape[0])
    if fallback and order.size and walk_is_dearer(float(budget.mean()), float(columns.mean())):
        # fetching C candidate rows each would cost more than the exact scan's GEMM: answer exactly
        exact = dense_knn(fx, metric, fq, order, ex_ids, limit, k)
        ids[out_row], dist[out_row], exact_evals[out_row] = exact.ids, exact.distances, exact.distance_evaluations
        return KnnResult(ids=ids, distances=dist, distance_evaluations=exact_evals, engine="dense")
    width = int(budget.max(initial=1))
    block = _block_size(order.shape[0], fx.shape[0], width)
    if width > SCALAR_BUDGET:
        norms = v_norms(fx[:, metric.dim + 1:])
        buffers = threading.local()
    for s0 in range(0, order.shape[0], SUPERBLOCK):
        s1 = min(order.shape[0], s0 + SUPERBLOCK)
        cands = np.empty((s1 - s0, width), dtype=np.int64)
        local = np.arange(s1 - s0, dtype=np.int64)
        batch = (proxy_q, order[s0:s1], local, exclude[s0:s1], limit[s0:s1], budget[s0:s1])
        proxy_evals = np.zeros(s1 - s0, dtype=np.int64)  # the kernel counts them; a result reports exact ones
        candidate_kernel(PROXY_METRIC.slots, proxy_tree.view, batch, (cands, proxy_evals), LEAF_SCAN_LOW_DIM,
                         proxy_tree.stack_size, CHUNKS_PER_THREAD * numba.get_num_threads())
        rows = out_row[s0:s1]
        if width <= SCALAR_BUDGET:
            got_ids = np.empty((s1 - s0, k), dtype=np.int64)
            got_dist = np.empty((s1 - s0, k))
            rerank(metric.slots, fq, order[s0:s1], fx, cands, k, got_ids, got_dist,
                   CHUNKS_PER_THREAD * numba.get_num_threads())
            ids[rows], dist[rows] = got_ids, got_dist
            exact_evals[rows] = (cands >= 0).sum(axis=1)
            continue

        def union_block(b0: int) -> None:
            b1 = min(s1 - s0, b0 + block)
            among = np.unique(cands[b0:b1])
            among = among[among >= 0]
            rows = out_row[s0 + b0: s0 + b1]
            t = slice(s0 + b0, s0 + b1)
            buffer = getattr(buffers, "rows", None)
            if buffer is None or buffer.shape[0] < among.shape[0]:
                buffer = buffers.rows = np.empty((max(among.shape[0], 2 * width), fx.shape[1]))
            ids[rows], dist[rows] = dense_among(fx, metric, fq, order[t], ex_ids[t], limit[t], k, among, norms,
                                                buffer)
            exact_evals[rows] = np.searchsorted(among, np.minimum(limit[t], fx.shape[0]))

        in_parallel(union_block, range(0, s1 - s0, block))
    return KnnResult(ids=ids, distances=dist, distance_evaluations=exact_evals, engine="gated")


def gated_self(proxy_tree: PCCTree, metric, rows: np.ndarray, profile: GateProfile, k: int,
               query_ids: np.ndarray | None, predecessor: bool) -> KnnResult:
    """Gated ``knn_self``: tree points' k nearest other points (ids below theirs when ``predecessor``),
    in proxy-tree order, so that a block's queries are neighbours and share candidates."""
    n = rows.shape[0]
    ids = np.arange(n, dtype=np.int64) if query_ids is None else query_ids.astype(np.int64)
    positions = proxy_tree.position_of[ids]
    by_position = np.argsort(positions, kind="stable").astype(np.int64)
    order = ids[by_position]
    limit = order if predecessor else np.full(order.shape[0], NO_LIMIT)
    budget = profile.budget_of(rows[order, metric.dim])
    pq = proxy_rows(metric, rows, profile.gate.proxy)
    return _run(proxy_tree, metric, rows, pq, rows, order, by_position, positions[by_position], limit, budget, k,
                ids.shape[0], profile.gate.fallback)


def gated_points(proxy_tree: PCCTree, metric, rows: np.ndarray, profile: GateProfile, queries: np.ndarray,
                 k: int) -> KnnResult:
    """Gated ``knn_points``: the k nearest tree points of new feature rows ``queries``."""
    m = queries.shape[0]
    order = np.arange(m, dtype=np.int64)
    budget = profile.budget_of(queries[:, metric.dim])
    return _run(proxy_tree, metric, rows, proxy_rows(metric, queries, profile.gate.proxy), queries, order, order,
                np.full(m, -1, dtype=np.int64), np.full(m, NO_LIMIT), budget, k, m, profile.gate.fallback)


def _draw(n: int, gate: Gate, predecessor: bool) -> tuple[np.ndarray, np.ndarray]:
    """Seeded disjoint calibration and audit point ids (predecessor rows start at id 1: row 0 has no candidates)."""
    first = 1 if predecessor else 0
    need = gate.calibration + gate.audit
    if need > n - first:
        raise ValueError(f"Gate.calibration + Gate.audit = {need} exceeds the {n - first} points that can be queries")
    perm = first + np.random.default_rng(gate.seed).permutation(n - first)
    return np.sort(perm[: gate.calibration]), np.sort(perm[gate.calibration: need])


def _scores(tree, gate: Gate, cal: np.ndarray, true_ids: np.ndarray, predecessor: bool) -> np.ndarray:
    """Each calibration query's score: the smallest budget that serves it, in the gate's search."""
    metric, rows = tree.metric, tree._fitted()
    pts = proxy_rows(metric, rows, gate.proxy)
    if gate.search == "cells":
        scores = cell_scores(tree._gate_partition(gate), pts, cal, true_ids)
        scores[exact_first(cal, rows.shape[0], predecessor)] = 0  # answered exactly
        return scores
    scores = np.zeros(cal.shape[0], dtype=np.int64)
    proxy_scores(PROXY_METRIC.slots, pts, cal, true_ids, predecessor, scores)
    return scores


def _budgets(gate: Gate, scores: np.ndarray, p: np.ndarray, n: int, k: int) -> tuple[tuple, tuple]:
    """(band edges of p, the conformal budget per band) from the calibration queries' scores."""
    edges = tuple(float(e) for e in np.quantile(p, np.arange(1, gate.bands) / gate.bands)) if gate.bands > 1 else ()
    band = np.searchsorted(np.asarray(edges), p, side="right")
    budgets = []
    for b in range(gate.bands):
        in_band = scores[band == b]
        budget = conformal_budget(in_band, gate.delta) if in_band.size else None
        if budget is None:
            raise ValueError(f"band {b} of p holds {in_band.size} calibration queries, too few to certify "
                             f"delta={gate.delta:g}: use fewer bands, more calibration queries or a larger delta")
        budgets.append(int(min(n, max(k, budget))))
    return edges, tuple(budgets)


def calibrate(tree, gate: Gate, k: int, predecessor: bool) -> GateProfile:
    """Calibrate ``gate`` for k-NN (or predecessor) queries on the fitted residual ``tree`` (its proxy tree
    or cell index is built here: part of the calibration's cost).  ``search="auto"`` scores the walk
    first and takes the cells when the walk's budget would cost more than the exact scan (where the
    walk would fall back to the exact engine); the profile's gate names the search chosen."""
    start = time.perf_counter()
    metric, rows = tree.metric, tree._fitted()
    n = rows.shape[0]
    stamp = Stamp.of(tree, k, predecessor)
    cal, held_out = _draw(n, gate, predecessor)
    exact = dense_self(rows, metric, k, cal, predecessor)
    p = rows[cal, metric.dim]
    auto = gate.search == "auto"
    gate = dataclasses.replace(gate, search="walk") if auto else gate
    scores = _scores(tree, gate, cal, exact.ids, predecessor)
    edges, budgets = _budgets(gate, scores, p, n, k)
    if auto and walk_is_dearer(float(np.mean(budgets)), n / (2.0 if predecessor else 1.0)):
        gate = dataclasses.replace(gate, search="cells")  # where the walk would answer exactly anyway
        scores = _scores(tree, gate, cal, exact.ids, predecessor)
        edges, budgets = _budgets(gate, scores, p, n, k)
    kth = np.where(exact.ids[:, -1] >= 0, exact.distances[:, -1], np.nan)
    calibration = {"ids": cal, "scores": scores, "p": p, "kth_distance": np.nan_to_num(kth, nan=-1.0)}
    profile = GateProfile(gate, stamp, edges, budgets, calibration)
    tree._gate_structure(profile)  # built now: its cost is part of the calibration
    seconds = time.perf_counter() - start
    result = audit(tree, profile, held_out) if held_out.size else None
    return dataclasses.replace(profile, seconds=seconds, audit=result)


def search_self(tree, profile: GateProfile, k: int, query_ids: np.ndarray | None, predecessor: bool) -> KnnResult:
    """Gated ``knn_self`` on ``tree`` in the profile's search."""
    structure, rows = tree._gate_structure(profile), tree._fitted()
    if profile.gate.search == "cells":
        return cells_self(structure, tree.metric, rows, profile, k, query_ids, predecessor)
    return gated_self(structure, tree.metric, rows, profile, k, query_ids, predecessor)


def search_points(tree, profile: GateProfile, queries: np.ndarray, k: int) -> KnnResult:
    """Gated ``knn_points`` of new feature rows on ``tree`` in the profile's search."""
    structure, rows = tree._gate_structure(profile), tree._fitted()
    if profile.gate.search == "cells":
        pts = proxy_rows(tree.metric, queries, profile.gate.proxy)
        return cells_points(structure, tree.metric, rows, profile, queries, pts, k)
    return gated_points(structure, tree.metric, rows, profile, queries, k)


def audit(tree, profile: GateProfile, query_ids: np.ndarray) -> GateAudit:
    """Gated and exact answers for the tree points ``query_ids``: recall@k and queries served whole."""
    metric, rows = tree.metric, tree._fitted()
    k, predecessor = profile.k, profile.predecessor
    tree._gate_structure(profile)
    start = time.perf_counter()
    gated = search_self(tree, profile, k, query_ids, predecessor)
    mid = time.perf_counter()
    exact = dense_self(rows, metric, k, query_ids, predecessor)
    end = time.perf_counter()
    found, true, served = neighbour_counts(gated.ids, exact.ids)
    conf = profile.gate.confidence
    lo, hi = clopper_pearson(found, true, conf) if true else (1.0, 1.0)
    s_lo, s_hi = clopper_pearson(served, query_ids.size, conf)
    return GateAudit(int(query_ids.size), found, true, found / true if true else 1.0, lo, hi, served,
                     served / query_ids.size, s_lo, s_hi, conf, mid - start, end - mid)


def neighbour_counts(gated_ids: np.ndarray, exact_ids: np.ndarray) -> tuple[int, int, int]:
    """(true neighbours returned, true neighbours, rows returned with all of theirs): ids that both
    answers give per row (-1 padding is not a neighbour)."""
    found = true = served = 0
    for g, e in zip(gated_ids, exact_ids):
        want = e[e >= 0]
        hit = int(np.isin(want, g).sum())
        found += hit
        true += want.size
        served += hit == want.size
    return found, true, served
