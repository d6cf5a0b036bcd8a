"""The Euclidean fit plan: from ``BLOCK_SCAN_MIN_POINTS`` points, in any number of coordinates, ``fit``
cuts the points into k-d leaves instead of building the cover tree; large queries scan the leaves, and the tree is
built when a smaller query, a radius search or an invariant check first needs it.  Every answer is checked
against the brute-force oracle, across versions (insert, delete) and pickling."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from conftest import make_data

from covertreex import CoverTree, Runtime
from covertreex.queries.knn import BLOCK_SCAN_MIN_POINTS, BLOCK_SCAN_MIN_ROWS
from covertreex.reference import brute_force_knn
from covertreex.telemetry import TelemetryWriter, validate

N = BLOCK_SCAN_MIN_POINTS + 904


def _same(result, want):
    np.testing.assert_array_equal(result.ids, want[0])
    np.testing.assert_array_equal(result.distances, want[1])


@pytest.mark.parametrize("shape, dim", [("gaussian", 5), ("duplicates", 5), ("clusters", 5), ("gaussian", 1),
                                        ("duplicates", 2), ("clusters", 3), ("gaussian", 3)])
def test_fit_makes_leaves_and_large_queries_scan_them_exactly(shape, dim):
    X = make_data(shape, N, dim, seed=1)
    tree = CoverTree().fit(X)
    plan = tree.describe()["plan"]
    assert not tree.has_tree and plan["scan"] and not plan["tree"] and "block scans" in plan["reason"]
    got = tree.knn_result(k=7)
    assert got.engine == "block-scan" and got.traversal is None
    _same(got, brute_force_knn(X, k=7))
    got = tree.knn_result(k=4, predecessor=True)
    want = brute_force_knn(X, k=4, rows=np.arange(N), predecessor=True)
    assert got.engine == "block-scan"
    _same(got, want)
    ids = np.random.default_rng(2).choice(N, BLOCK_SCAN_MIN_ROWS, replace=False)
    got = tree.knn_result(k=3, query_ids=ids)
    assert got.engine == "block-scan"
    _same(got, brute_force_knn(X, k=3, rows=ids))
    Q = make_data(shape, BLOCK_SCAN_MIN_ROWS + 11, dim, seed=9) + 0.01
    got = tree.knn_result(Q, k=5)
    assert got.engine == "block-scan"
    _same(got, brute_force_knn(X, Q, k=5))
    before = np.random.default_rng(3).integers(0, N + 1, Q.shape[0])
    got = tree.knn_result(Q, k=2, before=before)
    for r in np.random.default_rng(4).choice(Q.shape[0], 40, replace=False):  # oracle over the ids below before[r]
        want = brute_force_knn(X[: before[r]], Q[r:r + 1], k=2) if before[r] >= 2 else None
        if want is not None:
            np.testing.assert_array_equal(got.ids[r], want[0][0])
            np.testing.assert_array_equal(got.distances[r], want[1][0])
    assert not tree.has_tree  # none of these needed the cover tree


def test_small_queries_radius_and_checks_build_the_tree_once_when_needed():
    X = make_data("gaussian", N, 6, seed=5)
    tree = CoverTree().fit(X)
    Q = X[:9] + 0.05
    got = tree.knn_result(Q, k=3)
    assert got.engine != "block-scan" and tree.has_tree  # a small query walks the tree, built now
    _same(got, brute_force_knn(X, Q, k=3))
    built = tree.arrays
    assert tree.knn_result(k=2).engine == "block-scan"  # large queries keep scanning the leaves
    assert tree.arrays is built
    res = tree.radius(Q, r=0.6)
    oi, od = brute_force_knn(X, Q, k=N)
    for row in range(Q.shape[0]):
        ids, dist = res.row(row)
        np.testing.assert_array_equal(ids, oi[row][od[row] <= 0.6])
        np.testing.assert_array_equal(dist, od[row][od[row] <= 0.6])
    tree.check_invariants()
    fresh = CoverTree().fit(X)
    fresh.check_invariants()  # builds the tree to check it
    assert fresh.has_tree


def test_asking_for_the_tree_builds_it_at_fit_or_at_the_query():
    X = make_data("uniform", N, 4, seed=6)
    forced = CoverTree(Runtime(query_engine="tree")).fit(X)
    assert forced.has_tree and not forced.describe()["plan"]["scan"]
    _same(forced.knn_result(k=3), brute_force_knn(X, k=3))
    lazy = CoverTree().fit(X)
    got = lazy.knn_result(k=3, engine="tree")
    assert lazy.has_tree
    _same(got, brute_force_knn(X, k=3))


@pytest.mark.parametrize("d", [2, 8])
def test_small_data_still_builds_the_tree(d):
    n = BLOCK_SCAN_MIN_POINTS - 1
    tree = CoverTree().fit(make_data("gaussian", n, d, seed=n))
    assert tree.has_tree and not tree.describe()["plan"]["scan"]


def test_versions_without_a_tree_stay_exact_and_independent():
    X = make_data("gaussian", N, 5, seed=7)
    Y = make_data("gaussian", 300, 5, seed=8)
    tree = CoverTree().fit(X)
    grown = tree.insert(Y)
    assert not grown.has_tree and grown.num_points == N + 300
    _same(grown.knn_result(k=4), brute_force_knn(np.concatenate([X, Y]), k=4))
    gone = np.arange(0, N, 3)
    cut = grown.delete(gone)
    keep = np.setdiff1d(np.arange(N + 300), gone)
    got = cut.knn_result(k=4)
    assert got.engine == "block-scan" and not cut.has_tree
    oi, od = brute_force_knn(np.concatenate([X, Y])[keep], k=4)
    np.testing.assert_array_equal(got.ids, keep[oi])  # users' ids survive the deletion
    np.testing.assert_array_equal(got.distances, od)
    _same(tree.knn_result(k=4), brute_force_knn(X, k=4))  # the first version is untouched
    back = pickle.loads(pickle.dumps(cut))
    np.testing.assert_array_equal(back.knn_result(k=4).ids, keep[oi])


def test_float32_storage_without_a_tree_matches_the_oracle():
    X = make_data("gaussian", N, 7, seed=12).astype(np.float32)
    tree = CoverTree(Runtime(precision="float32")).fit(X)
    assert not tree.has_tree
    _same(tree.knn_result(k=5), brute_force_knn(X, k=5))
    Q = make_data("uniform", BLOCK_SCAN_MIN_ROWS, 7, seed=13).astype(np.float32)
    _same(tree.knn_result(Q, k=3), brute_force_knn(X, Q, k=3))


def test_the_plan_is_sent_to_telemetry(tmp_path):
    X = make_data("gaussian", N, 5, seed=10)
    path = tmp_path / "t.jsonl"
    with TelemetryWriter(path, Runtime()) as writer:
        CoverTree().fit(X, telemetry=writer)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for e in events:
        validate(e)
    plans = [e for e in events if e["schema_id"] == "covertreex.fit.plan"]
    assert len(plans) == 1 and plans[0]["tree"] is False and "block scans" in plans[0]["reason"]
