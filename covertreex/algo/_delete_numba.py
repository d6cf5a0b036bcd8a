"""Numba kernels of a batch deletion (see ``algo.delete``).

Node indices are positions of the surviving nodes.  ``parent[v] == -1`` marks the root and every orphan
not yet re-attached: the walks start at the root, so they only ever see the attached part of the tree.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.algo._insert_numba import PARENT_RULE
from covertreex.core._bounds_numba import beyond
from covertreex.core._levels_numba import can_parent, level_scale, level_score
from covertreex.core._walk_numba import NUM_COUNTS, WalkRule, make_walk
from covertreex.metrics._distance_numba import point_distance


# The re-attachment rule: the build's parent search (nearest node x with d(o, x) <= 2**level(x)) limited
# to nodes above the orphan's own level, ``ctx[1]`` (its children keep their levels below it).  A child at
# or below that level is skipped with its whole subtree: levels fall along every path down.
@nb.njit(inline="always", cache=True)
def _attach_skip(tree, ctx, c):
    return tree.level[c] <= ctx[1]


ATTACH_RULE = WalkRule(_attach_skip, *PARENT_RULE[1:])
_attach_walk = make_walk(ATTACH_RULE)


@nb.njit(inline="always", cache=True)
def _offer(ctx, c, dc, tau):
    """``_parent_visit`` for a node met outside the walk (a seed, a pending subtree's root)."""
    if dc < tau or (dc == tau and c < ctx[0]):
        ctx[0] = c
        return dc
    return tau


@nb.njit(cache=True, _nrt=False)
def _attach_chunk(keys, nodes, aux, ctx, counts, metric, slack, pts, parent, orphans, seeds, pending, tree, root,
                  t_start, t_stop, out_p, out_d):
    """Orphans ``orphans[t_start:t_stop]`` of ``attach_search`` in a given stack and context."""
    level, radius = tree.level, tree.radius
    for t in range(t_start, t_stop):
        o = orphans[t]
        own = level[o]
        ctx[0] = -1
        ctx[1] = own
        tau = np.inf
        # the deleted parent's nearest surviving ancestor, or its first ancestor that may take o: a first tau
        a = seeds[t]
        while a >= 0:
            da = point_distance(metric, pts, o, pts, a)
            if level[a] > own and can_parent(level[a], da):
                tau = _offer(ctx, a, da, tau)
                break
            a = parent[a]
        d0 = point_distance(metric, pts, o, pts, root)
        if level[root] > own and can_parent(level[root], d0):
            tau = _offer(ctx, root, d0, tau)
        tau = _attach_walk(tree, ctx, metric, pts, o, slack, keys, nodes, aux, root, d0, tau, counts)
        for j in range(pending.shape[0]):  # subtrees attached since the view was built: walked from their roots
            r = pending[j]
            if level[r] <= own:
                continue
            dr = point_distance(metric, pts, o, pts, r)
            if can_parent(level[r], dr):
                tau = _offer(ctx, r, dr, tau)
            tau = _attach_walk(tree, ctx, metric, pts, o, slack, keys, nodes, aux, r, dr, tau, counts)
        out_p[t] = ctx[0]
        out_d[t] = tau


@nb.njit(parallel=True, cache=True)
def attach_search(metric, slack, pts, parent, orphans, seeds, pending, tree, root, stack_size, nchunks):
    """For each orphan o: the nearest attached node x with level(x) > level(o) and d(o, x) <= 2**level(x)
    (ties: lower position), and the distance; -1 and +inf when there is none.  ``tree``: an
    ``AttachView`` of the nodes attached when it was built; ``pending``: roots of the subtrees attached
    since (each walked from its root); ``seeds``: a node per orphan to take a first candidate from
    (walking up ``parent``); ``stack_size``: room for any walk (the view's internal nodes)."""
    b = orphans.shape[0]
    out_p = np.full(b, -1, dtype=np.int64)
    out_d = np.full(b, np.inf, dtype=np.float64)
    nchunks = max(1, min(b, nchunks))
    for chunk in nb.prange(nchunks):
        keys = np.empty(stack_size, dtype=np.float64)
        nodes = np.empty(stack_size, dtype=np.int64)
        aux = np.empty(stack_size, dtype=np.float64)
        ctx = np.empty(2, dtype=np.int64)
        counts = np.zeros(NUM_COUNTS, dtype=np.int64)
        _attach_chunk(keys, nodes, aux, ctx, counts, metric, slack, pts, parent, orphans, seeds, pending, tree,
                      root, chunk * b // nchunks, (chunk + 1) * b // nchunks, out_p, out_d)
    return out_p, out_d


@nb.njit(cache=True)
def surviving_ancestors(parent, dead, nodes):
    """Per node, its nearest ancestor that is not ``dead`` (-1 when none is)."""
    out = np.empty(nodes.shape[0], dtype=np.int64)
    for t in range(nodes.shape[0]):
        a = parent[nodes[t]]
        while a >= 0 and dead[a]:
            a = parent[a]
        out[t] = a
    return out


@nb.njit(cache=True)
def grow_radii(metric, pts, parent, radius, nodes):
    """Make every ancestor's radius cover each of ``nodes`` and its subtree (``radius[node]``): an upper
    bound, enough for the walks that follow; ``exact_radii`` tightens it at the end."""
    for o in nodes:
        a = parent[o]
        while a >= 0:
            d = point_distance(metric, pts, a, pts, o) + radius[o]
            if d > radius[a]:
                radius[a] = d
            a = parent[a]


@nb.njit(parallel=True, cache=True)
def exact_radii(metric, pts, parent, nthreads):
    """Each node's largest distance to a descendant (0 for a leaf): every node walks up its ancestor
    chain; each of ``nthreads`` chunks keeps its own maxima, merged at the end."""
    n = pts.shape[0]
    partial = np.zeros((nthreads, n), dtype=np.float64)
    for chunk in nb.prange(nthreads):
        row = partial[chunk]
        for x in range(chunk * n // nthreads, (chunk + 1) * n // nthreads):
            a = parent[x]
            while a >= 0:
                d = point_distance(metric, pts, a, pts, x)
                if d > row[a]:
                    row[a] = d
                a = parent[a]
    radius = partial[0].copy()
    for chunk in range(1, nthreads):
        for v in range(n):
            if partial[chunk, v] > radius[v]:
                radius[v] = partial[chunk, v]
    return radius


@nb.njit(cache=True)
def place_group(metric, slack, pts, level, parent, dparent, root, group, found_p, found_d):
    """Attach one level's orphans in order (``attach_search`` found each one's candidate among the nodes
    attached before the group).  An orphan keeps its level when its parent is within 2**(level+1), else
    it is promoted to ``level_score(d) - 1``.  A promoted orphan may parent the group's later orphans (it
    is above their level); an orphan about to be promoted compares those, and the root, whose level may
    have been raised meanwhile, so that it hangs under the nearest node that may take it (what keeps
    separation for a promoted node).  The promoted ones are kept sorted by their distance to the root:
    by the triangle inequality only those whose root distance is within reach of the orphan's are
    compared.  With no candidate at all the root's level is raised until the root can take the orphan.
    Returns the number of promotions."""
    b = group.shape[0]
    keys = np.empty(b, dtype=np.float64)  # promoted orphans' distances to the root, ascending
    nodes = np.empty(b, dtype=np.int64)
    count = 0
    reach = 0.0  # the largest 2**level among the promoted
    for t in range(b):
        o = group[t]
        own = level[o]
        best, best_d = found_p[t], found_d[t]
        d_root = point_distance(metric, pts, o, pts, root)
        if level[root] > own and can_parent(level[root], d_root) and (
                d_root < best_d or (d_root == best_d and root < best)):
            best, best_d = root, d_root
        if count and (best < 0 or level_score(best_d) - 1 > own):
            at = np.searchsorted(keys[:count], d_root)
            for step in (-1, 1):
                j = at - 1 if step < 0 else at
                while 0 <= j < count and not beyond(abs(keys[j] - d_root), reach, slack, keys[j] + d_root):
                    y = nodes[j]
                    dy = point_distance(metric, pts, o, pts, y)
                    if can_parent(level[y], dy) and (dy < best_d or (dy == best_d and y < best)):
                        best, best_d = y, dy
                    j += step
        if best < 0:
            level[root] = max(level[root], own + 1, level_score(d_root))
            best, best_d = root, d_root
        new_level = max(own, level_score(best_d) - 1)
        level[o] = new_level
        parent[o] = best
        dparent[o] = best_d
        if new_level > own:
            at = np.searchsorted(keys[:count], d_root)
            keys[at + 1: count + 1] = keys[at:count].copy()
            nodes[at + 1: count + 1] = nodes[at:count].copy()
            keys[at] = d_root
            nodes[at] = o
            count += 1
            reach = max(reach, level_scale(new_level))
    return count
