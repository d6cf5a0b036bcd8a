"""Exact re-rank of given candidate lists (the second stage of an approximate candidate search)."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import point_distance
from covertreex.queries._knn_numba import offer


@nb.njit(parallel=True, cache=True)
def rerank(metric, Fx, queries, q_rows, candidates, exclude, k, out_ids, out_dist):
    """Row r: the k candidates ``candidates[r]`` (ids into ``Fx``; -1 = none) nearest to
    ``queries[q_rows[r]]`` by the exact ``point_distance``, ordered by (distance, id), padded with -1 /
    +inf; id ``exclude[r]`` is skipped.  Every reported distance is the exact one; only membership
    depends on the candidates."""
    for r in nb.prange(q_rows.shape[0]):
        best_d = np.full(k, np.inf)
        best_i = np.full(k, -1, dtype=np.int64)
        qi = q_rows[r]
        for j in range(candidates.shape[1]):
            c = candidates[r, j]
            if c < 0 or c == exclude[r]:
                continue
            offer(best_d, best_i, point_distance(metric, queries, qi, Fx, c), c)
        for j in range(k):
            out_ids[r, j] = best_i[j]
            out_dist[r, j] = best_d[j]
    return 0
