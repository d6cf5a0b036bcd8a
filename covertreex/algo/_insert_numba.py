"""Numba kernels of one batch-insertion round (see ``algo.insert``).

Node indices are positions in the growing tree arrays.  The points of the round occupy positions
``lo .. hi-1`` of ``pts``; they are not linked into the tree until ``link_batch``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.core._stack_numba import stack_bound, stack_pop, stack_put, stack_sort_top
from covertreex.core._levels_numba import can_parent, level_score
from covertreex.core._bounds_numba import beyond
from covertreex.metrics._distance_numba import point_distance


@nb.njit(cache=True)
def children_csr(parent, n):
    """Children of nodes ``0..n-1`` grouped by parent (stable in node index)."""
    counts = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        p = parent[v]
        if p >= 0:
            counts[p + 1] += 1
    for v in range(n):
        counts[v + 1] += counts[v]
    ptr = counts.copy()
    idx = np.empty(max(counts[n], 1), dtype=np.int64)
    fill = counts[:n].copy()
    for v in range(n):
        p = parent[v]
        if p >= 0:
            idx[fill[p]] = v
            fill[p] += 1
    return ptr, idx


@nb.njit(cache=True)
def root_score_needed(metric, pts, root, lo, hi):
    """Largest ``level_score(d(x, root))`` over the batch: the root level must reach it."""
    top = level_score(0.0)
    for x in range(lo, hi):
        top = max(top, level_score(point_distance(metric, pts, x, pts, root)))
    return top


@nb.njit(cache=True, _nrt=False)
def _parents_chunk(keys, nodes, aux, metric, slack, pts, level, parent, radius, child_ptr, child_idx, edges,
                   root, lo, t_start, t_stop, out_p, out_d, out_evals):
    """Batch points ``lo + t_start .. lo + t_stop - 1`` of ``find_tree_parents`` in a given stack
    (``stack_bound`` entries).  Compiled without reference counting, as ``queries._knn_numba._knn_chunk``
    (it allocates nothing): inlined into the parallel loop it took ~5 s to compile cold.
    """
    e_pts, e_scale, e_radius, e_dparent = edges.points, edges.reach, edges.radius, edges.parent_dist
    e_internal, e_scale_sub = edges.internal, edges.subtree_reach
    prev = -1
    for t in range(t_start, t_stop):
        x = lo + t
        d0 = point_distance(metric, pts, x, pts, root)
        n_eval = 1
        best_d = np.inf
        best_p = -1
        if can_parent(level[root], d0):
            best_d = d0
            best_p = root
        # The previous point of the round (its neighbour along the Hilbert curve) usually has an
        # admissible parent near x too: a small best_d before the exact search.
        a = prev
        while a > 0:  # walk up from there to the first node that may take x
            dq = point_distance(metric, pts, x, pts, a)
            n_eval += 1
            if can_parent(level[a], dq):
                if dq < best_d:
                    best_d = dq
                    best_p = a
                break
            a = parent[a]
        size = stack_put(keys, nodes, aux, 0, d0 - radius[root], root, d0)
        while size > 0:
            size, lb, p, dp = stack_pop(keys, nodes, aux, size)
            if beyond(lb, best_d, slack, dp + radius[p]):
                continue
            start = size
            for e in range(child_ptr[p], child_ptr[p + 1]):
                rc = e_radius[e]
                sc = e_scale[e]
                dpc = e_dparent[e]
                lim = min(best_d, sc)
                if beyond(abs(dp - dpc) - rc, lim, slack, dp + dpc + rc):
                    continue
                c = child_idx[e]
                dc = point_distance(metric, pts, x, e_pts, e)
                n_eval += 1
                if dc <= sc and (dc < best_d or (dc == best_d and c < best_p)):
                    best_d = dc
                    best_p = c
                if e_internal[e]:
                    lim = min(best_d, e_scale_sub[e])
                    if not beyond(dc - rc, lim, slack, dc + rc):
                        size = stack_put(keys, nodes, aux, size, dc - rc, c, dc)
            stack_sort_top(keys, nodes, aux, start, size)
        out_p[t] = best_p
        out_d[t] = best_d
        prev = best_p
        out_evals[t] = n_eval


@nb.njit(parallel=True, cache=True)
def find_tree_parents(metric, slack, pts, level, parent, radius, child_ptr, child_idx, edges, root, lo, hi, nchunks):
    """For each batch point, the nearest tree node that may be its parent (``d <= 2**level``).

    The previous point's parent (or its first ancestor that may take x) gives a first candidate; a depth-first search then skips a subtree
    only when no point in it can be both nearer than the current best and allowed as a parent
    (``slack``: the metric's absolute rounding room, added to every bound).
    """
    b = hi - lo
    out_p = np.empty(b, dtype=np.int64)
    out_d = np.empty(b, dtype=np.float64)
    out_evals = np.empty(b, dtype=np.int64)
    nchunks = max(1, min(b, nchunks))
    stack_size = stack_bound(child_ptr, child_idx, root)
    for chunk in nb.prange(nchunks):
        keys = np.empty(stack_size, dtype=np.float64)
        nodes = np.empty(stack_size, dtype=np.int64)
        aux = np.empty(stack_size, dtype=np.float64)
        _parents_chunk(keys, nodes, aux, metric, slack, pts, level, parent, radius, child_ptr, child_idx, edges,
                       root, lo, chunk * b // nchunks, (chunk + 1) * b // nchunks, out_p, out_d, out_evals)
    return out_p, out_d, out_evals


@nb.njit(cache=True)
def link_batch(metric, pts, level, parent, dparent, radius, lo, hi, new_level, new_parent, new_dist):
    """Write the batch's levels and parents, then grow every ancestor's subtree radius."""
    for t in range(hi - lo):
        x = lo + t
        level[x] = new_level[t]
        parent[x] = new_parent[t]
        dparent[x] = new_dist[t]
        radius[x] = 0.0
    for t in range(hi - lo):
        x = lo + t
        a = parent[x]
        while a >= 0:
            d = point_distance(metric, pts, a, pts, x)
            if d > radius[a]:
                radius[a] = d
            a = parent[a]
