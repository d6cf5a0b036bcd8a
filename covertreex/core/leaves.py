"""Points cut into k-d leaves: contiguous blocks of nearby points with their bounding boxes.

The block scans of the queries (``queries.blockscan``) and of the build's parent search
(``algo.parents_block``) read points leaf by leaf in vectorised column passes and skip whole leaves by
their boxes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

LEAF = 128  # points per leaf (block scan, d=8, 32,768 points: 64 -> 1.08 s, 128 -> 0.96 s, 256 -> 1.34 s)


def kd_leaves(X: np.ndarray, leaf: int = LEAF) -> tuple[np.ndarray, np.ndarray]:
    """A permutation of the rows of ``X`` that makes leaves contiguous, and the leaves' start offsets
    (with the end appended): each split halves a range at the median of its widest coordinate."""
    n = X.shape[0]
    perm = np.arange(n, dtype=np.int64)
    starts = []
    todo = [(0, n)]
    while todo:
        a, b = todo.pop()
        if b - a <= leaf:
            starts.append(a)
            continue
        sub = X[perm[a:b]]
        axis = int(np.argmax(sub.max(axis=0) - sub.min(axis=0)))
        half = (b - a) // 2
        perm[a:b] = perm[a:b][np.argpartition(sub[:, axis], half, kind="introselect")]
        todo += [(a + half, b), (a, a + half)]
    return perm, np.array(sorted(starts) + [n], dtype=np.int64)


class Leaves(NamedTuple):
    """The points cut into k-d leaves, as the block kernels read them."""

    Xt: np.ndarray  # (d, n) float64 coordinates in leaf order
    ids: np.ndarray  # (n,) id (row of X) of each column
    starts: np.ndarray  # (leaves + 1,) first column of each leaf, then n
    lo: np.ndarray  # (leaves, d) bounding boxes
    hi: np.ndarray
    min_id: np.ndarray  # (leaves,) smallest id in each leaf

    @staticmethod
    def of(X: np.ndarray, leaf: int) -> Leaves:
        """``X``: the points in id order."""
        perm, starts = kd_leaves(X, leaf)
        P = np.ascontiguousarray(X[perm], dtype=np.float64)
        firsts = starts[:-1]
        return Leaves(np.ascontiguousarray(P.T), perm, starts, np.minimum.reduceat(P, firsts, axis=0),
                      np.maximum.reduceat(P, firsts, axis=0), np.minimum.reduceat(perm, firsts))
