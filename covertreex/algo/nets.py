"""A fresh Euclidean cover tree in one to three coordinates, built bottom-up from nets.

Prefix-doubling insertion (``algo.insert``) walks the growing tree once per point.  For a whole Euclidean
data set in few coordinates there is a cheaper route to the same invariants: start from the points
themselves (a net at any scale below their smallest distance), and at each level keep a greedy maximal
independent set of the net under "within 2**(level+1)", found in grid cells (``_nets_numba``); every point
left out hangs under its nearest kept point at that level.  The nets are nested, each is separated at its
level, and every point is covered by its parent: the compressed cover tree's invariants.  Only points with
another point within the level's distance take part in a level, so the work stays near-linear.
"""

from __future__ import annotations

import numba
import numpy as np

from covertreex.algo._nets_numba import (FINEST_CELL, bounds, distinct_points, fine_neighbours, mean_occupancy,
                                         net_level, subtree_radii)
from covertreex.core._levels_numba import DUP_LEVEL, level_score
from covertreex.core.tree import PCCTree
from covertreex.metrics.base import EUCLIDEAN
from covertreex.runtime.config import NETS_MAX_DIM
from covertreex.threads import chunk_ranges, each_in_threads

CROWDED_CELL = 256  # distinct points in one fine cell: more would make the fine pass quadratic there
CROWD_TARGET = 16  # the most distinct points in one fine cell aimed at when the first fine scale crowds one
REFINE_STEPS = 4  # fine scales tried
FINE_CHUNKS_PER_THREAD = 4
FINE_MIN_CHUNK = 4096  # points: a smaller piece is not worth a thread
RADII_MIN_CHUNK = 16384  # points
COARSE_CELLS = 1 << 15  # cells of the occupancy estimate behind the fine scale


def _fine_scale(rows: np.ndarray, lo: np.ndarray, extent: np.ndarray) -> float:
    """The fine cell width: about one point per cell around a typical point (the density a point sees,
    from a coarse grid's occupancy, so a Gaussian's dense middle is not cut as coarsely as its tails), and
    never so fine that a key could not index the data's extent."""
    spread = extent[extent > 0]
    side = max(1, int(COARSE_CELLS ** (1.0 / spread.size)))
    seen = mean_occupancy(rows, lo, extent, side)
    h = (float(np.prod(spread / side)) / seen) ** (1.0 / spread.size)
    return max(h, float(extent.max()) * FINEST_CELL)


def _first_level(h: float, nearest: np.ndarray) -> int:
    """The lowest level at which a point with these nearest-neighbour distances (inf: above ``h``) can
    take part: its ``2**(level+1)`` reaches the closest of them."""
    return int(level_score(min(h, float(nearest.min())))) - 1


def _radii(metric, rows: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Per node, the largest distance to any point below it: pieces of the points on threads, each raising
    its own array, then the largest of them."""
    pieces = chunk_ranges(rows.shape[0], numba.get_num_threads(), RADII_MIN_CHUNK)
    radii = np.zeros((len(pieces), rows.shape[0]))
    each_in_threads(lambda t: subtree_radii(metric.slots, rows, parent, *pieces[t], radii[t]), range(len(pieces)))
    return radii.max(axis=0)


def net_tree(metric, rows: np.ndarray) -> PCCTree | None:
    """The tree over Euclidean ``rows`` in one to three coordinates (ids 0..n-1), or None where the nets
    do not apply: fewer than two distinct points, clusters so much tighter than the data's extent that a
    fine cell still holds more than ``CROWDED_CELL`` points after ``REFINE_STEPS`` finer scales, or
    unequal points at distance 0.  The caller then builds by rounds."""
    if metric.slots.kind != EUCLIDEAN or not 1 <= rows.shape[1] <= NETS_MAX_DIM:
        raise ValueError(f"the nets build Euclidean trees in 1 to {NETS_MAX_DIM} coordinates")
    lo, extent = bounds(rows)
    if not np.all(np.isfinite(extent)) or not np.any(extent > 0):
        return None
    n = rows.shape[0]
    level = np.full(n, DUP_LEVEL, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    dparent = np.zeros(n)
    h, top = _fine_scale(rows, lo, extent), float(extent.max())
    floor = top * FINEST_CELL
    for _ in range(REFINE_STEPS):  # data far more clustered than the coarse grid saw: finer cells
        alive, keys, cells, crowd = distinct_points(rows, lo, top, h, parent)
        if crowd <= CROWDED_CELL or h == floor:
            break
        h = max(h * (CROWD_TARGET / crowd) ** (1.0 / rows.shape[1]), floor)
    if crowd > CROWDED_CELL:
        return None  # clusters far tighter than the data's extent: the rounds serve better
    near = np.empty(alive.shape[0])
    zero = []
    each_in_threads(lambda piece: zero.append(fine_neighbours(metric.slots, keys, cells, h, *piece, near)),
                    chunk_ranges(alive.shape[0], FINE_CHUNKS_PER_THREAD * numba.get_num_threads(), FINE_MIN_CHUNK))
    if any(zero):
        return None  # unequal points at distance 0 (rounding): only the rounds keep them apart
    alive = alive.copy()
    m, i = alive.shape[0], _first_level(h, near)
    while m > 1:
        m, active = net_level(metric.slots, rows, lo, top, h, i, alive, near, m, level, parent, dparent)
        # no point took part: skip to the first level where one does (points far closer than the rest)
        i = i + 1 if active else max(i + 1, _first_level(h, near[:m]))
    root = int(alive[0])
    level[root] = i
    radius = _radii(metric, rows, parent)
    # node 0 must be the root: swap it with point 0 (a swap is its own inverse: order maps both ways)
    order = np.arange(n, dtype=np.int64)
    order[0], order[root] = root, 0
    node_parent = np.where(parent[order] >= 0, order[np.maximum(parent[order], 0)], -1)
    return PCCTree.from_build_arrays(rows[order], order, level[order], node_parent, dparent[order], radius[order])
