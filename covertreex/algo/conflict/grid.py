"""The grid conflict graph (Euclidean): cubic cells over the (up to three) widest coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from covertreex.algo.conflict._grid_numba import CELL_LIMIT, cell_keys, grid_rows
from covertreex.algo.conflict.one_pass import one_pass_csr
from covertreex.algo.order import spread_dims

GRID_DIMS = 3
GRID_MAX_CELLS_PER_AXIS = float(CELL_LIMIT)  # keys hold cell coordinates up to this (see _grid_numba)
GRID_SLOTS_PER_POINT = 12  # one-pass output room; a second pass runs only when a chunk overflows
GRID_CELL_QUANTILE = 0.9  # most points then look at their own cell and its direct neighbours
# Chunks of points per thread: points differ a lot in how many cells they visit, so several chunks per
# thread balance the load (and each chunk's one-pass output room stays small).
CHUNKS_PER_THREAD = 4


@dataclass(frozen=True)
class GridConflictGraph:
    """Euclidean cells over the (up to three) widest coordinates, sized so that most points only visit
    adjacent cells."""

    name: str = "grid"

    def neighbours(self, metric, pts, lo, hi, reach, root, slack=0.0):
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
        grid = (sub, origin, cell, ukeys, ustart, members)
        b, nd = hi - lo, sub.shape[1]

        def fill(start, stop, pos, limit, out_idx, out_dist, counts):
            work = tuple(np.empty(nd, dtype=np.int64) for _ in range(3))
            grid_rows(work, metric, pts, lo, b, reach, grid, start, stop, pos, limit, out_idx, out_dist, counts)

        return one_pass_csr(b, CHUNKS_PER_THREAD * numba.get_num_threads(), GRID_SLOTS_PER_POINT, fill)
