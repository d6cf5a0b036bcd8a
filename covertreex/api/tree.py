"""``CoverTree``: the public face of the engine.

``CoverTree(runtime).fit(X)`` returns a fitted tree; ``tree.insert(Y)`` returns a *new* fitted tree
and leaves ``tree`` unchanged and queryable (persistent versions).  Point ids are stable: the i-th
point ever inserted has id i.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import numba
import numpy as np

from covertreex.algo.insert import insert_points
from covertreex.algo.types import RoundStats
from covertreex.core.invariants import check_tree
from covertreex.core.tree import PCCTree
from covertreex.core.validation import as_points, check_k
from covertreex.metrics.euclidean import EuclideanMetric
from covertreex.queries.knn import knn_points, knn_self
from covertreex.queries.types import KnnResult
from covertreex.runtime.config import Runtime
from covertreex.runtime.diagnostics import OperationStats, OperationTimer


@contextmanager
def _threads(count: int | None):
    """Run with ``count`` Numba threads (restored afterwards); None leaves Numba's setting."""
    if count is None:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(count)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


class _NoTimer:
    stats = None


@contextmanager
def _operation(name: str, enabled: bool):
    """An ``OperationTimer`` when diagnostics are on; otherwise nothing is measured."""
    if not enabled:
        yield _NoTimer()
        return
    with OperationTimer(name) as timer:
        yield timer


def _metric_for(runtime: Runtime):
    return EuclideanMetric()


class CoverTree:
    """An exact compressed cover tree.  Unfitted until ``fit``; every update returns a new object."""

    def __init__(self, runtime: Runtime | None = None, *, _tree: PCCTree | None = None,
                 _build_stats: tuple[RoundStats, ...] = (), _build_operation: OperationStats | None = None):
        if runtime is None:
            runtime = Runtime()
        if not isinstance(runtime, Runtime):
            raise TypeError(f"runtime must be a covertreex.Runtime, got {type(runtime).__name__}")
        if runtime.threads is not None and runtime.threads > numba.config.NUMBA_NUM_THREADS:
            raise ValueError(
                f"runtime.threads={runtime.threads} exceeds the {numba.config.NUMBA_NUM_THREADS} threads Numba "
                "started with (NUMBA_NUM_THREADS)"
            )
        self._runtime = runtime
        self._metric = _metric_for(runtime)
        self._tree = _tree
        self._build_stats = _build_stats
        self._build_operation = _build_operation

    # -- properties -------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        return self._runtime

    @property
    def is_fitted(self) -> bool:
        return self._tree is not None

    @property
    def num_points(self) -> int:
        return self._fitted().num_points

    @property
    def dimension(self) -> int:
        return self._fitted().dimension

    @property
    def arrays(self) -> PCCTree:
        """The immutable flat arrays of this version (read-only numpy arrays)."""
        return self._fitted()

    @property
    def points(self) -> np.ndarray:
        """Stored points in id order (in the runtime's precision), read-only."""
        t = self._fitted()
        out = t.points[t.position_of]
        out.setflags(write=False)
        return out

    @property
    def build_stats(self) -> tuple[RoundStats, ...]:
        """Per-round statistics of the fit/insert that produced this version (sizes, edges, seconds)."""
        return self._build_stats

    @property
    def build_operation(self) -> OperationStats | None:
        """Wall/CPU seconds, peak RSS and threads of that fit/insert (``Runtime(diagnostics=True)`` only)."""
        return self._build_operation

    def __repr__(self) -> str:
        if self._tree is None:
            return f"CoverTree(unfitted, metric={self._runtime.metric!r})"
        return f"CoverTree(num_points={self.num_points}, dimension={self.dimension}, metric={self._runtime.metric!r})"

    # -- building ---------------------------------------------------------------------------
    def _fitted(self) -> PCCTree:
        if self._tree is None:
            raise RuntimeError("this CoverTree is not fitted: use the tree returned by CoverTree(...).fit(X)")
        return self._tree

    def _dtype(self) -> np.dtype:
        return np.dtype(self._runtime.precision)

    def fit(self, X) -> CoverTree:
        """Build a tree over ``X`` (n, d); returns a new fitted ``CoverTree`` (ids 0..n-1)."""
        pts = as_points(X, "X", self._dtype())
        return self._build(None, pts)

    def insert(self, Y) -> CoverTree:
        """Return a new tree with the rows of ``Y`` added (ids n, n+1, ...); this tree is unchanged."""
        tree = self._fitted()
        pts = as_points(Y, "Y", self._dtype(), dim=tree.dimension)
        return self._build(tree, pts)

    def _build(self, base: PCCTree | None, pts: np.ndarray) -> CoverTree:
        with _threads(self._runtime.threads), _operation("build", self._runtime.diagnostics) as op:
            tree, stats = insert_points(base, pts, self._runtime, self._metric)
        return CoverTree(self._runtime, _tree=tree, _build_stats=tuple(stats), _build_operation=op.stats)

    # -- queries ----------------------------------------------------------------------------
    def knn(self, Q=None, k: int = 1, return_distances: bool = False):
        """Exact k nearest neighbours, rows sorted by (distance, id).

        With ``Q`` (q, d): the k nearest tree points of each query row.  Without ``Q``: every tree
        point's k nearest *other* points, row i for point id i (like scikit-learn's ``kneighbors()``).
        Returns ``ids`` (int64) or ``(ids, distances)`` (float64).
        """
        result = self.knn_result(Q, k)
        return (result.ids, result.distances) if return_distances else result.ids

    def knn_result(self, Q=None, k: int = 1) -> KnnResult:
        """Like ``knn`` but returns a ``KnnResult`` that also counts distance evaluations per query."""
        tree = self._fitted()
        if Q is None:
            k = check_k(k, tree.num_points - 1, "the number of other points in the tree")
            run = lambda: knn_self(tree, self._metric, k)  # noqa: E731
        else:
            queries = as_points(Q, "Q", self._dtype(), dim=tree.dimension, allow_empty=True)
            k = check_k(k, tree.num_points, "the number of points in the tree")
            run = lambda: knn_points(tree, self._metric, queries, k)  # noqa: E731
        with _threads(self._runtime.threads), _operation("knn", self._runtime.diagnostics) as op:
            result = run()
        return dataclasses.replace(result, operation=op.stats) if op.stats else result

    def nearest(self, Q, return_distances: bool = False):
        """The nearest tree point of each query row: ids (q,) [and distances (q,)]."""
        ids, dist = self.knn(Q, k=1, return_distances=True)
        return (ids[:, 0], dist[:, 0]) if return_distances else ids[:, 0]

    # -- diagnostics ------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Raise ``AssertionError`` describing the first violated invariant (O(n^2) distances)."""
        check_tree(self._fitted(), self._metric)
