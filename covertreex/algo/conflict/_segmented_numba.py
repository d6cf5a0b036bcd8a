"""Numba kernels of the segmented conflict graph (any metric): windows of the round sorted by pivot distance."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.algo.conflict._chunks_numba import offsets, pair_within
from covertreex.metrics._distance_numba import PRUNE_SLACK, point_distance

# Segmented (any metric): sort the batch by distance to a first pivot; |d(x,p) - d(y,p)| <= d(x,y)
# for every pivot p, so candidates for x lie in one window of the sorted order and must pass the same
# test for the other pivots before a full distance is computed.

@nb.njit(parallel=True, cache=True)
def pivot_keys(metric, pts, lo, hi, pivots):
    b = hi - lo
    keys = np.empty((b, pivots.shape[0]), dtype=np.float64)
    for i in nb.prange(b):
        for p in range(pivots.shape[0]):
            keys[i, p] = point_distance(metric, pts, lo + i, pts, pivots[p])
    return keys


@nb.njit(parallel=True, cache=True)
def _segmented_pass(metric, slack, pts, lo, hi, reach, keys, order, sorted0, ptr, out_idx, out_dist, fill):
    b = hi - lo
    npiv = keys.shape[1]
    counts = np.zeros(b, dtype=np.int64)
    for i in nb.prange(b):
        pos = ptr[i] if fill else 0
        limit = out_idx.shape[0] if fill else 0  # the counting pass writes nothing
        cnt = 0
        r = reach[i]
        k0 = keys[i, 0]
        margin = r + slack + PRUNE_SLACK * (r + k0)
        start = np.searchsorted(sorted0, k0 - margin, side="left")
        stop = np.searchsorted(sorted0, k0 + margin, side="right")
        for m in range(start, stop):
            j = order[m]
            if j == i:
                continue
            near = True
            for p in range(1, npiv):
                if abs(keys[i, p] - keys[j, p]) > margin + PRUNE_SLACK * keys[i, p]:
                    near = False
                    break
            if near:
                cnt = pair_within(metric, pts, lo, i, j, r, pos, cnt, limit, out_idx, out_dist)
        counts[i] = cnt
    return counts


@nb.njit(cache=True)
def segmented_neighbours(metric, slack, pts, lo, hi, reach, keys, order):
    """Neighbour CSR from pivot distances ``keys`` and the batch ``order`` sorted by ``keys[:, 0]``
    (``slack``: the metric's absolute rounding room on the triangle-inequality windows)."""
    sorted0 = keys[order, 0].copy()
    empty_i = np.empty(0, dtype=np.int64)
    empty_d = np.empty(0, dtype=np.float64)
    counts = _segmented_pass(metric, slack, pts, lo, hi, reach, keys, order, sorted0,
                             np.zeros(1, dtype=np.int64), empty_i, empty_d, False)
    ptr = offsets(counts)
    idx = np.empty(ptr[-1], dtype=np.int64)
    dist = np.empty(ptr[-1], dtype=np.float64)
    _segmented_pass(metric, slack, pts, lo, hi, reach, keys, order, sorted0, ptr, idx, dist, True)
    return ptr, idx, dist


@nb.njit(cache=True)
def farthest_pivots(metric, pts, lo, hi, first, count):
    """``first`` plus up to ``count - 1`` batch points chosen by farthest-point traversal."""
    b = hi - lo
    pivots = np.empty(count, dtype=np.int64)
    pivots[0] = first
    near = np.full(b, np.inf)
    used = 1
    while used < count:
        best = -1
        best_d = -1.0
        for i in range(b):
            d = point_distance(metric, pts, lo + i, pts, pivots[used - 1])
            if d < near[i]:
                near[i] = d
            if near[i] > best_d:
                best_d = near[i]
                best = lo + i
        if best_d <= 0.0:
            break
        pivots[used] = best
        used += 1
    return pivots[:used].copy()
