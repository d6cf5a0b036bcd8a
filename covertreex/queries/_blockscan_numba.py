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

from covertreex.core._leaves_numba import ROWS, TIE_MARGIN, any_within, box_gap, leaf_order
from covertreex.queries._knn_numba import offer


@nb.njit(inline="always", cache=True)
def _bound(best_d, r):
    kd = best_d[r, best_d.shape[1] - 1]
    return kd * kd * TIE_MARGIN


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


@nb.njit(nogil=True, cache=True)
def scan_block(R, r0, r1, ex, lim, Xt, ids, starts, lo, hi, min_id, best_d, best_i, evals):
    """Rows ``r0 .. r1 - 1`` of ``R`` (float64 query rows; row r excludes id ``ex[r]`` and ids >=
    ``lim[r]``) against every leaf of the points (``Xt``: coordinates transposed, in leaf order; ``ids``:
    their ids; leaf j is columns ``starts[j] .. starts[j + 1] - 1`` with box ``lo[j] .. hi[j]`` and
    smallest id ``min_id[j]``), in the order of the first row's box gap.  ``best_d/best_i`` (+inf / -1 to
    start) end as each row's k nearest by (distance, id); ``evals`` counts the distances computed."""
    order, width = leaf_order(R, r0, lo, hi, starts)
    s = np.empty((ROWS, width))
    d = R.shape[1]
    for jj in range(order.shape[0]):
        j = order[jj]
        c0, m = starts[j], starts[j + 1] - starts[j]
        for b0 in range(r0, r1, ROWS):
            b1 = min(r1, b0 + ROWS)
            need = False
            for r in range(b0, b1):
                if min_id[j] < lim[r] and box_gap(R, r, lo, hi, j) <= _bound(best_d, r):
                    need = True
            if not need:
                continue
            for r in range(b0, b1):  # core._leaves_numba.leaf_squares written out: ~6% faster here (d=8)
                row = s[r - b0]
                x = R[r, 0]
                col = Xt[0, c0:c0 + m]
                for c in range(m):
                    diff = x - col[c]
                    row[c] = diff * diff
                for t in range(1, d):
                    x = R[r, t]
                    col = Xt[t, c0:c0 + m]
                    for c in range(m):
                        diff = x - col[c]
                        row[c] += diff * diff
                evals[r] += m
                _offer_leaf(row, m, c0, r, ex[r], lim[r], ids, best_d, best_i)
    return 0
