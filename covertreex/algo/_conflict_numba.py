"""Numba kernels that find, for every point x of a round, the batch points y with d(x, y) < R(x).

``R(x)`` is the distance from x to its tree parent: only such y can conflict with x or become a nearer
parent.  Every strategy returns the same neighbour sets (as CSR arrays with distances), so the built
tree does not depend on the strategy; they differ only in how candidate pairs are enumerated.
Dense and segmented run a counting pass then a filling pass; the grid fills fixed slots in one pass
and falls back to exact sizing only when a chunk overflows.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import PRUNE_SLACK, point_distance


@nb.njit(cache=True)
def _offsets(counts):
    ptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    for i in range(counts.shape[0]):
        ptr[i + 1] = ptr[i] + counts[i]
    return ptr


@nb.njit(parallel=True, cache=True)
def _dense_pass(kind, params, pts, lo, hi, reach, ptr, out_idx, out_dist, fill):
    b = hi - lo
    counts = np.zeros(b, dtype=np.int64)
    for i in nb.prange(b):
        pos = ptr[i] if fill else 0
        cnt = 0
        for j in range(b):
            if j == i:
                continue
            d = point_distance(kind, params, pts, lo + i, pts, lo + j)
            if d < reach[i]:
                if fill:
                    out_idx[pos + cnt] = j
                    out_dist[pos + cnt] = d
                cnt += 1
        counts[i] = cnt
    return counts


@nb.njit(cache=True)
def dense_neighbours(kind, params, pts, lo, hi, reach):
    """All pairs: O(b^2) distances.  The reference strategy; any metric."""
    empty_i = np.empty(0, dtype=np.int64)
    empty_d = np.empty(0, dtype=np.float64)
    counts = _dense_pass(kind, params, pts, lo, hi, reach, np.zeros(1, dtype=np.int64), empty_i, empty_d, False)
    ptr = _offsets(counts)
    idx = np.empty(ptr[-1], dtype=np.int64)
    dist = np.empty(ptr[-1], dtype=np.float64)
    _dense_pass(kind, params, pts, lo, hi, reach, ptr, idx, dist, True)
    return ptr, idx, dist


# ---------------------------------------------------------------------------------------------
# Grid (Euclidean): hash points into cubic cells over up to three coordinates.  A pair closer than
# R(x) differs by less than R(x) in every coordinate, so only cells within ceil(R/cell) are visited.

# Cell coordinates lie in [0, 2**19] (conflict.GRID_MAX_CELLS_PER_AXIS) and spans stay below 2**19, so
# coordinate + offset fits its 21-bit field: keys never wrap and runs along the last axis are sorted.
CELL_OFFSET = 1048576
CELL_LIMIT = 524288
GRID_EDGE = 1e-6


@nb.njit(cache=True)
def _cell_key(cx, nd):  # must equal conflict.cell_keys (NumPy) bit for bit
    key = 0
    for t in range(nd):
        key = key * 2097152 + (cx[t] + CELL_OFFSET)
    return key


@nb.njit(inline="always", cache=True)
def test_pair(kind, params, pts, lo, i, j, r, pos, cnt, limit, out_idx, out_dist):
    """The exact neighbour test of the one-pass fills: y=j is x=i's neighbour when d(x, y) < R(x).  Writes the
    pair at ``pos + cnt`` while below ``limit``; returns the new count.  (Called by the k-d tree strategy; the
    grid writes the same test out in its loop, and dense/segmented their counting variants.)"""
    if j == i:
        return cnt
    d = point_distance(kind, params, pts, lo + i, pts, lo + j)
    if d < r:
        if pos + cnt < limit:
            out_idx[pos + cnt] = j
            out_dist[pos + cnt] = d
        cnt += 1
    return cnt


@nb.njit(cache=True, _nrt=False)
def _grid_point(first_cell, count, cx, kind, params, pts, lo, b, i, r, sub, origin, cell, ukeys, ustart, members,
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
            first = np.searchsorted(ukeys, _cell_key(cx, nd), side="left")
            cx[nd - 1] = first_cell[nd - 1] + count[nd - 1] - 1
            last = np.searchsorted(ukeys, _cell_key(cx, nd), side="right")
            if first >= last:
                continue
            start, stop = ustart[first], ustart[last]
        for m in range(start, stop):
            # the same test as ``test_pair``, written out: calling the inlined helper here measured ~10% slower
            # (conflict graph at n=131,072 d=3, medians of 7: 0.117 vs 0.106 s)
            j = m if brute else members[m]
            if j == i:
                continue
            d = point_distance(kind, params, pts, lo + i, pts, lo + j)
            if d < r:
                if pos + cnt < limit:
                    out_idx[pos + cnt] = j
                    out_dist[pos + cnt] = d
                cnt += 1
    return cnt


@nb.njit(parallel=True, cache=True)
def _grid_chunks(kind, params, pts, lo, hi, reach, sub, origin, cell, ukeys, ustart, members,
                 starts, limits, out_idx, out_dist, nchunks):
    """Chunk c writes its points' neighbours from ``starts[c]`` on (at most up to ``limits[c]``)."""
    b = hi - lo
    counts = np.zeros(b, dtype=np.int64)
    nd = sub.shape[1]
    for c in nb.prange(nchunks):
        pos = starts[c]
        first_cell = np.empty(nd, dtype=np.int64)
        count = np.empty(nd, dtype=np.int64)
        cx = np.empty(nd, dtype=np.int64)
        for i in range(c * b // nchunks, (c + 1) * b // nchunks):
            cnt = _grid_point(first_cell, count, cx, kind, params, pts, lo, b, i, reach[i], sub, origin, cell, ukeys,
                              ustart, members, pos, limits[c], out_idx, out_dist)
            counts[i] = cnt
            pos += cnt
    return counts


@nb.njit(cache=True)
def chunk_room(b, nchunks, per_point):
    """Output regions of ``per_point`` slots per point for chunks of ``b // nchunks`` points (one-pass fills)."""
    starts = np.empty(nchunks, dtype=np.int64)
    limits = np.empty(nchunks, dtype=np.int64)
    for c in range(nchunks):
        starts[c] = (c * b // nchunks) * per_point
        limits[c] = ((c + 1) * b // nchunks) * per_point
    return starts, limits


@nb.njit(cache=True)
def compact_chunks(counts, starts, limits, buf_idx, buf_dist):
    """CSR from a one-pass fill: (ptr, idx, dist, fits).  When a chunk overflowed its region (``fits``
    False), idx/dist are only sized and ``starts``/``limits`` are reset to the exact regions, ready for a
    second pass that writes straight into them."""
    b = counts.shape[0]
    nchunks = starts.shape[0]
    ptr = _offsets(counts)
    idx = np.empty(ptr[-1], dtype=np.int64)
    dist = np.empty(ptr[-1], dtype=np.float64)
    fits = True
    for c in range(nchunks):
        if ptr[(c + 1) * b // nchunks] - ptr[c * b // nchunks] > limits[c] - starts[c]:
            fits = False
    if not fits:
        for c in range(nchunks):
            starts[c] = ptr[c * b // nchunks]
            limits[c] = ptr[(c + 1) * b // nchunks]
        return ptr, idx, dist, False
    for c in range(nchunks):
        first = ptr[c * b // nchunks]
        size = ptr[(c + 1) * b // nchunks] - first
        # element loops: a slice assignment pulls in Numba's shape-mismatch error formatting (~2 s of compile)
        for t in range(size):
            idx[first + t] = buf_idx[starts[c] + t]
            dist[first + t] = buf_dist[starts[c] + t]
    return ptr, idx, dist, True


@nb.njit(cache=True)
def grid_neighbours(kind, params, pts, lo, hi, reach, sub, origin, cell, ukeys, ustart, members, per_point, nchunks):
    """Neighbour CSR from a prepared grid (see ``conflict.GridConflictGraph``).

    One pass into ``per_point`` slots per point; only if a chunk overflows its slots, a second pass
    fills the exactly sized output.
    """
    b = hi - lo
    nchunks = max(1, min(b, nchunks))
    starts, limits = chunk_room(b, nchunks, per_point)
    buf_idx = np.empty(b * per_point, dtype=np.int64)
    buf_dist = np.empty(b * per_point, dtype=np.float64)
    counts = _grid_chunks(kind, params, pts, lo, hi, reach, sub, origin, cell, ukeys, ustart, members,
                          starts, limits, buf_idx, buf_dist, nchunks)
    ptr, idx, dist, fits = compact_chunks(counts, starts, limits, buf_idx, buf_dist)
    if not fits:
        _grid_chunks(kind, params, pts, lo, hi, reach, sub, origin, cell, ukeys, ustart, members,
                     starts, limits, idx, dist, nchunks)
    return ptr, idx, dist


# ---------------------------------------------------------------------------------------------
# Segmented (any metric): sort the batch by distance to a first pivot; |d(x,p) - d(y,p)| <= d(x,y)
# for every pivot p, so candidates for x lie in one window of the sorted order and must pass the same
# test for the other pivots before a full distance is computed.

@nb.njit(parallel=True, cache=True)
def pivot_keys(kind, params, pts, lo, hi, pivots):
    b = hi - lo
    keys = np.empty((b, pivots.shape[0]), dtype=np.float64)
    for i in nb.prange(b):
        for p in range(pivots.shape[0]):
            keys[i, p] = point_distance(kind, params, pts, lo + i, pts, pivots[p])
    return keys


@nb.njit(parallel=True, cache=True)
def _segmented_pass(kind, params, slack, pts, lo, hi, reach, keys, order, sorted0, ptr, out_idx, out_dist, fill):
    b = hi - lo
    npiv = keys.shape[1]
    counts = np.zeros(b, dtype=np.int64)
    for i in nb.prange(b):
        pos = ptr[i] if fill else 0
        cnt = 0
        r = reach[i]
        k0 = keys[i, 0]
        margin = r + slack + PRUNE_SLACK * (r + k0)
        start = np.searchsorted(sorted0, k0 - margin, side="left")
        stop = np.searchsorted(sorted0, k0 + margin, side="right")
        for m in range(start, stop):
            j = order[m]
            if j == i:
                continue
            near = True
            for p in range(1, npiv):
                if abs(keys[i, p] - keys[j, p]) > margin + PRUNE_SLACK * keys[i, p]:
                    near = False
                    break
            if not near:
                continue
            d = point_distance(kind, params, pts, lo + i, pts, lo + j)
            if d < r:
                if fill:
                    out_idx[pos + cnt] = j
                    out_dist[pos + cnt] = d
                cnt += 1
        counts[i] = cnt
    return counts


@nb.njit(cache=True)
def segmented_neighbours(kind, params, slack, pts, lo, hi, reach, keys, order):
    """Neighbour CSR from pivot distances ``keys`` and the batch ``order`` sorted by ``keys[:, 0]``
    (``slack``: the metric's absolute rounding room on the triangle-inequality windows)."""
    sorted0 = keys[order, 0].copy()
    empty_i = np.empty(0, dtype=np.int64)
    empty_d = np.empty(0, dtype=np.float64)
    counts = _segmented_pass(kind, params, slack, pts, lo, hi, reach, keys, order, sorted0,
                             np.zeros(1, dtype=np.int64), empty_i, empty_d, False)
    ptr = _offsets(counts)
    idx = np.empty(ptr[-1], dtype=np.int64)
    dist = np.empty(ptr[-1], dtype=np.float64)
    _segmented_pass(kind, params, slack, pts, lo, hi, reach, keys, order, sorted0, ptr, idx, dist, True)
    return ptr, idx, dist


@nb.njit(cache=True)
def farthest_pivots(kind, params, pts, lo, hi, first, count):
    """``first`` plus up to ``count - 1`` batch points chosen by farthest-point traversal."""
    b = hi - lo
    pivots = np.empty(count, dtype=np.int64)
    pivots[0] = first
    near = np.full(b, np.inf)
    used = 1
    while used < count:
        best = -1
        best_d = -1.0
        for i in range(b):
            d = point_distance(kind, params, pts, lo + i, pts, pivots[used - 1])
            if d < near[i]:
                near[i] = d
            if near[i] > best_d:
                best_d = near[i]
                best = lo + i
        if best_d <= 0.0:
            break
        pivots[used] = best
        used += 1
    return pivots[:used].copy()
