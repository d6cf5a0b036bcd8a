"""A growable stack of (key, node, aux) entries on parallel arrays, for depth-first traversals.

``key`` is the entry's lower bound (re-checked when popped), ``node`` a tree position and ``aux`` the
query-to-node distance.  Functions return the (possibly re-allocated) arrays so one workspace serves
many traversals.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def stack_new(capacity):
    return (
        np.empty(capacity, dtype=np.float64),
        np.empty(capacity, dtype=np.int64),
        np.empty(capacity, dtype=np.float64),
    )


@nb.njit(inline="always", cache=True)
def stack_push(keys, nodes, aux, size, key, node, value):
    if size == keys.shape[0]:
        k2 = np.empty(2 * size, dtype=np.float64)
        n2 = np.empty(2 * size, dtype=np.int64)
        a2 = np.empty(2 * size, dtype=np.float64)
        for t in range(size):  # element loops: a slice copy here trips Numba's parfor size check
            k2[t] = keys[t]
            n2[t] = nodes[t]
            a2[t] = aux[t]
        keys, nodes, aux = k2, n2, a2
    keys[size] = key
    nodes[size] = node
    aux[size] = value
    return keys, nodes, aux, size + 1


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
