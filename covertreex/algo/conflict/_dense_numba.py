"""Numba kernels of the dense conflict graph: every pair of the round, a counting pass then a filling pass."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.algo.conflict._chunks_numba import offsets
from covertreex.metrics._distance_numba import point_distance


@nb.njit(parallel=True, cache=True)
def _dense_pass(metric, pts, lo, hi, reach, ptr, out_idx, out_dist, fill):
    b = hi - lo
    counts = np.zeros(b, dtype=np.int64)
    for i in nb.prange(b):
        pos = ptr[i] if fill else 0
        cnt = 0
        for j in range(b):
            if j == i:
                continue
            d = point_distance(metric, pts, lo + i, pts, lo + j)
            if d < reach[i]:
                if fill:
                    out_idx[pos + cnt] = j
                    out_dist[pos + cnt] = d
                cnt += 1
        counts[i] = cnt
    return counts


@nb.njit(cache=True)
def dense_neighbours(metric, pts, lo, hi, reach):
    """All pairs: O(b^2) distances.  The reference strategy; any metric."""
    empty_i = np.empty(0, dtype=np.int64)
    empty_d = np.empty(0, dtype=np.float64)
    counts = _dense_pass(metric, pts, lo, hi, reach, np.zeros(1, dtype=np.int64), empty_i, empty_d, False)
    ptr = offsets(counts)
    idx = np.empty(ptr[-1], dtype=np.int64)
    dist = np.empty(ptr[-1], dtype=np.float64)
    _dense_pass(metric, pts, lo, hi, reach, ptr, idx, dist, True)
    return ptr, idx, dist
