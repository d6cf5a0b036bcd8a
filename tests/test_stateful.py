"""Hypothesis stateful tests: random sequences of fit / insert / save+load / query on both metrics; every
state answers as the brute-force oracle, and every older version keeps its answers."""

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
    kw = {"metric": "residual", "residual": tree.metric} if tree.runtime.metric == "residual" else {}
    return brute_force_knn(np.asarray(tree.points), k=K, predecessor=predecessor, **kw)


class Versions(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.versions: list[tuple[CoverTree, np.ndarray, np.ndarray]] = []  # (tree, ids, distances) at creation

    @initialize(metric=st.sampled_from(sorted(RUNTIMES)), seed=st.integers(0, 10**6), n=st.integers(12, 60),
                grid=st.booleans())
    def fit(self, metric, seed, n, grid):
        self._keep(CoverTree(RUNTIMES[metric]).fit(_points(seed, n, grid)))

    def _keep(self, tree):
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
        self._keep(self.tree.insert(_points(seed, n, grid)))

    @rule()
    def save_and_load(self):
        path = self.dir / f"v{len(self.versions)}.npz"
        loaded = CoverTree.load(self.tree.save(path))
        np.testing.assert_array_equal(loaded.points, self.tree.points)
        self._keep(loaded)

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
        again_ids, again_dist = tree.knn(k=K, return_distances=True)
        np.testing.assert_array_equal(again_ids, ids)
        np.testing.assert_array_equal(again_dist, dist)

    @invariant()
    def ids_are_stable(self):
        if self.versions:
            first = np.asarray(self.versions[0][0].points)
            np.testing.assert_array_equal(np.asarray(self.tree.points)[: len(first)], first)


Versions.TestCase.settings = settings(max_examples=25, stateful_step_count=8, deadline=None)
TestVersions = Versions.TestCase
