"""Kernel of the block scan (see ``queries.blockscan``): one block of query rows against every leaf of
the points, nearest leaf first.

Squared distances are accumulated coordinate by coordinate over a leaf's columns (``Xt``: coordinates
transposed, leaves contiguous), in ``point_sqdistance``'s order of operations, so they are the distances
of every other search, bit for bit; the loops vectorise.  A leaf is skipped for a group of ``ROWS`` rows
when, for each row, the squared gap to the leaf's bounding box exceeds its k-th best, or every id in the
leaf is at or above the row's id limit: the gap is summed in the same order from per-coordinate gaps no
larger than the true differences, and rounding is monotone, so it never exceeds a distance the scan
would compute.  ``TIE_MARGIN`` keeps every square that may round to the k-th best distance.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.queries._knn_numba import offer

TIE_MARGIN = 1.0 + 2.0 ** -40
ROWS = 4  # rows tested against a leaf's box together


@nb.njit(inline="always", cache=True)
def _box_gap(R, r, lo, hi, j):
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
def _bound(best_d, r):
    kd = best_d[r, best_d.shape[1] - 1]
    return kd * kd * TIE_MARGIN


@nb.njit(inline="always", cache=True)
def any_within(s, m, bound):
    """Is any of ``s[:m]`` at most ``bound``?  (A branch-free loop: it vectorises.)"""
    hit = False
    for c in range(m):
        hit |= s[c] <= bound
    return hit


@nb.njit(inline="always", cache=True)
def _offer_leaf(s, m, c0, r, ex, lim, ids, best_d, best_i):
    """Offer the leaf's columns within row r's bound, but id ``ex`` and ids at or above ``lim``."""
    bound = _bound(best_d, r)
    if not any_within(s, m, bound):
        return
    for c in range(m):
        if s[c] <= bound:
            pid = ids[c0 + c]
            if pid != ex and pid < lim:
                offer(best_d[r], best_i[r], math.sqrt(s[c]), pid)
                bound = _bound(best_d, r)


@nb.njit(inline="always", cache=True)
def leaf_order(R, r0, lo, hi, starts):
    """The leaves in the order of row r0's box gap (nearest first), and the widest leaf's size."""
    nleaf = starts.shape[0] - 1
    gap = np.empty(nleaf)
    width = 1
    for j in range(nleaf):
        gap[j] = _box_gap(R, r0, lo, hi, j)
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


@nb.njit(nogil=True, cache=True)
def scan_block(R, r0, r1, ex, lim, Xt, ids, starts, lo, hi, min_id, best_d, best_i, evals):
    """Rows ``r0 .. r1 - 1`` of ``R`` (float64 query rows; row r excludes id ``ex[r]`` and ids >=
    ``lim[r]``) against every leaf of the points (``Xt``: coordinates transposed, in leaf order; ``ids``:
    their ids; leaf j is columns ``starts[j] .. starts[j + 1] - 1`` with box ``lo[j] .. hi[j]`` and
    smallest id ``min_id[j]``), in the order of the first row's box gap.  ``best_d/best_i`` (+inf / -1 to
    start) end as each row's k nearest by (distance, id); ``evals`` counts the distances computed."""
    order, width = leaf_order(R, r0, lo, hi, starts)
    s = np.empty((ROWS, width))
    for j in order:
        c0, m = starts[j], starts[j + 1] - starts[j]
        for b0 in range(r0, r1, ROWS):
            b1 = min(r1, b0 + ROWS)
            need = False
            for r in range(b0, b1):
                need |= min_id[j] < lim[r] and _box_gap(R, r, lo, hi, j) <= _bound(best_d, r)
            if not need:
                continue
            for r in range(b0, b1):
                row = s[r - b0]
                leaf_squares(R, r, Xt, c0, m, row)
                evals[r] += m
                _offer_leaf(row, m, c0, r, ex[r], lim[r], ids, best_d, best_i)
    return 0
