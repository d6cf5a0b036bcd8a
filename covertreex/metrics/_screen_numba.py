"""Per-pair screen of the residual distance from a BLAS value of V_i . V_j (see ``residual_dense``).

The screen reads compact per-row arrays (``residual_dense.ScreenRows``: scaled coordinates, sqrt(p),
|V|) rather than the 4 KB feature rows, so a pass over thousands of columns streams a few contiguous
arrays instead of touching one page per column.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.kernels._kernels_numba import kernel_value, scaled_sqdist


@nb.njit(inline="always", cache=True)
def screen_pair(code, variance, gamma, Cq, sq, nq, r, Cx, sx, nx, c, dot):
    """(approximate 1 - |rho|, error bound) for query row r and column c given ``dot`` ~ V_r . V_c.

    ``C*``: scaled coordinates, ``s*``: sqrt(p), ``n*``: |V|.  The kernel value is the scalar kernel's
    own (same function, same coordinates); ``dot`` may differ from its sum by at most gamma |V_r| |V_c|
    (any summation order), and sqrt(p_r) sqrt(p_c) from sqrt(p_r p_c) by a few ulps, which gamma's
    headroom covers.
    """
    kv = kernel_value(code, variance, scaled_sqdist(Cq, r, Cx, c, Cq.shape[1]))
    inv = 1.0 / (sq[r] * sx[c])
    rho = abs(kv - dot) * inv
    if rho > 1.0:
        rho = 1.0
    return 1.0 - rho, gamma * (nq[r] * nx[c] + abs(kv)) * inv
