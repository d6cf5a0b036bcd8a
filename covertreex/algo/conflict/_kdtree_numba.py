"""Numba kernels of the k-d-tree conflict graph: a k-d tree over one round's points (all coordinates),
then, per point x, every batch point y with d(x, y) < R(x) by a pruned depth-first range search.

Boxes bound coordinates exactly (built from the stored values), so a box is skipped only when even its
nearest corner lies beyond R(x) (with the metric's rounding room); the final test is the same
``point_distance(...) < R(x)`` as every other strategy's, so the neighbour sets are identical.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.algo.conflict._chunks_numba import pair_within
from covertreex.metrics._distance_numba import EARLY_EXIT_BLOCK, EARLY_EXIT_DIM, PRUNE_SLACK, SQ_SLACK

STACK = 128  # depth-first stack: the tree depth is below log2(b) + 2


@nb.njit(cache=True)
def kd_build(P, leaf_size):
    """Split the widest box side at the median until at most ``leaf_size`` points (or identical ones) remain.

    Returns (perm, start, end, left, right, box_lo, box_hi); node 0 is the root, ``left < 0`` marks a leaf
    holding ``perm[start:end]``.
    """
    b, d = P.shape
    cap = 4 * (b // max(1, leaf_size) + 1) + 1  # leaves keep >= leaf_size // 2 points: < 4 b / leaf_size nodes
    perm = np.arange(b)
    start = np.empty(cap, dtype=np.int64)
    end = np.empty(cap, dtype=np.int64)
    left = np.full(cap, -1, dtype=np.int64)
    right = np.full(cap, -1, dtype=np.int64)
    box_lo = np.empty((cap, d), dtype=np.float64)
    box_hi = np.empty((cap, d), dtype=np.float64)
    todo = np.empty(cap, dtype=np.int64)
    start[0], end[0] = 0, b
    nodes, ntodo = 1, 1
    todo[0] = 0
    while ntodo > 0:
        ntodo -= 1
        nd = todo[ntodo]
        s, e = start[nd], end[nd]
        for t in range(d):
            box_lo[nd, t] = np.inf
            box_hi[nd, t] = -np.inf
        for m in range(s, e):
            for t in range(d):
                v = P[perm[m], t]
                box_lo[nd, t] = min(box_lo[nd, t], v)
                box_hi[nd, t] = max(box_hi[nd, t], v)
        if e - s <= leaf_size:
            continue
        axis, width = 0, -1.0
        for t in range(d):
            if box_hi[nd, t] - box_lo[nd, t] > width:
                width = box_hi[nd, t] - box_lo[nd, t]
                axis = t
        if width <= 0.0:  # all points identical: one leaf
            continue
        seg = perm[s:e].copy()
        order = np.argsort(P[seg, axis], kind="mergesort")
        for m in range(e - s):  # element loop: a slice assignment pulls in ~2 s of compile (error formatting)
            perm[s + m] = seg[order[m]]
        mid = (s + e) // 2
        left[nd], right[nd] = nodes, nodes + 1
        start[nodes], end[nodes] = s, mid
        start[nodes + 1], end[nodes + 1] = mid, e
        todo[ntodo], todo[ntodo + 1] = nodes, nodes + 1
        ntodo += 2
        nodes += 2
    return perm, start[:nodes], end[:nodes], left[:nodes], right[:nodes], box_lo[:nodes], box_hi[:nodes]


@nb.njit(inline="always", cache=True)
def _axis_gap(x, lo, hi):
    """The squared distance from coordinate x to the interval [lo, hi]."""
    if x < lo:
        return (lo - x) ** 2
    if x > hi:
        return (x - hi) ** 2
    return 0.0


@nb.njit(inline="always", cache=True)
def _gap_beyond(gap, r):
    """Does a squared gap put a box beyond r (with the rounding room of every pruning test)?"""
    lb = np.sqrt(gap)
    return lb > r + PRUNE_SLACK * (lb + r)


@nb.njit(inline="always", cache=True)
def _box_beyond(P, i, box_lo, box_hi, nd, d, r):
    """Is box ``nd`` farther than r from row i (with rounding room)?  Rows of ``EARLY_EXIT_DIM`` or more
    coordinates check the gap (a sum of squares in coordinate order) every ``EARLY_EXIT_BLOCK``
    coordinates: a partial sum never exceeds the full one and the test grows with the gap, so a partial
    answer of yes is the full answer.  Shorter rows sum in one loop (the blocked loop measured ~10%
    slower builds at d=8)."""
    gap = 0.0
    if d < EARLY_EXIT_DIM:
        for t in range(d):
            gap += _axis_gap(P[i, t], box_lo[nd, t], box_hi[nd, t])
        return _gap_beyond(gap, r)
    for t0 in range(0, d, EARLY_EXIT_BLOCK):
        for t in range(t0, min(d, t0 + EARLY_EXIT_BLOCK)):
            gap += _axis_gap(P[i, t], box_lo[nd, t], box_hi[nd, t])
        if _gap_beyond(gap, r):
            return True
    return False


@nb.njit(inline="always", cache=True)
def _scan_leaf(P, i, r, Xt, perm, c0, c1, s, pos, cnt, limit, out_idx, out_dist):
    """A wide leaf's pairs of batch point i within r: the columns ``c0 .. c1 - 1`` of ``Xt`` (the round's
    coordinates transposed in leaf order) in vectorised passes, squares summed in ``point_sqdistance``'s
    order (so each distance and the strict test are ``pair_within``'s, bit for bit).  Every
    ``EARLY_EXIT_BLOCK`` coordinates the leaf stops once no partial sum is within r^2 (with rounding room):
    sums of squares only grow.  ``s``: scratch of at least c1 - c0 entries.  Returns the new count."""
    m = c1 - c0
    d = P.shape[1]
    cut = r * r * SQ_SLACK
    x = P[i, 0]
    col = Xt[0, c0:c1]
    for c in range(m):
        diff = x - col[c]
        s[c] = diff * diff
    for a in range(1, d):
        x = P[i, a]
        col = Xt[a, c0:c1]
        for c in range(m):
            diff = x - col[c]
            s[c] += diff * diff
        if a % EARLY_EXIT_BLOCK == EARLY_EXIT_BLOCK - 1 or a == d - 1:
            hit = False
            for c in range(m):
                hit |= s[c] <= cut
            if not hit:
                return cnt
    for c in range(m):
        if s[c] <= cut:
            j = perm[c0 + c]
            dist = math.sqrt(s[c])
            if j != i and dist < r:
                if pos + cnt < limit:
                    out_idx[pos + cnt] = j
                    out_dist[pos + cnt] = dist
                cnt += 1
    return cnt


@nb.njit(inline="always", cache=True)
def _kd_point(metric, pts, lo, reach, P, tree, Xt, scratch, i, stack, pos, limit, out_idx, out_dist):
    """Neighbours of batch point i within reach[i], written from ``pos`` while below ``limit``; returns
    how many there are (all of them, written or not).  With ``Xt`` (the round transposed in leaf order,
    ``scratch`` as long as the widest leaf) leaves are scanned in vectorised passes, else pair by pair."""
    perm, start, end, left, right, box_lo, box_hi = tree
    d = P.shape[1]
    r = reach[i]
    cnt = 0
    top = 1
    stack[0] = 0
    while top > 0:
        top -= 1
        nd = stack[top]
        if _box_beyond(P, i, box_lo, box_hi, nd, d, r):
            continue
        if left[nd] >= 0:
            stack[top] = right[nd]
            stack[top + 1] = left[nd]
            top += 2
            continue
        if Xt.shape[0]:
            cnt = _scan_leaf(P, i, r, Xt, perm, start[nd], end[nd], scratch, pos, cnt, limit, out_idx, out_dist)
            continue
        for m in range(start[nd], end[nd]):
            cnt = pair_within(metric, pts, lo, i, perm[m], r, pos, cnt, limit, out_idx, out_dist)
    return cnt


@nb.njit(cache=True, nogil=True, _nrt=False)
def kd_rows(stack, scratch, metric, pts, lo, reach, P, tree, Xt, rows, t_start, t_stop, pos, limit, out_idx, out_dist,
            counts):
    """Neighbours of batch points ``rows[t_start .. t_stop-1]`` (``counts[t]`` each), written from ``pos``
    up to ``limit``: the serial kernel of one chunk (see ``conflict.one_pass``; it releases the GIL).
    ``stack``: ``STACK`` int64 entries; ``Xt`` and ``scratch``: see ``_kd_point`` (empty: pair by pair).
    Compiled without reference counting (it allocates nothing), as ``queries._knn_numba.knn_chunk``."""
    for t in range(t_start, t_stop):
        cnt = _kd_point(metric, pts, lo, reach, P, tree, Xt, scratch, rows[t], stack, pos, limit, out_idx, out_dist)
        counts[t] = cnt
        pos += cnt
