"""Kernel of the block scan (see ``queries.blockscan``): one block of query rows against every leaf of
the points, nearest leaf first.

Squared distances are accumulated coordinate by coordinate over a leaf's columns (``P``: each leaf a
contiguous transposed block), in ``point_sqdistance``'s order of operations, so they are the distances
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

from covertreex.core._leaf_screen_numba import SCREEN_LIMIT, SCREEN_MIN_DIM, rows_to_centre, screen_threshold
from covertreex.core._leaves_numba import (FOUR_ROWS_DIM, ROWS, TIE_MARGIN, any_within, box_gap, far_leaves,
                                          four_squares, leaf_gaps, near_leaves)


@nb.njit(inline="always", cache=True)
def _bound(best_d, r):
    kd = best_d[r, best_d.shape[1] - 1]
    return kd * kd * TIE_MARGIN


@nb.njit(inline="always", cache=True)
def _offer_row(best_d, best_i, r, dist, pid):
    """``_knn_numba.offer`` on row r of the top-k arrays, inlined and indexed in place (no row views to make
    per offer): offers are most of a scan's time in few coordinates (N(0, I), d=2, k=10: ~42 per row,
    against ~2.8 leaves of 128 squares), and this took the scan of every block there from 0.66-0.71 s
    to 0.52-0.58 s on one thread."""
    pos = best_d.shape[1] - 1
    if dist > best_d[r, pos] or (dist == best_d[r, pos] and best_i[r, pos] >= 0 and pid > best_i[r, pos]):
        return
    while pos > 0 and (best_d[r, pos - 1] > dist or (best_d[r, pos - 1] == dist and (
            best_i[r, pos - 1] < 0 or best_i[r, pos - 1] > pid))):
        best_d[r, pos] = best_d[r, pos - 1]
        best_i[r, pos] = best_i[r, pos - 1]
        pos -= 1
    best_d[r, pos] = dist
    best_i[r, pos] = pid


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
                _offer_row(best_d, best_i, r, math.sqrt(s[c]), pid)
                bound = _bound(best_d, r)


@nb.njit(inline="always", cache=True)
def _bounded(best_d, r0, r1):
    """Have rows ``r0 .. r1 - 1`` all k candidates (a finite bound: until then every square is needed)?"""
    for r in range(r0, r1):
        if best_d[r, best_d.shape[1] - 1] == np.inf:
            return False
    return True


@nb.njit(inline="always", cache=True)
def _offer_screened(s32, m, thr, R, r, P, c0, ex, lim, ids, best_d, best_i):
    """Offer the leaf's columns whose float32 square is within ``thr`` and whose float64 square (in
    ``point_sqdistance``'s order of operations) is within row r's bound, but id ``ex`` and ids >= ``lim``."""
    hit = False
    for c in range(m):
        hit |= s32[c] <= thr
    if not hit:
        return
    d = R.shape[1]
    base = c0 * d
    bound = _bound(best_d, r)
    for c in range(m):
        if s32[c] <= thr:
            diff = R[r, 0] - P[base + c]
            sq = diff * diff
            for t in range(1, d):
                diff = R[r, t] - P[base + t * m + c]
                sq += diff * diff
            pid = ids[c0 + c]
            if sq <= bound and pid != ex and pid < lim:
                _offer_row(best_d, best_i, r, math.sqrt(sq), pid)
                bound = _bound(best_d, r)


@nb.njit(nogil=True, cache=True)
def scan_block(R, r0, r1, ex, lim, P, ids, starts, lo, hi, min_id, P32, centre, radius, best_d, best_i, evals):
    """Rows ``r0 .. r1 - 1`` of ``R`` (float64 query rows; row r excludes id ``ex[r]`` and ids >=
    ``lim[r]``) against the leaves of the points (``P``: coordinates leaf by leaf, see
    ``core._leaves_numba.leaf_arrays``; ``ids``: their ids; leaf j is points ``starts[j] .. starts[j + 1] -
    1`` with box ``lo[j] .. hi[j]`` and smallest id ``min_id[j]``), nearest first, up to the first leaf
    beyond every row's bound: the leaves the rows' box meets (``near_leaves``), then the others by gap
    (``far_leaves``), sorted only up to the largest bound after the first (the leaves after it are
    never reached: bounds only shrink; sorting all of them was ~19% of the scan at d=2).  From
    ``SCREEN_MIN_DIM`` coordinates, groups of four rows with k candidates each screen a leaf in float32
    first (``P32``, ``centre``, ``radius``, see ``core._leaf_screen_numba``).  ``best_d/best_i`` (+inf / -1
    to start) end as each row's k nearest by (distance, id); ``evals`` counts the distances computed
    (screened ones included)."""
    gap, first, width = leaf_gaps(R, r0, r1, lo, hi, starts)
    order = near_leaves(gap, first)
    s = np.empty((ROWS, width))
    d = R.shape[1]
    wide = d >= SCREEN_MIN_DIM
    s32 = np.empty((ROWS, width if wide else 0), dtype=np.float32)
    Y = np.empty((ROWS, d if wide else 0), dtype=np.float32)
    a_norm = np.empty(ROWS)
    far = False
    jj = 0
    while True:
        if jj == order.shape[0]:
            if far:
                break
            far = True
            jj = 0
            top = 0.0
            for r in range(r0, r1):
                top = max(top, _bound(best_d, r))
            order = far_leaves(gap, top)
            continue
        j = order[jj]
        jj += 1
        reach = 0.0  # the largest bound of the rows that may take the leaf's ids, and of all rows
        reach_all = 0.0
        for r in range(r0, r1):
            bound = _bound(best_d, r)
            reach_all = max(reach_all, bound)
            if min_id[j] < lim[r]:
                reach = max(reach, bound)
        if gap[j] > reach_all:
            break  # the later leaves are no nearer to the rows' box
        if gap[j] > reach:
            continue
        c0, m = starts[j], starts[j + 1] - starts[j]
        for b0 in range(r0, r1, ROWS):
            b1 = min(r1, b0 + ROWS)
            need = False
            for r in range(b0, b1):
                if min_id[j] < lim[r] and box_gap(R, r, lo, hi, j) <= _bound(best_d, r):
                    need = True
            if not need:
                continue
            if wide and b1 - b0 == ROWS and _bounded(best_d, b0, b1) and (
                    rows_to_centre(R, b0, centre, j, Y, a_norm) + radius[j] <= SCREEN_LIMIT):
                four_squares(Y, 0, P32, c0, m, s32)  # float32 arrays: float32 squares
                for r in range(b0, b1):
                    evals[r] += m
                    if min_id[j] < lim[r]:
                        thr = screen_threshold(_bound(best_d, r), a_norm[r - b0], radius[j], d)
                        _offer_screened(s32[r - b0], m, thr, R, r, P, c0, ex[r], lim[r], ids, best_d, best_i)
                continue
            if d >= FOUR_ROWS_DIM and b1 - b0 == ROWS:
                four_squares(R, b0, P, c0, m, s)
            else:
                for r in range(b0, b1):  # core._leaves_numba.leaf_squares written out: ~6% faster here (d=8)
                    row = s[r - b0]
                    base = c0 * d
                    x = R[r, 0]
                    col = P[base:base + m]
                    for c in range(m):
                        diff = x - col[c]
                        row[c] = diff * diff
                    t = 1
                    while t + 3 < d:  # four coordinates a pass, added in order: one load and store of row[c]
                        x0, x1, x2, x3 = R[r, t], R[r, t + 1], R[r, t + 2], R[r, t + 3]
                        p0 = P[base + t * m:base + t * m + m]
                        p1 = P[base + (t + 1) * m:base + (t + 1) * m + m]
                        p2 = P[base + (t + 2) * m:base + (t + 2) * m + m]
                        p3 = P[base + (t + 3) * m:base + (t + 3) * m + m]
                        for c in range(m):
                            a0, a1, a2, a3 = x0 - p0[c], x1 - p1[c], x2 - p2[c], x3 - p3[c]
                            row[c] = (((row[c] + a0 * a0) + a1 * a1) + a2 * a2) + a3 * a3
                        t += 4
                    while t < d:
                        x = R[r, t]
                        col = P[base + t * m:base + t * m + m]
                        for c in range(m):
                            diff = x - col[c]
                            row[c] += diff * diff
                        t += 1
            for r in range(b0, b1):
                evals[r] += m
                _offer_leaf(s[r - b0], m, c0, r, ex[r], lim[r], ids, best_d, best_i)
    return 0
