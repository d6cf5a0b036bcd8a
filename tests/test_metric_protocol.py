"""Every metric offers the engine the same things (metrics.base.Metric), with named slots for the kernels."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import covertreex
from covertreex import CoverTree, Residual, Runtime
from covertreex.kernels import Matern32
from covertreex.metrics.base import EUCLIDEAN, RESIDUAL, Metric, MetricSlots
from covertreex.reference import brute_force_knn


@pytest.fixture(scope="module")
def trees():
    X = np.random.default_rng(5).standard_normal((400, 2))
    euclid = CoverTree(Runtime(precision="float32")).fit(X)
    resid = CoverTree(Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.7), inducing=32))).fit(X)
    return X, euclid, resid


def test_both_metrics_are_metrics_with_one_numba_slot_type(trees):
    _, euclid, resid = trees
    for tree in (euclid, resid):
        assert isinstance(tree.metric, Metric)
    es, rs = euclid.metric.slots, resid.metric.slots
    assert (es.kind, rs.kind) == (EUCLIDEAN, RESIDUAL)
    assert rs.m == 32 and rs.dim == 2 and rs.variance == 1.0 and rs.kernel == Matern32(1.0, 0.7).code
    assert numba.typeof(es) == numba.typeof(rs)  # every kernel compiles once for both metrics
    assert MetricSlots.of(1, 2.0, 3, 4.0, 5) == (1, 2, 3.0, 4, 5)


def test_trees_hold_coordinates_the_same_way(trees):
    X, euclid, resid = trees
    np.testing.assert_array_equal(euclid.points, X.astype(np.float32))
    np.testing.assert_array_equal(resid.points, X)
    for tree in (euclid, resid):
        assert not tree.points.flags.writeable and tree.dimension == 2
    bigger = resid.insert(X[:7] + 0.25)
    np.testing.assert_array_equal(bigger.points[400:], X[:7] + 0.25)
    got = bigger.knn(k=4, predecessor=True)
    want = brute_force_knn(bigger.points, k=4, predecessor=True, metric="residual", residual=bigger.metric,
                           return_distances=False)
    np.testing.assert_array_equal(got, want)


def test_fit_keeps_its_own_coordinates():
    """A tree's points never alias the caller's array (float64 input is not copied by validation)."""
    X = np.random.default_rng(6).standard_normal((200, 2))
    policy = Residual(Matern32(1.0, 0.7), inducing=16)
    for runtime in (Runtime(), Runtime(metric="residual", residual=policy)):
        tree = CoverTree(runtime).fit(X)
        assert not np.shares_memory(tree.points, X)
        before = tree.knn(k=3)
        X_saved = X.copy()
        X += 5.0
        np.testing.assert_array_equal(tree.points, X_saved)
        np.testing.assert_array_equal(tree.knn(k=3), before)
        X -= 5.0


def test_engines_come_from_the_metric(trees):
    _, euclid, resid = trees
    assert euclid.metric.engines == ("tree",) and resid.metric.engines == ("tree", "dense", "jax")
    with pytest.raises(ValueError, match="engine='dense' is for metric='residual'"):
        euclid.knn(k=2, engine="dense")
    np.testing.assert_array_equal(resid.knn(k=3, engine="dense"), resid.knn(k=3, engine="tree"))


def test_save_and_load_are_exported(tmp_path, trees):
    X, euclid, _ = trees
    path = covertreex.save_tree(euclid, tmp_path / "t.npz")
    again = covertreex.load_tree(path)
    np.testing.assert_array_equal(again.points, euclid.points)
    np.testing.assert_array_equal(again.knn(k=5), euclid.knn(k=5))
