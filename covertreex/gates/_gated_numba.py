"""The gated residual search's first stage: a query's C proxy-nearest candidates (and the calibration
scores that choose C).

The search walks a Euclidean cover tree over the proxy coordinates (``core._walk_numba``) with a rule
that keeps the C smallest proxy distances in a bounded max-heap (O(log C) per accepted candidate;
the exact k-NN rule's sorted insertion would cost O(C)).  Which of several candidates tied at the
C-th proxy distance the heap keeps is arbitrary; the calibration counts ties against the budget, so
this never matters.  The exact re-rank of the candidates is the dense engine's (``gates.search``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.core._walk_numba import COUNT_EVALS, NUM_COUNTS, WalkRule, make_walk
from covertreex.metrics._distance_numba import point_distance
from covertreex.queries._knn_numba import NO_LIMIT, _knn_internal, _knn_reach, _knn_skip


@nb.njit(inline="always", cache=True)
def heap_offer(heap_d, heap_i, size, cap, d, pid):
    """Offer (d, pid) to a max-heap on d of at most ``cap`` entries holding ``size``; returns the new size."""
    if size < cap:
        pos = size
        while pos > 0:
            up = (pos - 1) // 2
            if heap_d[up] >= d:
                break
            heap_d[pos] = heap_d[up]
            heap_i[pos] = heap_i[up]
            pos = up
        heap_d[pos] = d
        heap_i[pos] = pid
        return size + 1
    if d >= heap_d[0]:
        return size
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap_d[child + 1] > heap_d[child]:
            child += 1
        if heap_d[child] <= d:
            break
        heap_d[pos] = heap_d[child]
        heap_i[pos] = heap_i[child]
        pos = child
    heap_d[pos] = d
    heap_i[pos] = pid
    return size


@nb.njit(inline="always", cache=True)
def heap_bound(heap_d, size, cap):
    """The walk's tau: the largest kept proxy distance once the heap is full, +inf before."""
    return heap_d[0] if size >= cap else np.inf


@nb.njit(inline="always", cache=True)
def _scan(metric, queries, q, pts, ids, start, stop, ex_lo, ex_hi, skip, lim, heap_d, heap_i, state):
    """Offer positions [start, stop) outside [ex_lo, ex_hi), != skip, id < lim; returns distances computed."""
    size, cap = state[0], state[1]
    scanned = 0
    for c in range(start, stop):
        if c == skip or (c >= ex_lo and c < ex_hi) or ids[c] >= lim:
            continue
        size = heap_offer(heap_d, heap_i, size, cap, point_distance(metric, queries, q, pts, c), ids[c])
        scanned += 1
    state[0] = size
    return scanned


# The candidate rule.  ``ctx``: (heap_d, heap_i, skip, lim, seed_lo, seed_hi, leaf_scan, state = [size,
# cap]) — laid out like the k-NN rule's, whose skip / reach / internal tests it shares: the heap, the
# tree position never offered (the query itself), the id limit (predecessor rows), the seed window
# offered already, the subtree size scanned as a range, and the heap's fill.
@nb.njit(inline="always", cache=True)
def _visit(view, ctx, e, c, dc, tau):
    heap_d, heap_i, state = ctx[0], ctx[1], ctx[7]
    if c != ctx[2] and dc < tau and (c < ctx[4] or c >= ctx[5]) and view.edge_ids[e] < ctx[3]:
        state[0] = heap_offer(heap_d, heap_i, state[0], state[1], dc, view.edge_ids[e])
        return heap_bound(heap_d, state[0], state[1])
    return tau


@nb.njit(inline="always", cache=True)
def _descend(view, ctx, metric, queries, q, e, c, tau):
    size = view.edge_size[e]
    if size > ctx[6]:
        return True, tau, 0
    heap_d, heap_i, state = ctx[0], ctx[1], ctx[7]
    scanned = _scan(metric, queries, q, view.points, view.ids, c + 1, c + size, ctx[4], ctx[5], ctx[2], ctx[3],
                    heap_d, heap_i, state)
    return False, heap_bound(heap_d, state[0], state[1]), scanned


_candidate_walk = make_walk(WalkRule(_knn_skip, _knn_reach, _visit, _knn_internal, _knn_reach, _descend))


@nb.njit(cache=True, _nrt=False)
def _candidate_chunk(keys, nodes, aux, heap_d, heap_i, state, counts, proxy, view, batch, out, leaf_scan,
                     t_start, t_stop):
    """Queries ``t_start .. t_stop-1`` of ``candidate_kernel`` in a given workspace (allocates nothing)."""
    pts, ids, min_id = view.points, view.ids, view.min_id
    proxy_q, query_order, out_row, exclude, id_limit, budget = batch
    cands, proxy_evals = out
    for t in range(t_start, t_stop):
        q = query_order[t]
        skip = exclude[t]
        lim = id_limit[t]
        cap = budget[t]
        state[0] = 0
        state[1] = cap
        for j in range(NUM_COUNTS):
            counts[j] = 0
        seed_lo = 0
        seed_hi = 0
        if skip >= 0:  # a tree point: its depth-first neighbourhood gives the heap a finite bound at once
            seed_lo = max(0, skip - cap // 2)
            seed_hi = min(pts.shape[0], seed_lo + cap + 1)
            seed_lo = max(0, seed_hi - cap - 1)
            counts[COUNT_EVALS] += _scan(proxy, proxy_q, q, pts, ids, seed_lo, seed_hi, 0, 0, skip, lim, heap_d,
                                         heap_i, state)
        if min_id[0] < lim:
            d0 = point_distance(proxy, proxy_q, q, pts, 0)
            counts[COUNT_EVALS] += 1
            if skip != 0 and (seed_lo > 0 or seed_hi == 0) and ids[0] < lim:
                state[0] = heap_offer(heap_d, heap_i, state[0], cap, d0, ids[0])
            ctx = (heap_d, heap_i, skip, lim, seed_lo, seed_hi, leaf_scan, state)
            _candidate_walk(view, ctx, proxy, proxy_q, q, 0.0, keys, nodes, aux, 0, d0,
                            heap_bound(heap_d, state[0], cap), counts)
        row = out_row[t]
        for j in range(cands.shape[1]):
            cands[row, j] = heap_i[j] if j < state[0] else -1
        proxy_evals[row] = counts[COUNT_EVALS]


@nb.njit(parallel=True, cache=True)
def candidate_kernel(proxy, view, batch, out, leaf_scan, stack_size, nchunks):
    """The proxy-nearest candidates of ``batch = (proxy_q, query_order, out_row, exclude, id_limit, budget)``.

    Query t (proxy coordinates ``proxy_q[query_order[t]]``) takes the ``budget[t]`` points of the proxy
    tree ``view`` (``proxy``: Euclidean slots) nearest to it, never tree position ``exclude[t]`` and only
    ids below ``id_limit[t]``, and writes their ids (in no particular order, then -1) to row
    ``out_row[t]`` of ``out[0]`` (its width is at least every budget) and its proxy distances computed
    to ``out[1]``.
    """
    nq = batch[1].shape[0]
    nchunks = max(1, min(nq, nchunks))
    width = max(1, out[0].shape[1])
    for chunk in nb.prange(nchunks):
        keys = np.empty(stack_size, dtype=np.float64)
        nodes = np.empty(stack_size, dtype=np.int64)
        aux = np.empty(stack_size, dtype=np.float64)
        heap_d = np.empty(width, dtype=np.float64)
        heap_i = np.empty(width, dtype=np.int64)
        state = np.zeros(2, dtype=np.int64)
        counts = np.empty(NUM_COUNTS, dtype=np.int64)
        _candidate_chunk(keys, nodes, aux, heap_d, heap_i, state, counts, proxy, view, batch, out, leaf_scan,
                         chunk * nq // nchunks, (chunk + 1) * nq // nchunks)
    return 0


@nb.njit(parallel=True, cache=True)
def proxy_scores(proxy, pts, query_ids, true_ids, predecessor, out):
    """Calibration scores: for query r (the point ``query_ids[r]`` of the proxy coordinates ``pts``, id
    order) the number of other candidate points (ids below the query's when ``predecessor``) whose
    proxy distance (``point_distance``, bit for bit the search's) is at most that of its worst true
    neighbour ``true_ids[r]`` (-1 entries ignored) — the smallest budget that serves it, ties counted
    against it.  0 for a query without true neighbours."""
    n = pts.shape[0]
    for r in nb.prange(query_ids.shape[0]):
        q = query_ids[r]
        worst = -1.0
        for j in range(true_ids.shape[1]):
            t = true_ids[r, j]
            if t >= 0:
                worst = max(worst, point_distance(proxy, pts, q, pts, t))
        count = 0
        if worst >= 0.0:
            stop = q if predecessor else n
            for c in range(stop):
                if c != q and point_distance(proxy, pts, q, pts, c) <= worst:
                    count += 1
        out[r] = count
    return 0
