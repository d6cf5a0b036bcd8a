"""Conflict-graph strategies, chosen by name from the Runtime.

Each finds, for every point x of an insertion round, the other batch points y with d(x, y) < R(x)
(R = distance to x's tree parent), returning CSR arrays ``(ptr, idx, dist)`` over batch-local
indices.  The sets are identical across strategies (tests check that the trees are identical too);
strategies differ in how candidate pairs are enumerated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from covertreex.algo._conflict_numba import (
    dense_neighbours,
    farthest_pivots,
    grid_neighbours,
    pivot_keys,
    segmented_neighbours,
)
from covertreex.algo._kdtree_numba import kd_build, kd_neighbours
from covertreex.algo.order import spread_dims
from covertreex.metrics._distance_numba import RESIDUAL
from covertreex.metrics._pairwise_numba import listed_distances
from covertreex.metrics.residual_dense import ScreenRows, screen_gamma
from covertreex.metrics._screen_numba import flagged_pairs, screen_within

GRID_DIMS = 3
GRID_MAX_CELLS_PER_AXIS = float(1 << 19)  # see _conflict_numba.CELL_LIMIT
SEGMENT_PIVOTS = 4
BLOCK_ROWS = 512  # rows per BLAS block of the screened strategy
SCREEN_SLACK = 1e-9  # relative room on R^2 when screening (the exact test follows)
GRID_SLOTS_PER_POINT = 12  # one-pass output room; a second pass runs only when a chunk overflows
GRID_CELL_QUANTILE = 0.9  # most points then look at their own cell and its direct neighbours
KD_LEAF_SIZE = 16
KD_SIZE_SAMPLE = 256  # rows whose neighbours are counted to size the k-d tree strategy's one-pass output


@dataclass(frozen=True)
class DenseConflictGraph:
    """All pairs of the round: O(b^2) distances; the reference, any metric."""

    name: str = "dense"

    def neighbours(self, kind, params, pts, lo, hi, reach, root, slack=0.0):
        return dense_neighbours(kind, params, pts, lo, hi, reach)


@dataclass(frozen=True)
class GridConflictGraph:
    """Euclidean cells over the (up to three) widest coordinates, sized so that most points only visit adjacent cells."""

    name: str = "grid"

    def neighbours(self, kind, params, pts, lo, hi, reach, root, slack=0.0):
        batch = pts[lo:hi]
        dims = spread_dims(batch, GRID_DIMS)
        sub = np.ascontiguousarray(batch[:, dims], dtype=np.float64)  # C order: fancy indexing may give F
        finite = reach[np.isfinite(reach) & (reach > 0)]
        cell = float(np.quantile(finite, GRID_CELL_QUANTILE)) if finite.size else 1.0
        origin = sub.min(axis=0)
        extent = float(np.max(sub.max(axis=0) - origin))
        cell = max(cell, extent / GRID_MAX_CELLS_PER_AXIS, np.finfo(np.float64).tiny)
        keys = cell_keys(np.floor((sub - origin) / cell).astype(np.int64))
        members = np.argsort(keys, kind="stable").astype(np.int64)
        ukeys, ustart = np.unique(keys[members], return_index=True)
        ustart = np.append(ustart, len(keys)).astype(np.int64)
        return grid_neighbours(kind, params, pts, lo, hi, reach, sub, origin, cell, ukeys, ustart, members,
                               GRID_SLOTS_PER_POINT, 4 * numba.get_num_threads())


def cell_keys(cells: np.ndarray) -> np.ndarray:
    """One int64 per row of integer cell coordinates (21 bits each, as ``_conflict_numba._cell_key``)."""
    key = np.zeros(cells.shape[0], dtype=np.int64)
    for t in range(cells.shape[1]):
        key = key * np.int64(2097152) + (cells[:, t] + np.int64(1048576))
    return key


@dataclass(frozen=True)
class KdTreeConflictGraph:
    """A k-d tree over the round's points in all coordinates (Euclidean): range searches of radius R(x).

    The grid hashes at most three coordinates, so in higher dimensions its cells hold ever more
    candidates (build time grew like n^1.9 at d=8); the k-d tree's boxes prune on every coordinate.
    """

    name: str = "kdtree"

    def neighbours(self, kind, params, pts, lo, hi, reach, root, slack=0.0):
        if kind == RESIDUAL:
            raise ValueError("conflict_graph='kdtree' needs coordinates (metric='euclidean')")
        P = np.ascontiguousarray(pts[lo:hi], dtype=np.float64)
        b = hi - lo
        sample = np.unique(np.linspace(0, b - 1, min(b, KD_SIZE_SAMPLE)).astype(np.int64))
        return kd_neighbours(kind, params, pts, lo, hi, reach, P, kd_build(P, KD_LEAF_SIZE), sample,
                             4 * numba.get_num_threads())


@dataclass(frozen=True)
class SegmentedConflictGraph:
    """Windows of the batch sorted by distance to pivots (triangle inequality); any metric."""

    name: str = "segmented"

    def neighbours(self, kind, params, pts, lo, hi, reach, root, slack=0.0):
        pivots = farthest_pivots(kind, params, pts, lo, hi, root, SEGMENT_PIVOTS)
        keys = pivot_keys(kind, params, pts, lo, hi, pivots)
        order = np.argsort(keys[:, 0], kind="stable").astype(np.int64)
        return segmented_neighbours(kind, params, slack, pts, lo, hi, reach, keys, order)


@dataclass(frozen=True)
class ScreenedConflictGraph:
    """All pairs for the residual metric, in BLAS blocks (upper triangle) with rigorous error bounds;
    only pairs that may lie within reach are recomputed with the scalar kernel, so the neighbour sets
    and distances equal the dense strategy's."""

    name: str = "screened"

    def neighbours(self, kind, params, pts, lo, hi, reach, root, slack=0.0):
        if kind != RESIDUAL:
            raise ValueError("conflict_graph='screened' is for metric='residual'")
        F = pts[lo:hi]
        b = F.shape[0]
        dim = int(params[2])
        V = F[:, dim + 1:]
        screen = ScreenRows.of(F, dim)
        gamma = screen_gamma(int(params[3]))
        limit = np.where(np.isfinite(reach), reach * reach * (1.0 + SCREEN_SLACK), np.inf)
        rows, cols = [], []
        for start in range(0, b, BLOCK_ROWS):
            stop = min(b, start + BLOCK_ROWS)
            G = V[start:stop] @ V[start:].T
            sq, sx = screen.span(start, stop), screen.span(start, b)
            # upper triangle: column c of the block is point start + c; the diagonal is not a pair
            first_col = np.arange(1, stop - start + 1, dtype=np.int64)
            flags = screen_within(params, gamma, sq.coords, sq.sqrt_p, sq.v_norm, sx.coords, sx.sqrt_p, sx.v_norm,
                                  G, limit[start:stop], limit[start:], first_col)
            x, y = flagged_pairs(flags, start)
            rows.append(x)
            cols.append(y)
        rows = np.concatenate(rows)
        cols = np.concatenate(cols)
        dist = listed_distances(kind, params, pts, rows + lo, pts, cols + lo)
        keep = dist < reach[rows]
        rows, cols, dist = rows[keep], cols[keep], dist[keep]
        order = np.lexsort((cols, rows))
        ptr = np.zeros(b + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=b), out=ptr[1:])
        return ptr, cols[order], dist[order]


_STRATEGIES = {s.name: s for s in (GridConflictGraph(), KdTreeConflictGraph(), SegmentedConflictGraph(),
                                   DenseConflictGraph(), ScreenedConflictGraph())}


def conflict_graph_strategy(name: str):
    try:
        return _STRATEGIES[name]
    except KeyError:
        raise ValueError(f"conflict_graph must be one of {', '.join(map(repr, _STRATEGIES))}; got {name!r}") from None
