"""Radius queries against the brute-force oracle: both metrics, every mode, per-row radii, ties."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_data

from covertreex import CoverTree, Residual, Runtime
from covertreex.kernels import Matern32
from covertreex.reference import brute_force_knn

N = 400


def _check(result, o_ids, o_dist, radii, rows):
    assert len(result) == len(rows)
    for r, radius in enumerate(radii):
        keep = o_dist[r] <= radius
        ids, dist = result.row(r)
        np.testing.assert_array_equal(ids, o_ids[r][keep])
        np.testing.assert_array_equal(dist, o_dist[r][keep])


@pytest.mark.parametrize("shape,d,precision", [("gaussian", 3, "float64"), ("duplicates", 2, "float64"),
                                               ("clusters", 8, "float64"), ("grid", 1, "float64"),
                                               ("uniform", 20, "float64"), ("gaussian", 3, "float32")])
def test_euclidean_radius_equals_the_oracle(shape, d, precision):
    X = make_data(shape, N, d, seed=4).astype(precision)
    tree = CoverTree(Runtime(precision=precision)).fit(X)
    o_ids, o_dist = brute_force_knn(X, k=N - 1)
    scale = float(np.median(o_dist[:, 5]))  # about 5 neighbours per point
    _check(tree.radius(r=scale), o_ids, o_dist, [scale] * N, np.arange(N))
    rows = np.arange(0, N, 7)
    radii = np.linspace(0.0, 2 * scale, rows.size)  # per-row radii, r = 0 included (duplicates only)
    _check(tree.radius(r=radii, query_ids=rows), o_ids[rows], o_dist[rows], radii, rows)
    p_ids, p_dist = brute_force_knn(X, k=N - 1, predecessor=True)
    _check(tree.radius(r=scale, predecessor=True), p_ids, p_dist, [scale] * N, np.arange(N))
    Q = make_data(shape, 30, d, seed=5).astype(precision)
    q_ids, q_dist = brute_force_knn(X, Q, k=N)
    _check(tree.radius(Q, r=scale), q_ids, q_dist, [scale] * 30, np.arange(30))


@pytest.mark.parametrize("shape", ["gaussian", "duplicates"])
def test_residual_radius_equals_the_oracle(shape):
    X = make_data(shape, N, 3, seed=6)
    policy = Residual(Matern32(1.0, 0.4), inducing=30)
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="dense")).fit(X)
    o_ids, o_dist = brute_force_knn(X, k=N - 1, metric="residual", residual=tree.metric)
    r = float(np.median(o_dist[:, 8]))
    _check(tree.radius(r=r), o_ids, o_dist, [r] * N, np.arange(N))
    p_ids, p_dist = brute_force_knn(X, k=N - 1, predecessor=True, metric="residual", residual=tree.metric)
    _check(tree.radius(r=r, predecessor=True), p_ids, p_dist, [r] * N, np.arange(N))
    Q = make_data("gaussian", 25, 3, seed=7)
    q_ids, q_dist = brute_force_knn(X, Q, k=N, metric="residual", residual=tree.metric)
    _check(tree.radius(Q, r=r), q_ids, q_dist, [r] * 25, np.arange(25))


def test_radius_arguments_are_checked_and_len_counts_points():
    X = make_data("gaussian", 50, 2, seed=1)
    tree = CoverTree().fit(X)
    assert len(tree) == 50 and len(tree.insert(X[:3])) == 53
    for bad, error, match in ((None, ValueError, "r is required"), (-0.1, ValueError, ">= 0"),
                              (np.inf, ValueError, "finite"), ([0.1, 0.2], ValueError, "one per query row"),
                              ("1", TypeError, "number"), (True, TypeError, "number")):
        with pytest.raises(error, match=match):
            tree.radius(r=bad)
    with pytest.raises(ValueError, match="without Q"):
        tree.radius(X[:2], r=0.1, predecessor=True)
    empty = tree.radius(X[:0], r=1.0)
    assert len(empty) == 0 and empty.ids.size == 0
