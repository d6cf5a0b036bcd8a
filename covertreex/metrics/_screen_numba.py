"""Per-pair screen of the residual distance from a BLAS value of V_i . V_j (see ``residual_dense``)."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.kernels._kernels_numba import kernel_value, scaled_sqdist


@nb.njit(inline="always", cache=True)
def screen_pair(params, gamma, Fq, r, Fx, c, dot, norm_r, norm_c):
    """(approximate 1 - |rho|, error bound) for rows Fq[r], Fx[c] given ``dot`` ~ V_r . V_c.

    Kernel value and p are the scalar kernel's own; only ``dot`` may differ from its sum, by at most
    gamma * |V_r| |V_c| (any summation order).
    """
    dim = np.int64(params[2])
    kv = kernel_value(np.int64(params[0]), params[1], scaled_sqdist(Fq, r, Fx, c, dim))
    scale = math.sqrt(Fq[r, dim] * Fx[c, dim])
    rho = abs(kv - dot) / scale
    if rho > 1.0:
        rho = 1.0
    return 1.0 - rho, gamma * (norm_r * norm_c + abs(kv)) / scale


@nb.njit(parallel=True, cache=True)
def screen_lower(params, gamma, Fq, Fx, G, norm_q, norm_x):
    """Lower bounds on 1 - |rho| for every pair of a BLAS block (``G[r, c]`` = V_q . V_x)."""
    out = np.empty(G.shape, dtype=np.float64)
    for r in nb.prange(G.shape[0]):
        for c in range(G.shape[1]):
            approx, err = screen_pair(params, gamma, Fq, r, Fx, c, G[r, c], norm_q[r], norm_x[c])
            out[r, c] = approx - err
    return out
