"""How points are split into shards, and what a shard's bounding box says about a query.

Euclidean points are split spatially (recursive median cuts along the widest coordinate, a k-d
partition), so a query needs the few shards its ball of k neighbours reaches.  Residual-correlation
distances concentrate near 1 and no ball bounds them, so residual shards are contiguous id ranges: a
predecessor row then needs only the shards of smaller ids.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# a computed distance to a box may exceed the exact one by a few roundings; a shard is skipped only when
# it clears the k-th distance by this relative margin (ties at the k-th distance are kept)
BOUND_SLACK = 1e-9


def kd_split(X: np.ndarray, parts: int) -> list[np.ndarray]:
    """Row indices of ``X`` in ``parts`` groups of (nearly) equal size by recursive median cuts along the
    widest coordinate; each group sorted (a shard keeps its points in id order)."""
    groups: list[np.ndarray] = []

    def cut(rows: np.ndarray, p: int) -> None:
        if p == 1:
            groups.append(np.sort(rows))
            return
        pts = X[rows]
        axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
        left = p // 2
        at = rows.shape[0] * left // p
        order = np.argsort(pts[:, axis], kind="stable")
        cut(rows[order[:at]], left)
        cut(rows[order[at:]], p - left)

    cut(np.arange(X.shape[0], dtype=np.int64), parts)
    return groups


def id_ranges(n: int, parts: int) -> list[np.ndarray]:
    """Ids 0..n-1 in ``parts`` contiguous ranges of (nearly) equal size."""
    edges = np.linspace(0, n, parts + 1).astype(np.int64)
    return [np.arange(edges[i], edges[i + 1], dtype=np.int64) for i in range(parts)]


def from_labels(labels, n: int) -> list[np.ndarray]:
    """Groups of a user's partition: ``labels[i]`` is point i's shard (0..S-1, every shard non-empty)."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"partition must hold one shard number per point ({n}), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"partition must hold integer shard numbers, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"partition has shard number {int(arr.min())}: shards are numbered from 0")
    counts = np.bincount(arr.astype(np.int64))
    if np.any(counts == 0):
        raise ValueError(f"partition leaves shard {int(np.flatnonzero(counts == 0)[0])} empty: number the "
                         f"shards 0..S-1 with at least one point each")
    return [np.flatnonzero(arr == s).astype(np.int64) for s in range(counts.shape[0])]


class Box(NamedTuple):
    """A shard's bounding box: every point of the shard lies in [lo, hi] coordinate by coordinate (a
    k-d split's shards have nearly disjoint boxes, so a query's k-th-neighbour ball meets few)."""

    lo: np.ndarray
    hi: np.ndarray

    @staticmethod
    def around(points: np.ndarray) -> "Box":
        pts = np.asarray(points, dtype=np.float64)
        return Box(pts.min(axis=0), pts.max(axis=0))

    def grown(self, points: np.ndarray) -> "Box":
        """The box grown to take ``points`` in as well."""
        pts = np.asarray(points, dtype=np.float64)
        return Box(np.minimum(self.lo, pts.min(axis=0)), np.maximum(self.hi, pts.max(axis=0)))

    def distance(self, Q: np.ndarray) -> np.ndarray:
        """Euclidean distance of each row of ``Q`` to the box (0 inside): at most its distance to any
        point of the shard."""
        q = np.asarray(Q, dtype=np.float64)
        gap = np.maximum(np.maximum(self.lo - q, q - self.hi), 0.0)
        return np.sqrt((gap * gap).sum(axis=1))

    def may_hold(self, Q: np.ndarray, kth: np.ndarray) -> np.ndarray:
        """Rows of ``Q`` whose k-th distance so far (+inf: fewer than k found) the box may still beat or
        tie: False only where every shard point is farther than ``kth``."""
        d = self.distance(Q)
        return d <= kth + BOUND_SLACK * (d + np.where(np.isfinite(kth), kth, 0.0))
