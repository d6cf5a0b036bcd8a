"""``PCCTree``: an immutable compressed cover tree stored as flat arrays in depth-first order.

Position 0 is the root.  Every array is read-only; an update builds new arrays (see ``algo.insert``),
so any number of versions can share nothing mutable and stay valid side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from covertreex.core._layout_numba import (children_by_level, gather_layout, preorder, relabel, subtree_end,
                                          subtree_min)
from covertreex.core._stack_numba import stack_bound


def readonly_view(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``.  Tree arrays are read-only, so kernels given read-only views of other
    arrays too compile one signature, not a second for writable ones."""
    v = a.view()
    v.setflags(write=False)
    return v


class TreeView(NamedTuple):
    """The arrays a tree walk reads, as one value the Numba kernels take (fields as in ``PCCTree``)."""

    points: np.ndarray
    ids: np.ndarray
    radius: np.ndarray
    min_id: np.ndarray
    child_ptr: np.ndarray
    child_idx: np.ndarray
    edge_points: np.ndarray
    edge_radius: np.ndarray
    edge_parent_dist: np.ndarray
    edge_ids: np.ndarray
    edge_size: np.ndarray


@dataclass(frozen=True, eq=False)
class PCCTree:
    """Flat arrays of a compressed cover tree, indexed by position (depth-first pre-order)."""

    points: np.ndarray  # (n, d) stored coordinates/features
    ids: np.ndarray  # (n,) int64 point id of each position
    level: np.ndarray  # (n,) int64 level (DUP_LEVEL for exact duplicates)
    parent: np.ndarray  # (n,) int64 parent position, -1 for the root
    parent_dist: np.ndarray  # (n,) float64 distance to the parent
    radius: np.ndarray  # (n,) float64 max distance from the node to any descendant
    child_ptr: np.ndarray  # (n+1,) CSR offsets of children (by level, descending)
    child_idx: np.ndarray  # children positions
    min_id: np.ndarray  # (n,) smallest point id in each subtree
    position_of: np.ndarray  # (n,) position of each point id
    subtree_end: np.ndarray  # (n,) one past the last position of each node's subtree (contiguous)
    # Per child, in children (CSR) order: copies that make a scan over a node's children contiguous.
    edge_points: np.ndarray  # (n-1, d)
    edge_radius: np.ndarray
    edge_parent_dist: np.ndarray
    edge_ids: np.ndarray
    edge_size: np.ndarray  # number of points in the child's subtree (> 1: it has children)

    @property
    def num_points(self) -> int:
        return int(self.ids.shape[0])

    @property
    def dimension(self) -> int:
        return int(self.points.shape[1])

    @cached_property
    def stack_size(self) -> int:
        """Capacity of a depth-first traversal stack of this tree (``stack_bound``), derived once per
        version and never stored in files, so a loaded tree gets it from its own arrays."""
        return int(stack_bound(self.child_ptr, self.child_idx, 0))

    @cached_property
    def view(self) -> TreeView:
        """The arrays the walks read, bundled for the kernels."""
        return TreeView(self.points, self.ids, self.radius, self.min_id, self.child_ptr, self.child_idx,
                        self.edge_points, self.edge_radius, self.edge_parent_dist, self.edge_ids, self.edge_size)

    @staticmethod
    def from_build_arrays(points, ids, level, parent, parent_dist, radius) -> PCCTree:
        """Lay out arrays given in insertion order (node 0 = root) depth-first, children by level."""
        n = ids.shape[0]
        ptr, kids = children_by_level(parent, level)
        perm = preorder(0, ptr, kids, n)
        _, new_parent, new_ptr, new_child = relabel(perm, ptr, kids, parent)
        kids = new_child[: n - 1]
        points, new_ids, level, parent_dist, radius, edge_points, edge_ids, edge_dist, edge_radius = gather_layout(
            perm, kids, points, ids, level, parent_dist, radius)
        position_of = np.empty(n, dtype=np.int64)
        position_of[new_ids] = np.arange(n, dtype=np.int64)
        end = subtree_end(new_parent)
        arrays = {
            "points": points, "ids": new_ids, "level": level, "parent": new_parent, "parent_dist": parent_dist,
            "radius": radius, "child_ptr": new_ptr, "child_idx": new_child,
            "min_id": subtree_min(new_ids, new_parent), "position_of": position_of, "subtree_end": end,
            "edge_points": edge_points, "edge_radius": edge_radius, "edge_parent_dist": edge_dist,
            "edge_ids": edge_ids, "edge_size": end[kids] - kids,
        }
        for a in arrays.values():
            a.setflags(write=False)
        return PCCTree(**arrays)

    def build_arrays(self):
        """Writable copies in position order (position 0 = root), the input format of an insert."""
        return (
            self.points.copy(),
            self.ids.copy(),
            self.level.copy(),
            self.parent.copy(),
            self.parent_dist.copy(),
            self.radius.copy(),
        )
