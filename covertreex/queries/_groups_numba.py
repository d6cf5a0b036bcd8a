"""Exact all-points k-NN in which groups of nearby queries share one tree walk.

A *group* is a tree node a with the subtrees of its last (lowest-level) children, taken backwards
while the group stays within a size cap and a few levels of its lowest child (``query_groups``).
Children are stored by level, descending, so those subtrees are one contiguous range of positions.
Groups are nested in *super-groups* built the same way with a larger cap.  Per super-group
(``group_chunk``):

1. **Seeds.**  Every member q computes its distance to its group's points and to a window of
   positions on each side of the group's range; the k-th smallest, tau_q, bounds its k-th neighbour
   distance from above.
2. **One walk.**  Every true neighbour y of q has d(s, y) <= d(s, q) + d(q, y) <= d(s, q) + tau_q for
   the super-group's node s, so one walk around s with the fixed bound T = max_q (d(s, q) + tau_q)
   collects every point a member can need (the shared walk of ``core._walk_numba``; subtrees of a
   few points are taken whole, without distances).
3. **Filter.**  Each group keeps the collected points within max_q (d(a, q) + tau_q) of its node a.
4. **Scans.**  Each member computes its distance to every candidate of its group in one pass
   (coordinates gathered as columns, one pass per coordinate vectorised over the candidates; float64 in ``point_sqdistance``'s order of operations, so the distances are bit-identical to the
   per-query search's), keeps those within tau_q (which tightens as it goes) and offers them to its
   top-k, ordered by (distance, id).

Every bound carries the rounding room of ``core._bounds_numba.beyond``, so no point that could tie or
beat a member's k-th neighbour is dropped.  A super-group whose walk collects more than ``crowd``
points per member (outliers, sparse clusters) is handed back, as are nodes no group took: those
queries walk on their own (``queries.knn``).  The walk is paid once per super-group instead of once
per query and the scans run at vector speed, which for low-dimensional data beats walking per query.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.core._bounds_numba import beyond
from covertreex.core._walk_numba import (COUNT_EVALS, COUNT_PARENT, COUNT_RADIUS, COUNT_VISITED, NUM_COUNTS, WalkRule,
                                         make_walk)
from covertreex.metrics._distance_numba import PRUNE_SLACK, SQ_SLACK, point_sqdistance
from covertreex.queries._knn_numba import ZERO, _knn_internal, _knn_reach, offer


# The collecting walk: ``ctx`` = (hits (positions), count (1 element), slack, whole).  A visited child
# within the bound is a hit; a subtree of at most ``whole`` points that the walk would enter is taken
# whole, without distances (the groups filter hits by distance anyway, in vectorised passes).  Hits
# beyond the buffer are counted, not stored: such a super-group is handed back (``group_chunk``).
@nb.njit(inline="always", cache=True)
def _never(tree, ctx, c):
    return False


@nb.njit(inline="always", cache=True)
def _record(ctx, c):
    hits, count = ctx[0], ctx[1]
    if count[0] < hits.shape[0]:
        hits[count[0]] = c
    count[0] += 1


@nb.njit(inline="always", cache=True)
def _hit_visit(tree, ctx, e, c, dc, tau):
    if not beyond(dc, tau, ctx[2], dc):
        _record(ctx, c)
    return tau


@nb.njit(inline="always", cache=True)
def _take_whole(tree, ctx, metric, q_pts, q, e, c, tau):
    size = tree.edge_size[e]
    if size > ctx[3]:
        return True, tau, 0
    for j in range(c + 1, c + size):  # c itself was visited
        _record(ctx, j)
    return False, tau, 0


_collect = make_walk(WalkRule(_never, _knn_reach, _hit_visit, _knn_internal, _knn_reach, _take_whole))


@nb.njit(cache=True, _nrt=False)
def _suffix(child_ptr, child_idx, subtree_end, level, first, stop, cap, span):
    """Of the child edges ``first .. stop-1`` (levels descending): the smallest s whose children
    s .. stop-1 hold at most ``cap`` points in their subtrees and lie at most ``span`` levels above the
    last child (so a group stays at one scale: a small far-off cluster is not pulled into it), and
    that number of points."""
    taken = 0
    s = stop
    while s > first:
        c = child_idx[s - 1]
        size = subtree_end[c] - c
        if taken + size > cap or level[c] > level[child_idx[stop - 1]] + span:
            break
        taken += size
        s -= 1
    return s, taken


@nb.njit(cache=True, _nrt=False)
def query_groups(child_ptr, child_idx, subtree_end, level, small, big, span, members, ptr, sptr, singles, big_todo,
                 todo):
    """Partition the tree's positions into groups of at most ``small`` points, nested in super-groups
    of at most ``big``; returns (groups, super-groups, lone nodes).

    Group g is ``members[ptr[g]:ptr[g + 1]]``: its node first, then a contiguous range of positions (the
    subtrees of the node's last children, ``_suffix``).  Super-group s is groups
    ``sptr[s] .. sptr[s + 1]-1``: one node with the subtrees of its last children under the larger cap,
    split into groups from that node down (the node itself may be lone; the super-group's walk is
    centred on its first group's node).  A node left alone (no children joined it) goes to ``singles``
    instead: it is answered on its own.  Buffers: ``members``, ``singles``, ``big_todo`` and ``todo`` of
    n entries, ``ptr`` and ``sptr`` of n + 1.
    """
    used = 0
    groups = 0
    supers = 0
    lone = 0
    ptr[0] = 0
    sptr[0] = 0
    big_todo[0] = 0
    big_pending = 1
    while big_pending > 0:
        big_pending -= 1
        top = big_todo[big_pending]
        split, _ = _suffix(child_ptr, child_idx, subtree_end, level, child_ptr[top], child_ptr[top + 1], big - 1, span)
        for e in range(split - 1, child_ptr[top] - 1, -1):  # first child on top of the stack
            big_todo[big_pending] = child_idx[e]
            big_pending += 1
        todo[0] = top
        pending = 1
        while pending > 0:
            pending -= 1
            b = todo[pending]
            first = split if b == top else child_ptr[b]
            s, taken = _suffix(child_ptr, child_idx, subtree_end, level, first, child_ptr[b + 1], small - 1, span)
            if taken == 0:
                singles[lone] = b
                lone += 1
            else:
                members[used] = b
                used += 1
                for j in range(subtree_end[b] - taken, subtree_end[b]):
                    members[used] = j
                    used += 1
                groups += 1
                ptr[groups] = used
            for e in range(s - 1, first - 1, -1):
                todo[pending] = child_idx[e]
                pending += 1
        if groups > sptr[supers]:
            supers += 1
            sptr[supers] = groups
    return groups, supers, lone


@nb.njit(cache=True, _nrt=False)  # calls, not inlined, here and below: each inlined copy costs compile time
def _sqdist(metric, pts, i, j):
    return point_sqdistance(metric, pts, i, pts, j)


@nb.njit(cache=True, _nrt=False)
def _push_sq(top, v):
    """Keep the smallest squared distances in ``top`` (ascending)."""
    pos = top.shape[0] - 1
    if v < top[pos]:
        while pos > 0 and top[pos - 1] > v:
            top[pos] = top[pos - 1]
            pos -= 1
        top[pos] = v


@nb.njit(cache=True, _nrt=False)
def _gather(pts, pos, count, out):
    """Coordinates of positions ``pos[:count]`` in float64, as the columns of ``out`` (d x n)."""
    for j in range(count):
        for u in range(pts.shape[1]):
            out[u, j] = np.float64(pts[pos[j], u])


@nb.njit(cache=True, _nrt=False)
def _sq_to_all(pts, q, coords, count, sq):
    """``sq[j]`` = squared distance from ``pts[q]`` to column j < count of ``coords`` (``_gather``): one
    pass per coordinate, vectorised over the columns, in ``point_sqdistance``'s order of operations."""
    for j in range(count):
        sq[j] = 0.0
    for u in range(pts.shape[1]):
        x = np.float64(pts[q, u])
        for j in range(count):
            diff = x - coords[u, j]
            sq[j] += diff * diff


@nb.njit(cache=True, _nrt=False)
def _seed(pts, q, coords, pos, count, sq, top):
    """The k-th smallest squared distance from ``pts[q]`` to the seed rows (``pos[:count]``, gathered in
    ``coords``) other than q itself, k = ``top.shape[0]`` (``top`` is scratch); +inf when fewer."""
    _sq_to_all(pts, q, coords, count, sq)
    last = top.shape[0] - 1
    for j in range(last + 1):
        top[j] = np.inf
    for j in range(count):
        if sq[j] < top[last] and pos[j] != q:
            _push_sq(top, sq[j])
    return top[last]


@nb.njit(cache=True, _nrt=False)
def _scan(pts, q, coords, pos, count, sq, surv, bound, best_d, best_i, ids):
    """Member q's top-k (``best_d``/``best_i``, by (distance, id)) among the candidates ``pos[:count]``
    (gathered in ``coords``) other than q, given that its k-th distance squared is at most ``bound``."""
    _sq_to_all(pts, q, coords, count, sq)
    # survivors within the bound, which tightens to the k-th smallest squared distance seen (floats
    # only); then the top-k from the survivors
    last = best_d.shape[0] - 1
    for j in range(last + 1):
        best_d[j] = np.inf
    kept = 0
    for j in range(count):
        if sq[j] <= bound and pos[j] != q:  # rarely true: a branch beats branch-free stores
            surv[kept] = j
            kept += 1
            if sq[j] < best_d[last]:
                _push_sq(best_d, sq[j])
                bound = min(bound, best_d[last] * SQ_SLACK)
    for j in range(last + 1):
        best_d[j] = np.inf
        best_i[j] = -1
    for u in range(kept):
        j = surv[u]
        if sq[j] <= bound:
            offer(best_d, best_i, math.sqrt(sq[j]), ids[pos[j]])


@nb.njit(inline="always", cache=True)
def _share(total, members):
    """A member's share of work done for ``members`` queries together (rounded up)."""
    return (total + members - 1) // members


@nb.njit(cache=True, _nrt=False)
def _room(reach, slack):
    """A bound widened by the rounding room of the tests that use it (``core._bounds_numba.beyond``)."""
    return reach * (1.0 + 4.0 * PRUNE_SLACK) + slack


@nb.njit(cache=True, nogil=True, _nrt=False)
def group_chunk(keys, nodes, aux, counts, scratch, best_d, best_i, metric, slack, view, groups, window, whole, crowd,
                out, deferred, deferred_count, s_start, s_stop):
    """Answer super-groups ``s_start .. s_stop-1`` (``groups`` = ``(members, ptr, sptr)`` of
    ``query_groups``): the k nearest other tree points of every member, written to row ``ids[member]``
    of ``out`` = ``(ids, distances, evals, counters)`` as ``queries._knn_numba.knn_chunk`` does.

    ``window``: positions on each side of a group's range that seed its bounds.  Workspace: the walk's
    (``core.walk.walk_workspace``), ``scratch`` (see ``queries.groups``) and the top-k ``best_d``/``best_i``.
    A member's evaluations are its seeds, its two distances to the group nodes and its scan, plus an
    equal share of its super-group's walk and its group's filter; the walk's counters are shared the same way.
    """
    pts, ids = view.points, view.ids
    n = pts.shape[0]
    members, ptr, sptr = groups
    hits, count, s_coords, near, g_pos, g_coords, sq, surv, tau_sq, to_node, w_pos, w_coords = scratch
    out_ids, out_dist, evals, counters = out
    k = best_d.shape[0]
    for sg in range(s_start, s_stop):
        first_g, stop_g = sptr[sg], sptr[sg + 1]
        base = ptr[first_g]
        top = members[base]
        # 1. seeds: tau_q bounds member q's k-th neighbour distance
        reach = 0.0
        for g in range(first_g, stop_g):
            lo, hi = ptr[g], ptr[g + 1]
            a = members[lo]
            r_lo = members[lo + 1] if hi - lo > 1 else a + 1  # the group's contiguous range
            w_lo = max(0, r_lo - window)
            w_hi = min(n, members[hi - 1] + 1 + window)
            nw = 0
            if hi - lo > 1 and (a < w_lo or a >= w_hi):  # a, when its range lies elsewhere
                w_pos[0] = a
                nw = 1
            for j in range(w_lo, w_hi):
                w_pos[nw] = j
                nw += 1
            _gather(pts, w_pos, nw, w_coords)
            for t in range(lo, hi):
                q = members[t]
                tau_sq[t - base] = _seed(pts, q, w_coords, w_pos, nw, sq, best_d)
                to_node[t - base] = math.sqrt(_sqdist(metric, pts, a, q))
                reach = max(reach, math.sqrt(_sqdist(metric, pts, top, q)) + math.sqrt(tau_sq[t - base]))
                evals[ids[q]] = nw - 1 + 2  # every member is among the seed rows; d(a, q), d(top, q)
        # 2. one walk around the super-group's node collects every point any member can need
        for j in range(NUM_COUNTS):
            counts[j] = 0
        count[0] = 0
        d0 = math.sqrt(_sqdist(metric, pts, top, ZERO))
        if not beyond(d0, reach, slack, d0):
            _record((hits, count), ZERO)
        _collect(view, (hits, count, slack, whole), metric, pts, top, slack, keys, nodes, aux, ZERO, d0, reach, counts)
        nh = count[0]
        size = ptr[stop_g] - base
        if nh > crowd * size or nh > hits.shape[0]:  # spread out (or more hits than stored): members walk alone
            for t in range(base, ptr[stop_g]):
                deferred[deferred_count[0]] = members[t]
                deferred_count[0] += 1
            continue
        _gather(pts, hits, nh, s_coords)
        share = _share(counts[COUNT_EVALS] + 1, size)
        for g in range(first_g, stop_g):
            lo, hi = ptr[g], ptr[g + 1]
            a = members[lo]
            # 3. the group's candidates: the hits within its own reach of its node
            g_reach = 0.0
            for t in range(lo, hi):
                g_reach = max(g_reach, to_node[t - base] + math.sqrt(tau_sq[t - base]))
            g_reach = _room(g_reach, slack)
            cut = g_reach * g_reach * SQ_SLACK
            _sq_to_all(pts, a, s_coords, nh, sq)
            nc = ZERO  # an int64 (a literal 0 here compiled the helpers below a second time)
            for j in range(nh):
                if sq[j] <= cut:
                    near[nc] = j
                    nc += 1
            for j in range(nc):
                g_pos[j] = hits[near[j]]
            _gather(pts, g_pos, nc, g_coords)
            g_share = share + _share(nh, hi - lo)
            # 4. each member scans the group's candidates within its own tau
            for t in range(lo, hi):
                q = members[t]
                _scan(pts, q, g_coords, g_pos, nc, sq, surv, tau_sq[t - base] * SQ_SLACK, best_d, best_i, ids)
                row = ids[q]
                for j in range(k):
                    out_ids[row, j] = best_i[j]
                    out_dist[row, j] = best_d[j]
                evals[row] += nc + g_share
                counters[row, 0] = _share(counts[COUNT_VISITED], size)
                counters[row, 1] = _share(counts[COUNT_RADIUS], size)
                counters[row, 2] = _share(counts[COUNT_PARENT], size)
                counters[row, 3] = 0
