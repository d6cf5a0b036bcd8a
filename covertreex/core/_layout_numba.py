"""Depth-first layout of a built tree: queries walk memory in the order they visit nodes."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.core._levels_numba import DUP_LEVEL


@nb.njit(cache=True)
def children_by_level(parent, level):
    """Children CSR of nodes given in build order: grouped by parent, each group by level (descending),
    then node number.  Returns (offsets, children).  Two stable counting sorts: by level rank (highest
    first, the duplicate level last), then by parent."""
    n = parent.shape[0]
    top, bottom = DUP_LEVEL, -DUP_LEVEL
    for v in range(n):
        if level[v] > DUP_LEVEL:
            top = max(top, level[v])
            bottom = min(bottom, level[v])
    span = max(top - bottom + 2, 1)
    rank = np.empty(n, dtype=np.int64)
    count = np.zeros(span + 1, dtype=np.int64)
    for v in range(n):
        rank[v] = top - level[v] if level[v] > DUP_LEVEL else span - 1
        if parent[v] >= 0:
            count[rank[v] + 1] += 1
    for r in range(span):
        count[r + 1] += count[r]
    by_level = np.empty(count[span], dtype=np.int64)
    for v in range(n):  # in node order: stable
        if parent[v] >= 0:
            by_level[count[rank[v]]] = v
            count[rank[v]] += 1
    ptr = np.zeros(n + 1, dtype=np.int64)
    for v in by_level:
        ptr[parent[v] + 1] += 1
    for v in range(n):
        ptr[v + 1] += ptr[v]
    fill = ptr[:n].copy()
    kids = np.empty(ptr[n], dtype=np.int64)
    for v in by_level:
        kids[fill[parent[v]]] = v
        fill[parent[v]] += 1
    return ptr, kids


@nb.njit(cache=True)
def relabel(perm, ptr, kids, parent):
    """Positions of nodes laid out in the order ``perm``: (position of each node, parent positions and
    children CSR by position)."""
    n = perm.shape[0]
    pos = np.empty(n, dtype=np.int64)
    for t in range(n):
        pos[perm[t]] = t
    new_parent = np.empty(n, dtype=np.int64)
    new_ptr = np.zeros(n + 1, dtype=np.int64)
    new_kids = np.empty(kids.shape[0], dtype=np.int64)
    for t in range(n):
        v = perm[t]
        new_parent[t] = pos[parent[v]] if parent[v] >= 0 else -1
        count = ptr[v + 1] - ptr[v]
        for e in range(count):
            new_kids[new_ptr[t] + e] = pos[kids[ptr[v] + e]]
        new_ptr[t + 1] = new_ptr[t] + count
    return pos, new_parent, new_ptr, new_kids


@nb.njit(cache=True)
def take(order, points, ids, parent_dist, radius):
    """Rows ``order`` of a node's points, ids, parent distances and radii, in one pass."""
    m, d = order.shape[0], points.shape[1]
    P = np.empty((m, d), dtype=points.dtype)
    I = np.empty(m, dtype=np.int64)
    D = np.empty(m)
    R = np.empty(m)
    for t in range(m):
        v = order[t]
        for j in range(d):
            P[t, j] = points[v, j]
        I[t] = ids[v]
        D[t] = parent_dist[v]
        R[t] = radius[v]
    return P, I, D, R


@nb.njit(cache=True)
def gather_layout(perm, kids, points, ids, level, parent_dist, radius):
    """The per-node arrays in the order ``perm``, and per child position in ``kids`` (children CSR by
    position) the copies a scan over a node's children reads: (points, ids, level, parent distance,
    radius, edge points, edge ids, edge parent distance, edge radius)."""
    P, I, D, R = take(perm, points, ids, parent_dist, radius)
    EP, EI, ED, ER = take(kids, P, I, D, R)
    return P, I, level[perm], D, R, EP, EI, ED, ER


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
