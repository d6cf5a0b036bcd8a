"""``CoverTree``: the public face of the engine.

``CoverTree(runtime).fit(X)`` returns a fitted tree; ``tree.insert(Y)`` and ``tree.delete(ids)`` return
*new* fitted trees and leave ``tree`` unchanged and queryable (persistent versions).  Point ids are
stable: the i-th point ever inserted has id i, whatever was deleted since.  Inside, the engine numbers
a version's points 0..n-1 in id order (``_labels`` maps them back once something was deleted): the
order is the same, so predecessor queries mean "among the remaining points of smaller id".
"""

from __future__ import annotations

import dataclasses
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numba
import numpy as np

from covertreex.algo.insert import insert_points
from covertreex.algo.types import RoundStats
from covertreex.core.leaves import LEAF, Leaves
from covertreex.core.tree import PCCTree
from covertreex.gates.policy import Gate
from covertreex.gates.profile import GateAudit, GateProfile, Stamp, fingerprints
from covertreex.validation import as_ids, as_points, check_k, check_radius
from covertreex.metrics._pairwise_numba import pairwise_distances
from covertreex.metrics.base import Metric
from covertreex.queries.blockscan import scan_points, scan_self
from covertreex.queries.knn import BLOCK_SCAN_MIN_ROWS, dense_points, dense_self, knn_points, knn_self
from covertreex.queries.plan import EnginePlan, plan_fit
from covertreex.queries.types import KnnResult, RadiusResult
from covertreex.runtime.config import QUERY_ENGINES, Runtime
from covertreex.runtime.diagnostics import OperationStats, OperationTimer
from covertreex.telemetry.events import emit_build, emit_gate, emit_plan, emit_query

if TYPE_CHECKING:
    from covertreex.algo.delete import DeleteStats
# Deletion, gated searches, radius searches, the JAX engine and the invariant checks are imported where
# they are used: a fit and its k-NN queries do not load them (start-up time, see README).


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


def _gated_search():
    from covertreex.gates import search

    return search


def _cells():
    from covertreex.gates import cells

    return cells


def _jax():
    from covertreex.queries import jax_dense

    return jax_dense


def _radius():
    from covertreex.queries import radius

    return radius


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


class CoverTree:
    """An exact compressed cover tree.  Unfitted until ``fit``; every update returns a new object."""

    def __init__(self, runtime: Runtime | None = None, *, _tree: PCCTree | None = None,
                 _build_stats: tuple[RoundStats, ...] = (), _build_operation: OperationStats | None = None,
                 _metric: Metric | None = None, _coords: np.ndarray | None = None, _rows: np.ndarray | None = None,
                 _plan: EnginePlan | None = None, _labels: np.ndarray | None = None, _next_id: int | None = None,
                 _delete_stats: DeleteStats | None = None):
        if runtime is None:
            runtime = Runtime()
        if not isinstance(runtime, Runtime):
            raise TypeError(f"runtime must be a covertreex.Runtime, got {type(runtime).__name__}")
        self._runtime = runtime
        if _tree is not None and _metric is None:  # bare arrays (a loaded file): a metric fitted to nothing
            _metric = runtime.metric_policy()
            if not isinstance(_metric, Metric):  # a policy that learns from the data (residual factors)
                raise ValueError(f"a {runtime.metric} tree needs its fitted metric: build it with fit()")
        if _tree is not None and _rows is None:
            _rows = _tree.points[_tree.position_of]
            _rows.setflags(write=False)
        if _rows is not None and _coords is None:  # the rows are the coordinates
            _coords = _rows
        # a fitted tree holds its fitted metric, its coordinates and its feature rows in id order
        # (what every engine reads), whatever the metric; the cover tree itself only where the plan
        # says a search will use it, or once a tree search asks for it
        self._metric = _metric
        self._coords = _coords
        self._rows = _rows
        self._tree = _tree
        self._plan = _plan or (EnginePlan(True, "built from tree arrays") if _tree is not None else None)
        # the k-d leaves that large Euclidean queries scan, when the plan made them instead of the tree
        self._leaves = None
        if _tree is None and self._plan is not None and self._plan.scan:
            with _threads(self._runtime.threads):
                self._leaves = Leaves.of(_rows, LEAF)
        self._tree_lock = threading.Lock()
        self._proxy_trees: dict = {}  # gated searches: proxy trees, cell partitions and indexes
        self._fingerprints: tuple[str, str] | None = None
        self._build_stats = _build_stats
        self._build_operation = _build_operation
        # the user's id of each point (ascending) once points were deleted; None: ids are 0..n-1
        self._labels = _labels
        self._next_id = _next_id if _next_id is not None or _rows is None else int(_rows.shape[0])
        self._delete_stats = _delete_stats

    def __getstate__(self) -> dict:
        """Pickling (scikit-learn's estimators, multiprocessing): the arrays and settings, not the lock
        or the lazily built proxy trees.  Tree *files* are ``save``/``load``: those never unpickle."""
        state = dict(self.__dict__)
        state["_tree_lock"] = None
        state["_proxy_trees"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._tree_lock = threading.Lock()

    # -- properties -------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        return self._runtime

    @property
    def is_fitted(self) -> bool:
        return self._rows is not None

    @property
    def num_points(self) -> int:
        return int(self._fitted().shape[0])

    @property
    def dimension(self) -> int:
        self._fitted()
        return int(self._coords.shape[1])

    @property
    def metric(self) -> Metric:
        """The fitted metric the kernels use (``EuclideanMetric`` or ``ResidualFactors``)."""
        self._fitted()
        return self._metric

    @property
    def arrays(self) -> PCCTree:
        """The immutable flat arrays of this version's cover tree (read-only numpy arrays); built here
        when the fit did not need it (see ``describe()["plan"]``)."""
        return self._search_tree()

    @property
    def has_tree(self) -> bool:
        """Whether this version's cover tree is built (an ``auto`` fit may skip it: a Euclidean one of
        4,096 points or more cuts k-d leaves, a residual one may leave the search to the dense engine;
        see ``describe()["plan"]``)."""
        return self._tree is not None

    def describe(self) -> dict:
        """Points, dimension, metric, whether the cover tree is built, and the fit's engine plan (the
        decision, its reason and the probe's figures)."""
        out = {"fitted": self.is_fitted, "metric": self._runtime.metric, "query_engine": self._runtime.query_engine}
        if self.is_fitted:
            out.update(num_points=self.num_points, dimension=self.dimension, tree_built=self.has_tree,
                       plan=self._plan.describe())
        return out

    @property
    def points(self) -> np.ndarray:
        """Stored points in id order (in the runtime's precision), read-only: row r is point ``ids[r]``."""
        self._fitted()
        return self._coords

    @property
    def ids(self) -> np.ndarray:
        """The ids of this version's points, ascending (0..n-1 until something is deleted): row r of
        ``points`` and of an all-points query is point ``ids[r]``."""
        n = self.num_points
        if self._labels is None:
            ids = np.arange(n, dtype=np.int64)
            ids.setflags(write=False)
            return ids
        return self._labels

    @property
    def next_id(self) -> int:
        """The id the next inserted point gets (ids of deleted points are never reused)."""
        self._fitted()
        return self._next_id

    @property
    def delete_stats(self) -> DeleteStats | None:
        """What the ``delete`` that produced this version did (orphans re-attached, promotions), if one did."""
        return self._delete_stats

    def _internal(self, value, name: str) -> np.ndarray:
        """Validated point ids (``name`` in messages) as the engine's row numbers."""
        if self._labels is None:
            return as_ids(value, name, self.num_points)
        ids = as_ids(value, name, self._next_id)
        rows = np.searchsorted(self._labels, ids)
        missing = self._labels[np.minimum(rows, self._labels.shape[0] - 1)] != ids
        if np.any(missing):
            raise ValueError(f"{name} has id {ids[missing][0]}, which was deleted from this tree")
        return rows

    def _external(self, rows: np.ndarray) -> np.ndarray:
        """The users' ids of engine row numbers (-1 padding kept)."""
        if self._labels is None:
            return rows
        return np.where(rows >= 0, self._labels[np.maximum(rows, 0)], rows)

    @property
    def build_stats(self) -> tuple[RoundStats, ...]:
        """Per-round statistics of the fit/insert that produced this version (sizes, edges, seconds)."""
        return self._build_stats

    @property
    def build_operation(self) -> OperationStats | None:
        """Wall/CPU seconds, peak RSS and threads of that fit/insert (``Runtime(diagnostics=True)`` only)."""
        return self._build_operation

    def __repr__(self) -> str:
        if self._rows is None:
            return f"CoverTree(unfitted, metric={self._runtime.metric!r})"
        return f"CoverTree(num_points={self.num_points}, dimension={self.dimension}, metric={self._runtime.metric!r})"

    # -- building ---------------------------------------------------------------------------
    def _fitted(self) -> np.ndarray:
        """The feature rows in id order; ``RuntimeError`` when this object is not fitted."""
        if self._rows is None:
            raise RuntimeError("this CoverTree is not fitted: use the tree returned by CoverTree(...).fit(X)")
        return self._rows

    def _search_tree(self) -> PCCTree:
        """The cover tree of this version, built now (once) when the fit skipped it."""
        rows = self._fitted()
        with self._tree_lock:
            if self._tree is None:
                with _threads(self._runtime.threads):
                    self._tree, _ = insert_points(None, rows, self._runtime, self._metric)
        return self._tree

    def fit(self, X, *, v_matrix=None, p_diag=None, telemetry=None, progress=None) -> CoverTree:
        """Build a tree over the points ``X``; returns a new fitted ``CoverTree`` (ids 0..n-1).

        Parameters
        ----------
        X : array_like, shape (n, d)
            Finite real coordinates.
        v_matrix, p_diag : array_like, shape (n, m) and (n,), optional
            Residual metric only: precomputed V and residual variances p (the kernel still gives
            k(x_i, x_j)); by default the inducing points and Cholesky factor are fitted here.
        telemetry : TelemetryWriter, optional
            Receives one event per prefix round (none for a tree built by nets, ``Runtime.build``) and a
            summary.
        progress : callable, optional
            Called as ``progress(points placed, points)`` after every prefix round of the build (for
            progress bars on large builds; once at the end for a tree built by nets; not called when the
            plan builds no tree).

        Returns
        -------
        CoverTree
            A new fitted tree; this object is unchanged.
        """
        policy = self._runtime.metric_policy()
        coords = as_points(X, "X", policy.coordinate_dtype, defines_scale=True)
        if isinstance(X, np.ndarray) and np.shares_memory(coords, X):
            coords = coords.copy()  # the tree keeps its coordinates: the caller's array stays the caller's
        metric = policy.fit(coords, v_matrix, p_diag)
        rows = metric.rows(coords, v_matrix, p_diag)
        plan = plan_fit(self._runtime, metric.engines, rows, metric)
        if telemetry is not None and (len(metric.engines) > 1 or plan.scan):  # a decision: say which and why
            emit_plan(telemetry, plan, rows.shape[0], self._runtime.metric)
        if not plan.tree:
            return self._version(None, rows, metric, coords, plan)
        return self._build(None, rows, metric, coords, plan, telemetry, progress=progress)

    def insert(self, Y, *, v_matrix=None, p_diag=None, telemetry=None, progress=None) -> CoverTree:
        """Return a new tree with the rows of ``Y`` added (ids ``next_id``, ``next_id + 1``, ...: n, n+1, ...
        unless points were deleted); this tree is unchanged.

        Parameters
        ----------
        Y : array_like, shape (q, d)
            New points, as many columns as the tree.
        v_matrix, p_diag : array_like, optional
            Residual metric only: V and p of ``Y`` (by default computed from the fitted inducing points).
        telemetry : TelemetryWriter, optional
            Receives one event per prefix round and a summary.
        progress : callable, optional
            As in ``fit``: ``progress(new points placed, new points)`` after every prefix round.

        Returns
        -------
        CoverTree
            A new version holding the old and the new points.
        """
        old = self._fitted()
        coords = as_points(Y, "Y", self._metric.coordinate_dtype, dim=self.dimension)
        rows = self._metric.rows(coords, v_matrix, p_diag, name="Y")
        all_coords = np.concatenate([self._coords, coords])
        labels = None if self._labels is None else np.concatenate(
            [self._labels, self._next_id + np.arange(coords.shape[0], dtype=np.int64)])
        ids = dict(labels=labels, next_id=self._next_id + coords.shape[0])
        if self._tree is None:  # no tree to grow: the new version keeps the plan and its rows
            return self._version(None, np.concatenate([old, rows]), self._metric, all_coords, self._plan, **ids)
        return self._build(self._tree, rows, self._metric, all_coords, self._plan, telemetry, progress=progress,
                           **ids)

    def delete(self, ids) -> CoverTree:
        """Return a new tree without the points ``ids``; this tree is unchanged (persistent versions).

        The other points keep their ids; ids are never reused by later inserts.  The cover tree is
        repaired, not rebuilt: the deleted nodes' children are re-attached level by level (see
        ``covertreex.algo.delete``), so the cost grows with what was deleted, not with the tree.

        Parameters
        ----------
        ids : array_like of int
            Ids of points in this tree, each at most once; not all of them (a tree holds at least one
            point).  An empty list returns this tree.

        Returns
        -------
        CoverTree
            A new version without those points; ``delete_stats`` says what the repair did.
        """
        self._fitted()
        rows, counts = np.unique(self._internal(ids, "ids"), return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"ids names point {self._external(rows[counts > 1])[0]} more than once")
        if rows.size == 0:
            return self
        if rows.size >= self.num_points:
            raise ValueError(f"ids names all {self.num_points} points of the tree: a tree holds at least one "
                             "point (fit a new tree instead)")
        keep = np.ones(self.num_points, dtype=bool)
        keep[rows] = False
        labels = self.ids[keep]
        coords = self._coords[keep]
        if self._tree is None:
            return self._version(None, self._rows[keep], self._metric, coords, self._plan, labels=labels,
                                 next_id=self._next_id)
        from covertreex.algo.delete import delete_points

        with _threads(self._runtime.threads), _operation("delete", self._runtime.diagnostics) as op:
            tree, stats = delete_points(self._tree, rows, self._metric)
        return self._version(tree, None, self._metric, coords, self._plan, operation=op.stats, labels=labels,
                             next_id=self._next_id, delete_stats=stats)

    def _version(self, tree: PCCTree | None, rows: np.ndarray | None, metric: Metric, coords: np.ndarray,
                 plan: EnginePlan, stats=(), operation: OperationStats | None = None, labels=None,
                 next_id: int | None = None, delete_stats: DeleteStats | None = None) -> CoverTree:
        """A new fitted version; rows (id order; None: the tree's), coordinates and ids read-only views."""
        if rows is None:
            rows = tree.points[tree.position_of]
        rows, coords = rows.view(), coords.view()
        for a in (rows, coords) + (() if labels is None else (labels,)):
            a.setflags(write=False)
        return CoverTree(self._runtime, _tree=tree, _build_stats=tuple(stats), _build_operation=operation,
                         _metric=metric, _coords=coords, _rows=rows, _plan=plan, _labels=labels,
                         _next_id=next_id, _delete_stats=delete_stats)

    def _build(self, base: PCCTree | None, rows: np.ndarray, metric: Metric, coords: np.ndarray,
               plan: EnginePlan, telemetry=None, progress=None, **ids) -> CoverTree:
        start = time.perf_counter()
        with _threads(self._runtime.threads), _operation("build", self._runtime.diagnostics) as op:
            tree, stats = insert_points(base, rows, self._runtime, metric, progress)
        if telemetry is not None:
            emit_build(telemetry, "fit" if base is None else "insert", stats, time.perf_counter() - start,
                       0 if base is None else base.num_points, rows.shape[0], self._runtime.metric,
                       coords.shape[1])
        all_rows = rows if base is None else None  # a fresh tree holds exactly the rows it was built from
        return self._version(tree, all_rows, metric, coords, plan, stats, op.stats, **ids)

    def _query_rows(self, Q, v_matrix, p_diag) -> np.ndarray:
        """Validated query rows in the tree's layout (coordinates, or residual feature rows)."""
        coords = as_points(Q, "Q", self._metric.coordinate_dtype, dim=self.dimension, allow_empty=True)
        return self._metric.rows(coords, v_matrix, p_diag, name="Q")

    # -- queries ----------------------------------------------------------------------------
    def knn(self, Q=None, k: int = 1, return_distances: bool = False, *, query_ids=None,
            predecessor: bool = False, before=None, v_matrix=None, p_diag=None, engine: str | None = None,
            gate=None, telemetry=None):
        """Exact k nearest neighbours, rows sorted by (distance, id) — or, with ``gate``, gated ones.

        Parameters
        ----------
        Q : array_like, shape (q, d), optional
            Query coordinates: each row's k nearest tree points.  Residual trees compute V and p for
            ``Q`` from the fitted inducing points (or take ``v_matrix``/``p_diag``).  Without ``Q``:
            every tree point's k nearest *other* points, row i for point id i (like scikit-learn's
            ``kneighbors()``).
        k : int
            Neighbours per row, 1 <= k <= the candidates there are.
        return_distances : bool
            Also return the distances.
        query_ids : array_like of int, optional
            Without ``Q``: only these tree points (row r for id ``query_ids[r]``).
        predecessor : bool
            Without ``Q``: Vecchia conditioning sets, only ids j < i are candidates; rows with fewer
            than k candidates are padded with id -1 and distance +inf (row 0 is all padding).
        before : array_like of int, shape (q,), optional
            With ``Q``: row r's candidates are only the points with id < ``before[r]`` (new points
            placed in a Vecchia ordering among the tree's, or a tree holding part of the ids); rows
            with fewer than k candidates are padded like predecessor rows.
        v_matrix, p_diag : array_like, optional
            Residual trees: V (q, m) and p (q,) of ``Q``.
        engine : {"auto", "tree", "dense", "jax"}, optional
            Overrides ``Runtime.query_engine`` for this call (all engines give identical answers).
        gate : GateProfile, optional
            Residual trees: an opt-in *approximate* search calibrated by ``calibrate_gate`` for this
            tree, this k and this mode (a profile calibrated elsewhere is refused).  Distances stay
            exact; a true neighbour is missed with the audited rate (``gate.audit``).
        telemetry : TelemetryWriter, optional
            Receives one query event.

        Returns
        -------
        ids : ndarray of int64, shape (rows, k)
        distances : ndarray of float64, shape (rows, k)
            Only with ``return_distances=True``.
        """
        result = self.knn_result(Q, k, query_ids=query_ids, predecessor=predecessor, before=before,
                                 v_matrix=v_matrix, p_diag=p_diag, engine=engine, gate=gate, telemetry=telemetry)
        return (result.ids, result.distances) if return_distances else result.ids

    def knn_result(self, Q=None, k: int = 1, *, query_ids=None, predecessor: bool = False, before=None,
                   v_matrix=None, p_diag=None, engine: str | None = None, gate=None, telemetry=None) -> KnnResult:
        """Like ``knn`` (same parameters) but returns a ``KnnResult``.

        Returns
        -------
        KnnResult
            ``ids``, ``distances``, distance evaluations and traversal counters per query, and the
            name of the engine that answered.
        """
        rows, n = self._fitted(), self.num_points
        if not isinstance(predecessor, bool):
            raise TypeError(f"predecessor must be a bool, got {predecessor!r}")
        if before is not None and Q is None:
            raise ValueError("before limits the candidates of query coordinates Q: without Q use predecessor=True")
        if gate is not None:
            if engine is not None:
                raise ValueError("pass engine= or gate=, not both: a gated search is its own engine")
            if before is not None:
                raise ValueError("pass before= or gate=, not both: the gated search has no id limits")
            return self._gated(Q, k, query_ids, predecessor, v_matrix, p_diag, gate, telemetry)
        asked, engine = engine, self._engine(engine)
        if engine == "auto" and self._tree is None:
            engine = "dense"  # the fit's plan found that a tree would not pay (a tree search builds it)
        ids, queries = self._query_side(Q, query_ids, predecessor, v_matrix, p_diag)
        # the fit's plan made k-d leaves instead of a tree: large queries scan them unless the tree is asked for
        count = queries.shape[0] if queries is not None else n if ids is None else ids.shape[0]
        scan = self._leaves is not None and asked in (None, "auto") and count >= BLOCK_SCAN_MIN_ROWS
        if queries is None:
            k = check_k(k, n - 1, "the number of other points in the tree")
            if scan:
                run = lambda: scan_self(rows, k, ids, predecessor, self._leaves)  # noqa: E731
            elif engine in ("dense", "jax"):
                search = dense_self if engine == "dense" else _jax().jax_self
                run = lambda: search(rows, self._metric, k, ids, predecessor)  # noqa: E731
            else:
                run = lambda: knn_self(self._search_tree(), self._metric, k, ids, predecessor, engine)  # noqa: E731
        else:
            k = check_k(k, n, "the number of points in the tree")
            limit = self._limits(before, queries.shape[0])
            if scan:
                run = lambda: scan_points(rows, queries, k, limit, self._leaves)  # noqa: E731
            elif engine in ("dense", "jax"):
                search = dense_points if engine == "dense" else _jax().jax_points
                run = lambda: search(rows, self._metric, queries, k, limit)  # noqa: E731
            else:
                run = lambda: knn_points(self._search_tree(), self._metric, queries, k, engine, limit)  # noqa: E731
        return self._timed_knn(run, Q is not None, predecessor, k, telemetry)

    def _limits(self, before, rows: int) -> np.ndarray | None:
        """``before`` (users' ids, one per query row) as engine id limits: the points below each."""
        if before is None:
            return None
        ids = as_ids(before, "before", self.next_id + 1)
        if ids.shape[0] != rows:
            raise ValueError(f"before has {ids.shape[0]} values, one per query row is needed ({rows})")
        return ids if self._labels is None else np.searchsorted(self._labels, ids)

    def _query_side(self, Q, query_ids, predecessor: bool, v_matrix, p_diag):
        """What a query asks about, validated: (tree point ids or None for all of them, None) without
        ``Q``; (None, query rows in the tree's layout) with ``Q``."""
        if Q is None:
            if v_matrix is not None or p_diag is not None:
                raise ValueError("v_matrix/p_diag describe query coordinates Q; without Q the tree's own rows are used")
            return (None if query_ids is None else self._internal(query_ids, "query_ids")), None
        if query_ids is not None or predecessor:
            raise ValueError("query_ids and predecessor select tree points: pass them without Q")
        return None, self._query_rows(Q, v_matrix, p_diag)

    def _timed_knn(self, run, points: bool, predecessor: bool, k: int, telemetry, recall=None) -> KnnResult:
        """Run a k-NN search with the runtime's threads (and diagnostics), sending its query event."""
        start = time.perf_counter()
        with _threads(self._runtime.threads), _operation("knn", self._runtime.diagnostics) as op:
            result = run()
        if telemetry is not None:
            mode = "points" if points else ("predecessor" if predecessor else "self")
            emit_query(telemetry, mode, result, k, self.num_points, time.perf_counter() - start, recall=recall)
        if op.stats:
            result = dataclasses.replace(result, operation=op.stats)
        return result if self._labels is None else dataclasses.replace(result, ids=self._external(result.ids))

    # -- gated (approximate, opt-in) residual search ------------------------------------------
    def _gate_fingerprints(self) -> tuple[str, str]:
        """(inducing hash, data hash) of this version, computed once."""
        if self._fingerprints is None:
            self._fingerprints = fingerprints(self._metric, self._fitted(), self._coords)
        return self._fingerprints

    def _gate_structure(self, profile: GateProfile):
        """What the profile's search runs on, built now (once): the Euclidean cover tree over this
        version's proxy coordinates ("walk"), or the cell index with halos of the largest budget ("cells";
        only the latest index is kept: it holds a basis per cell)."""
        gate = profile.gate
        if gate.search == "walk":
            key = gate.proxy
        else:
            key = ("cells", gate.proxy, gate.cell, max(profile.budgets))
            cells = self._gate_partition(gate)
        rows = self._fitted()
        with self._tree_lock:
            if key not in self._proxy_trees:
                with _threads(self._runtime.threads):
                    if gate.search == "walk":
                        built = _gated_search().build_proxy_tree(self._metric, rows, gate.proxy, self._runtime)
                    else:
                        for old in [o for o in self._proxy_trees if isinstance(o, tuple) and o[0] == "cells"]:
                            del self._proxy_trees[old]
                        pts = _gated_search().proxy_rows(self._metric, rows, gate.proxy)
                        built = _cells().build_index(self._metric.slots, rows, pts, cells, key[-1])
                self._proxy_trees[key] = built
        return self._proxy_trees[key]

    def _drop_gate_structures(self) -> None:
        """Forget the proxy trees, cells and bases built so far (a benchmark times each calibration whole)."""
        with self._tree_lock:
            self._proxy_trees.clear()

    def _gate_partition(self, gate: Gate):
        """The proxy cells of this version for ``gate.proxy`` and ``gate.cell`` (built once)."""
        key = ("partition", gate.proxy, gate.cell)
        with self._tree_lock:
            if key not in self._proxy_trees:
                proxy = _gated_search().proxy_rows(self._metric, self._fitted(), gate.proxy)
                self._proxy_trees[key] = _cells().partition(proxy, gate.cell)
        return self._proxy_trees[key]

    def _gated_metric(self, what: str) -> None:
        self._fitted()
        if self._runtime.metric != "residual":
            raise ValueError(f"{what} is for metric='residual' trees; this tree's metric is {self._runtime.metric!r}")

    def calibrate_gate(self, gate: Gate, k: int, *, predecessor: bool = False, telemetry=None) -> GateProfile:
        """Calibrate an opt-in approximate (gated) residual search for this tree, ``k`` and mode.

        Parameters
        ----------
        gate : Gate
            Target miss rate ``delta``, calibration and audit sizes, proxy, bands of p, seed.
        k : int
            Neighbours per query the profile will serve.
        predecessor : bool
            Calibrate for Vecchia predecessor queries (``knn(predecessor=True)``) instead of k-NN.
        telemetry : TelemetryWriter, optional
            Receives one ``covertreex.gate`` event (budgets, audited recall and its interval).

        Returns
        -------
        GateProfile
            The budgets, their stamp (kernel, inducing set, data, k, mode) and the audit on
            ``gate.audit`` held-out points.  Pass it to ``knn(..., gate=profile)``; save it with
            ``profile.save(path)``.
        """
        self._gated_metric("calibrate_gate")
        if not isinstance(gate, Gate):
            raise TypeError(f"gate must be a covertreex.Gate, got {type(gate).__name__}")
        if not isinstance(predecessor, bool):
            raise TypeError(f"predecessor must be a bool, got {predecessor!r}")
        k = check_k(k, self.num_points - 1, "the number of other points in the tree")
        with _threads(self._runtime.threads):
            profile = _gated_search().calibrate(self, gate, k, predecessor)
        if self._labels is not None:  # the calibration points by the users' ids
            calibration = dict(profile.calibration, ids=self._external(profile.calibration["ids"]))
            profile = dataclasses.replace(profile, calibration=calibration)
        if telemetry is not None:
            emit_gate(telemetry, "calibrate", profile, profile.audit)
        return profile

    def audit_gate(self, profile: GateProfile, query_ids, *, telemetry=None) -> GateAudit:
        """Recall@k of gated answers against the exact engine for the tree points ``query_ids``, with
        Clopper–Pearson intervals (use points the calibration did not: ``profile.calibration["ids"]``)."""
        self._check_gate(profile)
        ids = self._internal(query_ids, "query_ids")
        if ids.size == 0:
            raise ValueError("query_ids must name at least one tree point to audit")
        with _threads(self._runtime.threads):
            result = _gated_search().audit(self, profile, ids)
        if telemetry is not None:
            emit_gate(telemetry, "audit", profile, result)
        return result

    def _check_gate(self, profile, k: int | None = None, predecessor: bool | None = None) -> None:
        """``profile`` is a GateProfile stamped for this tree, for ``k`` and the mode (its own by default)."""
        self._gated_metric("gate")
        if not isinstance(profile, GateProfile):
            raise TypeError(f"gate must be a GateProfile from CoverTree.calibrate_gate, got {type(profile).__name__}")
        profile.check(Stamp.of(self, profile.k if k is None else k,
                               profile.predecessor if predecessor is None else predecessor))

    def _gated(self, Q, k, query_ids, predecessor, v_matrix, p_diag, profile, telemetry) -> KnnResult:
        rows, n = self._fitted(), self.num_points
        k = check_k(k, n - 1 if Q is None else n, "the number of points a query can have as neighbours")
        self._check_gate(profile, k, predecessor)
        ids, queries = self._query_side(Q, query_ids, predecessor, v_matrix, p_diag)
        if queries is None:
            run = lambda: _gated_search().search_self(self, profile, k, ids, predecessor)  # noqa: E731
        else:
            run = lambda: _gated_search().search_points(self, profile, queries, k)  # noqa: E731
        return self._timed_knn(run, queries is not None, predecessor, k, telemetry,
                               recall=None if profile.audit is None else profile.audit.recall)

    def _engine(self, override: str | None) -> str:
        """The engine of a query: ``override`` or the runtime's, among those the metric offers."""
        if override is not None and override not in QUERY_ENGINES:
            raise ValueError(f"engine must be one of {', '.join(map(repr, QUERY_ENGINES))}, got {override!r}")
        engine = self._runtime.query_engine if override is None else override
        offered = self._metric.engines
        if engine != "auto" and engine not in offered:
            raise ValueError(f"engine={engine!r} is for metric='residual'; metric={self._metric.name!r} offers "
                             f"{', '.join(map(repr, offered))}")
        return engine if len(offered) > 1 else offered[0]

    def radius(self, Q=None, r=None, *, query_ids=None, predecessor: bool = False, v_matrix=None,
               p_diag=None) -> RadiusResult:
        """Every tree point within distance ``r``, exactly: at new coordinates, or for the tree's points.

        Parameters
        ----------
        Q : array_like, shape (q, d), optional
            Query coordinates; without ``Q`` every tree point (or ``query_ids``) against the *other* points.
        r : float or array_like of float
            The radius (inclusive), one for all rows or one per row; finite and >= 0.
        query_ids, predecessor, v_matrix, p_diag
            As in ``knn``.

        Returns
        -------
        RadiusResult
            Ragged rows (``indptr``, ``ids``, ``distances``), each sorted by (distance, id).
        """
        self._fitted()
        if not isinstance(predecessor, bool):
            raise TypeError(f"predecessor must be a bool, got {predecessor!r}")
        ids, queries = self._query_side(Q, query_ids, predecessor, v_matrix, p_diag)
        if queries is None:
            radius = check_radius(r, self.num_points if ids is None else ids.shape[0])
            run = lambda: _radius().radius_self(self._search_tree(), self._metric, radius, ids, predecessor)  # noqa: E731
        else:
            radius = check_radius(r, queries.shape[0])
            run = lambda: _radius().radius_points(self._search_tree(), self._metric, queries, radius)  # noqa: E731
        with _threads(self._runtime.threads):
            result = run()
        return result if self._labels is None else dataclasses.replace(result, ids=self._external(result.ids))

    def __len__(self) -> int:
        """The number of points (``num_points``)."""
        return self.num_points

    def nearest(self, Q, return_distances: bool = False, *, v_matrix=None, p_diag=None):
        """The nearest tree point of each query row.

        Parameters
        ----------
        Q : array_like, shape (q, d)
            Query coordinates.
        return_distances : bool
            Also return the distances.
        v_matrix, p_diag : array_like, optional
            Residual trees: V and p of ``Q``.

        Returns
        -------
        ids : ndarray of int64, shape (q,)
        distances : ndarray of float64, shape (q,)
            Only with ``return_distances=True``.
        """
        ids, dist = self.knn(Q, k=1, return_distances=True, v_matrix=v_matrix, p_diag=p_diag)
        return (ids[:, 0], dist[:, 0]) if return_distances else ids[:, 0]

    def distances(self, ids_a, ids_b=None) -> np.ndarray:
        """Distances between tree points by id, with the kernels' own arithmetic (bit-identical to searches).

        Parameters
        ----------
        ids_a, ids_b : array_like of int
            Point ids; ``ids_b`` defaults to ``ids_a``.

        Returns
        -------
        ndarray of float64, shape (len(ids_a), len(ids_b))
        """
        rows = self._fitted()
        a = self._internal(ids_a, "ids_a")
        b = a if ids_b is None else self._internal(ids_b, "ids_b")
        return pairwise_distances(self._metric.slots, rows, a, rows, b)

    # -- files ------------------------------------------------------------------------------
    def save(self, path):
        """Write this fitted Euclidean tree to one ``.npz`` file (``covertreex.save_tree``); returns the path."""
        from covertreex.api.persist import save_tree  # persist builds CoverTrees: imported when used

        return save_tree(self, path)

    @staticmethod
    def load(path) -> CoverTree:
        """A tree written by ``save`` (``covertreex.load_tree``): checked as untrusted input, never unpickled."""
        from covertreex.api.persist import load_tree

        return load_tree(path)

    # -- diagnostics ------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Raise ``AssertionError`` describing the first violated invariant (O(n^2) distances)."""
        from covertreex.core.invariants import check_tree

        check_tree(self._search_tree(), self._metric)
