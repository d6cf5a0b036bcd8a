"""Numba kernels of one batch-insertion round (see ``algo.insert``).

Node indices are positions in the growing tree arrays.  The points of the round occupy positions
``lo .. hi-1`` of ``pts``; they are not linked into the tree until ``link_batch``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.core._levels_numba import can_parent, level_score
from covertreex.core._walk_numba import COUNT_EVALS, NUM_COUNTS, WalkRule, make_walk
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


# The parent-search rule of the tree walk (``BuildView`` trees): a child may parent x only when
# d(x, c) <= edge_reach (2**level); no point of its subtree can when the radius bound exceeds
# edge_subtree_reach.  ``ctx``: a one-element array holding the best parent found (ties: lower position).
@nb.njit(inline="always", cache=True)
def _parent_skip(tree, ctx, c):
    return False


@nb.njit(inline="always", cache=True)
def _parent_reach(tree, e, tau):
    return min(tau, tree.edge_reach[e])


@nb.njit(inline="always", cache=True)
def _parent_visit(tree, ctx, e, c, dc, tau):
    if dc <= tree.edge_reach[e] and (dc < tau or (dc == tau and c < ctx[0])):
        ctx[0] = c
        return dc
    return tau


@nb.njit(inline="always", cache=True)
def _parent_internal(tree, e):
    return tree.edge_internal[e]


@nb.njit(inline="always", cache=True)
def _parent_subtree_reach(tree, e, tau):
    return min(tau, tree.edge_subtree_reach[e])


@nb.njit(inline="always", cache=True)
def _parent_descend(tree, ctx, metric, q_pts, q, e, c, tau):
    return True, tau, 0


PARENT_RULE = WalkRule(_parent_skip, _parent_reach, _parent_visit, _parent_internal, _parent_subtree_reach,
                       _parent_descend)
_parent_walk = make_walk(PARENT_RULE)


@nb.njit(cache=True, nogil=True, _nrt=False)
def parents_chunk(keys, nodes, aux, counts, best, metric, slack, pts, level, parent, tree, root, lo, t_start, t_stop,
                  out_p, out_d, out_evals):
    """For batch points ``lo + t_start .. lo + t_stop - 1``, the nearest tree node that may be the
    point's parent (``d <= 2**level``), that distance and the distances computed, written at ``t`` of
    ``out_p``, ``out_d``, ``out_evals``.  A serial kernel that releases the GIL (``algo.insert`` runs
    chunks on threads).

    Workspace: ``core.walk.walk_workspace`` of ``stack_bound`` entries and a one-element ``best`` array.  ``tree``: the growing tree's ``BuildView``.  The previous
    point's parent (or its first ancestor that may take x) gives a first candidate; the walk then skips a
    subtree only when no point in it can be both nearer than the current best and allowed as a parent
    (``slack``: the metric's absolute rounding room, added to every bound).  Compiled without reference
    counting, as ``queries._knn_numba.knn_chunk`` (it allocates nothing).
    """
    prev = -1
    for t in range(t_start, t_stop):
        x = lo + t
        for j in range(NUM_COUNTS):
            counts[j] = 0
        d0 = point_distance(metric, pts, x, pts, root)
        counts[COUNT_EVALS] += 1
        best_d = np.inf
        best[0] = -1
        if can_parent(level[root], d0):
            best_d = d0
            best[0] = root
        # The previous point of the round (its neighbour along the Hilbert curve) usually has an
        # admissible parent near x too: a small best_d before the exact search.
        a = prev
        while a > 0:  # walk up from there to the first node that may take x
            dq = point_distance(metric, pts, x, pts, a)
            counts[COUNT_EVALS] += 1
            if can_parent(level[a], dq):
                if dq < best_d:
                    best_d = dq
                    best[0] = a
                break
            a = parent[a]
        best_d = _parent_walk(tree, best, metric, pts, x, slack, keys, nodes, aux, root, d0, best_d, counts)
        out_p[t] = best[0]
        out_d[t] = best_d
        prev = best[0]
        out_evals[t] = counts[COUNT_EVALS]


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
