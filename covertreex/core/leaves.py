"""Points cut into k-d leaves: contiguous blocks of nearby points with their bounding boxes.

The block scans of the queries (``queries.blockscan``) and of the build's parent search
(``algo.parents_block``) read points leaf by leaf in vectorised column passes and skip whole leaves by
their boxes.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from covertreex.core._leaf_screen_numba import SCREEN_MIN_DIM, leaf_screen
from covertreex.core._leaves_numba import kd_cut, kd_split, leaf_arrays
from covertreex.threads import chunk_ranges, each_in_threads

LEAF = 128  # points per leaf (block scan, d=8, 32,768 points: 64 -> 1.08 s, 128 -> 0.96 s, 256 -> 1.34 s)
SPLIT_LEVELS = 2  # levels of k-d splits made before the ranges are cut in parallel (4 ranges)


def kd_leaves(X: np.ndarray, leaf: int = LEAF) -> tuple[np.ndarray, np.ndarray]:
    """A permutation of the rows of ``X`` that makes leaves contiguous, and the leaves' start offsets
    (with the end appended): each split halves a range at the median of its widest coordinate.  The
    first ``SPLIT_LEVELS`` levels of splits are made here, and the ranges they leave are cut in parallel
    (Numba's thread count): the same leaves as one cut of the whole."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    perm = np.arange(n)
    ranges = [(0, n)]
    for _ in range(SPLIT_LEVELS if numba.get_num_threads() > 1 else 0):
        halves = []
        for a, b in ranges:
            if b - a > leaf:  # kd_cut would split it too: the same split, made here
                mid = kd_split(X, perm, a, b)
                halves += [(a, mid), (mid, b)]
            else:
                halves.append((a, b))
        ranges = halves
    cuts: list = [None] * len(ranges)

    def cut(i: int) -> None:
        cuts[i] = kd_cut(X, perm, *ranges[i], leaf)

    each_in_threads(cut, range(len(ranges)))
    return perm, np.concatenate([*cuts, np.array([n], dtype=np.int64)])


class Leaves(NamedTuple):
    """The points cut into k-d leaves, as the block kernels read them."""

    P: np.ndarray  # (n * d,) float64 coordinates leaf by leaf, each leaf transposed (``leaf_arrays``)
    ids: np.ndarray  # (n,) id (row of X) of each point in leaf order
    starts: np.ndarray  # (leaves + 1,) first point of each leaf, then n
    lo: np.ndarray  # (leaves, d) bounding boxes
    hi: np.ndarray
    min_id: np.ndarray  # (leaves,) smallest id in each leaf
    # from SCREEN_MIN_DIM coordinates (else empty): the float32 screen's coordinates, box centres, radii
    P32: np.ndarray  # (n * d,) float32, laid out like P, relative to each leaf's centre
    centre: np.ndarray  # (leaves, d)
    radius: np.ndarray  # (leaves,)

    @staticmethod
    def of(X: np.ndarray, leaf: int, screen: bool = True) -> Leaves:
        """``X``: the points in id order; ``screen``: make the float32 screen's arrays (queries do).  The
        leaves are filled by ranges in parallel (Numba's thread count)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        n, d = X.shape
        perm, starts = kd_leaves(X, leaf)
        count = starts.shape[0] - 1
        ranges = chunk_ranges(count, 4 * numba.get_num_threads())
        P, lo, hi = np.empty(n * d), np.empty((count, d)), np.empty((count, d))
        min_id = np.empty(count, dtype=np.int64)
        each_in_threads(lambda r: leaf_arrays(X, perm, starts, r[0], r[1], P, lo, hi, min_id), ranges)
        if screen and d >= SCREEN_MIN_DIM:
            P32, centre, radius = np.empty(n * d, dtype=np.float32), (lo + hi) * 0.5, np.empty(count)
            each_in_threads(lambda r: leaf_screen(P, starts, centre, r[0], r[1], P32, radius), ranges)
        else:
            P32, centre, radius = np.empty(0, dtype=np.float32), np.empty((0, d)), np.empty(0)
        return Leaves(P, perm, starts, lo, hi, min_id, P32, centre, radius)
