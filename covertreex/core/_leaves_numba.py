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
# From this many coordinates a group of rows reads a leaf's columns once for all ``ROWS`` rows
# (``four_squares``; one row at 64 dimensions: 25.7 ns a distance, four: 20.1; at 8 dimensions 2.3 vs 2.4).
FOUR_ROWS_DIM = 32
AXIS_SAMPLE = 128  # points of a range that choose its split axis (the swiss roll in 64-D, 131,072 points:
# the cut took 0.27 s reading every point, 0.13 s with 512, ~0.09 s with 128; the scan after it as fast)


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
def leaf_gaps(R, r0, r1, lo, hi, starts):
    """For rows ``r0 .. r1 - 1`` of R: the squared gap between each leaf's box and the rows' box (never
    more than a row's ``box_gap``: each coordinate's gap is no larger, rounding is monotone), row r0's own
    box gap where that gap is 0 (the leaf's gap where not), and the widest leaf's size."""
    nleaf = starts.shape[0] - 1
    d = R.shape[1]
    qlo = R[r0].copy()
    qhi = R[r0].copy()
    for r in range(r0 + 1, r1):
        for t in range(d):
            qlo[t] = min(qlo[t], R[r, t])
            qhi[t] = max(qhi[t], R[r, t])
    gap = np.empty(nleaf)
    width = 1
    for j in range(nleaf):
        s = 0.0
        for t in range(d):  # lo <= hi: at most one of the two differences is positive
            g = max(0.0, lo[j, t] - qhi[t], qlo[t] - hi[j, t])
            s += g * g
        gap[j] = s
        width = max(width, starts[j + 1] - starts[j])
    first = gap.copy()
    for j in range(nleaf):
        if gap[j] == 0.0:
            first[j] = box_gap(R, r0, lo, hi, j)
    return gap, first, width


@nb.njit(inline="always", cache=True)
def near_leaves(gap, first):
    """The leaves the rows' box meets (gap 0), by row r0's box gap (``first``), ties by index."""
    near = np.flatnonzero(gap == 0.0)
    return near[np.argsort(first[near], kind="mergesort")]


@nb.njit(inline="always", cache=True)
def far_leaves(gap, reach):
    """The other leaves with a gap up to ``reach``, by gap, ties by index."""
    far = np.flatnonzero((gap > 0.0) & (gap <= reach))
    return far[np.argsort(gap[far], kind="mergesort")]


@nb.njit(inline="always", cache=True)
def leaf_order(R, r0, r1, lo, hi, starts):
    """The leaves nearest first for rows ``r0 .. r1 - 1`` of R (``near_leaves``, then every ``far_leaves``),
    their gaps and the widest leaf's size (``leaf_gaps``): a scan may stop at the first leaf whose gap
    exceeds every row's bound."""
    gap, first, width = leaf_gaps(R, r0, r1, lo, hi, starts)
    return np.concatenate((near_leaves(gap, first), far_leaves(gap, np.inf))), gap, width


@nb.njit(inline="always", cache=True)
def leaf_squares(R, r, P, c0, m, row):
    """row[c] = squared distance from row r of R to point c0 + c of the leaf starting at point c0 (``P``:
    the leaves' blocks, see ``leaf_arrays``), c < m, in ``point_sqdistance``'s order of operations (0 + x * x
    is exact), in vectorised passes over the coordinates."""
    d = R.shape[1]
    x = R[r, 0]
    col = P[c0 * d:c0 * d + m]
    for c in range(m):
        diff = x - col[c]
        row[c] = diff * diff
    for t in range(1, d):
        x = R[r, t]
        col = P[c0 * d + t * m:c0 * d + t * m + m]
        for c in range(m):
            diff = x - col[c]
            row[c] += diff * diff


@nb.njit(inline="always", cache=True)
def four_squares(R, r0, P, c0, m, s):
    """``leaf_squares`` for the ``ROWS`` (4) rows ``r0 ..``, into ``s[0..3]``: each column is read once for
    the four rows."""
    d = R.shape[1]
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    x0, x1, x2, x3 = R[r0, 0], R[r0 + 1, 0], R[r0 + 2, 0], R[r0 + 3, 0]
    col = P[c0 * d:c0 * d + m]
    for c in range(m):
        v = col[c]
        a0, a1, a2, a3 = x0 - v, x1 - v, x2 - v, x3 - v
        s0[c], s1[c], s2[c], s3[c] = a0 * a0, a1 * a1, a2 * a2, a3 * a3
    for t in range(1, d):
        x0, x1, x2, x3 = R[r0, t], R[r0 + 1, t], R[r0 + 2, t], R[r0 + 3, t]
        col = P[c0 * d + t * m:c0 * d + t * m + m]
        for c in range(m):
            v = col[c]
            a0, a1, a2, a3 = x0 - v, x1 - v, x2 - v, x3 - v
            s0[c] += a0 * a0
            s1[c] += a1 * a1
            s2[c] += a2 * a2
            s3[c] += a3 * a3


@nb.njit(nogil=True, cache=True)
def kd_split(X, perm, a, b):
    """Halve ``perm[a:b]`` (b - a >= 2) at the median of its widest coordinate (widest among at most ``2 *
    AXIS_SAMPLE`` evenly spaced points of the range): the rows ``perm[a:a + (b - a) // 2]`` end no further
    along it than the rest.  Returns ``a + (b - a) // 2``."""
    d = X.shape[1]
    wlo = np.full(d, np.inf)
    whi = np.full(d, -np.inf)
    for i in range(a, b, max(1, (b - a) // AXIS_SAMPLE)):
        p = perm[i]
        for t in range(d):
            wlo[t] = min(wlo[t], X[p, t])
            whi[t] = max(whi[t], X[p, t])
    axis = 0
    for t in range(1, d):
        if whi[t] - wlo[t] > whi[axis] - wlo[axis]:
            axis = t
    half = (b - a) // 2
    keys = np.empty(b - a)
    for i in range(a, b):
        keys[i - a] = X[perm[i], axis]
    perm[a:b] = perm[a:b][np.argpartition(keys, half)]
    return a + half


@nb.njit(nogil=True, cache=True)
def kd_cut(X, perm, a, b, leaf):
    """Cut ``perm[a:b]`` into k-d leaves of at most ``leaf`` rows by ``kd_split``s, lower half first;
    returns the leaves' start offsets, ascending.  Ranges apart may be cut in parallel."""
    starts = np.empty(b - a + 1, dtype=np.int64)
    count = 0
    stack = np.empty((64, 2), dtype=np.int64)  # halving: depth <= log2(n) < 64
    stack[0, 0], stack[0, 1] = a, b
    top = 1
    while top > 0:
        top -= 1
        lo, hi = stack[top, 0], stack[top, 1]
        if hi - lo <= leaf:
            starts[count] = lo
            count += 1
            continue
        mid = kd_split(X, perm, lo, hi)
        stack[top, 0], stack[top, 1] = mid, hi  # the lower half is taken first: starts ascend
        stack[top + 1, 0], stack[top + 1, 1] = lo, mid
        top += 2
    return starts[:count].copy()


@nb.njit(nogil=True, cache=True)
def leaf_arrays(X, perm, starts, j0, j1, P, lo, hi, min_id):
    """Leaves ``j0 .. j1 - 1`` (points ``perm[starts[j] .. starts[j + 1] - 1]``, m of them): their
    coordinates into ``P``, each leaf transposed (coordinate t of its c-th point at ``starts[j] * d + t * m
    + c``: a leaf is one contiguous block, its coordinates contiguous columns), their bounding boxes into
    ``lo[j] / hi[j]`` and their smallest ids (``perm`` values) into ``min_id[j]``.  Each point's row is read
    once; leaves are independent, so ranges of them may run in parallel."""
    d = X.shape[1]
    for j in range(j0, j1):
        c0, m = starts[j], starts[j + 1] - starts[j]
        first = perm[c0]
        smallest = first
        for t in range(d):
            lo[j, t] = X[first, t]
            hi[j, t] = X[first, t]
        for c in range(m):
            p = perm[c0 + c]
            smallest = min(smallest, p)
            for t in range(d):
                v = X[p, t]
                P[c0 * d + t * m + c] = v
                lo[j, t] = min(lo[j, t], v)
                hi[j, t] = max(hi[j, t], v)
        min_id[j] = smallest
