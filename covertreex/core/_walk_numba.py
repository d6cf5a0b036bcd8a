"""The one depth-first walk of a cover tree, shared by the k-NN search and the build's parent search.

A walk starts at a node whose distance to the query is known and keeps a bound ``tau``: nothing
farther than ``tau`` is of interest.  Popped nodes are expanded child by child, with two
triangle-inequality tests (both through ``beyond``, so rounding can never drop a candidate):

* the parent-distance test ``|d(q, p) - d(p, c)| - radius(c)`` cuts a child without computing d(q, c);
* the radius test ``d(q, c) - radius(c)`` cuts the child's subtree (at push, and again at pop, where
  ``tau`` may have shrunk meanwhile).

Euclidean rows of ``EARLY_EXIT_DIM`` or more coordinates stop a child's distance as soon as a partial
sum shows that the child can neither be visited (``d(q, c)`` above ``reach``: every rule's ``visit``
takes only children within it) nor have its subtree entered (above ``subtree_reach + radius(c)``), with
the same rounding room as ``beyond``.  A distance that is not stopped is the full sum, bit for bit.

What differs between searches is a ``WalkRule``: a bundle of small jitted functions the walk calls at
fixed points.  ``make_walk(rule)`` compiles the walk for one rule: the rule's functions are fixed in
the closure, so they are called directly (and inlined), never handled as values — a function value
would pin an address in the machine code and stop Numba from caching it.

The tree is any named bundle with the fields ``radius`` (per node), ``child_ptr``/``child_idx``
(children CSR) and, per child in CSR order, ``edge_points``, ``edge_radius`` and ``edge_parent_dist``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb

from covertreex.core._bounds_numba import beyond
from covertreex.core._stack_numba import stack_pop, stack_put, stack_sort_top
from covertreex.metrics._distance_numba import (PRUNE_SLACK, SQ_SLACK, euclidean_sqdistance_below, point_distance,
                                                stops_partial_sums)


class WalkRule(NamedTuple):
    """What a search decides at the walk's fixed points (each a jitted function).

    ``skip(tree, ctx, c)``: child position c is cut whole before any distance (e.g. predecessor limits).
    ``reach(tree, e, tau)``: the bound the parent-distance test of child edge e compares with.
    ``visit(tree, ctx, e, c, dc, tau)``: d(q, c) = dc was computed; returns the new ``tau``.
    ``internal(tree, e)``: the child of edge e has children of its own.
    ``subtree_reach(tree, e, tau)``: the bound the radius test of the child's subtree compares with.
    ``descend(tree, ctx, metric, q_pts, q, e, c, tau)``: the child's subtree passed the radius test;
    returns (push it?, new tau, distances computed) — a rule may scan a small subtree itself instead.
    """

    skip: object
    reach: object
    visit: object
    internal: object
    subtree_reach: object
    descend: object


# columns of the traversal counters a walk returns (``walk``'s ``counts`` argument)
COUNT_EVALS, COUNT_VISITED, COUNT_RADIUS, COUNT_PARENT, COUNT_SKIPPED = range(5)
NUM_COUNTS = 5


def make_walk(rule: WalkRule):
    """The walk of one rule (compiled once per rule, cached)."""
    skip, reach, visit, internal, subtree_reach, descend = rule

    @nb.njit(cache=True, _nrt=False)
    def walk(tree, ctx, metric, q_pts, q, slack, keys, nodes, aux, root, d_root, tau, counts):
        """Walk the subtree of ``root`` (d(q, root) = ``d_root``, the root itself already visited) in a
        stack of ``stack_bound`` entries; returns the final ``tau``.  ``counts`` (int64, ``NUM_COUNTS``) is
        incremented: distances computed, nodes expanded, subtrees cut by the radius test, children cut by
        the parent-distance test, children skipped by the rule.

        Compiled without reference counting (no reference-count updates in the loop over children) and
        called, not inlined, from a search's chunk kernel: one call per query costs nothing measurable,
        while Numba's IR inlining of this body cost seconds of cold compilation.
        """
        radius, child_ptr, child_idx = tree.radius, tree.child_ptr, tree.child_idx
        edge_points, edge_radius, edge_parent_dist = tree.edge_points, tree.edge_radius, tree.edge_parent_dist
        n_eval = 0
        n_visit = 0
        n_radius = 0
        n_parent = 0
        n_skip = 0
        size = 0
        early = stops_partial_sums(metric, q_pts)
        if child_ptr[root + 1] > child_ptr[root]:
            size = stack_put(keys, nodes, aux, 0, d_root - radius[root], root, d_root)
        while size > 0:
            size, lb, p, dp = stack_pop(keys, nodes, aux, size)
            if beyond(lb, tau, slack, dp + radius[p]):
                n_radius += 1
                continue
            n_visit += 1
            pushed_from = size
            for e in range(child_ptr[p], child_ptr[p + 1]):
                c = child_idx[e]
                if skip(tree, ctx, c):
                    n_skip += 1
                    continue
                rc = edge_radius[e]
                dpc = edge_parent_dist[e]
                if beyond(abs(dp - dpc) - rc, reach(tree, e, tau), slack, dp + dpc + rc):
                    n_parent += 1
                    continue
                n_eval += 1
                if early:
                    far = reach(tree, e, tau)
                    if internal(tree, e):
                        far = max(far, subtree_reach(tree, e, tau) + rc)
                    far += slack + PRUNE_SLACK * (2.0 * far + 2.0 * rc)
                    cut = far * far * SQ_SLACK
                    sc = euclidean_sqdistance_below(q_pts, q, edge_points, e, cut)
                    if sc > cut:  # farther than anything the child could be used for
                        if internal(tree, e):  # its subtree is cut (a leaf child is merely not visited)
                            n_radius += 1
                        continue
                    dc = math.sqrt(sc)
                else:
                    dc = point_distance(metric, q_pts, q, edge_points, e)
                tau = visit(tree, ctx, e, c, dc, tau)
                if not internal(tree, e):
                    continue
                if beyond(dc - rc, subtree_reach(tree, e, tau), slack, dc + rc):
                    n_radius += 1
                    continue
                push, tau, scanned = descend(tree, ctx, metric, q_pts, q, e, c, tau)
                n_eval += scanned
                if push:
                    size = stack_put(keys, nodes, aux, size, dc - rc, c, dc)
            stack_sort_top(keys, nodes, aux, pushed_from, size)
        counts[COUNT_EVALS] += n_eval
        counts[COUNT_VISITED] += n_visit
        counts[COUNT_RADIUS] += n_radius
        counts[COUNT_PARENT] += n_parent
        counts[COUNT_SKIPPED] += n_skip
        return tau

    return walk
