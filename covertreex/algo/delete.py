"""Batch deletion from a compressed cover tree: a new tree without the given points.

Removing a node leaves its surviving children as *orphans*: roots of detached subtrees that keep their
inner structure.  They are re-attached level by level, highest first (the mirror of insertion's
top-down placement): in parallel, each orphan of a level finds its nearest attached node above its
level that may parent it (d <= 2**level of the parent); then, in order, it keeps its level when that
node is within 2**(level+1), or is promoted just high enough to hang there.  Levels other than the
promoted orphans' are untouched, so separation among them holds as it held before; a promoted orphan
is the nearest admissible node's child, which keeps separation for it (an attached node of its new
level within 2**level would have been a nearer admissible parent).  When no node can take an orphan the
root's level is raised.  A deleted root is replaced by its highest orphan.  Radii are recomputed
exactly at the end; ids are renumbered by rank (the caller keeps the mapping to the user's ids), which
keeps their order, so predecessor queries need nothing new.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from covertreex.algo._delete_numba import attach_search, exact_radii, grow_radii, place_group, surviving_ancestors
from covertreex.algo.insert import CHUNKS_PER_THREAD, build_view
from covertreex.core.tree import PCCTree

# Orphans attached since the re-attachment view was built are walked from their own roots; past this many
# the view is rebuilt (O(n)) instead: a rebuild at n=131,072 costs about as much as ~10^3 root tests per orphan.
PENDING_LIMIT = 1024


class AttachView(NamedTuple):
    """``BuildView``'s fields plus every node's level (the re-attachment walk skips nodes at or below the
    orphan's level)."""

    radius: np.ndarray
    child_ptr: np.ndarray
    child_idx: np.ndarray
    edge_points: np.ndarray
    edge_reach: np.ndarray
    edge_radius: np.ndarray
    edge_parent_dist: np.ndarray
    edge_internal: np.ndarray
    edge_subtree_reach: np.ndarray
    level: np.ndarray


class DeleteStats(NamedTuple):
    """What one deletion did."""

    deleted: int
    orphans: int  # surviving nodes whose parent was deleted (re-attached)
    promoted: int  # orphans whose level was raised to re-attach them
    levels: int  # orphan levels processed (one parallel search each)
    root_replaced: bool


def delete_points(tree: PCCTree, gone: np.ndarray, metric) -> tuple[PCCTree, DeleteStats]:
    """The tree without the points of ids ``gone`` (sorted, unique, in range, fewer than all); the
    survivors' ids become their ranks (0..n'-1, order kept)."""
    slots = metric.slots
    n = tree.num_points
    pts, ids, level, parent, dparent, radius = tree.build_arrays()
    dead = np.zeros(n, dtype=bool)
    dead[tree.position_of[gone]] = True
    keep = ~dead
    orphaned = np.zeros(n, dtype=bool)
    orphaned[1:] = keep[1:] & dead[parent[1:]]
    new_position = np.cumsum(keep) - 1
    linked = keep & ~orphaned & (parent >= 0)
    parent = np.where(linked, new_position[np.maximum(parent, 0)], -1)[keep]
    pts, ids, level, dparent, radius = (a[keep] for a in (pts, ids, level, dparent, radius))
    survivor = np.ones(n, dtype=bool)
    survivor[gone] = False
    ids = (np.cumsum(survivor) - 1)[ids]
    orphans = np.flatnonzero(orphaned[keep])
    root = 0
    if dead[0]:  # the highest orphan (first in depth-first order among equals) becomes the root
        root = int(orphans[np.argmax(level[orphans])])
        orphans = orphans[orphans != root]
        dparent[root] = 0.0
    old_orphans = np.flatnonzero(orphaned)
    seeds = surviving_ancestors(tree.parent, dead, old_orphans)
    seed_of = np.full(pts.shape[0], -1, dtype=np.int64)
    seed_of[new_position[old_orphans]] = np.where(seeds >= 0, new_position[np.maximum(seeds, 0)], -1)
    order = orphans[np.lexsort((orphans, -level[orphans]))]
    starts = np.flatnonzero(np.r_[True, np.diff(level[order]) != 0]) if order.size else np.zeros(0, dtype=np.int64)
    slack = metric.prune_slack(pts)
    promoted = 0
    view, pending = None, order[:0]
    for lo, hi in zip(starts, np.r_[starts[1:], order.size]):
        group = order[lo:hi]
        if view is None or pending.size > PENDING_LIMIT:
            # the view reads the live levels (promotions and root raises happen in place); its per-edge
            # copies are stale only for subtrees that grew since, and those growths are pending subtrees,
            # which are walked from their own roots
            view = AttachView(*build_view(pts, level, parent, radius, dparent, pts.shape[0]), level)
            stack_size = int(np.count_nonzero(view.edge_internal)) + 1
            pending = order[:0]
        found_p, found_d = attach_search(slots, slack, pts, parent, group, seed_of[group], pending, view, root,
                                         stack_size, CHUNKS_PER_THREAD * numba.get_num_threads())
        promoted += place_group(slots, slack, pts, level, parent, dparent, root, group, found_p, found_d)
        grow_radii(slots, pts, parent, radius, group)
        pending = np.r_[pending, group]
    radius = exact_radii(slots, pts, parent, numba.get_num_threads())
    if root != 0:  # the layout wants the root first
        perm = np.r_[root, np.delete(np.arange(pts.shape[0]), root)]
        inverse = np.empty_like(perm)
        inverse[perm] = np.arange(perm.size)
        pts, ids, level, dparent, radius = (a[perm] for a in (pts, ids, level, dparent, radius))
        parent = np.where(parent[perm] >= 0, inverse[np.maximum(parent[perm], 0)], -1)
    stats = DeleteStats(int(gone.size), int(orphans.size + dead[0]), promoted, int(starts.size), bool(dead[0]))
    return PCCTree.from_build_arrays(pts, ids, level, parent, dparent, radius), stats
