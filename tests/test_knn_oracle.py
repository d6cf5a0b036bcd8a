"""Tree k-NN == brute-force oracle, id for id and distance for distance (ties by id)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHAPES, make_data

from covertreex import CoverTree, Runtime
from covertreex.reference import brute_force_knn


def assert_same(tree_result, oracle_result):
    ti, td = tree_result
    oi, od = oracle_result
    np.testing.assert_array_equal(td, od)
    np.testing.assert_array_equal(ti, oi)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("d", [1, 2, 3, 8, 32])
def test_all_points_and_queries_match_oracle(shape, d):
    n = 1500 if d < 32 else 800
    X = make_data(shape, n, d, seed=d)
    tree = CoverTree(Runtime(seed=d)).fit(X)
    for k in (1, 10):
        assert_same(tree.knn(k=k, return_distances=True), brute_force_knn(X, k=k))
    rng = np.random.default_rng(1)
    inside = X[rng.integers(0, n, size=200)]  # queries sitting exactly on data points
    outside = rng.standard_normal((100, d)) * (X.std() + 1.0) * 3.0
    Q = np.concatenate([inside, outside])
    assert_same(tree.knn(Q, k=10, return_distances=True), brute_force_knn(X, Q, k=10))


@pytest.mark.parametrize("shape", ["gaussian", "grid", "duplicates"])
def test_large_k_and_k_equal_n_minus_one(shape):
    X = make_data(shape, 400, 3, seed=7)
    tree = CoverTree().fit(X)
    for k in (50, 399):
        assert_same(tree.knn(k=k, return_distances=True), brute_force_knn(X, k=k))
    Q = make_data("gaussian", 30, 3, seed=8)
    assert_same(tree.knn(Q, k=400, return_distances=True), brute_force_knn(X, Q, k=400))


@pytest.mark.parametrize("shape", ["uniform", "gaussian"])
def test_twenty_thousand_points(shape):
    X = make_data(shape, 20_000, 3, seed=3)
    tree = CoverTree().fit(X)
    assert_same(tree.knn(k=10, return_distances=True), brute_force_knn(X, k=10))


def test_float32_input_is_stored_exactly_and_matches_oracle():
    X = make_data("gaussian", 3000, 4, seed=5).astype(np.float32)
    for precision in ("float32", "float64"):
        tree = CoverTree(Runtime(precision=precision)).fit(X)
        assert tree.points.dtype == np.dtype(precision)
        np.testing.assert_array_equal(tree.points.astype(np.float32), X)
        assert_same(tree.knn(k=10, return_distances=True), brute_force_knn(X, k=10))
        Q = make_data("uniform", 100, 4, seed=6).astype(np.float32)
        assert_same(tree.knn(Q, k=5, return_distances=True), brute_force_knn(X, Q, k=5))


def test_float64_data_at_float32_precision_matches_oracle_on_stored_points():
    X = make_data("gaussian", 2000, 3, seed=9)
    tree = CoverTree(Runtime(precision="float32")).fit(X)
    stored = X.astype(np.float32)
    assert_same(tree.knn(k=7, return_distances=True), brute_force_knn(stored, k=7))


def test_nearest_matches_oracle_and_first_column_of_knn():
    X = make_data("clusters", 2000, 2, seed=11)
    Q = make_data("gaussian", 300, 2, seed=12) * 50
    tree = CoverTree().fit(X)
    ids, dist = tree.nearest(Q, return_distances=True)
    oi, od = brute_force_knn(X, Q, k=1)
    np.testing.assert_array_equal(ids, oi[:, 0])
    np.testing.assert_array_equal(dist, od[:, 0])
    np.testing.assert_array_equal(tree.nearest(Q), oi[:, 0])


def test_rows_are_sorted_by_distance_then_id():
    X = make_data("grid", 2000, 2, seed=13)
    ids, dist = CoverTree().fit(X).knn(k=20, return_distances=True)
    same = dist[:, 1:] == dist[:, :-1]
    assert np.all(dist[:, 1:] >= dist[:, :-1])
    assert np.all(ids[:, 1:][same] > ids[:, :-1][same])
    assert same.any()  # the lattice really has ties


@pytest.mark.parametrize("conflict_graph", ["grid", "kdtree", "block", "segmented", "dense"])
@pytest.mark.parametrize("batch_order", ["hilbert", "random", "natural"])
def test_every_strategy_answers_exactly(conflict_graph, batch_order):
    X = make_data("duplicates", 1200, 3, seed=17)
    rt = Runtime(conflict_graph=conflict_graph, batch_order=batch_order)
    tree = CoverTree(rt).fit(X)
    assert_same(tree.knn(k=5, return_distances=True), brute_force_knn(X, k=5))


def _low_intrinsic(n: int, d: int, seed: int) -> np.ndarray:
    """3-D points laid linearly into d coordinates: long rows where most partial sums stop early."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, 3)))
    return rng.standard_normal((n, 3)) @ basis.T


@pytest.mark.parametrize("shape", ["embedded", "gaussian", "grid", "duplicates", "clusters"])
@pytest.mark.parametrize("d, precision", [(48, "float64"), (64, "float32"), (130, "float64")])
def test_long_rows_whose_scans_stop_partial_sums_match_oracle(shape, d, precision):
    """Rows of >= 48 coordinates: leaf scans stop a distance once a partial sum exceeds the k-th bound.
    Answers (all points, predecessor, queries; ties on the grid and duplicates) stay the oracle's bits;
    130 coordinates leave a partial block."""
    X = (_low_intrinsic(900, d, 4) if shape == "embedded" else make_data(shape, 900, d, seed=d)).astype(precision)
    tree = CoverTree(Runtime(precision=precision)).fit(X)
    for k in (1, 10):
        assert_same(tree.knn(k=k, return_distances=True), brute_force_knn(X, k=k))
    assert_same(tree.knn(k=7, predecessor=True, return_distances=True), brute_force_knn(X, k=7, predecessor=True))
    Q = np.concatenate([X[::9], X[:40] * 1.01]).astype(precision)
    assert_same(tree.knn(Q, k=10, return_distances=True), brute_force_knn(X, Q, k=10))
