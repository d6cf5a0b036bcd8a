"""A growable binary min-heap on parallel arrays, for best-first tree traversals.

Entries are (key, node, aux): ``key`` orders the heap, ``node`` is a tree node index and ``aux`` a
float carried along (the query-to-node distance).  Functions return the (possibly re-allocated)
arrays so a caller can keep one workspace for many traversals.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def heap_new(capacity):
    return (
        np.empty(capacity, dtype=np.float64),
        np.empty(capacity, dtype=np.int64),
        np.empty(capacity, dtype=np.float64),
    )


@nb.njit(inline="always", cache=True)
def heap_push(keys, nodes, aux, size, key, node, value):
    if size == keys.shape[0]:
        cap = 2 * keys.shape[0]
        k2 = np.empty(cap, dtype=np.float64)
        n2 = np.empty(cap, dtype=np.int64)
        a2 = np.empty(cap, dtype=np.float64)
        k2[:size] = keys[:size]
        n2[:size] = nodes[:size]
        a2[:size] = aux[:size]
        keys, nodes, aux = k2, n2, a2
    pos = size
    while pos > 0:
        up = (pos - 1) >> 1
        if keys[up] <= key:
            break
        keys[pos] = keys[up]
        nodes[pos] = nodes[up]
        aux[pos] = aux[up]
        pos = up
    keys[pos] = key
    nodes[pos] = node
    aux[pos] = value
    return keys, nodes, aux, size + 1


@nb.njit(inline="always", cache=True)
def heap_pop(keys, nodes, aux, size):
    """Remove the minimum; returns (key, node, aux, new_size).  ``size`` must be > 0."""
    top_key = keys[0]
    top_node = nodes[0]
    top_aux = aux[0]
    size -= 1
    if size > 0:
        key = keys[size]
        node = nodes[size]
        value = aux[size]
        pos = 0
        while True:
            child = 2 * pos + 1
            if child >= size:
                break
            if child + 1 < size and keys[child + 1] < keys[child]:
                child += 1
            if keys[child] >= key:
                break
            keys[pos] = keys[child]
            nodes[pos] = nodes[child]
            aux[pos] = aux[child]
            pos = child
        keys[pos] = key
        nodes[pos] = node
        aux[pos] = value
    return top_key, top_node, top_aux, size
