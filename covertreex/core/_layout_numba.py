"""Depth-first layout of a built tree: queries walk memory in the order they visit nodes."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def preorder(root, child_ptr, child_idx, n):
    """Depth-first pre-order of the nodes reachable from ``root`` (children visited in their CSR order)."""
    order = np.empty(n, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    top = 0
    stack[0] = root
    top = 1
    pos = 0
    while top > 0:
        top -= 1
        v = stack[top]
        order[pos] = v
        pos += 1
        # push in reverse so the first child is visited first
        for e in range(child_ptr[v + 1] - 1, child_ptr[v] - 1, -1):
            stack[top] = child_idx[e]
            top += 1
    return order[:pos]


@nb.njit(cache=True)
def subtree_min(values, parent_pos):
    """Minimum of ``values`` over each node's subtree, for arrays in pre-order (parents first)."""
    out = values.copy()
    for v in range(values.shape[0] - 1, 0, -1):
        p = parent_pos[v]
        if out[v] < out[p]:
            out[p] = out[v]
    return out


@nb.njit(cache=True)
def subtree_end(parent_pos):
    """One past the last position of each subtree, for arrays in pre-order (subtrees are contiguous)."""
    n = parent_pos.shape[0]
    size = np.ones(n, dtype=np.int64)
    for v in range(n - 1, 0, -1):
        size[parent_pos[v]] += size[v]
    return np.arange(n) + size
