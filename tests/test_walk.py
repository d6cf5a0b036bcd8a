"""The shared tree walk (core._walk_numba): the top-k offer it feeds, and a third rule built on it.

The k-NN search and the build's parent search are tested against the oracle elsewhere; here a range
query written as a new ``WalkRule`` must find exactly the points within r of each query, which shows
the walk's pruning is correct for a rule other than the two it was written for.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from covertreex import CoverTree, Runtime
from covertreex.core._walk_numba import COUNT_EVALS, NUM_COUNTS, WalkRule, make_walk
from covertreex.metrics._distance_numba import point_distance
from covertreex.queries._knn_numba import offer


def _offer_all(k, items):
    best_d = np.full(k, np.inf)
    best_i = np.full(k, -1, dtype=np.int64)
    for d, i in items:
        offer(best_d, best_i, d, i)
    return best_d, best_i


def test_offer_keeps_the_k_smallest_by_distance_then_id():
    rng = np.random.default_rng(3)
    d = rng.integers(0, 4, size=40).astype(float)  # many ties
    ids = rng.permutation(40)
    best_d, best_i = _offer_all(7, zip(d, ids))
    order = np.lexsort((ids, d))[:7]
    np.testing.assert_array_equal(best_d, d[order])
    np.testing.assert_array_equal(best_i, ids[order])


def test_offer_fills_empty_slots_even_with_infinite_distances():
    best_d, best_i = _offer_all(4, [(np.inf, 9), (1.0, 5), (np.inf, 2)])
    np.testing.assert_array_equal(best_i, [5, 2, 9, -1])
    np.testing.assert_array_equal(best_d, [1.0, np.inf, np.inf, np.inf])


# A range rule: tau stays at the radius; every visited point within it is recorded in ctx = (hits, n).
@nb.njit
def _range_skip(tree, ctx, c):
    return False


@nb.njit
def _range_reach(tree, e, tau):
    return tau


@nb.njit
def _range_visit(tree, ctx, e, c, dc, tau):
    hits, n = ctx
    if dc <= tau:
        hits[n[0]] = tree.edge_ids[e]
        n[0] += 1
    return tau


@nb.njit
def _range_internal(tree, e):
    return tree.edge_size[e] > 1


@nb.njit
def _range_descend(tree, ctx, metric, q_pts, q, e, c, tau):
    return True, tau, 0


_range_walk = make_walk(WalkRule(_range_skip, _range_reach, _range_visit, _range_internal, _range_reach,
                                 _range_descend))


def _within(tree, metric, queries, q, r):
    view = tree.view
    hits = np.empty(tree.num_points, dtype=np.int64)
    n = np.zeros(1, dtype=np.int64)
    d0 = point_distance(metric.slots, queries, q, view.points, 0)
    if d0 <= r:
        hits[0] = view.ids[0]
        n[0] = 1
    size = tree.stack_size
    counts = np.zeros(NUM_COUNTS, dtype=np.int64)
    _range_walk(view, (hits, n), metric.slots, queries, q, metric.prune_slack(view.points, queries),
                np.empty(size), np.empty(size, dtype=np.int64), np.empty(size), 0, d0, r, counts)
    return np.sort(hits[: n[0]]), int(counts[COUNT_EVALS])


@pytest.mark.parametrize("shape", ["gaussian", "clustered", "duplicates"])
def test_a_range_rule_on_the_shared_walk_matches_brute_force(shape):
    rng = np.random.default_rng(11)
    if shape == "gaussian":
        X = rng.normal(size=(600, 3))
    elif shape == "clustered":
        X = rng.normal(size=(6, 3))[rng.integers(0, 6, 600)] + 0.05 * rng.normal(size=(600, 3))
    else:
        X = np.repeat(rng.normal(size=(150, 2)), 4, axis=0)
    tree = CoverTree(Runtime(seed=1)).fit(X)
    pcc, metric = tree._search_tree(), tree._metric
    queries = np.ascontiguousarray(np.vstack([X[:20], rng.normal(size=(20, X.shape[1]))]))
    evals = []
    for q in range(queries.shape[0]):
        d = np.sqrt(((X - queries[q]) ** 2).sum(axis=1))
        r = float(np.sort(d)[15])  # a radius with ties at the boundary for the copies of a point
        got, n_eval = _within(pcc, metric, queries, q, r)
        np.testing.assert_array_equal(got, np.flatnonzero(d <= r))
        evals.append(n_eval)
    if shape != "duplicates":  # the walk pruned: far fewer distances than points
        assert np.median(evals) < X.shape[0] / 2
