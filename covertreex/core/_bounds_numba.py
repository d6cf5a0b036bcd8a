"""The one pruning test of every tree walk (k-NN search, the build's parent search).

A walk may drop a node or a subtree only when a triangle-inequality lower bound on the distance of
everything in it exceeds the current bound ``tau``.  Bounds combine several computed (rounded)
distances, so each test adds absolute room ``slack`` (the metric's rounding bound; 0 for Euclidean) and
relative room ``PRUNE_SLACK`` on the magnitudes involved: nothing that could tie or beat ``tau`` is dropped.
"""

from __future__ import annotations

import numba as nb

from covertreex.metrics._distance_numba import PRUNE_SLACK


@nb.njit(inline="always", cache=True)
def beyond(lower, tau, slack, magnitude):
    """True when the lower bound ``lower`` proves nothing it covers can reach ``tau``.

    ``magnitude`` is the sum of the absolute distances the bound was computed from (its rounding scale).
    """
    return lower > tau + slack + PRUNE_SLACK * (magnitude + tau)
