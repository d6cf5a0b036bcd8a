"""Gated (opt-in approximate) residual search: exact distances, the candidate stage against an
independent reference, calibration scores, stamps that refuse a stale profile, profile files, audits."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import assert_gate_matches_oracle, make_data

from covertreex import CoverTree, Gate, GateProfile, Residual, Runtime
from covertreex.gates import search as gated
from covertreex.gates._gated_numba import proxy_scores
from covertreex.gates.calibration import worst_proxy_ranks
from covertreex.kernels import RBF, Matern32
from covertreex.metrics.euclidean import EuclideanMetric
from covertreex.reference import brute_force_knn
from covertreex.telemetry import TelemetryWriter, validate

N = 700
POLICIES = {
    "rbf-tiny-p": Residual(RBF(1.0), inducing=120),  # p ~ 1e-6 .. 1e-3: distances concentrate near 1
    "matern-large-p": Residual(Matern32(1.0, 0.3), inducing=40),
    "ard": Residual(Matern32(1.3, (0.4, 1.0, 2.5)), inducing=60),
}


def _tree(shape="gaussian", policy="matern-large-p", n=N, seed=0):
    X = make_data(shape, n, 3, seed=seed)
    return X, CoverTree(Runtime(metric="residual", residual=POLICIES[policy], query_engine="dense")).fit(X)


def _with_budget(profile: GateProfile, budget: int) -> GateProfile:
    return dataclasses.replace(profile, budgets=(budget,) * len(profile.budgets))


SMALL = Gate(delta=0.1, calibration=60, audit=60, fallback=False)  # the gated search itself, always


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("shape", ["gaussian", "duplicates", "clusters"])
@pytest.mark.parametrize("path", ["scalar", "union"])
def test_a_full_budget_answers_exactly(policy, shape, path, monkeypatch):
    """With every point a candidate the gated search is the exact search: ids and distances equal the
    oracle's in every mode (tree points, predecessor rows, new coordinates), by both re-rank paths."""
    monkeypatch.setattr(gated, "SCALAR_BUDGET", 10**9 if path == "scalar" else 0)
    X, tree = _tree(shape, policy)
    k = 7
    rows = np.arange(0, N, 5)
    full = _with_budget(tree.calibrate_gate(SMALL, k), N)
    assert_gate_matches_oracle(X, tree, k, full, rows=rows)
    pred = _with_budget(tree.calibrate_gate(SMALL, k, predecessor=True), N)
    assert_gate_matches_oracle(X, tree, k, pred, predecessor=True)
    assert_gate_matches_oracle(X, tree, k, full, Q=make_data("gaussian", 40, 3, seed=9))


@pytest.mark.parametrize("predecessor", [False, True])
def test_a_budget_dearer_than_the_exact_scan_answers_exactly(predecessor):
    """The cost model's fallback: candidates that would cost more than the dense scan are not fetched;
    the exact engine answers (recall 1) and says so."""
    X, tree = _tree("gaussian", "rbf-tiny-p")
    k = 6
    prof = tree.calibrate_gate(dataclasses.replace(SMALL, fallback=True), k, predecessor=predecessor)
    rows = np.arange(1, N, 4)
    for budget, engine in ((N, "dense"), (k, "gated")):
        res = tree.knn_result(query_ids=rows, k=k, predecessor=predecessor, gate=_with_budget(prof, budget))
        assert res.engine == engine
    res = tree.knn_result(query_ids=rows, k=k, predecessor=predecessor, gate=_with_budget(prof, N))
    e_ids, e_dist = brute_force_knn(X, k=k, rows=rows, predecessor=predecessor, metric="residual",
                                    residual=tree.metric)
    np.testing.assert_array_equal(res.ids, e_ids)
    np.testing.assert_array_equal(res.distances, e_dist)


def _proxy_top(P: np.ndarray, q: int, budget: int, limit: int) -> set:
    d = np.sqrt(((P[:limit] - P[q]) ** 2).sum(axis=1)) if limit else np.empty(0)
    if q < limit:
        d[q] = np.inf
    order = np.argsort(d, kind="stable")
    return set(order[: min(budget, limit - (q < limit))].tolist())


@pytest.mark.parametrize("predecessor", [False, True])
@pytest.mark.parametrize("policy", ["rbf-tiny-p", "ard"])
def test_the_scalar_path_is_the_exact_top_k_of_the_proxy_candidates(policy, predecessor, monkeypatch):
    """Budget C: each row is exactly the top k (by distance, then id) among its C proxy-nearest points
    (Gaussian data: no proxy ties), computed independently with NumPy and the oracle."""
    monkeypatch.setattr(gated, "SCALAR_BUDGET", 10**9)
    X, tree = _tree("gaussian", policy)
    k, C = 6, 40
    prof = _with_budget(tree.calibrate_gate(SMALL, k, predecessor=predecessor), C)
    rows = np.arange(1, N, 9)
    ids, dist = tree.knn(query_ids=None if predecessor else rows, k=k, predecessor=predecessor, gate=prof,
                         return_distances=True)
    if predecessor:
        ids, dist = ids[rows], dist[rows]
    P = X / np.asarray(tree.metric.kernel.lengthscales(3))
    all_d = tree.distances(rows, np.arange(N))
    for r, q in enumerate(rows):
        cands = _proxy_top(P, q, C, q if predecessor else N)
        best = sorted((all_d[r, c], c) for c in cands)[:k]
        want_ids = [c for _, c in best] + [-1] * (k - len(best))
        np.testing.assert_array_equal(ids[r], want_ids)
        np.testing.assert_array_equal(dist[r][: len(best)], [d for d, _ in best])


@pytest.mark.parametrize("shape", ["gaussian", "duplicates"])
def test_union_blocks_return_every_true_neighbour_among_a_rows_own_candidates(shape, monkeypatch):
    """The GEMM path re-ranks a block against the union of its candidates (a superset of each row's
    own): a true neighbour among a row's own candidates is never lost, and every distance is exact."""
    monkeypatch.setattr(gated, "SCALAR_BUDGET", 0)
    X, tree = _tree(shape, "rbf-tiny-p")
    k, C = 8, 50
    prof = _with_budget(tree.calibrate_gate(SMALL, k), C)
    rows = np.arange(N)
    ids, dist = tree.knn(k=k, gate=prof, return_distances=True, query_ids=rows)
    e_ids, e_dist = brute_force_knn(X, k=k, rows=rows, metric="residual", residual=tree.metric)
    P = X / np.asarray(tree.metric.kernel.lengthscales(3))
    D = tree.distances(rows, np.arange(N))
    for q in rows:
        np.testing.assert_array_equal(dist[q][ids[q] >= 0], D[q, ids[q][ids[q] >= 0]])
        d = np.sqrt(((P - P[q]) ** 2).sum(axis=1))
        d[q] = np.inf
        inside = d <= np.sort(d)[C - 1]  # ties at the C-th proxy distance all count as inside
        strict = d < np.sort(d)[C - 1]
        for t, td in zip(e_ids[q], e_dist[q]):
            if strict[t] and td < e_dist[q][-1]:  # a strict true neighbour certainly among the candidates
                assert t in ids[q]
        assert inside.sum() >= C


@pytest.mark.parametrize("predecessor", [False, True])
@pytest.mark.parametrize("shape", ["gaussian", "duplicates", "grid"])
def test_calibration_scores_match_an_independent_count(shape, predecessor):
    X, tree = _tree(shape, "matern-large-p")
    P = np.ascontiguousarray(X / np.asarray(tree.metric.kernel.lengthscales(3)))
    q = np.arange(3, N, 11)
    truth, _ = brute_force_knn(X, k=5, rows=q, predecessor=predecessor, metric="residual", residual=tree.metric)
    got = np.zeros(q.size, dtype=np.int64)
    proxy_scores(EuclideanMetric().slots, P, q, truth, predecessor, got)
    np.testing.assert_array_equal(got, worst_proxy_ranks(P, q, truth, predecessor))


def test_calibration_picks_the_conformal_budget_and_audits_on_held_out_points():
    X, tree = _tree("gaussian", "rbf-tiny-p")
    gate = Gate(delta=0.1, calibration=200, audit=150, bands=2, seed=3)
    prof = tree.calibrate_gate(gate, 10)
    cal = prof.calibration
    assert cal["ids"].size == 200 and prof.audit.queries == 150
    for b, budget in enumerate(prof.budgets):
        scores = cal["scores"][prof.band_of(cal["p"]) == b]
        rank = int(np.ceil((scores.size + 1) * 0.9))
        assert budget == max(10, np.sort(scores)[rank - 1])
    assert len(prof.band_edges) == 1
    # the audit's counts, recounted from scratch on the same held-out points
    perm = np.random.default_rng(3).permutation(N)
    held = np.sort(perm[200:350])
    assert not set(held) & set(cal["ids"].tolist())
    g = tree.knn(query_ids=held, k=10, gate=prof)
    e, _ = brute_force_knn(X, k=10, rows=held, metric="residual", residual=tree.metric)
    found = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(g, e))
    served = sum(set(a.tolist()) >= set(b.tolist()) for a, b in zip(g, e))
    assert (prof.audit.found, prof.audit.true, prof.audit.served) == (found, 1500, served)
    assert prof.audit.recall_low <= prof.audit.recall <= prof.audit.recall_high
    again = tree.audit_gate(prof, held)
    assert (again.found, again.served) == (found, served)


def test_a_profile_is_refused_on_another_kernel_inducing_set_data_k_or_mode():
    X, tree = _tree()
    prof = tree.calibrate_gate(SMALL, 5)
    tree.knn(query_ids=[1, 2], k=5, gate=prof)  # fits
    other_kernel = CoverTree(Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.31), inducing=40),
                                     query_engine="dense")).fit(X)
    with pytest.raises(ValueError, match="kernel"):
        other_kernel.knn(query_ids=[1], k=5, gate=prof)
    other_inducing = CoverTree(Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.3), inducing=40, seed=1),
                                       query_engine="dense")).fit(X)
    with pytest.raises(ValueError, match="inducing"):
        other_inducing.knn(query_ids=[1], k=5, gate=prof)
    with pytest.raises(ValueError, match="other data"):
        tree.insert(X[:3] + 0.5).knn(query_ids=[1], k=5, gate=prof)
    with pytest.raises(ValueError, match="k=5"):
        tree.knn(query_ids=[1], k=4, gate=prof)
    with pytest.raises(ValueError, match="k-NN"):
        tree.knn(k=5, predecessor=True, gate=prof)
    with pytest.raises(ValueError, match="engine= or gate="):
        tree.knn(query_ids=[1], k=5, gate=prof, engine="dense")
    euclid = CoverTree().fit(X)
    with pytest.raises(ValueError, match="metric='residual'"):
        euclid.calibrate_gate(SMALL, 5)
    with pytest.raises(TypeError, match="GateProfile"):
        tree.knn(query_ids=[1], k=5, gate=SMALL)


def test_precomputed_factors_are_stamped_by_their_values():
    X, tree = _tree()
    F = tree._fitted()
    V, p = F[:, 4:], F[:, 3]
    run = Runtime(metric="residual", residual=POLICIES["matern-large-p"], query_engine="dense")
    a = CoverTree(run).fit(X, v_matrix=V, p_diag=p)
    prof = a.calibrate_gate(SMALL, 5)
    a.knn(query_ids=[3], k=5, gate=prof)
    b = CoverTree(run).fit(X, v_matrix=V, p_diag=p * 1.01)
    with pytest.raises(ValueError, match="inducing"):
        b.knn(query_ids=[3], k=5, gate=prof)


def test_gate_settings_are_validated():
    for bad, match in (({"delta": 0}, "delta"), ({"delta": 1.5}, "delta"), ({"calibration": 0}, "calibration"),
                       ({"proxy": "pca"}, "proxy"), ({"fallback": 1}, "fallback"), ({"bands": 0}, "bands"), ({"audit": -1}, "audit"),
                       ({"delta": 1e-3, "calibration": 500}, "cannot certify"), ({"seed": True}, "seed")):
        with pytest.raises(ValueError, match=match):
            Gate(**bad)
    X, tree = _tree()
    with pytest.raises(ValueError, match="exceeds"):
        tree.calibrate_gate(Gate(calibration=600, audit=200), 5)


def test_profiles_round_trip_and_untrusted_files_are_refused(tmp_path):
    X, tree = _tree()
    prof = tree.calibrate_gate(Gate(delta=0.1, calibration=60, audit=40, bands=2), 5, predecessor=True)
    path = prof.save(tmp_path / "profiles" / "p.json")
    back = GateProfile.load(path)
    assert back.describe() == prof.describe()
    np.testing.assert_array_equal(tree.knn(k=5, predecessor=True, gate=back),
                                  tree.knn(k=5, predecessor=True, gate=prof))
    doc = json.loads(path.read_text())
    broken = {
        "not json": "{",
        "wrong format": json.dumps({**doc, "format": "x"}),
        "missing field": json.dumps({key: v for key, v in doc.items() if key != "budgets"}),
        "budget below k": json.dumps({**doc, "budgets": [1, 2]}),
        "budget not int": json.dumps({**doc, "budgets": [5.5, 9]}),
        "nan edge": path.read_text().replace(json.dumps(doc["band_edges"])[1:-1], "NaN"),
        "bad gate": json.dumps({**doc, "gate": {**doc["gate"], "delta": 2}}),
        "short arrays": json.dumps({**doc, "calibration": {**doc["calibration"], "p": [0.1]}}),
        "bad stamp": json.dumps({**doc, "stamp": {**doc["stamp"], "k": -1}}),
    }
    for name, text in broken.items():
        bad = tmp_path / f"{name.replace(' ', '_')}.json"
        bad.write_text(text)
        with pytest.raises(ValueError, match="gate profile"):
            GateProfile.load(bad)
    with pytest.raises(ValueError, match=".json"):
        prof.save(tmp_path / "p.txt")


def test_gate_telemetry_events_follow_their_schema(tmp_path):
    X, tree = _tree()
    path = tmp_path / "t.jsonl"
    with TelemetryWriter(path, Runtime()) as w:
        prof = tree.calibrate_gate(SMALL, 5, telemetry=w)
        tree.knn(query_ids=[1, 2, 3], k=5, gate=prof, telemetry=w)
        tree.audit_gate(prof, [7, 8, 9], telemetry=w)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for e in events:
        validate(e)
    gates = [e for e in events if e["schema_id"] == "covertreex.gate"]
    assert [e["action"] for e in gates] == ["calibrate", "audit"]
    assert gates[0]["recall"] == prof.audit.recall
    query = [e for e in events if e["schema_id"] == "covertreex.query"][0]
    assert query["engine"] == "gated" and query["recall"] == prof.audit.recall


def test_vecchia_kl_is_zero_with_every_predecessor_and_matches_the_dense_formula():
    from covertreex.reference import residual_covariance, vecchia_kl

    X = make_data("gaussian", 60, 3, seed=2)
    tree = CoverTree(Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.5), inducing=10))).fit(X)
    R = residual_covariance(tree, X)
    everything = [np.arange(i) for i in range(60)]
    assert abs(vecchia_kl(R, everything)) < 1e-8  # the full Cholesky: no approximation
    nothing = [np.full(3, -1) for _ in range(60)]  # independent points: KL = (sum log R_ii - log det R) / 2
    expected = 0.5 * (np.log(np.diag(R)).sum() - np.linalg.slogdet(R)[1])
    assert vecchia_kl(R, nothing) == pytest.approx(expected, rel=1e-10)
    sets = tree.knn(k=4, predecessor=True)
    assert 0 < vecchia_kl(R, sets) < vecchia_kl(R, nothing)
    with pytest.raises(ValueError, match="earlier points"):
        vecchia_kl(R, [np.array([i]) for i in range(60)])
