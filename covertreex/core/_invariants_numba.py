"""Numba scans behind ``core.invariants``: each returns the first violation found, or -1."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.core._levels_numba import DUP_LEVEL, level_scale
from covertreex.metrics._distance_numba import point_distance


@nb.njit(cache=True)
def first_cover_violation(metric, pts, level, parent, parent_dist):
    """Code 1: parent level not above; 2: stored parent distance wrong; 3: child too far."""
    for c in range(1, pts.shape[0]):
        p = parent[c]
        if level[p] <= level[c] or level[p] == DUP_LEVEL:
            return 1, c
        d = point_distance(metric, pts, p, pts, c)
        if d != parent_dist[c]:
            return 2, c
        if d > 2.0 * level_scale(level[c]):
            return 3, c
    return 0, -1


@nb.njit(cache=True)
def first_radius_violation(metric, pts, parent, radius):
    """A node x and an ancestor a with d(a, x) > radius[a]."""
    for x in range(1, pts.shape[0]):
        a = parent[x]
        while a >= 0:
            if point_distance(metric, pts, a, pts, x) > radius[a]:
                return x, a
            a = parent[a]
    return -1, -1


@nb.njit(parallel=True, cache=True)
def separation_violations(metric, pts, level):
    """For each node x of finite level, a node y != x with level >= level[x] within 2**level[x], else -1."""
    n = pts.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    for x in nb.prange(n):
        lx = level[x]
        if lx == DUP_LEVEL:
            continue
        scale = level_scale(lx)
        for y in range(n):
            if y != x and level[y] >= lx and point_distance(metric, pts, x, pts, y) <= scale:
                out[x] = y
                break
    return out
