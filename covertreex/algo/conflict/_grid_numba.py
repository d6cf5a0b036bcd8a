"""Numba kernels of the grid conflict graph (Euclidean): cubic cells over up to three coordinates."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import point_distance

# A pair closer than R(x) differs by less than R(x) in every coordinate, so only cells within
# ceil(R/cell) are visited.  Cell coordinates lie in [0, CELL_LIMIT] (``grid.GRID_MAX_CELLS_PER_AXIS``)
# and spans stay below CELL_LIMIT, so coordinate + CELL_OFFSET fits its CELL_FIELD-wide field: keys never
# wrap and runs of cells along the last axis have consecutive keys.
CELL_FIELD = 1 << 21
CELL_OFFSET = 1 << 20
CELL_LIMIT = 1 << 19
GRID_EDGE = 1e-6


@nb.njit(cache=True)
def cell_key(cx, nd):
    """One int64 for integer cell coordinates ``cx[:nd]`` (21 bits each, offset to be non-negative)."""
    key = 0
    for t in range(nd):
        key = key * CELL_FIELD + (cx[t] + CELL_OFFSET)
    return key


@nb.njit(cache=True)
def cell_keys(cells):
    """``cell_key`` of every row of an (n, nd) int64 array of cell coordinates."""
    n, nd = cells.shape
    keys = np.empty(n, dtype=np.int64)
    for i in range(n):
        keys[i] = cell_key(cells[i], nd)
    return keys


@nb.njit(cache=True, _nrt=False)
def _first_at_least(keys, key):
    """First index of sorted int64 ``keys`` holding a value >= ``key`` (``len(keys)`` when none): a
    binary search written out, since ``np.searchsorted`` costs ~2 s of cold compilation (four typed
    implementations) for this one use."""
    lo, hi = 0, keys.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True, _nrt=False)
def _grid_point(first_cell, count, cx, metric, pts, lo, b, i, r, sub, origin, cell, ukeys, ustart, members,
                pos, limit, out_idx, out_dist):
    """Neighbours of batch point i within r: the cells the box [x - r, x + r] meets, or every point
    when that box spans more cells than there are points.

    Cells differing only in the last coordinate have consecutive keys, so each run of them is one
    binary search and one contiguous range of ``members``.  Writes stop at ``limit``; the return value
    counts every neighbour.  ``first_cell``, ``count``, ``cx``: workspace of one entry per grid axis.
    Compiled without reference counting (it allocates nothing), which keeps array reference counts out
    of the pair loop.
    """
    nd = sub.shape[1]
    cnt = 0
    ratio = r / cell
    brute = not ratio < CELL_LIMIT
    total = 1.0
    if not brute:
        for t in range(nd):
            # a neighbour differs from x by less than r in every coordinate; GRID_EDGE (in cells) covers
            # the rounding of these divisions, so a boundary cell is at worst visited needlessly
            u = (sub[i, t] - origin[t]) / cell
            a = max(np.int64(np.floor(u - ratio - GRID_EDGE)), 0)
            z = min(np.int64(np.floor(u + ratio + GRID_EDGE)), CELL_LIMIT)
            first_cell[t] = a
            count[t] = max(z - a + 1, 0)
            total *= count[t]
        brute = total > b
    nrun = 1
    if not brute:
        for t in range(nd - 1):
            nrun *= count[t]
    for v in range(1 if brute else nrun):
        if brute:
            start, stop = 0, b
        else:
            code = v
            for t in range(nd - 1):
                cx[t] = first_cell[t] + code % count[t]
                code //= count[t]
            cx[nd - 1] = first_cell[nd - 1]
            first = _first_at_least(ukeys, cell_key(cx, nd))
            cx[nd - 1] = first_cell[nd - 1] + count[nd - 1] - 1
            last = _first_at_least(ukeys, cell_key(cx, nd) + 1)
            if first >= last:
                continue
            start, stop = ustart[first], ustart[last]
        for m in range(start, stop):
            # the same test as ``pair_within``, written out: calling the inlined helper here measured ~10% slower
            # (conflict graph at n=131,072 d=3, medians of 7: 0.117 vs 0.106 s)
            j = m if brute else members[m]
            if j == i:
                continue
            d = point_distance(metric, pts, lo + i, pts, lo + j)
            if d < r:
                if pos + cnt < limit:
                    out_idx[pos + cnt] = j
                    out_dist[pos + cnt] = d
                cnt += 1
    return cnt


@nb.njit(cache=True, nogil=True, _nrt=False)
def grid_rows(work, metric, pts, lo, b, reach, grid, i_start, i_stop, pos, limit, out_idx, out_dist, counts):
    """Neighbours of batch points ``i_start .. i_stop-1`` (``counts[i]`` each), written from ``pos`` up to
    ``limit``: the serial kernel of one chunk (see ``conflict.one_pass``; it releases the GIL).
    ``work``: three arrays of one entry per grid axis; ``grid``: (sub, origin, cell, ukeys, ustart,
    members) of ``conflict.GridConflictGraph``."""
    first_cell, count, cx = work
    sub, origin, cell, ukeys, ustart, members = grid
    for i in range(i_start, i_stop):
        cnt = _grid_point(first_cell, count, cx, metric, pts, lo, b, i, reach[i], sub, origin, cell, ukeys,
                          ustart, members, pos, limit, out_idx, out_dist)
        counts[i] = cnt
        pos += cnt
