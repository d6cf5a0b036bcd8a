"""Cover-tree invariants after fit and inserts, determinism, strategy equivalence, persistence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import make_data

from covertreex import CoverTree, Runtime
from covertreex.reference import brute_force_knn
from covertreex.core.tree import PCCTree

STRATEGIES = ["grid", "kdtree", "block", "segmented", "dense"]
ORDERS = ["hilbert", "random", "natural"]


def tree_arrays(tree) -> dict[str, np.ndarray]:
    return {f.name: getattr(tree.arrays, f.name) for f in dataclasses.fields(PCCTree)}


def assert_same_arrays(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("conflict_graph", STRATEGIES)
@pytest.mark.parametrize("batch_order", ORDERS)
def test_invariants_after_fit_and_each_insert(conflict_graph, batch_order):
    rt = Runtime(conflict_graph=conflict_graph, batch_order=batch_order, seed=3)
    X = make_data("gaussian", 1500, 3, seed=1)
    X[100:130] = X[0]  # duplicates of one point, also across batches
    tree = CoverTree(rt).fit(X[:600])
    tree.check_invariants()
    for start, stop in [(600, 601), (601, 700), (700, 1500)]:
        tree = tree.insert(X[start:stop])
        tree.check_invariants()
    assert tree.num_points == 1500
    np.testing.assert_array_equal(tree.points, X)
    ids, dist = tree.knn(k=4, return_distances=True)
    oi, od = brute_force_knn(X, k=4)
    np.testing.assert_array_equal(ids, oi)
    np.testing.assert_array_equal(dist, od)


@pytest.mark.parametrize("shape", ["duplicates", "grid", "collinear", "clusters"])
@pytest.mark.parametrize("schedule", ["doubling", "adaptive", "none"])
def test_invariants_on_awkward_shapes_and_schedules(shape, schedule):
    X = make_data(shape, 900, 2, seed=4)
    rt = Runtime(prefix_schedule=schedule, batch_size=None if schedule != "none" else 128)
    tree = CoverTree(rt).fit(X)
    tree.check_invariants()
    tree.insert(make_data(shape, 300, 2, seed=5)).check_invariants()


def test_all_strategies_build_the_identical_tree():
    X = make_data("duplicates", 2000, 3, seed=8)
    built = [tree_arrays(CoverTree(Runtime(conflict_graph=s, seed=5)).fit(X)) for s in STRATEGIES]
    for other in built[1:]:
        assert_same_arrays(built[0], other)


@pytest.mark.parametrize("batch_order", ORDERS)
def test_same_seed_same_tree_and_other_seed_other_tree(batch_order):
    X = make_data("gaussian", 3000, 3, seed=9)
    a = tree_arrays(CoverTree(Runtime(seed=1, batch_order=batch_order)).fit(X))
    b = tree_arrays(CoverTree(Runtime(seed=1, batch_order=batch_order)).fit(X))
    assert_same_arrays(a, b)
    if batch_order != "natural":
        c = tree_arrays(CoverTree(Runtime(seed=2, batch_order=batch_order)).fit(X))
        assert not np.array_equal(a["ids"], c["ids"])


def test_insert_returns_new_version_and_old_one_is_unchanged():
    X = make_data("gaussian", 2000, 3, seed=10)
    Y = make_data("uniform", 500, 3, seed=11)
    old = CoverTree().fit(X)
    before = {k: v.copy() for k, v in tree_arrays(old).items()}
    old_answer = old.knn(k=5, return_distances=True)
    new = old.insert(Y)
    assert new is not old and old.num_points == 2000 and new.num_points == 2500
    assert_same_arrays(before, tree_arrays(old))
    for a, b in zip(old_answer, old.knn(k=5, return_distances=True)):
        np.testing.assert_array_equal(a, b)
    for name, arr in tree_arrays(old).items():
        assert not arr.flags.writeable, name
    # ids are stable: point i of the concatenation is id i in the new version
    both = np.concatenate([X, Y])
    ids, dist = new.knn(both[::97], k=1, return_distances=True)
    assert np.all(dist[:, 0] == 0.0)
    np.testing.assert_array_equal(ids[:, 0], np.arange(0, 2500, 97))
    # both versions answer exactly for their own point sets
    np.testing.assert_array_equal(new.knn(k=3), brute_force_knn(both, k=3, return_distances=False))
    np.testing.assert_array_equal(old.knn(k=3), brute_force_knn(X, k=3, return_distances=False))


def test_single_point_and_all_duplicates():
    one = CoverTree().fit(np.array([[1.0, 2.0]]))
    one.check_invariants()
    np.testing.assert_array_equal(one.nearest(np.array([[0.0, 0.0]])), [0])
    same = CoverTree().fit(np.ones((50, 3)))
    same.check_invariants()
    ids, dist = same.knn(k=49, return_distances=True)
    assert np.all(dist == 0.0)
    np.testing.assert_array_equal(ids, brute_force_knn(np.ones((50, 3)), k=49, return_distances=False))


def test_check_invariants_reports_corruption():
    tree = CoverTree().fit(make_data("gaussian", 300, 2, seed=12))
    t = tree.arrays
    radius = t.radius.copy()
    radius[0] *= 0.5
    broken = dataclasses.replace(t, radius=radius)
    with pytest.raises(AssertionError, match="radius"):
        CoverTree(_tree=broken).check_invariants()
    level = t.level.copy()
    level[t.child_idx[0]] = t.level[0] + 5
    with pytest.raises(AssertionError, match="level"):
        CoverTree(_tree=dataclasses.replace(t, level=level)).check_invariants()
    pdist = t.parent_dist.copy()
    pdist[5] += 1e-3
    with pytest.raises(AssertionError, match="parent distance"):
        CoverTree(_tree=dataclasses.replace(t, parent_dist=pdist)).check_invariants()


@pytest.mark.parametrize("slots", [0, 1, 12])
def test_conflict_strategies_find_identical_neighbour_sets(slots, monkeypatch):
    """Grid (one pass, or overflowing into the two-pass fallback), k-d tree, segmented and dense agree."""
    from covertreex.algo import conflict
    from covertreex.algo.conflict import grid
    from covertreex.metrics.euclidean import EuclideanMetric

    monkeypatch.setattr(grid, "GRID_SLOTS_PER_POINT", slots)
    rng = np.random.default_rng(20)
    pts = np.concatenate([rng.standard_normal((500, 3)), np.repeat(rng.standard_normal((5, 3)), 20, axis=0)])
    reach = rng.uniform(0.0, 0.6, size=600)
    reach[::50] = np.inf  # a few points whose reach covers everything
    metric = EuclideanMetric()
    results = {}
    cells = np.array([[0, 5, -3], [1 << 19, 0, 7]], dtype=np.int64)  # one cell-key function, any caller
    assert grid.cell_keys(cells).tolist() == [((0 + (1 << 20)) << 42) + ((5 + (1 << 20)) << 21) + (-3 + (1 << 20)),
                                              (((1 << 19) + (1 << 20)) << 42) + ((1 << 20) << 21) + (7 + (1 << 20))]
    for name in ("grid", "kdtree", "block", "segmented", "dense"):
        ptr, idx, dist = conflict.conflict_graph_strategy(name).neighbours(metric.slots, pts, 0, 600,
                                                                           reach, 0)
        results[name] = [sorted(zip(idx[ptr[i]:ptr[i + 1]].tolist(), dist[ptr[i]:ptr[i + 1]].tolist()))
                         for i in range(600)]
    assert results["grid"] == results["dense"] == results["segmented"] == results["kdtree"] == results["block"]
    assert sum(len(r) for r in results["dense"]) > 600 * 2


@pytest.mark.parametrize("dim,dtype", [(1, np.float64), (8, np.float64), (8, np.float32), (32, np.float64),
                                       (64, np.float64), (130, np.float32)])
def test_kdtree_and_grid_conflict_sets_equal_dense_in_any_dimension(dim, dtype):
    """The k-d tree prunes on every coordinate and the grid visits only the cells the box [x - R, x + R]
    meets; their sets must still be the dense ones (ties, duplicates, inf, reach exactly a lattice step)."""
    from covertreex.algo import conflict
    from covertreex.metrics.euclidean import EuclideanMetric

    rng = np.random.default_rng(dim)
    pts = np.concatenate([rng.standard_normal((400, dim)), np.repeat(rng.standard_normal((4, dim)), 25, axis=0),
                          rng.integers(0, 3, (100, dim))]).astype(dtype)
    nn = np.sort(np.linalg.norm(pts[:, None, :].astype(np.float64) - pts[None, :, :], axis=2), axis=1)[:, 1]
    reach = nn * rng.uniform(0.5, 3.0, size=600)
    reach[::60] = np.inf
    reach[1::60] = 0.0
    reach[2::60] = np.sqrt(2.0)  # exactly a grid distance: strict "<" must hold on both sides
    reach[3::60] = 1.0  # exactly one lattice step along an axis: the box edge falls on a neighbour
    metric = EuclideanMetric()
    sets = {}
    for name in ("kdtree", "block", "grid", "dense"):
        ptr, idx, dist = conflict.conflict_graph_strategy(name).neighbours(metric.slots, pts, 0, 600,
                                                                           reach, 0)
        sets[name] = [sorted(zip(idx[ptr[i]:ptr[i + 1]].tolist(), dist[ptr[i]:ptr[i + 1]].tolist()))
                      for i in range(600)]
    assert sets["kdtree"] == sets["dense"]
    assert sets["block"] == sets["dense"]
    assert sets["grid"] == sets["dense"]
    assert sum(map(len, sets["dense"])) > 600
    # a sample that underestimates the room (a row with reach 0): chunks overflow, the exact second pass runs
    from covertreex.algo.conflict._kdtree_numba import kd_build
    from covertreex.algo.conflict.kdtree import kd_neighbours

    P = pts.astype(np.float64)
    ptr, idx, dist = kd_neighbours(metric.slots, pts, 0, 600, reach, P, kd_build(P, 16),
                                   np.array([1]), 8)
    assert [sorted(zip(idx[ptr[i]:ptr[i + 1]].tolist(), dist[ptr[i]:ptr[i + 1]].tolist())) for i in range(600)
            ] == sets["dense"]
    X = pts.astype(np.float64)
    trees = [CoverTree(Runtime(conflict_graph=name, seed=3)).fit(X) for name in ("kdtree", "grid", "block")]
    assert all(np.array_equal(getattr(trees[0].arrays, f), getattr(t.arrays, f))
               for t in trees[1:] for f in ("ids", "level", "parent", "radius"))


@pytest.mark.parametrize("conflict_graph", STRATEGIES)
@pytest.mark.parametrize("shape", ["embedded", "duplicates", "clusters"])
def test_partial_sums_of_long_rows_change_nothing(shape, conflict_graph):
    """Over rows of >= 48 coordinates, tree walks stop a child's distance once a partial sum shows it can
    neither be used nor hold anything usable, and the conflict graphs stop a pair's distance (and the k-d
    tree a box's gap) once it exceeds the radius.  A zero 48th coordinate adds exactly 0.0 to every
    squared distance, so 47 coordinates (full sums) and 48 (partial sums) must give the identical tree
    after a fit, an insert and a delete (the build's conflict graph and parent search, the deletion's
    re-attachment walk) and the identical answers (k-NN and radius walks)."""
    rng = np.random.default_rng(30)
    if shape == "embedded":
        basis, _ = np.linalg.qr(rng.standard_normal((47, 3)))
        X = rng.standard_normal((1400, 3)) @ basis.T
    else:
        X = make_data(shape, 1400, 47, seed=31)
    built = []
    for rows in (X, np.hstack([X, np.zeros((X.shape[0], 1))])):
        tree = CoverTree(Runtime(conflict_graph=conflict_graph)).fit(rows[:1000]).insert(rows[1000:])
        built.append((rows, tree, tree.delete(np.arange(0, 1400, 7))))
    (rows47, fitted47, deleted47), (rows48, fitted48, deleted48) = built
    for full, partial in ((fitted47, fitted48), (deleted47, deleted48)):
        assert_same_arrays(*({name: v for name, v in tree_arrays(t).items() if "points" not in name}
                             for t in (full, partial)))  # everything but the coordinates (one column apart)
        partial.check_invariants()
        for k in (1, 10):
            for got, want in zip(partial.knn(k=k, return_distances=True), full.knn(k=k, return_distances=True)):
                np.testing.assert_array_equal(got, want)
    r = float(np.median(fitted47.knn(k=5, return_distances=True)[1][:, -1]))
    full, partial = fitted47.radius(rows47[::13], r=r), fitted48.radius(rows48[::13], r=r)
    assert full.ids.shape[0] > len(full)  # the radius holds neighbours, not just the rows' own points
    for name in ("indptr", "ids", "distances"):
        np.testing.assert_array_equal(getattr(partial, name), getattr(full, name), err_msg=name)
    np.testing.assert_array_equal(fitted48.knn(k=10), brute_force_knn(rows48, k=10)[0])  # and right


def test_block_conflict_graph_refills_when_its_sample_underestimates_the_room():
    """The block strategy (wide k-d leaves) sizes its one-pass output from a sample of rows; a sample of one
    row with reach 0 leaves room for 8 pairs a row, the chunks overflow and the exact second pass must give
    the dense sets."""
    from covertreex.algo import conflict
    from covertreex.algo.conflict._kdtree_numba import kd_build
    from covertreex.algo.conflict.kdtree import BLOCK_LEAF_SIZE, kd_neighbours
    from covertreex.metrics.euclidean import EuclideanMetric

    rng = np.random.default_rng(11)
    pts = rng.standard_normal((700, 6))
    reach = rng.uniform(2.0, 3.0, size=700)
    reach[0] = 0.0
    metric = EuclideanMetric()
    ptr, idx, dist = conflict.conflict_graph_strategy("dense").neighbours(metric.slots, pts, 0, 700, reach, 0)
    dense = [sorted(zip(idx[ptr[i]:ptr[i + 1]].tolist(), dist[ptr[i]:ptr[i + 1]].tolist())) for i in range(700)]
    assert sum(map(len, dense)) > 2 * 8 * 700  # far beyond the room of 8 a row: the chunks overflow
    for leaf in (1, 7, BLOCK_LEAF_SIZE):
        ptr, idx, dist = kd_neighbours(metric.slots, pts, 0, 700, reach, pts, kd_build(pts, leaf), np.array([0]), 8,
                                       wide=True)
        assert [sorted(zip(idx[ptr[i]:ptr[i + 1]].tolist(), dist[ptr[i]:ptr[i + 1]].tolist()))
                for i in range(700)] == dense


@pytest.mark.parametrize("shape", ["gaussian", "duplicates", "grid", "collinear", "clusters"])
@pytest.mark.parametrize("d,dtype", [(4, np.float64), (8, np.float32), (16, np.float64)])
def test_block_parent_search_builds_the_walks_tree(shape, d, dtype, monkeypatch):
    """Rounds whose parents come from the block search (``algo.parents_block``, forced here for every
    round of 64 points or more) build the same tree as the tree walks, fit and insert alike."""
    from covertreex.algo import parents_block

    X = make_data(shape, 2500, d, seed=d).astype(dtype)
    runtime = Runtime(seed=4, precision="float32" if dtype == np.float32 else "float64")
    trees = {}
    for mode, (least, share) in {"walk": (10**9, 1.0), "block": (64, 0.0)}.items():
        monkeypatch.setattr(parents_block, "BLOCK_PARENTS_MIN", least)
        monkeypatch.setattr(parents_block, "BLOCK_PARENTS_SHARE", share)
        tree = CoverTree(runtime).fit(X[:1500]).insert(X[1500:])
        tree.check_invariants()
        trees[mode] = tree
    assert_same_arrays(tree_arrays(trees["walk"]), tree_arrays(trees["block"]))
    walk = sum(s.parent_search_distances for s in trees["walk"].build_stats)
    block = sum(s.parent_search_distances for s in trees["block"].build_stats)
    assert walk != block  # the block search did run (it computes other distances than the walks)
