"""The block scan of all-points Euclidean queries (``queries.blockscan``): exact against the brute-force
oracle on every data shape, and picked by ``knn_self`` only where a pilot finds tree searches evaluating
a large share of the points."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHAPES, make_data

from covertreex import CoverTree
from covertreex.queries.blockscan import kd_leaves, knn_all_blockscan
from covertreex.queries.knn import BLOCK_SCAN_MIN_POINTS, block_scan_may_pay, knn_self
from covertreex.reference import brute_force_knn


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("d", [1, 3, 4, 8, 16])
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


@pytest.mark.parametrize("leaf", [1, 5, 64])
def test_kd_leaves_are_contiguous_bounded_halvings(leaf):
    X = make_data("clusters", 1000, 4, seed=leaf)
    perm, starts = kd_leaves(X, leaf)
    np.testing.assert_array_equal(np.sort(perm), np.arange(1000))
    sizes = np.diff(starts)
    assert starts[0] == 0 and starts[-1] == 1000 and (sizes >= 1).all() and (sizes <= leaf).all()


def test_all_points_queries_pick_the_block_scan_where_tree_searches_see_most_points():
    many = BLOCK_SCAN_MIN_POINTS
    tree = CoverTree().fit(make_data("gaussian", many, 8, seed=2))
    kind = tree.metric.slots.kind
    assert block_scan_may_pay(kind, many, 8) and not block_scan_may_pay(kind, many, 3)
    assert not block_scan_may_pay(kind, many - 1, 8) and not block_scan_may_pay(1 - kind, many, 8)
    oi, od = brute_force_knn(tree.arrays.points[tree.arrays.position_of], k=10)
    got = knn_self(tree.arrays, tree.metric, 10)
    assert got.engine == "block-scan"  # N(0, I) in 8 dimensions: a tree search evaluates ~40% of the points
    np.testing.assert_array_equal(got.distances, od)
    np.testing.assert_array_equal(got.ids, oi)
    ids, dist = tree.knn(k=10, return_distances=True)  # through the public API
    np.testing.assert_array_equal(ids, oi)
    np.testing.assert_array_equal(dist, od)
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
