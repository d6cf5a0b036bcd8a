"""Kernel values for screening, in loops the compiler vectorises, with a stated error bound.

``math.exp`` is a library call that stops LLVM from vectorising a loop (Numba has no SVML here), and
at ~9 ns per call it costs more than the 2m GEMM flops of a pair.  Screening does not need the
scalar kernel's bits, only a bound on the difference: ``exp_neg`` computes exp(x) for x <= 0 as
(exp(c) * P(x/64 - c))^64 with P the degree-13 Taylor polynomial around 0 and c = -25/64 (so
|x/64 - c| <= 0.39 on [-50, 0]); below -50 it returns 0.

Error (checked by the tests against ``math.exp`` over [-60, 0]): the Taylor remainder is < 3e-17, the
Horner evaluation and the product with exp(c) add a few ulps, and six squarings multiply the
relative error by 64 and add 63 half-ulps: in all about 300 ulps (6.7e-14).  ``KERNEL_REL_ERR``
doubles that margin and more; ``KERNEL_ABS_ERR`` covers the cut below -50 for every kernel
(e^-50 times the largest Matern polynomial there is below 2e-19).
"""

from __future__ import annotations

import math

import numba as nb

from covertreex.kernels._kernels_numba import MATERN12, MATERN32, RBF

KERNEL_REL_ERR = 2e-13  # |approximate - scalar kernel value| <= KERNEL_REL_ERR * |value| + KERNEL_ABS_ERR * variance
KERNEL_ABS_ERR = 1e-18
_CUT = -50.0
_SHIFT = 25.0 / 64.0  # -c: exact in binary
_EXP_C = math.exp(-_SHIFT)
_SQRT3 = math.sqrt(3.0)
_SQRT5 = math.sqrt(5.0)
# 1/i! for i = 13..0 (Horner order)
_T13, _T12, _T11, _T10 = 1 / 6227020800, 1 / 479001600, 1 / 39916800, 1 / 3628800
_T9, _T8, _T7, _T6, _T5 = 1 / 362880, 1 / 40320, 1 / 5040, 1 / 720, 1 / 120
_T4, _T3, _T2 = 1 / 24, 1 / 6, 1 / 2


@nb.njit(inline="always", cache=True)
def exp_neg(x):
    """exp(x) for x <= 0 within ``KERNEL_REL_ERR`` (0 below -50); straight-line code, no calls."""
    z = x * (1.0 / 64.0) + _SHIFT
    p = _T13
    p = p * z + _T12
    p = p * z + _T11
    p = p * z + _T10
    p = p * z + _T9
    p = p * z + _T8
    p = p * z + _T7
    p = p * z + _T6
    p = p * z + _T5
    p = p * z + _T4
    p = p * z + _T3
    p = p * z + _T2
    p = p * z + 1.0
    p = p * z + 1.0
    p *= _EXP_C
    p *= p
    p *= p
    p *= p
    p *= p
    p *= p
    p *= p
    return p if x > _CUT else 0.0


@nb.njit(fastmath={"contract"}, cache=True)
def fill_kernel(code, variance, r2, out, n):
    """out[:n] = approximate kernel values at squared scaled distances r2[:n] (one loop per kernel,
    so each one vectorises; multiply-adds may fuse, which only lowers the rounding error)."""
    if code == RBF:
        for c in range(n):
            out[c] = variance * exp_neg(-0.5 * r2[c])
    elif code == MATERN12:
        for c in range(n):
            out[c] = variance * exp_neg(-math.sqrt(r2[c]))
    elif code == MATERN32:
        for c in range(n):
            a = _SQRT3 * math.sqrt(r2[c])
            out[c] = variance * (1.0 + a) * exp_neg(-a)
    else:
        for c in range(n):
            a = _SQRT5 * math.sqrt(r2[c])
            out[c] = variance * (1.0 + a + a * a / 3.0) * exp_neg(-a)
