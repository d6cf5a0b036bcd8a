"""Numba pieces shared by the block scans (``queries._blockscan_numba``, ``algo._parents_block_numba``):
box gaps, the nearest-first order of the leaves, a leaf's squared distances to a row.

The squared gap to a leaf's box is summed in coordinate order from per-coordinate gaps no larger than the
true differences, and rounding is monotone, so it never exceeds a square the scan computes for a point
of the leaf; ``TIE_MARGIN`` widens every bound a square is compared with, since a square just above a
bound's square may round to the same square root (and ties count).
"""

from __future__ import annotations

import numba as nb
import numpy as np

TIE_MARGIN = 1.0 + 2.0 ** -40
ROWS = 4  # rows tested against a leaf's box together


@nb.njit(inline="always", cache=True)
def box_gap(R, r, lo, hi, j):
    s = 0.0
    for t in range(R.shape[1]):
        q = R[r, t]
        g = 0.0
        if q < lo[j, t]:
            g = lo[j, t] - q
        elif q > hi[j, t]:
            g = q - hi[j, t]
        s += g * g
    return s


@nb.njit(inline="always", cache=True)
def any_within(s, m, bound):
    """Is any of ``s[:m]`` at most ``bound``?  (A branch-free loop: it vectorises.)"""
    hit = False
    for c in range(m):
        hit |= s[c] <= bound
    return hit


@nb.njit(inline="always", cache=True)
def leaf_order(R, r0, lo, hi, starts):
    """The leaves in the order of row r0's box gap (nearest first), and the widest leaf's size."""
    nleaf = starts.shape[0] - 1
    gap = np.empty(nleaf)
    width = 1
    for j in range(nleaf):
        gap[j] = box_gap(R, r0, lo, hi, j)
        width = max(width, starts[j + 1] - starts[j])
    return np.argsort(gap, kind="mergesort"), width


@nb.njit(inline="always", cache=True)
def leaf_squares(R, r, Xt, c0, m, row):
    """row[c] = squared distance from row r of R to column c0 + c of Xt, c < m, in ``point_sqdistance``'s
    order of operations (0 + x * x is exact), in vectorised passes over the coordinates."""
    x = R[r, 0]
    col = Xt[0, c0:c0 + m]
    for c in range(m):
        diff = x - col[c]
        row[c] = diff * diff
    for t in range(1, R.shape[1]):
        x = R[r, t]
        col = Xt[t, c0:c0 + m]
        for c in range(m):
            diff = x - col[c]
            row[c] += diff * diff
