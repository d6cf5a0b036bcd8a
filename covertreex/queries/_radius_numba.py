"""Exact radius search on a ``PCCTree``: every point within r of each query (parallel over queries).

The shared walk (``core._walk_numba``) runs with a rule whose bound never shrinks: tau is the radius, so
the walk's two triangle-inequality tests cut exactly the children and subtrees that cannot hold a point
within r (with the metric's rounding slack).  A query runs twice: once to count its points, once to
write them at its offset of the ragged (CSR) result.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.core._walk_numba import NUM_COUNTS, WalkRule, make_walk
from covertreex.metrics._distance_numba import point_distance
from covertreex.queries._knn_numba import _knn_internal, _knn_reach, _knn_skip


@nb.njit(inline="always", cache=True)
def _record(ctx, dc, pid):
    """Count a hit; write it too while the row's slice has room (the first pass has none)."""
    out_ids, out_d, state = ctx[0], ctx[1], ctx[4]
    n = state[0]
    if n < out_ids.shape[0]:
        out_ids[n] = pid
        out_d[n] = dc
    state[0] = n + 1


# ctx: (out_ids, out_d, skip, lim, state = [hits]) — laid out so that the k-NN rule's skip (the
# predecessor limit at ctx[3]), reach and internal tests apply unchanged.
@nb.njit(inline="always", cache=True)
def _visit(view, ctx, e, c, dc, tau):
    if c != ctx[2] and dc <= tau and view.edge_ids[e] < ctx[3]:
        _record(ctx, dc, view.edge_ids[e])
    return tau


@nb.njit(inline="always", cache=True)
def _descend(view, ctx, metric, queries, q, e, c, tau):
    return True, tau, 0


_radius_walk = make_walk(WalkRule(_knn_skip, _knn_reach, _visit, _knn_internal, _knn_reach, _descend))


@nb.njit(cache=True)
def _one(keys, nodes, aux, counts, metric, slack, view, queries, q, skip, lim, r, out_ids, out_d, state):
    pts, ids, min_id = view.points, view.ids, view.min_id
    state[0] = 0
    if min_id[0] >= lim:
        return
    d0 = point_distance(metric, queries, q, pts, 0)
    ctx = (out_ids, out_d, skip, lim, state)
    if skip != 0 and d0 <= r and ids[0] < lim:
        _record(ctx, d0, ids[0])
    _radius_walk(view, ctx, metric, queries, q, slack, keys, nodes, aux, 0, d0, r, counts)


@nb.njit(parallel=True, cache=True)
def radius_kernel(metric, slack, view, queries, query_order, exclude, id_limit, radius, indptr, out_ids, out_d,
                  stack_size, nchunks):
    """Row t (query ``queries[query_order[t]]``, tree position ``exclude[t]`` never reported, only ids below
    ``id_limit[t]``): every tree point within ``radius[t]``.  With ``out_ids`` empty, ``indptr[t + 1]``
    receives the row's count; otherwise its points are written to ``out_ids/out_d[indptr[t]:indptr[t + 1]]``
    (unordered)."""
    nq = query_order.shape[0]
    nchunks = max(1, min(nq, nchunks))
    fill = out_ids.shape[0] > 0
    for chunk in nb.prange(nchunks):
        keys = np.empty(stack_size, dtype=np.float64)
        nodes = np.empty(stack_size, dtype=np.int64)
        aux = np.empty(stack_size, dtype=np.float64)
        counts = np.zeros(NUM_COUNTS, dtype=np.int64)
        state = np.zeros(1, dtype=np.int64)
        for t in range(chunk * nq // nchunks, (chunk + 1) * nq // nchunks):
            lo = indptr[t] if fill else 0
            hi = indptr[t + 1] if fill else 0
            _one(keys, nodes, aux, counts, metric, slack, view, queries, query_order[t], exclude[t], id_limit[t],
                 radius[t], out_ids[lo:hi], out_d[lo:hi], state)
            if not fill:
                indptr[t + 1] = state[0]
    return 0
