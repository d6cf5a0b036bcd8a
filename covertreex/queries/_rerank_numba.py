"""Exact re-ranking of candidate lists: the k of each query's candidates nearest by the kernels' own
distance arithmetic, ordered by (distance, id) — the last stage of any search that first narrows the
candidates by a cheaper screen (the gated tier's proxy walk, the JAX engine's GEMM screen)."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import point_distance
from covertreex.queries._knn_numba import offer


@nb.njit(cache=True, _nrt=False)
def _rerank_chunk(residual, fq, query_order, fx, cands, best_d, best_i, out_ids, out_dist, t_start, t_stop):
    """Rows ``t_start .. t_stop-1`` of ``rerank`` in a given workspace (allocates nothing: no reference
    counting in the loop)."""
    k = best_d.shape[0]
    for t in range(t_start, t_stop):
        for j in range(k):
            best_d[j] = np.inf
            best_i[j] = -1
        q = query_order[t]
        for j in range(cands.shape[1]):
            c = cands[t, j]
            if c >= 0:
                offer(best_d, best_i, point_distance(residual, fq, q, fx, c), c)
        for j in range(k):
            out_ids[t, j] = best_i[j]
            out_dist[t, j] = best_d[j]


@nb.njit(parallel=True, cache=True)
def rerank(residual, fq, query_order, fx, cands, k, out_ids, out_dist, nchunks):
    """Row t: the k of its candidates ``cands[t]`` (ids into ``fx``, -1 = none) nearest to
    ``fq[query_order[t]]`` by the exact residual distance, ordered by (distance, id), padded with -1 / +inf."""
    nq = query_order.shape[0]
    nchunks = max(1, min(nq, nchunks))
    for chunk in nb.prange(nchunks):
        best_d = np.empty(k, dtype=np.float64)
        best_i = np.empty(k, dtype=np.int64)
        _rerank_chunk(residual, fq, query_order, fx, cands, best_d, best_i, out_ids, out_dist,
                      chunk * nq // nchunks, (chunk + 1) * nq // nchunks)
    return 0
