"""A float32 screen of the block scan's squared distances, exact by its bound.

Each leaf also keeps its points relative to its box centre in float32 (``leaf_screen``).  Four query rows,
also taken relative to that centre and rounded to float32, get float32 squared distances to the leaf's
points (``core._leaves_numba.four_squares`` on float32 arrays: twice the lanes of float64, half the
bytes); only points whose float32 square is
within ``screen_threshold`` get the float64 square of every other search, and only those can be offered.

Why no true neighbour is lost.  Let a = x - c and b = p - c (real numbers; c the leaf's centre) and u =
2**-24.  Each coordinate of x - c and p - c is computed in float64 and rounded to float32, and their
difference rounded again, so each float32 difference differs from a_t - b_t by at most 2.03 u (|a_t| +
|b_t|) (plus 2**-149-sized steps where values are subnormal); summed as vectors, the float32 differences
have a norm within e = 2.03 u (|a| + |b|) + 2**-140 of the true distance D.  Their float32 sum of squares
is at most (1 + (d + 2) u) times their squared norm.  A square the float64 search would accept,
``sq <= bound``, has D <= sqrt(bound) (1 + (d + 2) 2**-51), so its float32 square is at most
``screen_threshold``, which uses the leaf's radius for |b| and rounds every factor up.  Float32 squares
would overflow past ~1.8e19, so rows and leaves further than ``SCREEN_LIMIT`` from the centre keep the
float64 squares.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

U32 = 2.0 ** -24  # unit roundoff of float32
SCREEN_LIMIT = 1e15  # |x - c| + leaf radius beyond this: float64 squares (float32 squares stay finite)
# coordinates from which the block scan screens in float32 (same-process A/B, all-points 10-NN, seconds
# without -> with: N(0, I) d=4 0.88 -> 0.84, d=6 3.29 -> 3.21, d=8 1.00 -> 0.86, d=16 3.29 -> 2.56; the swiss
# roll in 64-D 1.26 -> 1.09; a 3-D manifold in 128-D 6.1 -> 4.7)
SCREEN_MIN_DIM = 4


@nb.njit(nogil=True, cache=True)
def leaf_screen(P, starts, centre, j0, j1, P32, radius):
    """Leaves ``j0 .. j1 - 1`` of ``P`` (``core._leaves_numba.leaf_arrays``): their points' float32
    coordinates relative to the leaf's box centre ``centre[j]`` into ``P32`` (laid out like ``P``) and
    the leaf's radius about its centre, rounded up, into ``radius[j]``."""
    d = centre.shape[1]
    for j in range(j0, j1):
        c0, m = starts[j], starts[j + 1] - starts[j]
        base = c0 * d
        top = 0.0
        for c in range(m):
            sq = 0.0
            for t in range(d):
                v = P[base + t * m + c] - centre[j, t]
                P32[base + t * m + c] = np.float32(v)
                sq += v * v
            top = max(top, math.sqrt(sq) * (1.0 + (d + 2) * 2.0 ** -51))
        radius[j] = top


@nb.njit(inline="always", cache=True)
def screen_threshold(bound, a_norm, radius, d):
    """The largest float32 square (``four_squares`` in float32) of a point within squared distance ``bound`` (float64)
    of a row at distance ``a_norm`` from the leaf's centre, for a leaf of ``radius`` (both rounded up)."""
    if bound == np.inf:
        return np.inf
    e = 2.1 * U32 * (a_norm + radius) + 2.0 ** -140
    b = math.sqrt(bound) * (1.0 + (d + 2) * 2.0 ** -51) + e
    return b * b * (1.0 + 1.1 * (d + 2) * U32) * (1.0 + 2.0 ** -40)


@nb.njit(inline="always", cache=True)
def rows_to_centre(R, r0, centre, j, Y, a_norm):
    """Y[i] = float32(R[r0 + i] - centre[j]) for the four rows, and a_norm[i] = |R[r0 + i] - centre[j]|
    rounded up; returns the largest."""
    d = R.shape[1]
    top = 0.0
    for i in range(Y.shape[0]):
        sq = 0.0
        for t in range(d):
            v = R[r0 + i, t] - centre[j, t]
            Y[i, t] = np.float32(v)
            sq += v * v
        a_norm[i] = math.sqrt(sq) * (1.0 + (d + 2) * 2.0 ** -51)
        top = max(top, a_norm[i])
    return top
