"""Kernel of the block parent search (see ``algo.parents_block``): batch points against k-d leaves of the
growing tree's nodes, nearest leaf first, in vectorised column passes.

For batch point x the answer is the tree node c nearest to x among those that may parent it
(d(x, c) <= 2**level(c)), ties to the lower position: the tree walk's answer (``parents_chunk``), bit
for bit, since squares are summed in ``point_sqdistance``'s order.  A leaf is skipped for a group of
``ROWS`` rows when, for each row, the squared gap to its box exceeds the row's best distance or the
largest reach (2**level) of the leaf's nodes, both squared and widened by ``TIE_MARGIN`` (a square just
above a bound may round to the bound's square root, and ties count).  The gap never exceeds a square the
scan would compute (``core._leaves_numba``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.core._leaves_numba import ROWS, TIE_MARGIN, box_gap, any_within, leaf_order, leaf_squares


@nb.njit(inline="always", cache=True)
def _take(s, m, c0, r, ids, reach, best_d, best_p):
    """Columns of the leaf (squares ``s``) that may parent row r and beat its best (ties: lower position)."""
    bound = best_d[r] * best_d[r] * TIE_MARGIN
    if not any_within(s, m, bound):
        return
    for c in range(m):
        if s[c] <= bound:
            d = math.sqrt(s[c])
            p = ids[c0 + c]
            if d <= reach[c0 + c] and (d < best_d[r] or (d == best_d[r] and p < best_p[r])):
                best_d[r] = d
                best_p[r] = p
                bound = d * d * TIE_MARGIN


@nb.njit(nogil=True, cache=True)
def block_parents(R, r0, r1, P, ids, reach, starts, lo, hi, leaf_reach, best_d, best_p, evals):
    """Rows ``r0 .. r1 - 1`` of ``R`` (batch points, float64) against every leaf of the tree's nodes
    (``P``: coordinates leaf by leaf, see ``core._leaves_numba.leaf_arrays``; ``ids`` their positions,
    ``reach`` their 2**level, -1 for duplicates; leaf j: points ``starts[j] .. starts[j + 1] - 1``, box
    ``lo[j] .. hi[j]``, largest reach ``leaf_reach[j]``).  ``best_d/best_p`` (+inf / -1 to start) end as each row's parent and its
    distance; ``evals`` counts the distances computed."""
    order, gap, width = leaf_order(R, r0, r1, lo, hi, starts)
    s = np.empty((ROWS, width))
    for j in order:
        cap = leaf_reach[j] * leaf_reach[j] * TIE_MARGIN
        bound = 0.0  # the rows' largest best, squared
        for r in range(r0, r1):
            bound = max(bound, best_d[r] * best_d[r] * TIE_MARGIN)
        if gap[j] > bound:
            break  # the later leaves are no nearer to the rows' box
        if gap[j] > cap:
            continue
        c0, m = starts[j], starts[j + 1] - starts[j]
        for b0 in range(r0, r1, ROWS):
            b1 = min(r1, b0 + ROWS)
            need = False
            for r in range(b0, b1):
                g = box_gap(R, r, lo, hi, j)
                need |= g <= cap and g <= best_d[r] * best_d[r] * TIE_MARGIN
            if not need:
                continue
            for r in range(b0, b1):
                row = s[r - b0]
                leaf_squares(R, r, P, c0, m, row)
                evals[r] += m
                _take(row, m, c0, r, ids, reach, best_d, best_p)
    return 0
