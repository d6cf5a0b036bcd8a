"""A fixed-capacity stack of (key, node, aux) entries on parallel arrays, for depth-first traversals.

``key`` is the entry's lower bound (re-checked when popped), ``node`` a tree position and ``aux`` the
query-to-node distance.  The stack is never grown: its capacity comes from ``stack_bound``, so the
traversal kernels allocate nothing and can be compiled without Numba's reference counting
(``_nrt=False``), which keeps reference-count updates out of their hot loops.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.core._layout_numba import preorder


@nb.njit(inline="always", cache=True)
def stack_put(keys, nodes, aux, size, key, node, value):
    """Push onto a stack with room for it (capacity from ``stack_bound``); returns the new size."""
    keys[size] = key
    nodes[size] = node
    aux[size] = value
    return size + 1


@nb.njit(inline="always", cache=True)
def stack_pop(keys, nodes, aux, size):
    """Take the top entry: returns (new size, key, node, aux)."""
    size -= 1
    return size, keys[size], nodes[size], aux[size]


@nb.njit(cache=True)
def stack_bound(child_ptr, child_idx, root):
    """Most entries a depth-first search from ``root`` can hold when it starts from the root alone and,
    for each node it pops, pushes some of that node's *internal* children (those with children of their
    own): the largest count of internal children summed along a root-to-node path, at least 1.

    While node x_j is being expanded the stack holds unpopped children of x_0 = root, x_1, ..., x_j, each
    x_i a child of x_(i-1): never more than the internal children of the nodes on one path.
    """
    n = child_ptr.shape[0] - 1
    total = np.zeros(n, dtype=np.int64)
    most = 1
    for p in preorder(root, child_ptr, child_idx, n):  # parents before their children
        for e in range(child_ptr[p], child_ptr[p + 1]):
            c = child_idx[e]
            if child_ptr[c + 1] > child_ptr[c]:
                total[p] += 1
        most = max(most, total[p])
        for e in range(child_ptr[p], child_ptr[p + 1]):
            total[child_idx[e]] = total[p]
    return most


@nb.njit(inline="always", cache=True)
def stack_sort_top(keys, nodes, aux, start, size):
    """Sort entries ``start .. size-1`` by decreasing key, so the smallest key is popped first."""
    for i in range(start + 1, size):
        key = keys[i]
        node = nodes[i]
        value = aux[i]
        j = i - 1
        while j >= start and keys[j] < key:
            keys[j + 1] = keys[j]
            nodes[j + 1] = nodes[j]
            aux[j + 1] = aux[j]
            j -= 1
        keys[j + 1] = key
        nodes[j + 1] = node
        aux[j + 1] = value
