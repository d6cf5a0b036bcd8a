"""Numba kernels of the dense conflict graph: every pair of the round, a counting pass then a filling pass."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.algo.conflict._chunks_numba import offsets, pair_within


@nb.njit(parallel=True, cache=True)
def _dense_pass(metric, pts, lo, hi, reach, ptr, out_idx, out_dist, fill):
    b = hi - lo
    counts = np.zeros(b, dtype=np.int64)
    for i in nb.prange(b):
        pos = ptr[i] if fill else 0
        limit = out_idx.shape[0] if fill else 0  # the counting pass writes nothing
        cnt = 0
        for j in range(b):
            cnt = pair_within(metric, pts, lo, i, j, reach[i], pos, cnt, limit, out_idx, out_dist)
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
