"""Vecchia predecessor mode: row i holds the k nearest points with id j < i, padded with -1 / +inf."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_data

from covertreex import CoverTree, Residual, Runtime
from covertreex.reference import brute_force_knn
from covertreex.kernels import Matern32


def assert_same(a, b):
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("shape", ["gaussian", "duplicates", "grid", "clusters"])
@pytest.mark.parametrize("d", [1, 3, 8])
def test_euclidean_predecessor_matches_oracle(shape, d):
    X = make_data(shape, 1200, d, seed=d)
    tree = CoverTree().fit(X)
    for k in (1, 10, 30):
        assert_same(tree.knn(k=k, predecessor=True, return_distances=True),
                    brute_force_knn(X, k=k, predecessor=True))


@pytest.mark.parametrize("shape", ["uniform", "duplicates"])
def test_residual_predecessor_matches_oracle(shape):
    X = make_data(shape, 1200, 2, seed=4)
    policy = Residual(Matern32(1.0, 0.4), inducing=48)
    tree = CoverTree(Runtime(metric="residual", residual=policy)).fit(X)
    for k in (1, 15):
        assert_same(tree.knn(k=k, predecessor=True, return_distances=True),
                    brute_force_knn(X, k=k, predecessor=True, metric="residual", residual=policy))


def test_padding_shape_and_query_ids():
    X = make_data("gaussian", 500, 3, seed=0)
    tree = CoverTree().fit(X)
    ids, dist = tree.knn(k=4, predecessor=True, return_distances=True)
    assert ids.shape == (500, 4)
    assert np.all(ids[0] == -1) and np.all(np.isinf(dist[0]))
    for i in range(4):
        assert np.all(ids[i, i:] == -1) and np.all(np.isinf(dist[i, i:])) and np.all(ids[i, :i] >= 0)
    assert np.all(ids[4:] >= 0) and np.all(ids < np.arange(500)[:, None])
    rows = np.array([499, 3, 0, 250, 3])
    sub = tree.knn(k=4, predecessor=True, query_ids=rows, return_distances=True)
    assert_same(sub, (ids[rows], dist[rows]))
    assert_same(sub, brute_force_knn(X, k=4, predecessor=True, rows=rows))


def test_predecessor_after_insert_uses_global_ids():
    X = make_data("uniform", 900, 2, seed=3)
    tree = CoverTree().fit(X[:400]).insert(X[400:700]).insert(X[700:])
    assert_same(tree.knn(k=6, predecessor=True, return_distances=True), brute_force_knn(X, k=6, predecessor=True))


def test_predecessor_and_query_ids_bad_input():
    tree = CoverTree().fit(make_data("gaussian", 50, 2))
    with pytest.raises(ValueError, match="pass them without Q"):
        tree.knn(np.zeros((1, 2)), k=1, predecessor=True)
    with pytest.raises(ValueError, match="query_ids has id 50 outside"):
        tree.knn(k=1, query_ids=[0, 50])
    with pytest.raises(TypeError, match="query_ids must hold integer"):
        tree.knn(k=1, query_ids=[0.5])
    with pytest.raises(TypeError, match="predecessor must be a bool"):
        tree.knn(k=1, predecessor="yes")


def _limited_oracle(X, Q, k, before, alive=None, **metric):
    """Row r: the k nearest points of ``X`` with id < before[r] (among ``alive`` ids), by (distance, id)."""
    alive = np.arange(len(X)) if alive is None else alive
    order, dist = brute_force_knn(X[alive], Q, k=len(alive), **metric)
    order = alive[order]
    ids, out = np.full((len(Q), k), -1), np.full((len(Q), k), np.inf)
    for r in range(len(Q)):
        keep = order[r] < before[r]
        got = order[r][keep][:k]
        ids[r, :got.size], out[r, :got.size] = got, dist[r][keep][:k]
    return ids, out


@pytest.mark.parametrize("shape", ["gaussian", "duplicates", "grid", "clusters"])
@pytest.mark.parametrize("d", [1, 3, 8])
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_euclidean_before_limits_query_candidates(shape, d, precision):
    X = make_data(shape, 700, d, seed=d).astype(precision)
    Q = np.concatenate([X[::7], make_data(shape, 60, d, seed=d + 1).astype(precision)])
    before = np.random.default_rng(d).integers(0, 701, size=len(Q))
    before[:3] = [0, 1, 700]  # no candidate, one, all
    tree = CoverTree(Runtime(precision=precision)).fit(X)
    for k in (1, 10):
        assert_same(tree.knn(Q, k=k, before=before, return_distances=True), _limited_oracle(X, Q, k, before))


@pytest.mark.parametrize("engine", ["tree", "dense", "auto"])
def test_residual_before_limits_query_candidates(engine):
    X = make_data("uniform", 600, 2, seed=4)
    Q = np.concatenate([X[::9], make_data("uniform", 40, 2, seed=5)])
    before = np.random.default_rng(1).integers(0, 601, size=len(Q))
    policy = Residual(Matern32(1.0, 0.4), inducing=32)
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine=engine)).fit(X)
    assert_same(tree.knn(Q, k=8, before=before, return_distances=True),
                _limited_oracle(X, Q, 8, before, metric="residual", residual=policy))


def test_before_counts_the_users_ids_after_deletions_and_is_checked():
    X = make_data("gaussian", 400, 3, seed=2)
    gone = np.arange(0, 400, 3)
    tree = CoverTree().fit(X).delete(gone)
    alive = np.setdiff1d(np.arange(400), gone)
    Q = make_data("gaussian", 50, 3, seed=3)
    before = np.random.default_rng(0).integers(0, 401, size=50)
    got = tree.knn(Q, k=5, before=before, return_distances=True)
    assert_same(got, _limited_oracle(X, Q, 5, before, alive=alive))
    with pytest.raises(ValueError, match=r"before has 3 values, one per query row is needed \(50\)"):
        tree.knn(Q, k=5, before=[1, 2, 3])
    with pytest.raises(ValueError, match=r"before has id 401 outside \[0, 401\)"):
        tree.knn(Q[:1], k=5, before=[401])
    with pytest.raises(ValueError, match="without Q use predecessor=True"):
        tree.knn(k=5, before=np.zeros(400, dtype=int))
