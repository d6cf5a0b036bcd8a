"""Exact k-nearest-neighbour search on a ``PCCTree``: the serial kernel of a chunk of queries.

Self-queries first offer a window of positions around the query's node; then the shared depth-first
walk (``core._walk_numba``) runs from the root with the k-NN rule below: tau is the current k-th
distance, every computed distance is offered to the top-k, subtrees whose ids all reach a
predecessor limit are skipped whole, and small subtrees are scanned as one contiguous range.  A child c
of a visited node p is skipped without computing d(q, c) when ``|d(q, p) - d(p, c)| - radius(c)``
exceeds tau; a subtree is never entered when ``d(q, c) - radius(c)`` does.  Both bounds follow from the
triangle inequality, so nothing that could tie or beat the k-th neighbour is ever dropped.  Results
are ordered by (distance, id).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.core._walk_numba import (COUNT_EVALS, COUNT_PARENT, COUNT_RADIUS, COUNT_SKIPPED, COUNT_VISITED,
                                         NUM_COUNTS, WalkRule, make_walk)
from covertreex.metrics._distance_numba import (SQ_SLACK, euclidean_sqdistance_below, point_distance, point_sqdistance,
                                                stops_partial_sums)

SEED_EXTRA = 16
NO_LIMIT = np.iinfo(np.int64).max  # id_limit of a row with no predecessor restriction
# 0 as an int64 (the root's position, an empty window's ends): a literal 0 passed to a (not inlined)
# jitted function compiles it once more
ZERO = np.int64(0)
# columns of the per-query traversal counters (``counters`` of ``knn_chunk``'s ``out``)
COUNTERS = ("nodes_visited", "pruned_radius", "pruned_parent", "pruned_subtree_id")


@nb.njit(cache=True)  # a call, not inlined: offers are rare next to distances; inlining cost ~8 s of compile
def offer(best_d, best_i, d, pid):
    """Insert (d, pid) into the top-k arrays, sorted by (distance, id); empty slots hold (+inf, -1)
    at the end and lose every tie."""
    pos = best_d.shape[0] - 1
    if d > best_d[pos] or (d == best_d[pos] and best_i[pos] >= 0 and pid > best_i[pos]):
        return
    while pos > 0 and (best_d[pos - 1] > d
                       or (best_d[pos - 1] == d and (best_i[pos - 1] < 0 or best_i[pos - 1] > pid))):
        best_d[pos] = best_d[pos - 1]
        best_i[pos] = best_i[pos - 1]
        pos -= 1
    best_d[pos] = d
    best_i[pos] = pid


@nb.njit(cache=True, _nrt=False)  # called once per scanned range: not inlined (~2 s less cold compilation)
def scan_range(metric, queries, q, pts, ids, start, stop, ex_lo, ex_hi, skip, lim, best_d, best_i):
    """Offer every position in [start, stop) outside [ex_lo, ex_hi), != skip and with id < lim;
    returns the distances computed."""
    scanned = 0
    last = best_d.shape[0] - 1
    bound = best_d[last] * best_d[last] * SQ_SLACK
    limited = lim < NO_LIMIT  # loop-invariant: the id test (an extra memory stream) only when needed
    early = stops_partial_sums(metric, pts)  # long rows: partial sums may stop
    for c in range(start, stop):
        if c == skip or (c >= ex_lo and c < ex_hi) or (limited and ids[c] >= lim):
            continue
        if early:
            sc = euclidean_sqdistance_below(queries, q, pts, c, bound)  # above bound: stopped early
        else:
            sc = point_sqdistance(metric, queries, q, pts, c)
        scanned += 1
        if sc <= bound:
            offer(best_d, best_i, math.sqrt(sc), ids[c])
            bound = best_d[last] * best_d[last] * SQ_SLACK
    return scanned


# The k-NN rule of the tree walk.  ``ctx``: (best_d, best_i, skip, lim, seed_lo, seed_hi, leaf_scan) —
# the top-k arrays, the tree position never reported, the id limit (predecessor rows), the seed
# window already offered, and the subtree size scanned as a range instead of walked.
@nb.njit(inline="always", cache=True)
def _knn_skip(view, ctx, c):
    lim = ctx[3]
    return lim < NO_LIMIT and view.min_id[c] >= lim  # every id in the subtree is at or above the limit


@nb.njit(inline="always", cache=True)
def _knn_reach(view, e, tau):
    return tau


@nb.njit(inline="always", cache=True)
def _knn_visit(view, ctx, e, c, dc, tau):
    best_d, best_i, skip, lim, seed_lo, seed_hi = ctx[0], ctx[1], ctx[2], ctx[3], ctx[4], ctx[5]
    if c != skip and dc <= tau and (c < seed_lo or c >= seed_hi) and view.edge_ids[e] < lim:
        offer(best_d, best_i, dc, view.edge_ids[e])
        return best_d[best_d.shape[0] - 1]
    return tau


@nb.njit(inline="always", cache=True)
def _knn_internal(view, e):
    return view.edge_size[e] > 1


@nb.njit(inline="always", cache=True)
def _knn_descend(view, ctx, metric, queries, q, e, c, tau):
    size = view.edge_size[e]
    if size > ctx[6]:
        return True, tau, 0
    # a small subtree is one contiguous range (c first): scanning beats bounding it (positions of the
    # seed window were offered already)
    best_d, best_i = ctx[0], ctx[1]
    scanned = scan_range(metric, queries, q, view.points, view.ids, c + 1, c + size, ctx[4], ctx[5], ctx[2],
                         ctx[3], best_d, best_i)
    return False, best_d[best_d.shape[0] - 1], scanned


KNN_RULE = WalkRule(_knn_skip, _knn_reach, _knn_visit, _knn_internal, _knn_reach, _knn_descend)
_knn_walk = make_walk(KNN_RULE)


@nb.njit(cache=True, nogil=True, _nrt=False)
def knn_chunk(keys, nodes, aux, counts, best_d, best_i, metric, slack, view, batch, out, leaf_scan, t_start, t_stop):
    """k nearest tree points of ``queries[query_order[t]]`` for t in ``t_start .. t_stop-1``, written to
    row ``out_row[t]`` (a serial kernel that releases the GIL; ``queries.knn`` runs chunks on threads).

    Workspace (used by one call at a time): ``core.walk.walk_workspace`` of at least
    ``stack_bound(child_ptr, child_idx, 0)`` entries (the stack is never grown) and the top-k
    ``best_d``/``best_i``.  ``view``: the tree's arrays
    (``core.tree.TreeView``); its ``edge_*`` arrays hold each child's data in children order
    (``child_idx``), so scanning a node's children reads contiguous memory.  ``batch``:
    ``(queries, query_order, out_row, exclude, id_limit)``; ``exclude[t]`` is a tree position never
    reported for query t (-1 for none); only ids below ``id_limit[t]`` are candidates (Vecchia
    predecessor rows; subtrees whose smallest id reaches the limit are skipped whole).  ``out``:
    ``(ids, distances, evals, counters)``; rows with fewer than k candidates are padded with id -1 and
    distance +inf.  ``counters[row]`` receives the traversal counts named by ``COUNTERS``: nodes expanded,
    subtrees cut by the radius bound d(q, c) - r(c) > tau (at push or pop), children cut by the
    parent-distance bound without computing d(q, c), and subtrees cut because every id in them is at or
    above the row's predecessor limit.  ``slack`` is absolute room added to every pruning bound (the
    metric's rounding bound).

    Compiled without reference counting (``_nrt=False``: it allocates nothing): with it, every array
    passed to a helper is reference-counted inside the hot loops (measured 1.6x slower).
    """
    pts, ids, min_id = view.points, view.ids, view.min_id
    queries, query_order, out_row, exclude, id_limit = batch
    out_ids, out_dist, evals, counters = out
    k = best_d.shape[0]
    for t in range(t_start, t_stop):
        q = query_order[t]
        skip = exclude[t]
        lim = id_limit[t]
        for j in range(k):
            best_d[j] = np.inf
            best_i[j] = -1
        for j in range(NUM_COUNTS):
            counts[j] = 0
        # Self-queries: seed the candidates with a window of positions around the query's own node
        # (depth-first neighbours are spatial neighbours): a tight tau before the traversal, which
        # then skips offering those positions again.
        seed_lo = 0
        seed_hi = 0
        if skip >= 0:
            seed_lo = max(0, skip - k // 2 - SEED_EXTRA)
            seed_hi = min(pts.shape[0], seed_lo + k + 1 + 2 * SEED_EXTRA)
            seed_lo = max(0, seed_hi - k - 1 - 2 * SEED_EXTRA)
            counts[COUNT_EVALS] += scan_range(metric, queries, q, pts, ids, seed_lo, seed_hi, ZERO, ZERO, skip, lim,
                                              best_d, best_i)
        if min_id[0] < lim:  # predecessor rows: anything with an id below the limit at all
            d0 = point_distance(metric, queries, q, pts, 0)
            counts[COUNT_EVALS] += 1
            # the root, unless the window already had it
            if skip != 0 and (seed_lo > 0 or seed_hi == 0) and ids[0] < lim:
                offer(best_d, best_i, d0, ids[0])
            ctx = (best_d, best_i, skip, lim, seed_lo, seed_hi, leaf_scan)
            _knn_walk(view, ctx, metric, queries, q, slack, keys, nodes, aux, ZERO, d0, best_d[k - 1], counts)
        row = out_row[t]
        for j in range(k):
            out_ids[row, j] = best_i[j]
            out_dist[row, j] = best_d[j]
        evals[row] = counts[COUNT_EVALS]
        counters[row, 0] = counts[COUNT_VISITED]
        counters[row, 1] = counts[COUNT_RADIUS]
        counters[row, 2] = counts[COUNT_PARENT]
        counters[row, 3] = counts[COUNT_SKIPPED]
