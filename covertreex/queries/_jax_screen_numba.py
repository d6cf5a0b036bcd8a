"""The JAX engine's candidate selection on the host (sorting on XLA's CPU backend was 10x the GEMM's time).

Per query row, from a = |k - V_q . V_x| of every column (computed in JAX) and the error bound E: the
bounds low = (a - E) u_q u_x <= |rho| <= (a + E) u_q u_x = high; the k-th largest ``low`` is a distance
no true k-th neighbour exceeds, so every column with ``high`` reaching it is a candidate.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.queries._dense_numba import _heap_offer  # the dense screen's: the k largest in a min-heap


@nb.njit(parallel=True, cache=True)
def select_candidates(a, uq, ux, exclude, limit, error, k, cands, counts):
    """Row r: ``counts[r]`` candidates, the first ``cands.shape[1]`` of them (column order) in ``cands[r]``
    (the rest -1).  Columns ``exclude[r]`` and ``>= limit[r]`` are not candidates."""
    rows, n = a.shape
    capacity = cands.shape[1]
    for r in nb.prange(rows):
        heap = np.empty(k, dtype=np.float64)
        size = 0
        stop = min(limit[r], n)
        for j in range(stop):
            if j != exclude[r]:
                size = _heap_offer(heap, size, k, (a[r, j] - error) * uq[r] * ux[j])
        thr = heap[0] if size == k else -np.inf
        count = 0
        for j in range(stop):
            if j != exclude[r] and (a[r, j] + error) * uq[r] * ux[j] >= thr:
                if count < capacity:
                    cands[r, count] = j
                count += 1
        for t in range(min(count, capacity), capacity):
            cands[r, t] = -1
        counts[r] = count
    return 0
