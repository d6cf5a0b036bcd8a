"""Points cut into k-d leaves: contiguous blocks of nearby points with their bounding boxes.

The block scans of the queries (``queries.blockscan``) and of the build's parent search
(``algo.parents_block``) read points leaf by leaf in vectorised column passes and skip whole leaves by
their boxes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from covertreex.core._leaf_screen_numba import SCREEN_MIN_DIM, leaf_screen
from covertreex.core._leaves_numba import kd_cut, leaf_blocks, leaf_boxes

LEAF = 128  # points per leaf (block scan, d=8, 32,768 points: 64 -> 1.08 s, 128 -> 0.96 s, 256 -> 1.34 s)


def kd_leaves(X: np.ndarray, leaf: int = LEAF) -> tuple[np.ndarray, np.ndarray]:
    """A permutation of the rows of ``X`` that makes leaves contiguous, and the leaves' start offsets
    (with the end appended): each split halves a range at the median of its widest coordinate."""
    return kd_cut(np.ascontiguousarray(X, dtype=np.float64), leaf)


class Leaves(NamedTuple):
    """The points cut into k-d leaves, as the block kernels read them."""

    P: np.ndarray  # (n * d,) float64 coordinates leaf by leaf, each leaf transposed (``leaf_blocks``)
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
        """``X``: the points in id order; ``screen``: make the float32 screen's arrays (queries do)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        perm, starts = kd_cut(X, leaf)
        firsts = starts[:-1]
        lo = np.empty((firsts.shape[0], X.shape[1]))
        hi = np.empty_like(lo)
        leaf_boxes(X, perm, starts, lo, hi)
        if screen and X.shape[1] >= SCREEN_MIN_DIM:
            screened = leaf_screen(X, perm, starts, lo, hi)
        else:
            screened = (np.empty(0, dtype=np.float32), np.empty((0, X.shape[1])), np.empty(0))
        return Leaves(leaf_blocks(X, perm, starts), perm, starts, lo, hi, np.minimum.reduceat(perm, firsts),
                      *screened)
