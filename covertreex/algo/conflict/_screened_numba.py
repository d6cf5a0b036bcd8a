"""Numba kernels of the screened conflict graph (residual): flag the pairs of a BLAS block that may lie
within reach, then list them for the exact re-check."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.metrics._screen_numba import screen_pair


@nb.njit(parallel=True, cache=True)
def screen_within(metric, gamma, Cq, sq, nq, Cx, sx, nx, G, limit_q, limit_x, first_col):
    """Flags of a BLAS block of pairs (``G[r, c]`` = V_q . V_x): bit 0 when the pair's lower bound on
    1 - |rho| is below ``limit_q[r]``, bit 1 when below ``limit_x[c]`` (only for c >= first_col[r]).
    A cleared bit proves the exact squared distance is not below that limit."""
    code, variance = metric.kernel, metric.variance
    out = np.zeros(G.shape, dtype=np.uint8)
    for r in nb.prange(G.shape[0]):
        lq = limit_q[r]
        for c in range(first_col[r], G.shape[1]):
            approx, err = screen_pair(code, variance, gamma, Cq, sq, nq, r, Cx, sx, nx, c, G[r, c])
            low = approx - err
            out[r, c] = (low < lq) | ((low < limit_x[c]) << 1)
    return out


@nb.njit(parallel=True, cache=True)
def flagged_pairs(flags, offset):
    """The pairs ``screen_within`` flagged, as (x, y) index lists (``offset`` added to both): (row, col)
    for bit 0, (col, row) for bit 1.  Rows in order, columns ascending within each."""
    nr, nc = flags.shape
    counts = np.zeros(nr + 1, dtype=np.int64)
    for r in nb.prange(nr):
        cnt = 0
        for c in range(nc):
            f = flags[r, c]
            cnt += (f & 1) + (f >> 1)
        counts[r + 1] = cnt
    for r in range(nr):
        counts[r + 1] += counts[r]
    xs = np.empty(counts[nr], dtype=np.int64)
    ys = np.empty(counts[nr], dtype=np.int64)
    for r in nb.prange(nr):
        pos = counts[r]
        for c in range(nc):
            f = flags[r, c]
            if f & 1:
                xs[pos] = r + offset
                ys[pos] = c + offset
                pos += 1
            if f & 2:
                xs[pos] = c + offset
                ys[pos] = r + offset
                pos += 1
    return xs, ys
