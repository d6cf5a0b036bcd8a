"""Bad input raises a clear error naming the argument, before any work; trees stay unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from covertreex import CoverTree, Residual, Runtime
from covertreex.kernels import Matern32
from covertreex.reference import brute_force_knn


@pytest.fixture(scope="module")
def tree():
    return CoverTree().fit(np.random.default_rng(0).standard_normal((50, 3)))


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.array([[0.0, np.nan, 1.0]]), ValueError, r"X contains NaN or infinity \(first at X\[0, 1\]\)"),
        (np.array([[0.0, 1.0, np.inf]]), ValueError, "X contains NaN or infinity"),
        (np.zeros(5), ValueError, "X must be 2-D.*1-D"),
        (np.zeros((2, 2, 2)), ValueError, "X must be 2-D.*3-D"),
        (np.zeros((0, 3)), ValueError, "X is empty"),
        (np.zeros((4, 0)), ValueError, "X must have at least one column"),
        (np.array([["a", "b"]]), TypeError, "X must hold real numbers"),
        (np.array([[1 + 2j, 0j]]), TypeError, "X must hold real numbers"),
        (np.array([[object(), 1]], dtype=object), TypeError, "X must hold real numbers"),
        ("not an array", TypeError, "X must be a 2-D array"),
        (None, TypeError, "X must be a 2-D array"),
        (np.array([[2**60, 1]]), ValueError, "X has integers beyond"),
    ],
)
def test_fit_rejects_bad_points(bad, error, match):
    with pytest.raises(error, match=match):
        CoverTree().fit(bad)


def test_float32_precision_rejects_values_beyond_float32_range():
    with pytest.raises(ValueError, match="beyond the float32 range"):
        CoverTree(Runtime(precision="float32")).fit(np.array([[1e300, 0.0]]))


def test_integer_points_are_accepted_exactly():
    X = np.arange(20).reshape(10, 2)
    t = CoverTree().fit(X)
    np.testing.assert_array_equal(t.points, X.astype(np.float64))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda t: t.knn(np.zeros((2, 4)), k=1), ValueError, r"the queries \(Q\) have 4 columns, the tree has 3"),
        (lambda t: t.knn(np.zeros(3), k=1), ValueError, "Q must be 2-D"),
        (lambda t: t.knn(np.full((1, 3), np.nan), k=1), ValueError, "Q contains NaN"),
        (lambda t: t.knn(k=0), ValueError, "k must be >= 1, got 0"),
        (lambda t: t.knn(k=-3), ValueError, "k must be >= 1"),
        (lambda t: t.knn(k=50), ValueError, r"k=50 exceeds the number of other points in the tree \(49\)"),
        (lambda t: t.knn(np.zeros((1, 3)), k=51), ValueError, r"k=51 exceeds the number of points in the tree \(50\)"),
        (lambda t: t.knn(k=2.5), TypeError, "k must be an int"),
        (lambda t: t.knn(k=True), TypeError, "k must be an int"),
        (lambda t: t.nearest(np.zeros((1, 2))), ValueError, r"the queries \(Q\) have 2 columns"),
        (lambda t: t.insert(np.zeros((1, 2))), ValueError, r"the new points \(Y\) have 2 columns, the tree has 3"),
        (lambda t: t.insert(np.zeros((0, 3))), ValueError, "Y is empty"),
    ],
)
def test_query_and_insert_errors(tree, call, error, match):
    with pytest.raises(error, match=match):
        call(tree)


def test_failed_insert_leaves_tree_unchanged(tree):
    before = tree.knn(k=3, return_distances=True)
    points = tree.points.copy()
    bad = np.random.default_rng(1).standard_normal((10, 3))
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"Y contains NaN or infinity \(first at Y\[7, 2\]\)"):
        tree.insert(bad)
    assert tree.num_points == 50
    np.testing.assert_array_equal(tree.points, points)
    for a, b in zip(before, tree.knn(k=3, return_distances=True)):
        np.testing.assert_array_equal(a, b)


def test_empty_query_batch_is_allowed(tree):
    ids, dist = tree.knn(np.zeros((0, 3)), k=2, return_distances=True)
    assert ids.shape == (0, 2) and dist.shape == (0, 2)


def test_unfitted_tree_and_wrong_runtime_type():
    with pytest.raises(RuntimeError, match="not fitted"):
        CoverTree().knn(k=1)
    with pytest.raises(TypeError, match="runtime must be a covertreex.Runtime"):
        CoverTree(runtime={"metric": "euclidean"})


def test_oracle_validates_too():
    with pytest.raises(ValueError, match="k=5 exceeds"):
        brute_force_knn(np.zeros((5, 2)), k=5)
    with pytest.raises(ValueError, match=r"the queries \(Q\) have 3 columns"):
        brute_force_knn(np.zeros((5, 2)), np.zeros((1, 3)), k=1)
    with pytest.raises(ValueError, match="rows has id 7 outside"):
        brute_force_knn(np.zeros((5, 2)), k=1, rows=[7])


def test_more_threads_than_numba_has_is_an_error():
    import numba

    too_many = numba.config.NUMBA_NUM_THREADS + 1
    with pytest.raises(ValueError, match=f"Runtime.threads={too_many} exceeds"):
        Runtime(threads=too_many)
    tree = CoverTree(Runtime(threads=1)).fit(np.random.default_rng(2).standard_normal((300, 2)))
    np.testing.assert_array_equal(tree.knn(k=3), brute_force_knn(tree.points, k=3, return_distances=False))


# -- numeric range --------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 3, 8])
def test_coordinates_at_the_supported_limit_answer_exactly(dim):
    """Points spread over the whole accepted range (extremes included): fit, all-points, predecessor
    and new-point queries all equal the oracle, and the tree's invariants hold."""
    from covertreex.validation import coordinate_limit

    limit = coordinate_limit(dim)
    rng = np.random.default_rng(dim)
    X = rng.uniform(-1.0, 1.0, (800, dim)) * limit
    X[0], X[1] = limit, -limit
    Q = rng.uniform(-1.0, 1.0, (20, dim)) * limit
    tree = CoverTree(Runtime(seed=0)).fit(X)
    tree.check_invariants()
    np.testing.assert_array_equal(tree.knn(k=5), brute_force_knn(X, k=5)[0])
    np.testing.assert_array_equal(tree.knn(k=4, predecessor=True), brute_force_knn(X, k=4, predecessor=True)[0])
    np.testing.assert_array_equal(tree.knn(Q, k=3), brute_force_knn(X, Q, k=3)[0])


@pytest.mark.parametrize("scale", [1e160, 1e200, 1e300])
def test_coordinates_whose_squared_distances_overflow_are_refused(scale):
    X = np.random.default_rng(0).standard_normal((50, 3)) * scale
    with pytest.raises(ValueError, match=r"X has coordinates up to .* supported range is \|x\| <= 1.94e\+153"):
        CoverTree(Runtime()).fit(X)
    tree = CoverTree(Runtime()).fit(X / scale)
    with pytest.raises(ValueError, match="Q has coordinates up to"):
        tree.knn(X, k=1)
    with pytest.raises(ValueError, match="Y has coordinates up to"):
        tree.insert(X)


def test_points_spread_too_little_are_refused_and_small_scales_work():

    X = np.random.default_rng(1).standard_normal((300, 2))
    with pytest.raises(ValueError, match="X's points differ by less than 6.72e-139 in every column"):
        CoverTree(Runtime()).fit(X * 1e-200)
    with pytest.raises(ValueError, match="differ by less than"):
        brute_force_knn(X * 1e-200, k=1)
    dup = np.full((5, 2), 3e-300)  # all equal: nothing to tell apart, accepted
    np.testing.assert_array_equal(CoverTree(Runtime()).fit(dup).knn(k=2), brute_force_knn(dup, k=2)[0])
    small = X * 1e-130  # the smallest scales accepted keep every distance distinct and exact
    np.testing.assert_array_equal(CoverTree(Runtime()).fit(small).knn(k=6), brute_force_knn(X, k=6)[0])


def test_residual_refuses_coordinates_that_overflow_after_the_lengthscale():
    X = np.random.default_rng(2).standard_normal((60, 2)) * 1e150
    policy = Residual(Matern32(1.0, 1e-6), inducing=10)
    with pytest.raises(ValueError, match=r"coordinates / lengthscale up to"):
        CoverTree(Runtime(metric="residual", residual=policy)).fit(X)


@pytest.mark.parametrize("engine", ["tree", "dense"])
@pytest.mark.parametrize("case", ["huge", "mixed", "tiny lengthscale", "huge lengthscale"])
def test_residual_coordinates_across_the_float64_range_answer_exactly(case, engine):
    """Residual trees over coordinates from 1e-300 to 1e150 (times the lengthscale), mixed in one data
    set: fit, insert, k-NN, predecessor and new-point queries equal the oracle; what is out of range is
    refused (above)."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((240, 2))
    lengthscale = {"tiny lengthscale": 1e-100, "huge lengthscale": 1e100}.get(case, 1.0)
    scales = {"huge": np.full(240, 1e150), "mixed": np.logspace(-300, 150, 240)}.get(case, np.logspace(-30, 30, 240))
    X = base * scales[:, None] * lengthscale
    policy = Residual(Matern32(1.0, lengthscale), inducing=16)
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine=engine)).fit(X[:200])
    tree = tree.insert(X[200:])
    kw = {"metric": "residual", "residual": tree.metric}
    for predecessor in (False, True):
        got = tree.knn(k=4, return_distances=True, predecessor=predecessor)
        want = brute_force_knn(X, k=4, predecessor=predecessor, **kw)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    Q = rng.standard_normal((15, 2)) * np.logspace(-300, 150, 15)[:, None] * min(lengthscale, 1.0)  # raw |x| <= 1e150
    got = tree.knn(Q, k=3, return_distances=True)
    want = brute_force_knn(X, Q, k=3, **kw)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert np.all((got[1] >= 0) & (got[1] <= 1))
    if engine == "tree":
        tree.check_invariants()
