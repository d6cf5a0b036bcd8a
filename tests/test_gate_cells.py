"""The cell layout of the gated residual search (``Gate(search="cells")``): exact within the halo (full
halos equal the oracle bit for bit), certified screen bounds, calibration scores, partition and profiles."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import assert_gate_matches_oracle, make_data

from covertreex import CoverTree, Gate, GateProfile, Residual, Runtime
from covertreex.gates import cell_search
from covertreex.gates._cells_numba import _rho_bounds
from covertreex.gates.cells import cell_scores, partition, query_features
from covertreex.gates.search import proxy_rows
from covertreex.kernels import RBF, Matern32
from covertreex.reference import brute_force_knn

N = 600
POLICIES = {
    "rbf-tiny-p": Residual(RBF(1.0), inducing=120),
    "matern-large-p": Residual(Matern32(1.0, 0.3), inducing=40),
    "ard": Residual(Matern32(1.3, (0.4, 1.0, 2.5)), inducing=60),
}
CELLS = Gate(delta=0.1, calibration=60, audit=60, fallback=False, search="cells", cell=48)


def _tree(shape="gaussian", policy="matern-large-p", n=N, seed=0):
    X = make_data(shape, n, 3, seed=seed)
    return X, CoverTree(Runtime(metric="residual", residual=POLICIES[policy], query_engine="dense")).fit(X)


def _with_budget(profile: GateProfile, budget: int) -> GateProfile:
    return dataclasses.replace(profile, budgets=(budget,) * len(profile.budgets))


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("shape", ["gaussian", "duplicates", "clusters"])
def test_full_halos_answer_exactly(policy, shape):
    """With every point in every halo the cell search is the exact search: ids and distances equal the
    oracle's for tree points, predecessor rows and new coordinates — so the screen dropped nothing."""
    X, tree = _tree(shape, policy)
    k = 7
    rows = np.arange(0, N, 3)
    full = _with_budget(tree.calibrate_gate(CELLS, k), N)
    assert_gate_matches_oracle(X, tree, k, full, rows=rows)
    result = tree.knn_result(k=k, gate=full)
    assert result.engine == "gated"
    if policy == "rbf-tiny-p":  # the regime the cells are for: a low local rank, so the screen screens
        assert result.distance_evaluations.mean() < N / 2
    pred = _with_budget(tree.calibrate_gate(CELLS, k, predecessor=True), N)
    assert_gate_matches_oracle(X, tree, k, pred, predecessor=True)
    assert_gate_matches_oracle(X, tree, k, full, Q=make_data("gaussian", 40, 3, seed=9))


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("shape", ["gaussian", "duplicates"])
def test_screen_bounds_hold_for_every_halo_pair(policy, shape):
    """Every pair's |rho| as the exact scalar distance gives it (1 - d^2) lies within the screen's bounds:
    tree points and new coordinates, every cell's halo."""
    X, tree = _tree(shape, policy)
    k = 5
    profile = _with_budget(tree.calibrate_gate(CELLS, k), 200)
    index = tree._gate_structure(profile)
    rows, slots = tree._fitted(), tree.metric.slots
    scalar = tree.metric.rho_error_bound(1.0)
    Q = make_data("gaussian", 30, 3, seed=4)
    fq = tree.metric.rows(Q)
    worst = 0.0
    for c, b in enumerate(index.bases):
        members = index.part.members[index.part.starts[c]: index.part.starts[c + 1]]
        for F, pick in ((rows, members[:5]), (fq, np.flatnonzero(index.part.nearest_cell(proxy_rows(
                tree.metric, fq, "scaled")) == c)[:5])):
            if pick.size == 0:
                continue
            Wq, wn_q, se_q, ip_q = query_features(slots, rows, b, F[pick])
            prod = Wq @ b.W.T
            src = X if F is rows else Q
            ids, d = brute_force_knn(X, src[pick], k=N, metric="residual", residual=tree.metric)
            for t in range(pick.size):
                exact = np.empty(N)
                exact[ids[t]] = 1.0 - d[t] ** 2
                for j, y in enumerate(b.halo):
                    lo, up = _rho_bounds(prod[t, j], ip_q[t], se_q[t], wn_q[t], b.inv_sqrt_p[j], b.sqrt_e[j],
                                         b.w_norm[j], cell_search._gamma32(b.rank), scalar)
                    assert lo - 1e-12 <= exact[y] <= up + 1e-12, (c, t, y, lo, exact[y], up)
                    worst = max(worst, up - lo)
    assert worst > 0.0


@pytest.mark.parametrize("predecessor", [False, True])
@pytest.mark.parametrize("shape", ["gaussian", "duplicates", "grid"])
def test_cell_scores_are_the_smallest_halo_that_holds_every_true_neighbour(shape, predecessor):
    X, tree = _tree(shape, "rbf-tiny-p")
    k = 6
    pts = proxy_rows(tree.metric, tree._fitted(), "scaled")
    part = partition(pts, 40)
    qs = np.arange(1, N, 11)
    true_ids, _ = brute_force_knn(X, k=k, rows=qs, predecessor=predecessor, metric="residual", residual=tree.metric)
    scores = cell_scores(part, pts, qs, true_ids)
    for q, want, s in zip(qs, true_ids, scores):
        want = want[want >= 0]
        c = int(part.cell_of[q])
        assert set(want) <= set(part.halo(c, pts, int(s)))
        if s > 1:
            assert not set(want) <= set(part.halo(c, pts, int(s) - 1))


def test_partition_covers_every_point_once_in_small_boxes():
    pts = make_data("duplicates", 1000, 3, seed=2)
    part = partition(pts, 70)
    np.testing.assert_array_equal(np.sort(part.members), np.arange(1000))
    sizes = np.diff(part.starts)
    assert sizes.max() <= 70 and sizes.min() >= 1 and part.cells >= 1000 // 70
    for c in range(part.cells):
        cell = part.members[part.starts[c]: part.starts[c + 1]]
        assert (part.cell_of[cell] == c).all()
        assert (pts[cell] >= part.lo[c]).all() and (pts[cell] <= part.hi[c]).all()
        np.testing.assert_array_equal(part.gaps(c, pts[cell]), 0.0)
    assert (part.nearest_cell(pts[part.members]) <= np.repeat(np.arange(part.cells), sizes)).all()


def test_early_predecessor_rows_are_answered_exactly_and_score_zero():
    X, tree = _tree("gaussian", "rbf-tiny-p")
    k = 5
    profile = tree.calibrate_gate(CELLS, k, predecessor=True)
    cal = profile.calibration["ids"]
    early = cal < N // cell_search.EXACT_SHARE
    assert early.any() and (profile.calibration["scores"][early] == 0).all()
    tiny = _with_budget(profile, k)
    rows = np.arange(1, N // cell_search.EXACT_SHARE)
    ids = tree.knn(query_ids=rows, k=k, predecessor=True, gate=tiny)
    e_ids, _ = brute_force_knn(X, k=k, rows=rows, predecessor=True, metric="residual", residual=tree.metric)
    np.testing.assert_array_equal(ids, e_ids)


def test_the_budget_is_the_conformal_score_and_small_halos_miss():
    X, tree = _tree("gaussian", "rbf-tiny-p", n=N)
    gate = dataclasses.replace(CELLS, delta=0.2, calibration=100, audit=100)
    profile = tree.calibrate_gate(gate, 8)
    scores = np.sort(profile.calibration["scores"])
    assert profile.budgets[0] == max(8, scores[int(np.ceil(101 * 0.8)) - 1])
    assert 0.0 < profile.audit.recall <= 1.0
    short = tree.audit_gate(_with_budget(profile, 8), np.arange(0, N, 7))
    assert short.recall < profile.audit.recall  # a halo of k points loses neighbours: the audit sees it


def test_cells_profiles_round_trip_and_older_files_are_walk_profiles(tmp_path):
    X, tree = _tree()
    prof = tree.calibrate_gate(CELLS, 5)
    back = GateProfile.load(prof.save(tmp_path / "cells.json"))
    assert back.gate.search == "cells" and back.gate.cell == 48
    np.testing.assert_array_equal(tree.knn(k=5, gate=back), tree.knn(k=5, gate=prof))
    doc = json.loads((tmp_path / "cells.json").read_text())
    del doc["gate"]["search"], doc["gate"]["cell"]
    (tmp_path / "old.json").write_text(json.dumps(doc))
    assert GateProfile.load(tmp_path / "old.json").gate.search == "walk"


def test_tiny_cells_with_large_halos_are_refused_before_any_basis_is_built(tmp_path):
    """Memory grows with cells x halo: a profile (or a crafted file) asking for far too many is an error."""
    X, tree = _tree()
    profile = tree.calibrate_gate(CELLS, 5)
    tiny = dataclasses.replace(profile, gate=dataclasses.replace(profile.gate, cell=2), budgets=(N,))
    tiny.save(tmp_path / "tiny.json")
    with pytest.raises(ValueError, match="use larger cells"):
        tree.knn(k=5, gate=GateProfile.load(tmp_path / "tiny.json"))


def test_cell_settings_are_validated():
    for bad, match in (({"search": "tree"}, "search"), ({"cell": 1}, "cell"), ({"cell": 2.5}, "cell")):
        with pytest.raises(ValueError, match=match):
            Gate(**bad)


def test_auto_takes_the_walk_where_its_budget_is_cheap_and_the_cells_where_it_is_not(tmp_path):
    auto = dataclasses.replace(CELLS, search="auto", calibration=100, audit=50)
    _, tiny = _tree("gaussian", "rbf-tiny-p")  # 600 points: any budget over 12 costs more than the scan
    chosen = tiny.calibrate_gate(auto, 7)
    walk = tiny.calibrate_gate(dataclasses.replace(auto, search="walk"), 7)
    assert chosen.gate.search == "cells" and 50 * walk.budgets[0] > N
    X = make_data("gaussian", 6000, 3, seed=1)
    large = CoverTree(Runtime(metric="residual", residual=POLICIES["matern-large-p"])).fit(X)
    chosen = large.calibrate_gate(auto, 5, predecessor=True)
    assert chosen.gate.search == "walk" and 50 * chosen.budgets[0] <= 3000
    doc = json.loads(chosen.save(tmp_path / "p.json").read_text())
    doc["gate"]["search"] = "auto"
    (tmp_path / "auto.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="not 'auto'"):
        GateProfile.load(tmp_path / "auto.json")


@pytest.mark.parametrize("predecessor", [False, True])
def test_small_halos_return_exact_distances_for_the_ids_they_return(predecessor):
    """Only membership is approximate: every distance returned is the tree's own distance of that pair."""
    X, tree = _tree("clusters", "rbf-tiny-p")
    k = 6
    profile = _with_budget(tree.calibrate_gate(CELLS, k, predecessor=predecessor), 40)
    rows = np.arange(N // 2, N, 7)
    ids, dist = tree.knn(query_ids=rows, k=k, predecessor=predecessor, gate=profile, return_distances=True)
    assert (ids >= 0).all()
    for q, got, d in zip(rows, ids, dist):
        np.testing.assert_array_equal(d, tree.distances([q], got)[0])
        assert (np.diff(d) >= 0).all() and (not predecessor or (got < q).all())
    e_ids, _ = brute_force_knn(X, k=k, rows=rows, predecessor=predecessor, metric="residual", residual=tree.metric)
    assert np.mean([np.isin(e, g).mean() for e, g in zip(e_ids, ids)]) < 1.0  # a 40-point halo does miss some


def test_bands_of_p_read_their_own_prefix_of_one_halo():
    X, tree = _tree("gaussian", "rbf-tiny-p")
    k = 5
    profile = tree.calibrate_gate(dataclasses.replace(CELLS, bands=2, calibration=120), k)
    mixed = dataclasses.replace(profile, budgets=(N, k))  # band 0: every point; band 1: k points
    rows = np.arange(0, N, 3)
    ids = tree.knn(query_ids=rows, k=k, gate=mixed)
    e_ids, _ = brute_force_knn(X, k=k, rows=rows, metric="residual", residual=tree.metric)
    band = mixed.band_of(tree._fitted()[rows, tree.metric.dim])
    np.testing.assert_array_equal(ids[band == 0], e_ids[band == 0])
    assert not np.array_equal(ids[band == 1], e_ids[band == 1])
