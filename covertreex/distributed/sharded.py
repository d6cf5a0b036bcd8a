"""``ShardedTree``: exact k-NN over points split into shards, one ``CoverTree`` per shard held on the
workers of a ``dask.distributed`` client.

A query goes to the shard that holds it (or whose box is nearest), then to every other shard whose
bounding box may still hold a point as close as its k-th neighbour so far (Euclidean), or to every
shard of smaller ids (residual predecessor rows) or every shard (other residual queries); the shards'
top-k lists are merged by (distance, id).  Each shard tree computes distances with the same kernel on
the same stored rows as one tree would, so ids and distances are identical to a single ``CoverTree``.

Shard trees are submitted as tasks with their points, not scattered: a worker that dies is replaced
and Dask rebuilds the shards it held when they are next needed.  Futures cancelled by the cluster (a
``client.restart()``) cannot be rebuilt; a query then raises ``ShardLostError`` and never returns part
of an answer.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from covertreex.distributed import tasks
from covertreex.distributed.merge import merge_topk
from covertreex.distributed.partition import Box, from_labels, id_ranges, kd_split
from covertreex.runtime.config import Runtime
from covertreex.validation import as_ids, as_points, check_k


class ShardLostError(RuntimeError):
    """The cluster no longer has a shard of this tree (its futures were cancelled): fit it again."""


@dataclass(frozen=True)
class Shard:
    """One shard: its tree (a Dask future), the sharded tree's id of each of its local ids (ascending:
    local and global order agree), the points it holds now and, for Euclidean shards, a bounding box."""

    tree: object
    global_of: np.ndarray
    count: int
    box: Box | None

    @property
    def first(self) -> int:
        """A lower bound of the smallest id it holds (its first id, even if that one was deleted)."""
        return int(self.global_of[0])


@dataclass(frozen=True)
class ShardedResult:
    """Answers with what the query cost in transfers: bytes sent to and received from the workers, and
    the shard queries per row (1 = only its own shard)."""

    ids: np.ndarray
    distances: np.ndarray
    bytes_sent: int
    bytes_received: int
    shards_per_row: float


def _nbytes(*arrays) -> int:
    return int(sum(a.nbytes for a in arrays if a is not None))


class ShardedTree:
    """Exact k-NN on points sharded over a Dask cluster; the same answers as one ``CoverTree``.

    Parameters
    ----------
    client : distributed.Client
        The cluster's client (a ``LocalCluster``'s, or one connected to a scheduler address).
    runtime : Runtime, optional
        The shard trees' settings (metric, residual policy, precision, threads per worker, engine).
    shards : int
        Number of shards (default: the number of workers).  Euclidean points are split spatially
        (median cuts along the widest coordinate), residual points by contiguous id ranges.

    ``fit``, ``insert`` and ``delete`` return new versions; earlier versions stay valid while referenced.
    """

    def __init__(self, client, runtime: Runtime | None = None, shards: int | None = None, *,
                 _shards: tuple[Shard, ...] = (), _points: np.ndarray | None = None,
                 _owner: np.ndarray | None = None, _local: np.ndarray | None = None):
        if runtime is not None and not isinstance(runtime, Runtime):
            raise TypeError(f"runtime must be a covertreex Runtime, got {type(runtime).__name__}")
        if shards is not None and (isinstance(shards, bool) or not isinstance(shards, numbers.Integral)
                                   or shards < 1):
            raise ValueError(f"shards must be an int >= 1, got {shards!r}")
        self._client = client
        self._runtime = runtime or Runtime()
        self._shards_wanted = None if shards is None else int(shards)
        self._shards = _shards
        self._points = _points  # every id's coordinates as the shards store them (deleted ones kept)
        self._owner = _owner  # shard index of each id, -1 once deleted
        self._local = _local  # each id's local id in its shard

    # -- state ------------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        return self._runtime

    @property
    def is_fitted(self) -> bool:
        return self._points is not None

    def _fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError("this ShardedTree is not fitted: call fit(X) first (it returns the fitted tree)")

    @property
    def num_points(self) -> int:
        self._fitted()
        return int(sum(s.count for s in self._shards))

    def __len__(self) -> int:
        return self.num_points

    @property
    def next_id(self) -> int:
        """The id the next inserted point gets (ids are never reused)."""
        self._fitted()
        return int(self._owner.shape[0])

    @property
    def ids(self) -> np.ndarray:
        """The ids held, ascending."""
        self._fitted()
        return np.flatnonzero(self._owner >= 0).astype(np.int64)

    @property
    def shard_sizes(self) -> list[int]:
        self._fitted()
        return [s.count for s in self._shards]

    def describe(self) -> dict:
        """Shard sizes and the workers holding each shard's tree."""
        self._fitted()
        where = self._client.who_has([s.tree for s in self._shards])
        return {"metric": self._runtime.metric, "points": self.num_points,
                "shards": [{"points": s.count, "first_id": s.first, "workers": list(where.get(s.tree.key, ()))}
                           for s in self._shards]}

    def _version(self, shards: list[Shard], points: np.ndarray, owner: np.ndarray, local: np.ndarray
                 ) -> "ShardedTree":
        return ShardedTree(self._client, self._runtime, self._shards_wanted, _shards=tuple(shards),
                           _points=points, _owner=owner, _local=local)

    @property
    def _euclidean(self) -> bool:
        return self._runtime.metric == "euclidean"

    def _coordinates(self, X, name: str) -> np.ndarray:
        dtype = np.float32 if self._euclidean and self._runtime.precision == "float32" else np.float64
        dim = None if self._points is None else self._points.shape[1]
        return as_points(X, name, dtype, dim=dim, defines_scale=name == "X", allow_empty=name != "X")

    # -- Dask plumbing --------------------------------------------------------------------------
    def _workers(self) -> list[str]:
        return sorted(self._client.scheduler_info()["workers"])

    def _submit(self, fn, *args, shard: int, **kwargs):
        """Run ``fn`` on the worker of ``shard``: shards are dealt to workers in snake order (0, 1, 1, 0,
        0, 1, ... for two), which evens out the predecessor work of id-range shards (shard s answers
        its own rows and every later shard's).  While the cluster has no worker (one restarting), the
        task is left to Dask's scheduler, which runs it when a worker joins."""
        workers = self._workers()
        placement = {}
        if workers:
            turn, seat = divmod(shard, len(workers))
            placement = {"workers": [workers[seat if turn % 2 == 0 else len(workers) - 1 - seat]],
                         "allow_other_workers": True}
        with warnings.catch_warnings():
            # a shard's points travel inside its build task on purpose: Dask can then rebuild the shard
            # of a lost worker (scattered data would be lost with it); Dask warns about large tasks
            warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
            return self._client.submit(fn, *args, pure=False, **placement, **kwargs)

    def _gather(self, futures: list) -> list:
        try:
            return self._client.gather(futures)
        except concurrent.futures.CancelledError as exc:  # distributed's FutureCancelledError
            raise ShardLostError(f"the Dask cluster lost a shard of this tree ({exc}): it was restarted or the "
                                 f"shard's data was released; fit the ShardedTree again") from exc

    def _built(self, futures: list) -> None:
        """Wait for shard trees to be built where they live (they are not sent here); a failed build
        raises its error here."""
        from distributed import wait  # the client's package

        wait(futures)
        for future in futures:
            if future.status != "finished":
                self._gather([future])  # raises the task's error (or ShardLostError)

    # -- fit / insert / delete --------------------------------------------------------------------
    def fit(self, X, *, partition=None) -> "ShardedTree":
        """A new fitted sharded tree over ``X`` (ids 0..n-1).

        ``partition``: optional shard number of every point (0..S-1, each shard non-empty), in place of
        the automatic split."""
        coords = self._coordinates(X, "X")
        n = coords.shape[0]
        if partition is not None:
            groups = from_labels(partition, n)
        else:
            wanted = self._shards_wanted or max(1, len(self._workers()))
            if wanted > n:
                raise ValueError(f"shards={wanted} exceeds the {n} points of X")
            groups = kd_split(coords, wanted) if self._euclidean else id_ranges(n, wanted)
        runtime = self._shard_runtime(coords)
        owner = np.empty(n, dtype=np.int64)
        local = np.empty(n, dtype=np.int64)
        shards = []
        for s, rows in enumerate(groups):
            owner[rows], local[rows] = s, np.arange(rows.shape[0])
            future = self._submit(tasks.build_shard, coords[rows], runtime, shard=s)
            shards.append(Shard(future, rows, int(rows.shape[0]), Box.around(coords[rows]) if self._euclidean
                                else None))
        self._built([s.tree for s in shards])
        version = self._version(shards, coords, owner, local)
        version._runtime = runtime
        return version

    def _shard_runtime(self, coords: np.ndarray) -> Runtime:
        """Residual shards share one inducing set: a count is resolved to those points of the whole data
        (the rows one tree would pick), so every shard computes the same V and p as one tree."""
        policy = self._runtime.residual
        if self._euclidean or policy is None or not isinstance(policy.inducing, int):
            return self._runtime
        if policy.inducing > coords.shape[0]:
            raise ValueError(f"Residual.inducing={policy.inducing} exceeds the {coords.shape[0]} points of X")
        chosen = coords[policy.inducing_rows(coords.shape[0])]
        return self._runtime.with_updates(residual=dataclasses.replace(policy, inducing=chosen))

    def insert(self, Y) -> "ShardedTree":
        """A new version with the rows of ``Y`` added (ids ``next_id``, ``next_id + 1``, ...): Euclidean
        points join the shard whose box is nearest, residual points the shard of the largest ids."""
        self._fitted()
        new = self._coordinates(Y, "Y")
        if new.shape[0] == 0:
            return self
        start = self.next_id
        gids = start + np.arange(new.shape[0], dtype=np.int64)
        if self._euclidean:
            dest = self._nearest_box(new)
        else:
            dest = np.full(new.shape[0], int(np.argmax([s.first for s in self._shards])))
        shards = list(self._shards)
        local = np.concatenate([self._local, np.empty(new.shape[0], dtype=np.int64)])
        for s in np.unique(dest):
            rows = np.flatnonzero(dest == s)
            old = shards[s]
            local[gids[rows]] = old.global_of.shape[0] + np.arange(rows.shape[0])
            shards[s] = Shard(self._submit(tasks.insert_shard, old.tree, new[rows], shard=int(s)),
                              np.concatenate([old.global_of, gids[rows]]), old.count + rows.shape[0],
                              old.box.grown(new[rows]) if old.box is not None else None)
        self._built([shards[s].tree for s in np.unique(dest)])
        return self._version(shards, np.concatenate([self._points, new]), np.concatenate([self._owner, dest]), local)

    def delete(self, ids) -> "ShardedTree":
        """A new version without the points ``ids`` (the others keep their ids; ids are never reused)."""
        self._fitted()
        gone = self._alive_ids(ids, "ids")
        if gone.shape[0] == 0:
            return self
        if np.unique(gone).shape[0] != gone.shape[0]:
            raise ValueError("ids names a point more than once")
        if gone.shape[0] == self.num_points:
            raise ValueError("ids names every point of the tree: a tree keeps at least one point")
        owner = self._owner.copy()
        owner[gone] = -1
        kept, index = [], np.full(len(self._shards), -1, dtype=np.int64)
        changed = []
        for s, shard in enumerate(self._shards):
            mine = gone[self._owner[gone] == s]
            if mine.shape[0] == shard.count:  # the whole shard goes
                continue
            index[s] = len(kept)
            if mine.shape[0]:
                shard = dataclasses.replace(shard, tree=self._submit(tasks.delete_shard, shard.tree,
                                                                     self._local[mine], shard=s),
                                            count=shard.count - mine.shape[0])
                changed.append(shard.tree)
            kept.append(shard)
        self._built(changed)
        owner = np.where(owner >= 0, index[np.maximum(owner, 0)], -1)
        return self._version(kept, self._points, owner, self._local)

    def _nearest_box(self, coords: np.ndarray) -> np.ndarray:
        """For each row, the (Euclidean) shard whose bounding box is nearest (the first of equals)."""
        return np.argmin(np.stack([s.box.distance(coords) for s in self._shards]), axis=0)

    def _alive_ids(self, value, name: str) -> np.ndarray:
        ids = as_ids(value, name, self.next_id)
        dead = self._owner[ids] < 0
        if np.any(dead):
            raise ValueError(f"{name} has id {ids[dead][0]}, which was deleted from this tree")
        return ids

    # -- queries --------------------------------------------------------------------------------
    def knn(self, Q=None, k: int = 1, return_distances: bool = False, *, query_ids=None,
            predecessor: bool = False):
        """Exact k nearest neighbours, like ``CoverTree.knn`` (same rows, ids and distances): at query
        coordinates ``Q``, or for the tree's own points (all, ``query_ids``, or ``predecessor`` rows)."""
        result = self.knn_result(Q, k, query_ids=query_ids, predecessor=predecessor)
        return (result.ids, result.distances) if return_distances else result.ids

    def knn_result(self, Q=None, k: int = 1, *, query_ids=None, predecessor: bool = False) -> ShardedResult:
        """Like ``knn`` but returns a ``ShardedResult`` (answers and transfer counts)."""
        self._fitted()
        if not isinstance(predecessor, bool):
            raise TypeError(f"predecessor must be a bool, got {predecessor!r}")
        n = self.num_points
        if Q is not None:
            if query_ids is not None or predecessor:
                raise ValueError("query_ids and predecessor select tree points: pass them without Q")
            coords, gids = self._coordinates(Q, "Q"), None
            k = check_k(k, n, "the number of points in the tree")
        else:
            gids = self.ids if query_ids is None else self._alive_ids(query_ids, "query_ids")
            coords = self._points[gids]
            k = check_k(k, n - 1, "the number of other points in the tree")
        return _Query(self, coords, gids, k, predecessor).run()


class _Query:
    """One sharded k-NN query: home shards first (Euclidean: their k-th distances then bound which other
    shards are asked), then the other shards, then the exact merge."""

    def __init__(self, tree: ShardedTree, coords: np.ndarray, gids: np.ndarray | None, k: int, predecessor: bool):
        self.tree, self.coords, self.gids, self.k, self.predecessor = tree, coords, gids, k, predecessor
        self.rows = coords.shape[0]
        # the best k so far of every row (global ids), merged with each answer on the rows it covers
        self.ids = np.full((self.rows, k), -1, dtype=np.int64)
        self.dist = np.full((self.rows, k), np.inf)
        self.sent = self.received = self.asked = 0

    def run(self) -> ShardedResult:
        tree, shards = self.tree, self.tree._shards
        if self.gids is not None:
            home = tree._owner[self.gids]
        elif tree._euclidean:
            home = tree._nearest_box(self.coords)
        else:
            home = np.full(self.rows, -1)
        if tree._euclidean:
            self._ask([self._home_call(s, home) for s in range(len(shards))])
            kth = self.dist[:, -1]
        else:
            self._ask([self._home_call(s, home) for s in range(len(shards)) if self.gids is not None])
            kth = np.full(self.rows, np.inf)
        calls = []
        for s, shard in enumerate(shards):
            want = home != s
            if shard.box is not None:
                want &= shard.box.may_hold(self.coords, kth)
            if self.predecessor:
                want &= shard.first < self.gids
            rows = np.flatnonzero(want)
            if rows.shape[0]:
                before = np.searchsorted(shard.global_of, self.gids[rows]) if self.predecessor else None
                calls.append((s, rows, dict(Q=self.coords[rows], before=before)))
        self._ask(calls)
        return ShardedResult(self.ids, self.dist, self.sent, self.received, self.asked / max(1, self.rows))

    def _home_call(self, s: int, home: np.ndarray):
        rows = np.flatnonzero(home == s)
        if self.gids is not None:
            return s, rows, dict(query_ids=self.tree._local[self.gids[rows]], predecessor=self.predecessor)
        return s, rows, dict(Q=self.coords[rows])

    def _ask(self, calls) -> None:
        """Send each (shard, rows, arguments) call, wait for all, keep their answers in global ids."""
        calls = [c for c in calls if c[1].shape[0]]
        shards = self.tree._shards
        futures = [self.tree._submit(tasks.shard_knn, shards[s].tree, self.k, **args, shard=s)
                   for s, _, args in calls]
        answers = self.tree._gather(futures)
        for (s, rows, args), (ids, dist) in zip(calls, answers):
            self.sent += _nbytes(*(v for v in args.values() if isinstance(v, np.ndarray)))
            self.received += _nbytes(ids, dist)
            self.asked += rows.shape[0]
            found = (np.where(ids >= 0, shards[s].global_of[np.maximum(ids, 0)], -1), dist)
            if np.all(self.ids[rows, 0] < 0):  # nothing found for these rows yet: the answer is their best
                self.ids[rows, : ids.shape[1]], self.dist[rows, : ids.shape[1]] = found
            else:
                self.ids[rows], self.dist[rows] = merge_topk((self.ids[rows], self.dist[rows]), found)
