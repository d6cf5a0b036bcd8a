"""Numba kernels of the bottom-up net build (``algo.nets``): Euclidean points in one to three coordinates.

Points live in grid cells of width ``cell_width(s)`` (a little over ``s``), packed into one int64 key,
``KEY_BITS`` bits per coordinate.  Points sorted by key are then swept in that order: every point within
``s`` of the current one lies in ``3**(d-1)`` runs of keys (the neighbouring rows of cells), and each run's
ends only move forward during the sweep (``advance_rows``), so finding them costs O(1) per point.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import point_distance

# A cell is never narrower than FINEST_CELL of the data's extent (``algo.nets`` keeps the fine scale at or
# above it), so a cell index is at most 2**20 and it and its right neighbour fit a field of KEY_BITS bits.
FINEST_CELL = 2.0**-20
KEY_BITS = 21
# Cells are this much wider than the distance they serve, so rounding in (x - lo) / width can never put two
# points within that distance two cells apart: a cell index below 2**21 is computed to within 2**-29.
CELL_MARGIN = 1.0 + 2.0**-10
UNDECIDED, WINNER, LOSER = 0, 1, 2


@nb.njit(cache=True)
def bounds(pts):
    """Per coordinate, the smallest value and the extent (largest - smallest), in float64: one pass."""
    n, d = pts.shape
    lo = np.full(d, np.inf)
    hi = np.full(d, -np.inf)
    for x in range(n):
        for j in range(d):
            v = np.float64(pts[x, j])
            lo[j] = min(lo[j], v)
            hi[j] = max(hi[j], v)
    return lo, hi - lo


@nb.njit(cache=True)
def mean_occupancy(pts, lo, extent, side):
    """Sort the points into ``side`` cells per coordinate of nonzero extent: the mean count of a point's
    own cell (the sum of squared counts over the points)."""
    n, d = pts.shape
    counts = np.zeros(side ** np.sum(extent > 0), dtype=np.int64)
    for x in range(n):
        cell = 0
        for j in range(d):
            if extent[j] > 0:
                q = min(np.int64((np.float64(pts[x, j]) - lo[j]) / extent[j] * side), side - 1)
                cell = cell * side + q
        counts[cell] += 1
    total = 0.0
    for c in counts:
        total += c * c
    return total / n


@nb.njit(cache=True)
def cell_width(s):
    return s * CELL_MARGIN


RADIX_BITS = 11  # bits per counting pass of the key sort


@nb.njit(cache=True)
def radix_sort(keys, items, fields, field_bits):
    """``keys`` and ``items`` sorted by key, stably: least significant digits first, only the low
    ``field_bits`` bits of each of the ``fields`` coordinate fields (the rest are zero)."""
    n = keys.shape[0]
    k_in, i_in = keys.copy(), items.copy()
    k_out, i_out = np.empty_like(keys), np.empty_like(items)
    for f in range(fields):
        for low in range(0, field_bits, RADIX_BITS):
            shift = KEY_BITS * f + low
            mask = (np.int64(1) << min(RADIX_BITS, field_bits - low)) - 1
            count = np.zeros(mask + 2, dtype=np.int64)
            for t in range(n):
                count[((k_in[t] >> shift) & mask) + 1] += 1
            for b in range(mask + 1):
                count[b + 1] += count[b]
            for t in range(n):
                digit = (k_in[t] >> shift) & mask
                k_out[count[digit]] = k_in[t]
                i_out[count[digit]] = i_in[t]
                count[digit] += 1
            k_in, k_out = k_out, k_in
            i_in, i_out = i_out, i_in
    return k_in, i_in


@nb.njit(cache=True)
def sorted_cells(pts, ids, picks, lo, extent, s):
    """The points ``ids[picks]`` in cells of ``cell_width(s)``: their keys sorted, ``picks`` in that order
    (stable), and their coordinates in that order as one contiguous float64 array (the sweeps read
    neighbours from it in key order)."""
    count = picks.shape[0]
    d = pts.shape[1]
    width = cell_width(s)
    keys = np.empty(count, dtype=np.int64)
    for t in range(count):
        x = ids[picks[t]]
        key = np.int64(0)
        for j in range(d):
            q = np.int64(math.floor((np.float64(pts[x, j]) - lo[j]) / width))
            key = (key << KEY_BITS) | q
        keys[t] = key
    field_bits = 1
    while (np.int64(1) << field_bits) <= np.int64(extent / width) + 1:
        field_bits += 1
    keys, order = radix_sort(keys, picks, d, field_bits)
    rows = np.empty((count, d))
    for t in range(count):
        x = ids[order[t]]
        for j in range(d):
            rows[t, j] = pts[x, j]
    return keys, order, rows


@nb.njit(cache=True)
def neighbour_rows(d):
    """The rows of cells next to a cell (its own included): per row, the key offset of its middle cell
    and a bit per leading coordinate that the row lowers by one (off the grid where that index is 0)."""
    rows = 3 ** (d - 1)
    delta = np.zeros(rows, dtype=np.int64)
    lowers = np.zeros(rows, dtype=np.int64)
    for r in range(rows):
        rest = r
        for j in range(d - 1):
            step = rest % 3 - 1
            rest //= 3
            delta[r] += step * (np.int64(1) << (KEY_BITS * (d - 1 - j)))
            if step < 0:
                lowers[r] |= 1 << j
    return delta, lowers


@nb.njit(inline="always", cache=True)
def advance_rows(sorted_keys, key, d, delta, lowers, cursors, runs):
    """Set ``runs`` to the [start, stop) runs of ``sorted_keys`` in the cells next to ``key``'s (its own
    included; an empty run for a row off the grid).  ``cursors`` keeps each row's run between calls:
    for keys given in increasing order the runs only move forward."""
    m = sorted_keys.shape[0]
    mask = (np.int64(1) << KEY_BITS) - 1
    at_zero = 0  # a bit per leading coordinate whose cell index is 0
    for j in range(d - 1):
        if (key >> (KEY_BITS * (d - 1 - j))) & mask == 0:
            at_zero |= 1 << j
    left = 1 if key & mask > 0 else 0
    for r in range(delta.shape[0]):
        if lowers[r] & at_zero:
            runs[r, 0] = 0
            runs[r, 1] = 0
            continue
        low = key + delta[r] - left
        high = key + delta[r] + 1
        a = cursors[r, 0]
        while a < m and sorted_keys[a] < low:
            a += 1
        b = max(cursors[r, 1], a)
        while b < m and sorted_keys[b] <= high:
            b += 1
        cursors[r, 0] = a
        cursors[r, 1] = b
        runs[r, 0] = a
        runs[r, 1] = b


@nb.njit(cache=True)
def equal_rows(a, u, b, v):
    for j in range(a.shape[1]):
        if a[u, j] != b[v, j]:
            return False
    return True


@nb.njit(cache=True)
def first_equal(keys, order, rows):
    """For points in key order (``sorted_cells``, stable in point number): each one's lowest-numbered
    equal point (itself when none is lower).  Equal points share a cell; each is compared with the
    distinct points met so far in its cell."""
    count = order.shape[0]
    first = np.empty(count, dtype=np.int64)  # per sorted position: the position of its first equal
    start = 0
    for t in range(count):
        if keys[t] != keys[start]:
            start = t
        first[t] = t
        for u in range(start, t):
            if first[u] == u and equal_rows(rows, t, rows, u):
                first[t] = u
                break
    return first


@nb.njit(cache=True, nogil=True)
def fine_neighbours(metric, keys, rows, h, start, stop, nearest):
    """For the points ``start .. stop-1`` of a key-sorted array of distinct points at the fine scale
    ``h``: each one's smallest distance to another, written to ``nearest`` when it is <= ``h`` (else inf:
    none that close).  Returns whether two of them are at distance 0 (unequal points: rounding).
    A serial kernel that releases the GIL (``algo.nets`` runs pieces on threads)."""
    d = rows.shape[1]
    delta, lowers = neighbour_rows(d)
    cursors = np.zeros((delta.shape[0], 2), dtype=np.int64)
    runs = np.empty_like(cursors)
    for t in range(start, stop):
        advance_rows(keys, keys[t], d, delta, lowers, cursors, runs)
        best = np.inf
        for r in range(runs.shape[0]):
            for u in range(runs[r, 0], runs[r, 1]):
                if u == t:
                    continue
                dist = point_distance(metric, rows, t, rows, u)
                if dist == 0.0:
                    return True
                best = min(best, dist)
        nearest[t] = best if best <= h else np.inf
    return False


@nb.njit(cache=True)
def distinct_points(pts, lo, extent, h, parent):
    """Points in cells of the fine scale ``h``: equal ones hang under the lowest-numbered of their group
    (``parent`` set; their level stays ``DUP_LEVEL``).  Returns the distinct points' numbers, keys and
    rows, in key order, and the most distinct points one cell holds."""
    n = pts.shape[0]
    everyone = np.arange(n)
    keys, order, rows = sorted_cells(pts, everyone, everyone, lo, extent, h)
    first = first_equal(keys, order, rows)
    keep = np.empty(n, dtype=np.int64)
    m = 0
    for t in range(n):
        if first[t] != t:
            parent[order[t]] = order[first[t]]
        else:
            keep[m] = t
            m += 1
    keep = keep[:m]
    crowd = 0  # the most distinct points in one cell
    run = 0
    for t in range(m):
        run = run + 1 if t > 0 and keys[keep[t]] == keys[keep[t - 1]] else 1
        crowd = max(crowd, run)
    return order[keep], keys[keep], rows[keep], crowd


@nb.njit(cache=True)
def net_level(metric, pts, lo, extent, h, i, alive, nearest, m, level, parent, dparent):
    """One level i (``s = 2**(i+1)``) of the bottom-up nets over ``alive[:m]``, the net at level i
    (``nearest[:m]``: each one's distance to its nearest other point, or inf when above ``h``).

    A greedy maximal independent set under "within s" (in key order) stays alive for the next level; every
    other point gets level i and its nearest set member as parent (at most s away: the cover invariant)
    and leaves ``alive`` (compacted with ``nearest``).  Only points whose nearest other point may be within
    s take part; the others cannot conflict.  Returns (points still alive, points that took part)."""
    d = pts.shape[1]
    s = math.ldexp(1.0, i + 1)
    picks = np.empty(m, dtype=np.int64)
    count = 0
    for t in range(m):
        if nearest[t] <= s or (nearest[t] == np.inf and s > h):
            picks[count] = t
            count += 1
    if count == 0:
        return m, 0
    # below the fine scale, the fine cells (whose keys always hold the data's extent) serve: every point
    # within s < h of a point lies in the cells next to its own
    keys, order, rows = sorted_cells(pts, alive, picks[:count], lo, extent, max(s, h))
    # per key-sorted position: neighbours sit near each other in memory
    state = np.zeros(count, dtype=np.int8)
    best = np.empty(count)
    winner = np.empty(count, dtype=np.int64)
    delta, lowers = neighbour_rows(d)
    cursors = np.zeros((delta.shape[0], 2), dtype=np.int64)
    runs = np.empty_like(cursors)
    for t in range(count):
        if state[t] != UNDECIDED:
            continue
        state[t] = WINNER
        x = alive[order[t]]
        advance_rows(keys, keys[t], d, delta, lowers, cursors, runs)
        for r in range(runs.shape[0]):
            for u in range(runs[r, 0], runs[r, 1]):
                if state[u] == WINNER:
                    continue
                dist = point_distance(metric, rows, t, rows, u)
                if dist > s:
                    continue
                # every winner within s of a loser meets it here: keep the nearest (ties: lower number)
                if state[u] == UNDECIDED or dist < best[u] or (dist == best[u] and x < winner[u]):
                    state[u] = LOSER
                    best[u] = dist
                    winner[u] = x
    gone = np.zeros(m, dtype=np.bool_)
    for u in range(count):
        if state[u] == LOSER:
            gone[order[u]] = True
            y = alive[order[u]]
            level[y] = i
            parent[y] = winner[u]
            dparent[y] = best[u]
    kept = 0
    for t in range(m):
        if not gone[t]:
            alive[kept] = alive[t]
            nearest[kept] = nearest[t]
            kept += 1
    return kept, count


@nb.njit(cache=True, nogil=True)
def subtree_radii(metric, pts, parent, start, stop, radius):
    """Raise ``radius`` (per node) to every distance between a point ``start .. stop-1`` and each of its
    ancestors.  A serial kernel that releases the GIL (``algo.nets`` runs pieces on threads, each into its
    own array, and keeps the largest)."""
    for x in range(start, stop):
        a = parent[x]
        while a >= 0:
            radius[a] = max(radius[a], point_distance(metric, pts, a, pts, x))
            a = parent[a]
