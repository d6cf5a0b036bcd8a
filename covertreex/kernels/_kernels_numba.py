"""Stationary kernels as Numba functions of the squared *scaled* distance r2 = |(x - y) / lengthscale|^2.

One scalar function, ``kernel_value``, is used by every caller (feature construction, the residual
distance, the oracle's exact re-check), so all of them see bit-identical kernel values.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

RBF = 0
MATERN12 = 1
MATERN32 = 2
MATERN52 = 3

_SQRT3 = math.sqrt(3.0)
_SQRT5 = math.sqrt(5.0)


@nb.njit(inline="always", cache=True)
def kernel_value(code, variance, r2):
    """k(r) for a kernel ``code`` at squared scaled distance ``r2`` (float64)."""
    if code == RBF:
        return variance * math.exp(-0.5 * r2)
    r = math.sqrt(r2)
    if code == MATERN12:
        return variance * math.exp(-r)
    if code == MATERN32:
        a = _SQRT3 * r
        return variance * (1.0 + a) * math.exp(-a)
    a = _SQRT5 * r
    return variance * (1.0 + a + a * a / 3.0) * math.exp(-a)


@nb.njit(inline="always", cache=True)
def scaled_sqdist(A, i, B, j, dim):
    """Squared distance of the first ``dim`` columns of A[i] and B[j], summed in column order."""
    s = 0.0
    for t in range(dim):
        diff = A[i, t] - B[j, t]
        s += diff * diff
    return s


@nb.njit(parallel=True, cache=True)
def kernel_matrix(code, variance, A, B):
    """(len(A), len(B)) kernel values between rows of already-scaled coordinates."""
    out = np.empty((A.shape[0], B.shape[0]), dtype=np.float64)
    dim = A.shape[1]
    for i in nb.prange(A.shape[0]):
        for j in range(B.shape[0]):
            out[i, j] = kernel_value(code, variance, scaled_sqdist(A, i, B, j, dim))
    return out
