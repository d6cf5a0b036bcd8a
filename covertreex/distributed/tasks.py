"""What runs on the Dask workers: a shard is a ``CoverTree`` (a fitted version, held as a Dask future);
these functions build, update and query it and return plain arrays.  Ids here are the shard tree's own
(local) ids; the client maps them to the sharded tree's ids."""

from __future__ import annotations

import numpy as np

from covertreex.api.tree import CoverTree
from covertreex.runtime.config import Runtime


def build_shard(points: np.ndarray, runtime: Runtime) -> CoverTree:
    return CoverTree(runtime).fit(points)


def insert_shard(tree: CoverTree, points: np.ndarray) -> CoverTree:
    return tree.insert(points)


def delete_shard(tree: CoverTree, local_ids: np.ndarray) -> CoverTree:
    return tree.delete(local_ids)


def shard_knn(tree: CoverTree, k: int, Q: np.ndarray | None = None, query_ids: np.ndarray | None = None,
              predecessor: bool = False, before: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The shard's k nearest (at most as many as it holds) for query coordinates ``Q`` (optionally
    limited by ``before``) or for its own points ``query_ids``; (ids, distances) padded with -1 / +inf."""
    rows = (Q if Q is not None else query_ids).shape[0]
    k = min(k, tree.num_points - (Q is None))
    if k < 1 or rows == 0:
        return np.full((rows, 0), -1, dtype=np.int64), np.full((rows, 0), np.inf)
    return tree.knn(Q, k=k, query_ids=query_ids, predecessor=predecessor, before=before, return_distances=True)
