"""Batch deletion: ``tree.delete(ids)`` returns a new version without those points, repaired (not rebuilt),
that answers every query exactly; ids stay; old versions keep their answers; bad ids are clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_data

from covertreex import CoverTree, Gate, Residual, Runtime
from covertreex.kernels import Matern32
from covertreex.reference import brute_force_knn

N = 400
K = 5


def _as_ids(tree, rows):
    """Oracle row numbers (over ``tree.points``) as the tree's ids; -1 padding kept."""
    return np.where(rows >= 0, tree.ids[np.maximum(rows, 0)], -1)


def _oracle(tree, Q=None, k=K, **kw):
    if tree.runtime.metric == "residual":
        kw.update(metric="residual", residual=tree.metric)
    rows, dist = brute_force_knn(np.asarray(tree.points), Q, k=k, **kw)
    return _as_ids(tree, rows), dist


def _assert_exact(tree, Q, engine=None):
    """All points, predecessor sets, some ids, new coordinates and radii equal the oracle's."""
    for predecessor in (False, True):
        got = tree.knn(k=K, return_distances=True, predecessor=predecessor, engine=engine)
        want = _oracle(tree, predecessor=predecessor)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    rows = np.arange(0, tree.num_points, 9)
    got = tree.knn(k=K, return_distances=True, query_ids=tree.ids[rows], engine=engine)
    want = _oracle(tree, rows=rows)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    got = tree.knn(Q, k=K, return_distances=True, engine=engine)
    want = _oracle(tree, Q)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    r = float(np.median(want[1][:, 2]))
    all_ids, all_dist = _oracle(tree, Q, k=tree.num_points)
    result = tree.radius(Q, r=r)
    for q in range(Q.shape[0]):
        ids, dist = result.row(q)
        np.testing.assert_array_equal(ids, all_ids[q][all_dist[q] <= r])
        np.testing.assert_array_equal(dist, all_dist[q][all_dist[q] <= r])


@pytest.mark.parametrize("shape,d,precision", [("gaussian", 3, "float64"), ("duplicates", 2, "float64"),
                                               ("grid", 2, "float64"), ("clusters", 8, "float64"),
                                               ("collinear", 1, "float64"), ("uniform", 20, "float64"),
                                               ("gaussian", 3, "float32")])
@pytest.mark.parametrize("fraction", [0.01, 0.3, 0.9])
def test_euclidean_delete_answers_exactly(shape, d, precision, fraction):
    X = make_data(shape, N, d, seed=3).astype(precision)
    tree = CoverTree(Runtime(precision=precision, seed=1)).fit(X)
    gone = np.random.default_rng(5).choice(N, max(1, int(fraction * N)), replace=False)
    after = tree.delete(gone)
    assert after.num_points == N - gone.size and len(after) == N - gone.size
    np.testing.assert_array_equal(after.ids, np.setdiff1d(np.arange(N), gone))
    np.testing.assert_array_equal(after.points, X[after.ids])
    after.check_invariants()  # cover, separation, parent distances, radii: a valid cover tree
    _assert_exact(after, make_data(shape, 20, d, seed=9).astype(precision))


def test_deleting_the_root_and_the_top_of_the_tree():
    X = make_data("gaussian", N, 2, seed=1)
    tree = CoverTree(Runtime(seed=0)).fit(X)
    arrays = tree.arrays
    top = arrays.ids[np.argsort(-arrays.level)[:12]]  # the root and the highest nodes
    after = tree.delete(top)
    assert after.delete_stats.root_replaced and after.delete_stats.orphans > 0
    after.check_invariants()
    _assert_exact(after, make_data("gaussian", 15, 2, seed=2))
    one = tree.delete(np.arange(1, N))  # one point left
    assert one.num_points == 1 and one.ids.tolist() == [0]
    np.testing.assert_array_equal(one.knn(X[:3], k=1), [[0], [0], [0]])


def test_versions_stay_and_ids_are_never_reused():
    X = make_data("gaussian", 200, 3, seed=2)
    tree = CoverTree().fit(X)
    before = tree.knn(k=K, return_distances=True)
    after = tree.delete([3, 199, 50])
    again = tree.knn(k=K, return_distances=True)  # the old version is untouched
    np.testing.assert_array_equal(before[0], again[0])
    np.testing.assert_array_equal(before[1], again[1])
    assert tree.num_points == 200 and tree.next_id == 200 and after.next_id == 200
    grown = after.insert(X[:4] + 0.5)
    np.testing.assert_array_equal(grown.ids[-4:], [200, 201, 202, 203])  # 199 was deleted: not reused
    np.testing.assert_array_equal(grown.points[-4:], X[:4] + 0.5)
    assert not np.isin([3, 50, 199], grown.ids).any()
    grown.check_invariants()
    _assert_exact(grown, X[:10] + 0.25)
    shrunk = grown.delete([201, 0])
    _assert_exact(shrunk, X[:10] + 0.25)
    np.testing.assert_array_equal(shrunk.distances([1, 200]), grown.distances([1, 200]))
    assert tree.delete([]) is tree


def test_predecessor_after_delete_means_remaining_points_of_smaller_id():
    X = make_data("grid", 120, 2, seed=4)
    after = CoverTree().fit(X).delete(np.arange(0, 120, 3))
    ids, dist = after.knn(k=3, return_distances=True, predecessor=True)
    for r, i in enumerate(after.ids):
        earlier = after.ids[after.ids < i]
        if earlier.size == 0:
            assert (ids[r] == -1).all()
            continue
        d = np.sqrt(((X[earlier] - X[i]) ** 2).sum(1))
        want = earlier[np.lexsort((earlier, d))][:3]
        np.testing.assert_array_equal(ids[r][: want.size], want)


def test_bad_ids_are_clear_errors():
    tree = CoverTree().fit(make_data("gaussian", 30, 2, seed=1))
    after = tree.delete([4])
    cases = [([30], ValueError, r"id 30 outside \[0, 30\)"), ([-1], ValueError, "outside"),
             ([[1, 2]], ValueError, "1-D"), ([1.5], TypeError, "integer"), ([2, 2], ValueError, "point 2 more than once"),
             (np.arange(30), ValueError, "all 30 points")]
    for ids, error, match in cases:
        with pytest.raises(error, match=match):
            tree.delete(ids)
    with pytest.raises(ValueError, match="id 4, which was deleted"):
        after.delete([4])
    with pytest.raises(ValueError, match="id 4, which was deleted"):
        after.knn(k=2, query_ids=[4])
    with pytest.raises(ValueError, match="id 4, which was deleted"):
        after.distances([4])
    with pytest.raises(RuntimeError, match="not fitted"):
        CoverTree().delete([0])


@pytest.mark.parametrize("engine", ["tree", "dense"])
def test_residual_delete_answers_exactly(engine):
    X = make_data("gaussian", 300, 3, seed=6)
    policy = Residual(Matern32(1.0, 0.5), inducing=24)
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine=engine)).fit(X)
    after = tree.delete(np.random.default_rng(2).choice(300, 60, replace=False)).insert(X[:5] + 0.1)
    after = after.delete([0, after.ids[-1]])
    assert after.has_tree == (engine == "tree")
    if engine == "tree":
        after.check_invariants()
    for e in ("tree", "dense"):
        _assert_exact(after, make_data("gaussian", 12, 3, seed=8), engine=e)


def test_saved_and_loaded_after_delete(tmp_path):
    X = make_data("duplicates", 150, 2, seed=3)
    after = CoverTree().fit(X).delete([0, 7, 149]).insert(X[:2])
    loaded = CoverTree.load(after.save(tmp_path / "t.npz"))
    np.testing.assert_array_equal(loaded.ids, after.ids)
    assert loaded.next_id == after.next_id == 152
    np.testing.assert_array_equal(loaded.knn(k=K), after.knn(k=K))
    assert loaded.insert(X[:1]).ids[-1] == 152
    policy = Residual(Matern32(1.0, 0.5), inducing=16)
    res = CoverTree(Runtime(metric="residual", residual=policy, query_engine="tree")).fit(X).delete([5, 6])
    back = CoverTree.load(res.save(tmp_path / "r.npz"))
    np.testing.assert_array_equal(back.ids, res.ids)
    np.testing.assert_array_equal(back.knn(k=K, predecessor=True), res.knn(k=K, predecessor=True))


def test_gates_speak_the_trees_ids_after_delete():
    X = make_data("gaussian", 600, 3, seed=1)
    policy = Residual(Matern32(1.0, 0.4), inducing=20)
    tree = CoverTree(Runtime(metric="residual", residual=policy)).fit(X).delete(np.arange(0, 600, 4))
    profile = tree.calibrate_gate(Gate(delta=0.2, calibration=150, audit=100), k=K)
    assert np.isin(profile.calibration["ids"], tree.ids).all()
    held_out = np.setdiff1d(tree.ids, profile.calibration["ids"])[:50]
    audit = tree.audit_gate(profile, held_out)
    assert audit.queries == 50
    got = tree.knn(k=K, query_ids=held_out, gate=profile)
    assert np.isin(got, tree.ids).all()
