"""The traversal stacks of the k-NN and parent searches are sized once by ``stack_bound`` and never
grown (their kernels run without reference counting or bounds checks), so the bound must hold for
every tree: checked against an independent computation and against a simulated worst-case search."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHAPES, make_data

from covertreex import CoverTree, Runtime
from covertreex.core._stack_numba import stack_bound


def internal_children_on_paths(child_ptr: np.ndarray, child_idx: np.ndarray) -> np.ndarray:
    """For every node: internal children (children with children) summed over its root path, from parents."""
    n = child_ptr.shape[0] - 1
    parent = np.full(n, -1)
    for p in range(n):
        parent[child_idx[child_ptr[p] : child_ptr[p + 1]]] = p
    internal = np.diff(child_ptr) > 0
    own = np.array([internal[child_idx[child_ptr[p] : child_ptr[p + 1]]].sum() for p in range(n)])
    total = np.zeros(n, dtype=np.int64)
    for v in range(n):
        a = v
        while a >= 0:
            total[v] += own[a]
            a = parent[a]
    return total


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dim", [1, 3, 8])
def test_stack_bound_is_the_largest_path_sum_of_internal_children(shape, dim):
    tree = CoverTree(Runtime(seed=3)).fit(make_data(shape, 1500, dim, seed=dim)).arrays
    bound = stack_bound(tree.child_ptr, tree.child_idx, 0)
    assert bound == max(1, internal_children_on_paths(tree.child_ptr, tree.child_idx).max())
    assert tree.stack_size == bound  # the capacity the k-NN search allocates


def test_depth_first_search_that_never_prunes_stays_within_the_bound():
    for shape in SHAPES:
        tree = CoverTree(Runtime()).fit(make_data(shape, 800, 2, seed=1)).arrays
        ptr, idx = tree.child_ptr, tree.child_idx
        most, stack = 1, [0]
        while stack:
            p = stack.pop()
            stack.extend(c for c in idx[ptr[p] : ptr[p + 1]] if ptr[c + 1] > ptr[c])
            most = max(most, len(stack))
        assert most <= stack_bound(ptr, idx, 0)


def test_stack_bound_of_tiny_trees():
    ptr = np.array([0, 0], dtype=np.int64)  # one node
    assert stack_bound(ptr, np.zeros(1, dtype=np.int64), 0) == 1
    # a chain 0 -> 1 -> 2 -> 3: one internal child per level, but only one entry at a time
    ptr = np.array([0, 1, 2, 3, 3], dtype=np.int64)
    idx = np.array([1, 2, 3], dtype=np.int64)
    assert stack_bound(ptr, idx, 0) == 2  # 0 has internal child 1, 1 has internal child 2
    # a star of leaves needs only the root's entry
    ptr = np.array([0, 4, 4, 4, 4, 4], dtype=np.int64)
    assert stack_bound(ptr, np.array([1, 2, 3, 4], dtype=np.int64), 0) == 1
