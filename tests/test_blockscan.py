"""The block scan of all-points Euclidean queries (``queries.blockscan``): exact against the brute-force
oracle on every data shape, and picked by ``knn_self`` only where a pilot finds tree searches evaluating
a large share of the points."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from conftest import SHAPES, make_data

from covertreex import CoverTree
from covertreex.core._leaf_screen_numba import SCREEN_MIN_DIM
from covertreex.core._leaves_numba import FOUR_ROWS_DIM
from covertreex.core.leaves import Leaves
from covertreex.queries._knn_numba import NO_LIMIT
from covertreex.queries.blockscan import kd_leaves, knn_all_blockscan, knn_blockscan
from covertreex.queries.knn import BLOCK_SCAN_MIN_POINTS, BLOCK_SCAN_MIN_ROWS, block_scan_may_pay, knn_self
from covertreex.reference import brute_force_knn


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("d", [1, 3, 4, 6, 8, 16, 40])  # 6: four coordinates a pass and one left; 40: four rows a pass
def test_block_scan_matches_oracle(shape, d):
    X = make_data(shape, 700, d, seed=d)
    for k in (1, 10):
        oi, od = brute_force_knn(X, k=k)
        for leaf in (7, 128):  # many small blocks (most skipped by their boxes) and the default size
            got = knn_all_blockscan(X, k, leaf)
            np.testing.assert_array_equal(got.distances, od)
            np.testing.assert_array_equal(got.ids, oi)
            evals = got.distance_evaluations
            assert (evals >= k).all() and (evals <= X.shape[0]).all()


def test_block_scan_float32_points_match_oracle():
    X = make_data("gaussian", 500, 8, seed=3).astype(np.float32)
    oi, od = brute_force_knn(X, k=5)
    got = knn_all_blockscan(X, 5, 16)
    np.testing.assert_array_equal(got.distances, od)
    np.testing.assert_array_equal(got.ids, oi)


@pytest.mark.parametrize("n", [1, 2, 3, 12])
def test_block_scan_pads_rows_like_the_tree_search(n):
    X = make_data("gaussian", n, 5, seed=n)
    tree = CoverTree().fit(X)
    want = knn_self(tree.arrays, tree.metric, 4)  # per-point walks: k may exceed n - 1
    got = knn_all_blockscan(X, 4, 2)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.distances, want.distances)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("d", [1, 4, 8, 40])
def test_block_scan_of_new_points_tree_points_and_predecessor_rows_matches_oracle(shape, d):
    X = make_data(shape, 600, d, seed=d)
    Q = make_data(shape, 250, d, seed=d + 50) + 0.25
    ids = np.random.default_rng(d).choice(600, 200, replace=False)
    free = np.full(250, NO_LIMIT)
    for k in (1, 7):
        for leaf in (5, 128):
            got = knn_blockscan(X, k, Q, np.full(250, -1), free, leaf)  # new points
            oi, od = brute_force_knn(X, Q, k=k)
            np.testing.assert_array_equal(got.distances, od)
            np.testing.assert_array_equal(got.ids, oi)
            got = knn_blockscan(X, k, X[ids], ids, np.full(200, NO_LIMIT), leaf)  # tree points, in any order
            oi, od = brute_force_knn(X, k=k, rows=ids)
            np.testing.assert_array_equal(got.distances, od)
            np.testing.assert_array_equal(got.ids, oi)
            rows = np.arange(k + 1, 600)  # predecessor rows: ids below the row's own
            got = knn_blockscan(X, k, X[rows], rows, rows, leaf)
            oi, od = brute_force_knn(X, k=k, rows=rows, predecessor=True)
            np.testing.assert_array_equal(got.distances, od)
            np.testing.assert_array_equal(got.ids, oi)


def test_block_scan_pads_predecessor_rows_with_few_candidates():
    X = make_data("gaussian", 50, 6, seed=1)
    rows = np.arange(50)
    got = knn_blockscan(X, 3, X, rows, rows, 4)
    assert (got.ids[0] == -1).all() and np.isinf(got.distances[0]).all()
    assert got.ids[1, 0] == 0 and (got.ids[1, 1:] == -1).all()
    oi, od = brute_force_knn(X, k=3, rows=rows[3:], predecessor=True)
    np.testing.assert_array_equal(got.ids[3:], oi)
    np.testing.assert_array_equal(got.distances[3:], od)


@pytest.mark.parametrize("leaf", [1, 5, 64])
def test_kd_leaves_are_contiguous_bounded_halvings(leaf):
    X = make_data("clusters", 1000, 4, seed=leaf)
    perm, starts = kd_leaves(X, leaf)
    np.testing.assert_array_equal(np.sort(perm), np.arange(1000))
    sizes = np.diff(starts)
    assert starts[0] == 0 and starts[-1] == 1000 and (sizes >= 1).all() and (sizes <= leaf).all()


@pytest.mark.parametrize("shape, n, d", [("clusters", 3000, 6), ("duplicates", 2000, 2), ("gaussian", 700, 40),
                                         ("gaussian", 100, 3)])
def test_leaves_are_the_same_on_any_thread_count_and_hold_their_points(shape, n, d):
    X = make_data(shape, n, d, seed=n)
    made = []
    for threads in (1, 2):
        previous = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            made.append(Leaves.of(X, 64))
        finally:
            numba.set_num_threads(previous)
    for other in made[1:]:  # the parallel cut and fill give the serial one's arrays, bit for bit
        for a, b in zip(made[0], other):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    L = made[0]
    for j in range(L.starts.shape[0] - 1):
        c0, c1 = L.starts[j], L.starts[j + 1]
        pts = X[L.ids[c0:c1]]
        block = L.P[c0 * d:c1 * d].reshape(d, c1 - c0)  # the leaf transposed, coordinates as columns
        np.testing.assert_array_equal(block, pts.T)
        np.testing.assert_array_equal(L.lo[j], pts.min(axis=0))
        np.testing.assert_array_equal(L.hi[j], pts.max(axis=0))
        assert L.min_id[j] == L.ids[c0:c1].min()
        if d >= 4:  # the screen: float32 offsets from the box centre, inside the rounded-up radius
            want = (pts - L.centre[j]).T.astype(np.float32)
            np.testing.assert_array_equal(L.P32[c0 * d:c1 * d].reshape(d, c1 - c0), want)
            assert (np.linalg.norm(pts - L.centre[j], axis=1) <= L.radius[j]).all()


def test_all_points_queries_pick_the_block_scan_where_tree_searches_see_most_points():
    many = BLOCK_SCAN_MIN_POINTS
    tree = CoverTree().fit(make_data("gaussian", many, 8, seed=2))
    kind = tree.metric.slots.kind
    rows = BLOCK_SCAN_MIN_ROWS
    assert block_scan_may_pay(kind, many, 8, rows) and not block_scan_may_pay(kind, many, 3, rows)
    assert not block_scan_may_pay(kind, many - 1, 8, rows) and not block_scan_may_pay(1 - kind, many, 8, rows)
    assert not block_scan_may_pay(kind, many, 8, rows - 1)
    oi, od = brute_force_knn(tree.arrays.points[tree.arrays.position_of], k=10)
    got = knn_self(tree.arrays, tree.metric, 10)
    assert got.engine == "block-scan"  # N(0, I) in 8 dimensions: a tree search evaluates ~40% of the points
    np.testing.assert_array_equal(got.distances, od)
    np.testing.assert_array_equal(got.ids, oi)
    ids, dist = tree.knn(k=10, return_distances=True)  # through the public API
    np.testing.assert_array_equal(ids, oi)
    np.testing.assert_array_equal(dist, od)
    Q = make_data("gaussian", BLOCK_SCAN_MIN_ROWS, 8, seed=9)
    got = tree.knn_result(Q, k=10)  # new points
    oi, od = brute_force_knn(tree.arrays.points[tree.arrays.position_of], Q, k=10)
    assert got.engine == "block-scan"
    np.testing.assert_array_equal(got.ids, oi)
    np.testing.assert_array_equal(got.distances, od)
    pred = tree.knn_result(k=10, predecessor=True)  # Vecchia conditioning sets
    oi, od = brute_force_knn(tree.arrays.points[tree.arrays.position_of], k=10, rows=np.arange(10, many),
                             predecessor=True)
    assert pred.engine == "block-scan"
    np.testing.assert_array_equal(pred.ids[10:], oi)
    np.testing.assert_array_equal(pred.distances[10:], od)
    assert tree.knn_result(Q[: BLOCK_SCAN_MIN_ROWS - 1], k=10).engine == "tree"  # too few rows
    # a line in 8 dimensions: the tree prunes almost everything, so it answers
    line = CoverTree().fit(make_data("collinear", many, 8, seed=2))
    assert knn_self(line.arrays, line.metric, 10).engine == "tree"


def test_block_scan_answers_report_no_tree_counters_to_telemetry_and_profiles(tmp_path):
    from covertreex import Runtime
    from covertreex.bench.profiling import run_size
    from covertreex.telemetry import TelemetryWriter, load

    writer = TelemetryWriter(tmp_path / "t.jsonl", Runtime())
    run = run_size(Runtime(), BLOCK_SCAN_MIN_POINTS, 8, 10, 1, 0, writer)  # the sweep of `covertreex breakdown`
    writer.close()
    assert run.visited_mean is None and run.evals_mean >= 10
    queries = load(tmp_path / "t.jsonl")
    event = queries[queries["schema_id"] == "covertreex.query"].iloc[0]
    assert event["engine"] == "block-scan" and event["evals_mean"] == run.evals_mean
    assert event["visited_mean"] is None or np.isnan(event["visited_mean"])


@pytest.mark.parametrize("d", [SCREEN_MIN_DIM + 2, FOUR_ROWS_DIM + 8])
@pytest.mark.parametrize("case", ["near-ties", "offset", "huge", "enormous", "tiny"])
def test_float32_screen_keeps_every_true_neighbour(case, d):
    """Groups of four rows screen leaves in float32 before the float64 squares: near ties below float32's
    resolution, a large common offset, coordinates past the screen's limit (float64 squares) and a scale
    that float32 cannot represent (everything passes the screen) all keep the oracle's answers."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((900, d))
    if case == "near-ties":  # groups of points differing in one coordinate by 1e-12 (float32 sees them equal)
        X[300:600] = X[:300] + 1e-12 * rng.integers(-3, 4, (300, d))
        X[600:] = X[:300] - 1e-12 * rng.integers(0, 3, (300, d))
    elif case == "offset":
        X = 1e6 + 1e-6 * X
    elif case == "huge":  # past the screen's limit: float64 squares
        X = 1e17 * X
    elif case == "enormous":  # beyond float32's range (its coordinates would be infinite)
        X = 1e100 * X
    else:
        X = 1e-100 * X
    for k in (1, 6):
        oi, od = brute_force_knn(X, k=k)
        for leaf in (16, 128):
            got = knn_all_blockscan(X, k, leaf)
            np.testing.assert_array_equal(got.distances, od)
            np.testing.assert_array_equal(got.ids, oi)
    rows = np.arange(k + 1, 900)
    got = knn_blockscan(X, 6, X[rows], rows, rows)
    oi, od = brute_force_knn(X, k=6, rows=rows, predecessor=True)
    np.testing.assert_array_equal(got.distances, od)
    np.testing.assert_array_equal(got.ids, oi)
