"""Fused selection for the blocked dense residual search (one pass per row after a BLAS block).

For each query row and allowed column, the BLAS value of V_q . V_x gives 1 - |rho| up to a rigorous
bound (see ``metrics.residual_dense``).  Pass 1 keeps the k smallest upper bounds; pass 2 recomputes,
with the scalar kernel every other path uses, each column whose lower bound does not exceed the k-th
upper bound, and keeps the top k by (distance, id).  The result is therefore exactly the tree's.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import point_distance
from covertreex.metrics._screen_numba import screen_pair
from covertreex.queries._knn_numba import offer


@nb.njit(inline="always", cache=True)
def _heap_push_max(heap, size, k, value):
    """Keep the k smallest values in a max-heap ``heap[:size]``; returns the new size."""
    if size < k:
        pos = size
        size += 1
        while pos > 0:
            parent = (pos - 1) // 2
            if heap[parent] >= value:
                break
            heap[pos] = heap[parent]
            pos = parent
        heap[pos] = value
        return size
    if value >= heap[0]:
        return size
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] > heap[child]:
            child += 1
        if heap[child] <= value:
            break
        heap[pos] = heap[child]
        pos = child
    heap[pos] = value
    return size


@nb.njit(inline="always", cache=True)
def _screen_columns(code, variance, gamma, Cq, sq, nq, qi, Cx, sx, nx, G, r, start, stop, lower, heap, size, k, top):
    """Screen columns [start, stop): their lower bounds into ``lower``; upper bounds below ``top`` (the
    bound so far) into the max-heap of the k smallest.  Returns (size, top)."""
    for c in range(start, stop):
        approx, err = screen_pair(code, variance, gamma, Cq, sq, nq, qi, Cx, sx, nx, c, G[r, c])
        lower[c] = approx - err
        upper = approx + err
        if upper < top:
            size = _heap_push_max(heap, size, k, upper)
            if size == k:
                top = heap[0]
    return size, top


@nb.njit(parallel=True, cache=True)
def dense_block_knn(metric, gamma, Fq, q_rows, Cq, sq, nq, Fx, first_id, Cx, sx, nx, col_stop, G, exclude, k,
                    out_ids, out_dist, evals):
    """Rows ``q_rows[r]`` of Fq against columns 0..col_stop[r]-1 of the block Fx (``G[r, c]`` = V_q . V_x).

    Column c is id ``first_id + c``.  ``Cq, sq, nq`` / ``Cx, sx, nx``: the screen's compact rows of Fq /
    Fx (``residual_dense.ScreenRows``).  ``exclude[r]``: an id never reported (the query itself, or -1);
    ``col_stop`` already ends each row at its id limit.  Results merge into ``out_ids/out_dist[r]``
    (sorted by (distance, id), -1/+inf padded), so a row can be fed block after block.  ``evals[r]``
    counts the candidate columns screened (each is a distance evaluated; the exact re-check of a few of
    them is not counted again).
    """
    code, variance = metric.kernel, metric.variance
    nrows = q_rows.shape[0]
    for r in nb.prange(nrows):
        qi = q_rows[r]
        stop = col_stop[r]
        lower = np.empty(stop, dtype=np.float64)
        heap = np.empty(k, dtype=np.float64)
        # the k-th best exact distance so far bounds this block too (in squared units): only upper
        # bounds below it enter the heap
        kth = out_dist[r, k - 1]
        top = kth * kth * (1.0 + 1e-12) if math.isfinite(kth) else np.inf
        ex = exclude[r] - first_id
        if ex < 0 or ex >= stop:
            ex = stop
        size, top = _screen_columns(code, variance, gamma, Cq, sq, nq, qi, Cx, sx, nx, G, r, 0, ex, lower, heap,
                                    0, k, top)
        if ex < stop:
            lower[ex] = np.inf
            size, top = _screen_columns(code, variance, gamma, Cq, sq, nq, qi, Cx, sx, nx, G, r, ex + 1, stop,
                                        lower, heap, size, k, top)
        count = np.int64(0)
        while count < k and out_ids[r, count] >= 0:
            count += 1
        best_d = out_dist[r].copy()
        best_i = out_ids[r].copy()
        for c in range(stop):
            if lower[c] <= top:
                d = point_distance(metric, Fq, qi, Fx, c)
                count = offer(best_d, best_i, k, count, d, first_id + c)
        for j in range(k):
            out_ids[r, j] = best_i[j] if j < count else -1
            out_dist[r, j] = best_d[j] if j < count else np.inf
        evals[r] += stop - (1 if ex < stop else 0)
    return 0
