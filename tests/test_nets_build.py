"""The net build (``Runtime.build``, ``algo.nets``): fresh Euclidean trees in one to three coordinates built
bottom-up from nets.  Every tree is checked against every invariant and every query path against the
brute-force oracle; the rounds take over where the nets cannot separate the points."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHAPES, make_data

from covertreex import CoverTree, Residual, Runtime
from covertreex.algo._nets_numba import bounds, distinct_points
from covertreex.algo.nets import CROWDED_CELL, _fine_scale, net_tree
from covertreex.kernels import Matern32
from covertreex.metrics.euclidean import EuclideanMetric
from covertreex.reference import brute_force_knn
from covertreex.runtime.config import NETS_MIN_POINTS
from covertreex.telemetry import TelemetryWriter, validate

NETS = Runtime(build="nets", query_engine="tree")


def _same(got, want):
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def _exact(tree, X, k=5):
    _same(tree.knn(k=k, return_distances=True), brute_force_knn(X, k=k))
    rows = np.arange(X.shape[0])
    _same(tree.knn(query_ids=rows, k=3, predecessor=True, return_distances=True),
          brute_force_knn(X, k=3, rows=rows, predecessor=True))
    Q = X[:200] + 0.01
    _same(tree.knn(Q, k=k, return_distances=True), brute_force_knn(X, Q, k=k))


@pytest.mark.parametrize("shape", ("uniform", "gaussian", "duplicates", "grid"))
@pytest.mark.parametrize("dim", (1, 2, 3))
@pytest.mark.parametrize("precision", ("float64", "float32"))
def test_net_trees_keep_every_invariant_and_answer_exactly(shape, dim, precision):
    X = make_data(shape, 2500, dim, seed=dim).astype(precision)
    tree = CoverTree(NETS.with_updates(precision=precision)).fit(X)
    assert tree.build_stats == ()  # built by the nets: no rounds
    tree.check_invariants()
    _exact(tree, X)
    got = tree.radius(X[:50], r=0.3)
    for r, row in enumerate(X[:50]):
        want = np.flatnonzero(np.sqrt(((X.astype(np.float64) - row.astype(np.float64)) ** 2).sum(1)) <= 0.3)
        np.testing.assert_array_equal(np.sort(got.row(r)[0]), want)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_in_three_coordinates_gives_a_valid_tree_with_exact_answers(shape):
    """Tight clusters far apart crowd one fine cell: that build goes by rounds; collinear points in 3-D, far
    closer to each other than the data's extent, go by nets below the fine scale."""
    X = make_data(shape, 2000, 3, seed=5)
    tree = CoverTree(NETS).fit(X)
    tree.check_invariants()
    _exact(tree, X)
    assert (tree.build_stats != ()) == (shape == "clusters")


def test_points_far_closer_than_the_extent_build_by_nets():
    X = np.array([[0.0], [1e-13], [1.0], [1.0 + 2e-300]] + [[float(v)] for v in np.linspace(2, 3, 10)])
    tree = CoverTree(NETS).fit(X)
    assert tree.build_stats == ()
    tree.check_invariants()
    _same(tree.knn(k=2, return_distances=True), brute_force_knn(X, k=2))


def test_a_dense_cluster_refines_the_fine_scale_and_still_builds_by_nets():
    rng = np.random.default_rng(4)
    X = np.vstack([rng.uniform(0, 1, (1000, 2)), 0.5 + 1e-4 * rng.standard_normal((600, 2))])
    metric = EuclideanMetric()
    lo, extent = bounds(X)
    parent = np.full(X.shape[0], -1)
    first_crowd = distinct_points(X, lo, float(extent.max()), _fine_scale(X, lo, extent), parent)[3]
    assert first_crowd > CROWDED_CELL  # the first fine scale crowds one cell
    assert net_tree(metric, X) is not None
    tree = CoverTree(NETS).fit(X)
    assert tree.build_stats == ()
    tree.check_invariants()
    _exact(tree, X)


def test_the_nets_decline_what_they_cannot_build():
    metric = EuclideanMetric()
    assert net_tree(metric, np.ones((50, 2))) is None  # one distinct point
    tiny = np.array([[0.0, 0.0], [1e-300, 0.0], [1.0, 1.0]])  # unequal, yet at distance 0 (the square underflows)
    assert net_tree(metric, tiny) is None
    tree = CoverTree(NETS).fit(tiny)
    tree.check_invariants()
    crowded = np.vstack([np.random.default_rng(0).standard_normal((300, 2)) * 1e-9, [[1.0, 1.0]]])
    assert net_tree(metric, crowded) is None  # 300 points in one cell of the finest scale (2**-20 of the extent)
    tree = CoverTree(NETS).fit(crowded)
    assert tree.build_stats != ()  # built by rounds
    tree.check_invariants()
    with pytest.raises(ValueError, match="1 to 3 coordinates"):
        net_tree(metric, np.zeros((5, 4)))


def test_signed_zeros_are_equal_points():
    X = np.array([[0.0, 1.0], [-0.0, 1.0], [0.0, -0.0], [2.0, 2.0], [0.0, 0.0]])
    tree = CoverTree(NETS).fit(X)
    assert tree.build_stats == ()
    tree.check_invariants()
    _same(tree.knn(k=2, return_distances=True), brute_force_knn(X, k=2))


def test_auto_builds_by_nets_from_enough_points_in_up_to_three_coordinates():
    tree_engine = Runtime(query_engine="tree")
    for n, dim, nets in ((NETS_MIN_POINTS, 3, True), (NETS_MIN_POINTS - 1, 3, False), (NETS_MIN_POINTS, 4, False)):
        X = make_data("gaussian", n, dim, seed=n)
        tree = CoverTree(tree_engine).fit(X)
        assert (tree.build_stats == ()) == nets, (n, dim)
    assert not tree_engine.with_updates(build="rounds").builds_by_nets(10**6, 2)


def test_a_net_tree_grows_by_rounds_and_shrinks_by_deletion_and_old_versions_stay_valid():
    X = make_data("gaussian", 3000, 3, seed=7)
    Y = make_data("uniform", 800, 3, seed=8)
    base = CoverTree(NETS).fit(X)
    grown = base.insert(Y)
    assert grown.build_stats != ()  # inserting goes by rounds
    grown.check_invariants()
    both = np.vstack([X, Y])
    _same(grown.knn(k=4, return_distances=True), brute_force_knn(both, k=4))
    kept = np.setdiff1d(np.arange(both.shape[0]), np.arange(0, both.shape[0], 3))
    shrunk = grown.delete(np.arange(0, both.shape[0], 3))
    shrunk.check_invariants()
    ids, dist = shrunk.knn(both[kept][:100], k=3, return_distances=True)
    want_ids, want_dist = brute_force_knn(both[kept], both[kept][:100], k=3)
    np.testing.assert_array_equal(ids, kept[want_ids])
    np.testing.assert_array_equal(dist, want_dist)
    base.check_invariants()
    _same(base.knn(k=4, return_distances=True), brute_force_knn(X, k=4))


def test_the_build_setting_is_checked_and_read_from_the_environment():
    with pytest.raises(ValueError, match="Runtime.build must be one of"):
        Runtime(build="fast")
    with pytest.raises(ValueError, match="Runtime.build='nets' needs coordinates"):
        Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.6), inducing=30), build="nets")
    with pytest.raises(ValueError, match="over 1 to 3 coordinates; the points have 5"):
        CoverTree(NETS).fit(np.random.default_rng(0).standard_normal((100, 5)))
    assert Runtime.from_env({"COVERTREEX_BUILD": "Rounds"}).build == "rounds"


def test_a_nets_build_reports_progress_once_and_a_summary_without_rounds(tmp_path):
    X = make_data("gaussian", 3000, 2, seed=11)
    calls = []
    path = tmp_path / "nets.jsonl"
    with TelemetryWriter(path, NETS) as writer:
        CoverTree(NETS).fit(X, telemetry=writer, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3000, 3000)]
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for event in events:
        validate(event)
    summary = [e for e in events if e["schema_id"] == "covertreex.build.summary"]
    assert len(summary) == 1 and summary[0]["rounds"] == 0 and summary[0]["points_added"] == 3000
    assert not [e for e in events if e["schema_id"] == "covertreex.build.round"]


def test_the_same_data_gives_the_same_tree():
    X = make_data("grid", 3000, 2, seed=2)
    a, b = CoverTree(NETS).fit(X).arrays, CoverTree(NETS.with_updates(threads=1)).fit(X).arrays
    for name in ("ids", "level", "parent", "parent_dist", "radius", "child_idx"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
