"""The one-pass neighbour fill shared by the grid and k-d tree strategies: chunks of the round's points
run on threads, each writing its pairs into its own region of a buffer sized ``per_point`` slots per
point; the regions are then compacted into CSR.  Only when a chunk overflowed does a second pass run,
into the exactly sized output (its counts are then known)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from covertreex.algo.conflict._chunks_numba import chunk_room, compact_chunks
from covertreex.threads import chunk_ranges, each_in_threads

MIN_CHUNK = 64  # points: a smaller chunk is not worth starting a thread for (~0.13 ms)

# fill(start, stop, pos, limit, out_idx, out_dist, counts): rows start..stop-1, pairs written from pos
# while below limit, counts[row] = that row's neighbour count (all of them, written or not)
Fill = Callable[[int, int, int, int, np.ndarray, np.ndarray, np.ndarray], None]


def one_pass_csr(b: int, nchunks: int, per_point: int, fill: Fill) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour CSR ``(ptr, idx, dist)`` of ``b`` rows, filled by ``fill`` chunk by chunk."""
    ranges = chunk_ranges(b, nchunks, MIN_CHUNK)
    starts, limits = chunk_room(b, len(ranges), per_point)
    counts = np.zeros(b, dtype=np.int64)

    buf_idx = np.empty(b * per_point, dtype=np.int64)
    buf_dist = np.empty(b * per_point, dtype=np.float64)

    def run(out_idx: np.ndarray, out_dist: np.ndarray) -> None:
        each_in_threads(lambda c: fill(*ranges[c], starts[c], limits[c], out_idx, out_dist, counts),
                        range(len(ranges)))

    run(buf_idx, buf_dist)
    ptr, idx, dist, fits = compact_chunks(counts, starts, limits, buf_idx, buf_dist)
    if not fits:  # starts/limits now hold the exact regions: a second pass writes straight into the output
        run(idx, dist)
    return ptr, idx, dist
