"""Shared pieces of the conflict-graph kernels: CSR offsets, one-pass output regions per chunk of
points and their compaction, and the exact pair test every strategy ends with."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import (SQ_SLACK, euclidean_sqdistance_below, point_distance,
                                                stops_partial_sums)


@nb.njit(cache=True)
def offsets(counts):
    ptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    for i in range(counts.shape[0]):
        ptr[i + 1] = ptr[i] + counts[i]
    return ptr


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
    ptr = offsets(counts)
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


@nb.njit(inline="always", cache=True)
def pair_within(metric, pts, lo, i, j, r, pos, cnt, limit, out_idx, out_dist):
    """The exact neighbour test of the one-pass fills: y=j is x=i's neighbour when d(x, y) < R(x) (long
    Euclidean rows stop the sum once a partial sum exceeds R(x)^2: the same answer).  Writes the
    pair at ``pos + cnt`` while below ``limit``; returns the new count.  (Called by the k-d tree, dense and
    segmented strategies — the last two count with ``limit`` 0, then fill; the grid writes the same test out
    in its loop, where a call measured ~10% slower.)"""
    if j == i:
        return cnt
    if stops_partial_sums(metric, pts):  # long rows: a partial sum may settle it
        cut = r * r * SQ_SLACK
        sq = euclidean_sqdistance_below(pts, lo + i, pts, lo + j, cut)
        if sq > cut:  # d > r: not a neighbour
            return cnt
        d = math.sqrt(sq)  # the full sum: point_distance's bits
    else:
        d = point_distance(metric, pts, lo + i, pts, lo + j)
    if d < r:
        if pos + cnt < limit:
            out_idx[pos + cnt] = j
            out_dist[pos + cnt] = d
        cnt += 1
    return cnt
