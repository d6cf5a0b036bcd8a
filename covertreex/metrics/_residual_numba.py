"""Residual feature rows: the residual variance p = k(x, x) - V . V with the distance kernel's own dot."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.kernels._kernels_numba import kernel_value
from covertreex.metrics._distance_numba import feature_dot


@nb.njit(parallel=True, cache=True)
def pack_rows(code, variance, scaled, V, p_given):
    """Rows ``[x / lengthscale, p, V]`` and, per row, k(x, x) - V . V (the residual variance).

    ``p_given`` (n,) is written as p when it has n entries; otherwise (length 0) p = k(x, x) - V . V.
    The dot is ``feature_dot`` over the packed row, the same call the distance makes, so a row's
    distance to itself is exactly 0.
    """
    n, dim = scaled.shape
    m = V.shape[1]
    out = np.empty((n, dim + 1 + m), dtype=np.float64)
    resid = np.empty(n, dtype=np.float64)
    kxx = kernel_value(code, variance, 0.0)
    for i in nb.prange(n):
        for t in range(dim):
            out[i, t] = scaled[i, t]
        for t in range(m):
            out[i, dim + 1 + t] = V[i, t]
        resid[i] = kxx - feature_dot(out, i, out, i, dim + 1, m)
        out[i, dim] = p_given[i] if p_given.shape[0] == n else resid[i]
    return out, resid
