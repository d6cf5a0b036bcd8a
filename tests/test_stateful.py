"""Hypothesis stateful tests: random sequences of fit / insert / delete / save+load / query on both metrics;
every state answers as the brute-force oracle, and every older version keeps its answers."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from covertreex import CoverTree, Residual, Runtime
from covertreex.kernels import Matern32
from covertreex.reference import brute_force_knn

RUNTIMES = {
    "euclidean": Runtime(seed=2),
    "residual": Runtime(seed=2, metric="residual", residual=Residual(Matern32(1.0, 0.8), inducing=8),
                        query_engine="tree"),
}
K = 3


def _points(seed: int, n: int, grid: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    return np.round(X * 2) / 2 if grid else X  # grids: ties and duplicates


def _oracle(tree, predecessor=False):
    """The oracle over the tree's points, its row numbers turned into the tree's ids (-1 padding kept)."""
    kw = {"metric": "residual", "residual": tree.metric} if tree.runtime.metric == "residual" else {}
    rows, dist = brute_force_knn(np.asarray(tree.points), k=K, predecessor=predecessor, **kw)
    return np.where(rows >= 0, tree.ids[np.maximum(rows, 0)], -1), dist


class Versions(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.versions: list[tuple[CoverTree, np.ndarray, np.ndarray]] = []  # (tree, ids, distances) at creation
        self.ever: np.ndarray | None = None  # every point ever added, row i = id i

    @initialize(metric=st.sampled_from(sorted(RUNTIMES)), seed=st.integers(0, 10**6), n=st.integers(12, 60),
                grid=st.booleans())
    def fit(self, metric, seed, n, grid):
        self.ever = _points(seed, n, grid)
        self._keep(CoverTree(RUNTIMES[metric]).fit(self.ever))

    def _keep(self, tree):
        if tree.num_points <= K:  # too few points for k other neighbours: only what remains is checked
            np.testing.assert_array_equal(np.asarray(tree.points), self.ever[tree.ids])
            self.versions.append((tree, None, None))
            return
        ids, dist = tree.knn(k=K, return_distances=True)
        o_ids, o_dist = _oracle(tree)
        np.testing.assert_array_equal(ids, o_ids)
        np.testing.assert_array_equal(dist, o_dist)
        self.versions.append((tree, ids, dist))

    @property
    def tree(self) -> CoverTree:
        return self.versions[-1][0]

    @rule(seed=st.integers(0, 10**6), n=st.integers(1, 25), grid=st.booleans())
    def insert(self, seed, n, grid):
        new = _points(seed, n, grid)
        self.ever = np.concatenate([self.ever, new])
        self._keep(self.tree.insert(new))

    @precondition(lambda self: self.versions and self.tree.num_points > 1)  # a tree keeps at least one point
    @rule(data=st.data())
    def delete(self, data):
        tree = self.tree
        count = data.draw(st.integers(1, tree.num_points - 1))
        gone = data.draw(st.permutations(tree.ids.tolist()))[:count]
        after = tree.delete(gone)
        assert not np.isin(gone, after.ids).any() and after.num_points == tree.num_points - count
        after.check_invariants()
        self._keep(after)

    @rule()
    def save_and_load(self):
        path = self.dir / f"v{len(self.versions)}.npz"
        loaded = CoverTree.load(self.tree.save(path))
        np.testing.assert_array_equal(loaded.points, self.tree.points)
        self._keep(loaded)

    @precondition(lambda self: self.versions and self.tree.num_points > K)
    @rule()
    def predecessor_sets(self):
        got = self.tree.knn(k=K, predecessor=True, return_distances=True)
        want = _oracle(self.tree, predecessor=True)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])

    @precondition(lambda self: len(self.versions) > 1)
    @rule(data=st.data())
    def an_old_version_is_unchanged(self, data):
        tree, ids, dist = self.versions[data.draw(st.integers(0, len(self.versions) - 2))]
        if ids is None:
            return
        again_ids, again_dist = tree.knn(k=K, return_distances=True)
        np.testing.assert_array_equal(again_ids, ids)
        np.testing.assert_array_equal(again_dist, dist)

    @invariant()
    def ids_are_stable(self):
        if self.versions:  # every point keeps the id it was given, whatever was inserted or deleted since
            np.testing.assert_array_equal(np.asarray(self.tree.points), self.ever[self.tree.ids])


Versions.TestCase.settings = settings(max_examples=25, stateful_step_count=8, deadline=None)
TestVersions = Versions.TestCase
