"""``check_tree``: verify every compressed-cover-tree invariant and stored quantity of a ``PCCTree``.

Raises ``AssertionError`` naming the point ids, levels and distances involved.  Cost is O(n^2)
distances for the separation check: meant for tests and diagnostics, not for hot paths.
"""

from __future__ import annotations

import numpy as np

from covertreex.core._invariants_numba import first_cover_violation, first_radius_violation, separation_violations
from covertreex.core._layout_numba import subtree_min
from covertreex.core._levels_numba import DUP_LEVEL
from covertreex.core.tree import PCCTree


def _fail(message: str) -> None:
    raise AssertionError(f"cover tree invariant violated: {message}")


def rooted_problem(ids: np.ndarray, parent: np.ndarray) -> str | None:
    """What keeps position-ordered ``ids`` and ``parent`` positions from being a depth-first tree rooted
    at position 0 with ids 0..n-1 (None when nothing does).  Checked on every tree file before the
    derived arrays are built from them."""
    n = ids.shape[0]
    if parent[0] != -1:
        return f"position 0 (id {ids[0]}) is not the root: parent {parent[0]}"
    if n > 1 and (np.any(parent[1:] < 0) or np.any(parent[1:] >= np.arange(1, n))):
        bad = int(np.argmax((parent[1:] < 0) | (parent[1:] >= np.arange(1, n)))) + 1
        return f"id {ids[bad]}: parent position {parent[bad]} is not an earlier node (depth-first layout)"
    if not np.array_equal(np.sort(ids), np.arange(n)):
        return f"ids are not a permutation of 0..{n - 1}"
    return None


def _check_structure(t: PCCTree) -> None:
    n = t.num_points
    problem = rooted_problem(t.ids, t.parent)
    if problem:
        _fail(problem)
    if not np.array_equal(t.position_of[t.ids], np.arange(n)):
        _fail("position_of does not invert ids")
    if t.child_ptr[0] != 0 or t.child_ptr[-1] != n - 1 or np.any(np.diff(t.child_ptr) < 0):
        _fail("child offsets are not a valid CSR index over n - 1 children")
    owner = np.repeat(np.arange(n), np.diff(t.child_ptr))
    kids = t.child_idx[: n - 1]
    if not np.array_equal(np.sort(kids), np.arange(1, n)) or np.any(t.parent[kids] != owner):
        _fail("children lists disagree with parent pointers")
    same_owner = owner[1:] == owner[:-1]
    if np.any(same_owner & (t.level[kids[1:]] > t.level[kids[:-1]])):
        _fail("children are not ordered by level (descending)")
    if not np.array_equal(subtree_min(t.ids, t.parent), t.min_id):
        _fail("stored subtree minimum ids are wrong")


def check_tree(t: PCCTree, metric) -> None:
    slots, pts = metric.slots, t.points
    _check_structure(t)
    code, c = first_cover_violation(slots, pts, t.level, t.parent, t.parent_dist)
    if code:
        p = t.parent[c]
        what = {
            1: f"parent level {t.level[p]} is not above child level {t.level[c]}",
            2: f"stored parent distance {t.parent_dist[c]!r} differs from the recomputed one",
            3: f"distance {t.parent_dist[c]!r} to the parent exceeds 2**(level+1) for level {t.level[c]}",
        }[code]
        _fail(f"cover: id {t.ids[c]} under id {t.ids[p]}: {what}")
    x, a = first_radius_violation(slots, pts, t.parent, t.radius)
    if x >= 0:
        _fail(f"radius: id {t.ids[x]} lies outside the stored radius {t.radius[a]!r} of its ancestor id {t.ids[a]}")
    sep = separation_violations(slots, pts, t.level)
    bad = np.flatnonzero(sep >= 0)
    if bad.size:
        x = int(bad[0])
        y = int(sep[x])
        _fail(
            f"separation at level {t.level[x]}: ids {t.ids[x]} (level {t.level[x]}) and {t.ids[y]} "
            f"(level {t.level[y]}) are within 2**{t.level[x]}"
        )
    dup = np.flatnonzero(t.level == DUP_LEVEL)
    if dup.size and np.any(t.parent_dist[dup] != 0.0):
        _fail("a node at the duplicate level is not at distance 0 from its parent")


def check_loaded(t: PCCTree, metric) -> None:
    """The checks a tree read from a file gets (O(n log n), no O(n^2) separation scan): structure,
    levels and cover, and every stored parent distance and radius against the recomputed distances —
    what the searches' pruning relies on."""
    _check_structure(t)
    code, c = first_cover_violation(metric.slots, t.points, t.level, t.parent, t.parent_dist)
    if code:
        _fail(f"cover (code {code}) at id {t.ids[c]} under id {t.ids[t.parent[c]]}")
    x, a = first_radius_violation(metric.slots, t.points, t.parent, t.radius)
    if x >= 0:
        _fail(f"radius: id {t.ids[x]} lies outside the stored radius {t.radius[a]!r} of its ancestor id {t.ids[a]}")
