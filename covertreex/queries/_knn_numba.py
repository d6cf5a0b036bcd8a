"""Exact k-nearest-neighbour search on a ``PCCTree`` (parallel over queries).

Self-queries first offer a window of positions around the query's node; then a depth-first traversal
runs from the root.  A child c of a visited node p
is skipped without computing d(q, c) when ``|d(q, p) - d(p, c)| - radius(c)`` exceeds the current k-th
distance; a subtree is never entered when ``d(q, c) - radius(c)`` does.  Both bounds follow from the
triangle inequality, so nothing that could tie or beat the k-th neighbour is ever dropped.  Results
are ordered by (distance, id).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.core._stack_numba import stack_pop, stack_put, stack_sort_top
from covertreex.core._bounds_numba import beyond
from covertreex.metrics._distance_numba import SQ_SLACK, point_distance, point_sqdistance

SEED_EXTRA = 16
NO_LIMIT = np.iinfo(np.int64).max  # id_limit of a row with no predecessor restriction
# columns of the per-query traversal counters (``counters`` argument of ``knn_kernel``)
COUNTERS = ("nodes_visited", "pruned_radius", "pruned_parent", "pruned_subtree_id")


@nb.njit(cache=True)  # a call, not inlined: offers are rare next to distances; inlining cost ~8 s of compile
def offer(best_d, best_i, k, count, d, pid):
    """Insert (d, pid) into the sorted top-k arrays; returns the new count."""
    if count == k:
        if d > best_d[k - 1] or (d == best_d[k - 1] and pid > best_i[k - 1]):
            return count
        pos = k - 1
    else:
        pos = count
        count += 1
    while pos > 0 and (best_d[pos - 1] > d or (best_d[pos - 1] == d and best_i[pos - 1] > pid)):
        best_d[pos] = best_d[pos - 1]
        best_i[pos] = best_i[pos - 1]
        pos -= 1
    best_d[pos] = d
    best_i[pos] = pid
    return count


@nb.njit(inline="always", cache=True)
def scan_range(metric, queries, q, pts, ids, start, stop, ex_lo, ex_hi, skip, lim, best_d, best_i, k, count):
    """Offer every position in [start, stop) outside [ex_lo, ex_hi), != skip and with id < lim.

    Returns (count, distances computed).
    """
    scanned = 0
    bound = best_d[k - 1] * best_d[k - 1] * SQ_SLACK if count == k else np.inf
    limited = lim < NO_LIMIT  # loop-invariant: the id test (an extra memory stream) only when needed
    for c in range(start, stop):
        if c == skip or (c >= ex_lo and c < ex_hi) or (limited and ids[c] >= lim):
            continue
        sc = point_sqdistance(metric, queries, q, pts, c)
        scanned += 1
        if sc <= bound:
            count = offer(best_d, best_i, k, count, math.sqrt(sc), ids[c])
            if count == k:
                bound = best_d[k - 1] * best_d[k - 1] * SQ_SLACK
    return count, scanned


@nb.njit(cache=True, _nrt=False)
def _knn_chunk(keys, nodes, aux, best_d, best_i, metric, slack, view, batch, k, out, leaf_scan, t_start, t_stop):
    """Queries ``t_start .. t_stop-1`` (the serial body of ``knn_kernel``) in a given workspace: a stack
    of ``stack_bound`` entries and two length-k arrays.

    Compiled without reference counting (``_nrt=False``: it allocates nothing): with it, every array
    passed to a helper is reference-counted inside the hot loops (measured 1.6x slower); inlined into
    the parallel loop instead, the kernel compiles several times slower.
    """
    pts, ids, radius, min_id = view.points, view.ids, view.radius, view.min_id
    child_ptr, child_idx = view.child_ptr, view.child_idx
    edge_points, edge_radius, edge_parent_dist = view.edge_points, view.edge_radius, view.edge_parent_dist
    edge_ids, edge_size = view.edge_ids, view.edge_size
    queries, query_order, out_row, exclude, id_limit = batch
    out_ids, out_dist, evals, counters = out
    for t in range(t_start, t_stop):
        q = query_order[t]
        skip = exclude[t]
        lim = id_limit[t]
        count = np.int64(0)
        tau = np.inf
        n_eval = 0
        # traversal counters live in registers; written once per query (cost not measurable)
        n_visit = 0
        n_radius = 0
        n_parent = 0
        n_subtree = 0
        # Self-queries: seed the candidates with a window of positions around the query's own node
        # (depth-first neighbours are spatial neighbours): a tight tau before the traversal, which
        # then skips offering those positions again.
        seed_lo = 0
        seed_hi = 0
        if skip >= 0:
            seed_lo = max(0, skip - k // 2 - SEED_EXTRA)
            seed_hi = min(pts.shape[0], seed_lo + k + 1 + 2 * SEED_EXTRA)
            seed_lo = max(0, seed_hi - k - 1 - 2 * SEED_EXTRA)
            count, scanned = scan_range(metric, queries, q, pts, ids, seed_lo, seed_hi, 0, 0, skip, lim,
                                        best_d, best_i, k, count)
            n_eval += scanned
            if count == k:
                tau = best_d[k - 1]
        size = 0
        d0 = 0.0
        if min_id[0] < lim:  # predecessor rows: anything with an id below the limit at all
            d0 = point_distance(metric, queries, q, pts, 0)
            n_eval += 1
            # the root, unless the window already had it
            if skip != 0 and (seed_lo > 0 or seed_hi == 0) and ids[0] < lim:
                count = offer(best_d, best_i, k, count, d0, ids[0])
                if count == k:
                    tau = best_d[k - 1]
        if child_ptr[1] > child_ptr[0] and min_id[0] < lim:
            size = stack_put(keys, nodes, aux, size, d0 - radius[0], 0, d0)
        while size > 0:
            size, lb, p, dp = stack_pop(keys, nodes, aux, size)
            if beyond(lb, tau, slack, dp + radius[p]):
                n_radius += 1
                continue
            n_visit += 1
            pushed_from = size
            for e in range(child_ptr[p], child_ptr[p + 1]):
                c = child_idx[e]
                if lim < NO_LIMIT and min_id[c] >= lim:  # predecessor rows: the subtree's ids are all >= it
                    n_subtree += 1
                    continue
                rc = edge_radius[e]
                dpc = edge_parent_dist[e]
                if beyond(abs(dp - dpc) - rc, tau, slack, dp + dpc + rc):
                    n_parent += 1
                    continue
                dc = point_distance(metric, queries, q, edge_points, e)
                n_eval += 1
                if c != skip and (count < k or dc <= tau) and (c < seed_lo or c >= seed_hi) and edge_ids[e] < lim:
                    count = offer(best_d, best_i, k, count, dc, edge_ids[e])
                    if count == k:
                        tau = best_d[k - 1]
                if edge_size[e] == 1:
                    continue
                if beyond(dc - rc, tau, slack, dc + rc):
                    n_radius += 1
                    continue
                if edge_size[e] <= leaf_scan:
                    # a small subtree is one contiguous range (c first): scanning beats bounding it
                    # (positions of the seed window were offered already)
                    count, scanned = scan_range(metric, queries, q, pts, ids, c + 1, c + edge_size[e],
                                                seed_lo, seed_hi, skip, lim, best_d, best_i, k, count)
                    n_eval += scanned
                    if count == k:
                        tau = best_d[k - 1]
                    continue
                size = stack_put(keys, nodes, aux, size, dc - rc, c, dc)
            stack_sort_top(keys, nodes, aux, pushed_from, size)
        row = out_row[t]
        for j in range(count):
            out_ids[row, j] = best_i[j]
            out_dist[row, j] = best_d[j]
        for j in range(count, k):
            out_ids[row, j] = -1
            out_dist[row, j] = np.inf
        evals[row] = n_eval
        counters[row, 0] = n_visit
        counters[row, 1] = n_radius
        counters[row, 2] = n_parent
        counters[row, 3] = n_subtree


@nb.njit(parallel=True, cache=True)
def knn_kernel(metric, slack, view, batch, k, out, leaf_scan, stack_size, nchunks):
    """k nearest tree points of ``queries[query_order[t]]`` written to row ``out_row[t]``.

    ``view``: the tree's arrays (``core.tree.TreeView``); its ``edge_*`` arrays hold each child's data in
    children order (``child_idx``), so scanning a node's children reads contiguous memory.  ``batch``:
    ``(queries, query_order, out_row, exclude, id_limit)``; ``exclude[t]`` is a tree position never
    reported for query t (-1 for none); only ids below ``id_limit[t]`` are candidates (Vecchia
    predecessor rows; subtrees whose smallest id reaches the limit are skipped whole).  ``out``:
    ``(ids, distances, evals, counters)``; rows with fewer than k candidates are padded with id -1 and
    distance +inf.  ``counters[row]`` receives the traversal counts named by ``COUNTERS``: nodes expanded,
    subtrees cut by the radius bound d(q, c) - r(c) > tau (at push or pop), children cut by the
    parent-distance bound without computing d(q, c), and subtrees cut because every id in them is at or
    above the row's predecessor limit.  ``slack`` is absolute room added to every pruning bound (the
    metric's rounding bound).  ``stack_size`` must be at least ``stack_bound(child_ptr, child_idx, 0)``
    (the traversal stack is never grown).
    """
    nq = batch[1].shape[0]
    nchunks = max(1, min(nq, nchunks))
    for chunk in nb.prange(nchunks):
        keys = np.empty(stack_size, dtype=np.float64)
        nodes = np.empty(stack_size, dtype=np.int64)
        aux = np.empty(stack_size, dtype=np.float64)
        best_d = np.empty(k, dtype=np.float64)
        best_i = np.empty(k, dtype=np.int64)
        _knn_chunk(keys, nodes, aux, best_d, best_i, metric, slack, view, batch, k, out, leaf_scan,
                   chunk * nq // nchunks, (chunk + 1) * nq // nchunks)
    return 0
