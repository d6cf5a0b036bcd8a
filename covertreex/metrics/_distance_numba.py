"""Distance kernels shared by every tree algorithm.

One function, ``point_distance``, is called by the builder, the queries and the invariant checker, so
all of them see bit-identical distances for the same pair of stored rows.  The metric arrives as one
``metrics.base.MetricSlots`` named tuple: its integer ``kind`` picks the branch and its named slots carry
the parameters, so the tree kernels need not be re-written per metric.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

from covertreex.kernels._kernels_numba import kernel_value, scaled_sqdist
from covertreex.metrics._vector_numba import lane_dot

EUCLIDEAN = 0
RESIDUAL = 1


@nb.njit(inline="always", cache=True)
def _scalar_dot(A, i, B, j, start, count):
    """``feature_dot`` for arrays whose rows need not be contiguous: eight scalar accumulators."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    blocks = count // 8
    for b in range(blocks):
        t = start + 8 * b
        s0 += A[i, t] * B[j, t]
        s1 += A[i, t + 1] * B[j, t + 1]
        s2 += A[i, t + 2] * B[j, t + 2]
        s3 += A[i, t + 3] * B[j, t + 3]
        s4 += A[i, t + 4] * B[j, t + 4]
        s5 += A[i, t + 5] * B[j, t + 5]
        s6 += A[i, t + 6] * B[j, t + 6]
        s7 += A[i, t + 7] * B[j, t + 7]
    for t in range(start + 8 * blocks, start + count):
        s0 += A[i, t] * B[j, t]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


def feature_dot(A, i, B, j, start, count):
    """sum_t A[i, start+t] * B[j, start+t] with eight interleaved float64 accumulators.

    The fixed accumulation order makes the result independent of the caller and symmetric in its
    arguments; eight chains keep the floating-point adder busy (no reassociation is ever allowed).
    C-contiguous float64 arrays take ``lane_dot`` (the same arithmetic as one SIMD accumulator, bit
    for bit), others the scalar loop.  (A Numba overload: callable from jitted code only.)
    """
    raise TypeError("feature_dot is called from jitted code")


@overload(feature_dot, inline="always")
def _feature_dot(A, i, B, j, start, count):
    if all(isinstance(a, types.Array) and a.layout == "C" and a.dtype == types.float64 for a in (A, B)):
        return lambda A, i, B, j, start, count: lane_dot(A, i, B, j, start, count)
    return lambda A, i, B, j, start, count: _scalar_dot(A, i, B, j, start, count)


@nb.njit(cache=True)  # not inlined: the Euclidean hot loops stay small (the residual body is long)
def residual_sqdistance(metric, A, i, B, j):
    """1 - |rho_ij| for residual feature rows ``[x / lengthscale (D), p (1), V (m)]``.

    rho = (k(x_i, x_j) - V_i . V_j) / sqrt(p_i p_j), |rho| clipped to 1; ``metric`` names the kernel,
    its variance, D and m.  A row against itself gives exactly 0 when p = k(x, x) - V . V was computed
    with ``feature_dot`` (sqrt(p * p) == p in IEEE arithmetic).
    """
    dim = metric.dim
    kv = kernel_value(metric.kernel, metric.variance, scaled_sqdist(A, i, B, j, dim))
    num = kv - feature_dot(A, i, B, j, dim + 1, metric.m)
    rho = abs(num / math.sqrt(A[i, dim] * B[j, dim]))
    if rho > 1.0:
        rho = 1.0
    return 1.0 - rho


@nb.njit(inline="always", cache=True)
def point_sqdistance(metric, A, i, B, j):
    """Squared distance between row ``i`` of ``A`` and row ``j`` of ``B`` (float64 arithmetic).

    Euclidean: the squared differences are accumulated in float64, in coordinate order.  The
    brute-force oracle uses the same order of operations, so ties are identical.  Residual: see
    ``residual_sqdistance`` (rows are residual feature rows).
    """
    if metric.kind == RESIDUAL:
        # int64 indices: a literal index (a root at 0) would compile a second residual_sqdistance
        return residual_sqdistance(metric, A, np.int64(i), B, np.int64(j))
    dim = A.shape[1]
    if dim == 3:  # unrolled, same order of operations as the loop (0 + x == x exactly)
        d0 = np.float64(A[i, 0]) - np.float64(B[j, 0])
        d1 = np.float64(A[i, 1]) - np.float64(B[j, 1])
        d2 = np.float64(A[i, 2]) - np.float64(B[j, 2])
        return d0 * d0 + d1 * d1 + d2 * d2
    s = 0.0
    for t in range(dim):
        diff = np.float64(A[i, t]) - np.float64(B[j, t])
        s += diff * diff
    return s


@nb.njit(inline="always", cache=True)
def point_distance(metric, A, i, B, j):
    """Distance between row ``i`` of ``A`` and row ``j`` of ``B``: the root of ``point_sqdistance``."""
    return math.sqrt(point_sqdistance(metric, A, i, B, j))


EARLY_EXIT_BLOCK = 16  # coordinates summed between two checks of a partial sum against the bound
EARLY_EXIT_DIM = 48  # scans of rows this long check partial sums (measured: a loss at d=32, gains at 64 and 128)


@nb.njit(inline="always", cache=True)
def stops_partial_sums(metric, rows):
    """Do searches over ``rows`` stop Euclidean distances at partial sums (``euclidean_sqdistance_below``)?
    Only rows of ``EARLY_EXIT_DIM`` or more coordinates: for shorter ones the checks cost more than they save."""
    return metric.kind == EUCLIDEAN and rows.shape[1] >= EARLY_EXIT_DIM


@nb.njit(inline="always", cache=True)
def euclidean_sqdistance_below(A, i, B, j, bound):
    """The Euclidean ``point_sqdistance``, or some value above ``bound`` as soon as a partial sum (every
    ``EARLY_EXIT_BLOCK`` coordinates) exceeds it.  Squares are >= 0 and a rounded sum never decreases
    when one is added, so the full sum would exceed ``bound`` too; below it the result is the full sum,
    in the same order of operations, bit for bit."""
    dim = A.shape[1]
    full = dim - dim % EARLY_EXIT_BLOCK
    s = 0.0
    for t0 in range(0, full, EARLY_EXIT_BLOCK):
        for t in range(EARLY_EXIT_BLOCK):  # a fixed trip count: unrolled
            diff = np.float64(A[i, t0 + t]) - np.float64(B[j, t0 + t])
            s += diff * diff
        if s > bound:
            return s
    for t in range(full, dim):
        diff = np.float64(A[i, t]) - np.float64(B[j, t])
        s += diff * diff
    return s


# A squared distance s can only give sqrt(s) <= t when s <= t * t * SQ_SLACK (rounding of t * t is
# far below this factor); scans compare squares first and take the root only for such candidates.
SQ_SLACK = 1.0 + 1e-12


# Relative slack added to every pruning bound.  Triangle-inequality bounds built from computed
# (rounded) distances can be off by a few ulps; pruning only beyond this margin keeps searches exact.
PRUNE_SLACK = 1e-9
