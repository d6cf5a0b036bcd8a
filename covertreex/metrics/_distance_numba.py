"""Distance kernels shared by every tree algorithm.

One function, ``point_distance``, is called by the builder, the queries and the invariant checker, so
all of them see bit-identical distances for the same pair of stored rows.  The metric is chosen by an
integer ``kind`` (a compile-time-cheap branch) and metric parameters travel in a float64 vector, so the
tree kernels need not be re-written per metric.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

EUCLIDEAN = 0


@nb.njit(inline="always", cache=True)
def point_sqdistance(kind, params, A, i, B, j):  # noqa: ARG001 - params used by later metrics
    """Squared distance between row ``i`` of ``A`` and row ``j`` of ``B`` (float64 arithmetic).

    Euclidean: the squared differences are accumulated in float64, in coordinate order.  The
    brute-force oracle uses the same order of operations, so ties are identical.
    """
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
def point_distance(kind, params, A, i, B, j):
    """Distance between row ``i`` of ``A`` and row ``j`` of ``B``: the root of ``point_sqdistance``."""
    return math.sqrt(point_sqdistance(kind, params, A, i, B, j))


# A squared distance s can only give sqrt(s) <= t when s <= t * t * SQ_SLACK (rounding of t * t is
# far below this factor); scans compare squares first and take the root only for such candidates.
SQ_SLACK = 1.0 + 1e-12


# Relative slack added to every pruning bound.  Triangle-inequality bounds built from computed
# (rounded) distances can be off by a few ulps; pruning only beyond this margin keeps searches exact.
PRUNE_SLACK = 1e-9
