"""All-points k-NN in shared-walk groups (``queries.groups``): the partition, and answers equal to the
brute-force oracle and to per-query walks, bit for bit, on every data shape and in every branch
(groups, lone nodes, super-groups handed back to per-query walks)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHAPES, make_data

from covertreex import CoverTree, Runtime
from covertreex.queries.groups import partition
from covertreex.queries.knn import GROUPED_MAX_DIM, GROUPED_MIN_POINTS, grouped, grouped_self, knn_self
from covertreex.reference import brute_force_knn


def _complete(tree, metric, k, **shape):
    """``knn_self``'s grouped search of a ``CoverTree``'s arrays with group parameters ``shape``."""
    return grouped_self(tree.arrays, metric, k, **shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_partition_covers_every_position_once_in_nested_groups(shape, d):
    tree = CoverTree().fit(make_data(shape, 1200, d, seed=d)).arrays
    small, big = 8, 32
    (members, ptr, sptr), lone = partition(tree, small, big, 3)
    np.testing.assert_array_equal(np.sort(np.concatenate([members, lone])), np.arange(tree.num_points))
    assert ptr[0] == 0 and ptr[-1] == members.size and sptr[0] == 0 and sptr[-1] == ptr.size - 1
    assert (np.diff(sptr) >= 1).all()
    end = tree.subtree_end
    for g in range(ptr.size - 1):
        node, rest = members[ptr[g]], members[ptr[g] + 1: ptr[g + 1]]
        assert 2 <= 1 + rest.size <= small  # lone nodes are not groups
        # the rest: one contiguous range of positions made of the node's last children's whole subtrees
        np.testing.assert_array_equal(rest, np.arange(rest[0], rest[-1] + 1))
        assert rest[-1] + 1 == end[node] and tree.parent[rest[0]] == node
    for s in range(sptr.size - 1):
        assert ptr[sptr[s + 1]] - ptr[sptr[s]] <= big
        # a super-group's groups lie in one subtree: the one of the lowest common ancestor of their nodes
        nodes = members[ptr[sptr[s]: sptr[s + 1]]]
        top = nodes.min()
        while not (end[top] > nodes.max()):
            top = tree.parent[top]
        assert (members[ptr[sptr[s]]: ptr[sptr[s + 1]]] < end[top]).all()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_grouped_answers_match_oracle(shape, d):
    X = make_data(shape, 1500, d, seed=10 + d)
    tree = CoverTree(Runtime(seed=d)).fit(X)
    for k in (1, 10):
        oi, od = brute_force_knn(X, k=k)
        # default shapes; tiny groups; no windows; every super-group kept; every one handed back; hit
        # buffers of crowd * big + 1 = 161 entries, which many walks overflow (handed back, not lost)
        for kw in ({}, {"small": 2, "big": 2, "window": 0, "whole": 1}, {"small": 3, "big": 16, "window": 1, "crowd": 10**9},
                   {"crowd": 0}, {"big": 8, "crowd": 20}):
            res, _ = _complete(tree, tree.metric, k, **kw)
            np.testing.assert_array_equal(res.distances, od)
            np.testing.assert_array_equal(res.ids, oi)


def test_both_branches_run_and_agree_with_per_query_walks():
    X = make_data("clusters", 4000, 3, seed=21)
    tree = CoverTree().fit(X)
    arrays = tree.arrays
    walks = knn_self(arrays, tree.metric, 8, query_ids=np.arange(arrays.num_points))  # per-query walks
    kept, none = _complete(tree, tree.metric, 8, crowd=10**9)
    handed, everything = _complete(tree, tree.metric, 8, crowd=0)
    overflowed, some = _complete(tree, tree.metric, 8, big=8, crowd=80)  # hit buffers of 641 entries
    assert everything == arrays.num_points and none < some < arrays.num_points
    for res in (kept, handed, overflowed, knn_self(arrays, tree.metric, 8)):
        np.testing.assert_array_equal(res.ids, walks.ids)
        np.testing.assert_array_equal(res.distances, walks.distances)
        assert (res.distance_evaluations >= 8).all()
        assert (res.counter("nodes_visited") >= 1).all()


def test_float32_points_and_tiny_trees():
    X = make_data("gaussian", 2000, 3, seed=4).astype(np.float32)
    tree = CoverTree(Runtime(precision="float32")).fit(X)
    res, _ = _complete(tree, tree.metric, 6, small=4, big=8)
    oi, od = brute_force_knn(X, k=6)
    np.testing.assert_array_equal(res.distances, od)
    np.testing.assert_array_equal(res.ids, oi)
    for n in (1, 2, 3, 12):  # k above n - 1 (the kernel's own padding: the API refuses such k): -1 / inf
        Y = make_data("uniform", n, 2, seed=n)
        small = CoverTree().fit(Y)
        res, _ = _complete(small, small.metric, 5)
        found = min(5, n - 1)
        assert (res.ids[:, found:] == -1).all() and np.isinf(res.distances[:, found:]).all()
        if found:
            oi, od = brute_force_knn(Y, k=found)
            np.testing.assert_array_equal(res.ids[:, :found], oi)
            np.testing.assert_array_equal(res.distances[:, :found], od)


def test_all_points_queries_use_groups_up_to_three_dimensions_from_enough_points():
    tree = CoverTree().fit(make_data("gaussian", 300, 3, seed=1))
    kind, many = tree.metric.slots.kind, GROUPED_MIN_POINTS
    assert GROUPED_MAX_DIM == 3 and grouped(kind, many, 1) and grouped(kind, many, 3)
    assert not grouped(kind, many, 4) and not grouped(kind, many - 1, 3)
    assert not grouped(1 - kind, many, 2)  # the residual metric


def test_dispatched_grouped_search_matches_oracle():
    X = make_data("clusters", GROUPED_MIN_POINTS, 2, seed=5)
    tree = CoverTree().fit(X)
    oi, od = brute_force_knn(X, k=5)
    ids, dist = tree.knn(k=5, return_distances=True)
    np.testing.assert_array_equal(dist, od)
    np.testing.assert_array_equal(ids, oi)
