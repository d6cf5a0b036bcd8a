"""Conflict-graph strategies, chosen by name from the Runtime.

Each finds, for every point x of an insertion round, the other batch points y with d(x, y) < R(x)
(R = distance to x's tree parent), returning CSR arrays ``(ptr, idx, dist)`` over batch-local
indices.  The sets are identical across strategies (tests check that the trees are identical too);
strategies differ in how candidate pairs are enumerated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from covertreex.algo._conflict_numba import (
    dense_neighbours,
    farthest_pivots,
    grid_neighbours,
    segmented_neighbours,
)
from covertreex.algo.order import spread_dims

GRID_DIMS = 3
GRID_MAX_CELLS_PER_AXIS = float(1 << 20)
SEGMENT_PIVOTS = 4
GRID_CELL_QUANTILE = 0.9  # most points then look at their own cell and its direct neighbours


@dataclass(frozen=True)
class DenseConflictGraph:
    """All pairs of the round: O(b^2) distances; the reference, any metric."""

    name: str = "dense"

    def neighbours(self, kind, params, pts, lo, hi, reach, root):
        return dense_neighbours(kind, params, pts, lo, hi, reach)


@dataclass(frozen=True)
class GridConflictGraph:
    """Euclidean cells over the (up to three) widest coordinates, sized so that most points only visit adjacent cells."""

    name: str = "grid"

    def neighbours(self, kind, params, pts, lo, hi, reach, root):
        batch = pts[lo:hi]
        dims = spread_dims(batch, GRID_DIMS)
        finite = reach[np.isfinite(reach) & (reach > 0)]
        cell = float(np.quantile(finite, GRID_CELL_QUANTILE)) if finite.size else 1.0
        extent = float(np.max(batch[:, dims].max(axis=0).astype(np.float64) - batch[:, dims].min(axis=0)))
        cell = max(cell, extent / GRID_MAX_CELLS_PER_AXIS, np.finfo(np.float64).tiny)
        return grid_neighbours(kind, params, pts, lo, hi, reach, dims, cell)


@dataclass(frozen=True)
class SegmentedConflictGraph:
    """Windows of the batch sorted by distance to pivots (triangle inequality); any metric."""

    name: str = "segmented"

    def neighbours(self, kind, params, pts, lo, hi, reach, root):
        pivots = farthest_pivots(kind, params, pts, lo, hi, root, SEGMENT_PIVOTS)
        return segmented_neighbours(kind, params, pts, lo, hi, reach, pivots)


_STRATEGIES = {s.name: s for s in (GridConflictGraph(), SegmentedConflictGraph(), DenseConflictGraph())}


def conflict_graph_strategy(name: str):
    try:
        return _STRATEGIES[name]
    except KeyError:
        raise ValueError(f"conflict_graph must be one of {', '.join(map(repr, _STRATEGIES))}; got {name!r}") from None
