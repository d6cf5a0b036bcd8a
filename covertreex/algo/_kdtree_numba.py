"""Numba kernels of the k-d-tree conflict graph: a k-d tree over one round's points (all coordinates),
then, per point x, every batch point y with d(x, y) < R(x) by a pruned depth-first range search.

Boxes bound coordinates exactly (built from the stored values), so a box is skipped only when even its
nearest corner lies beyond R(x) (with the metric's rounding room); the final test is the same
``point_distance(...) < R(x)`` as every other strategy's, so the neighbour sets are identical.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import PRUNE_SLACK, point_distance

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
        perm[s:e] = seg[order]
        mid = (s + e) // 2
        left[nd], right[nd] = nodes, nodes + 1
        start[nodes], end[nodes] = s, mid
        start[nodes + 1], end[nodes + 1] = mid, e
        todo[ntodo], todo[ntodo + 1] = nodes, nodes + 1
        ntodo += 2
        nodes += 2
    return perm, start[:nodes], end[:nodes], left[:nodes], right[:nodes], box_lo[:nodes], box_hi[:nodes]


@nb.njit(parallel=True, cache=True)
def _kd_pass(kind, params, pts, lo, hi, reach, P, tree, ptr, out_idx, out_dist, fill):
    perm, start, end, left, right, box_lo, box_hi = tree
    b = hi - lo
    d = P.shape[1]
    counts = np.zeros(b, dtype=np.int64)
    for i in nb.prange(b):
        r = reach[i]
        pos = ptr[i] if fill else 0
        cnt = 0
        stack = np.empty(STACK, dtype=np.int64)
        top = 1
        stack[0] = 0
        while top > 0:
            top -= 1
            nd = stack[top]
            gap = 0.0
            for t in range(d):
                x = P[i, t]
                if x < box_lo[nd, t]:
                    gap += (box_lo[nd, t] - x) ** 2
                elif x > box_hi[nd, t]:
                    gap += (x - box_hi[nd, t]) ** 2
            lb = np.sqrt(gap)
            if lb > r + PRUNE_SLACK * (lb + r):
                continue
            if left[nd] >= 0:
                stack[top] = right[nd]
                stack[top + 1] = left[nd]
                top += 2
                continue
            for m in range(start[nd], end[nd]):
                j = perm[m]
                if j == i:
                    continue
                dist = point_distance(kind, params, pts, lo + i, pts, lo + j)
                if dist < r:
                    if fill:
                        out_idx[pos + cnt] = j
                        out_dist[pos + cnt] = dist
                    cnt += 1
        counts[i] = cnt
    return counts


@nb.njit(cache=True)
def kd_neighbours(kind, params, pts, lo, hi, reach, P, tree):
    """Neighbour CSR (batch-local ids): a counting pass sizes the output, a second pass fills it."""
    counts = _kd_pass(kind, params, pts, lo, hi, reach, P, tree, np.zeros(1, dtype=np.int64),
                      np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64), False)
    ptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    for i in range(counts.shape[0]):
        ptr[i + 1] = ptr[i] + counts[i]
    idx = np.empty(ptr[-1], dtype=np.int64)
    dist = np.empty(ptr[-1], dtype=np.float64)
    _kd_pass(kind, params, pts, lo, hi, reach, P, tree, ptr, idx, dist, True)
    return ptr, idx, dist
