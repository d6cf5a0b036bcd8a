"""The Python side of the tree walk (``core._walk_numba``): the scratch arrays one walking call uses."""

from __future__ import annotations

import numpy as np

from covertreex.core._walk_numba import NUM_COUNTS


def walk_workspace(stack_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A traversal stack of ``stack_size`` entries (keys, nodes, aux: ``core._stack_numba``'s layout) and
    the walk's ``NUM_COUNTS`` counters, for one search kernel call at a time."""
    return (np.empty(stack_size, dtype=np.float64), np.empty(stack_size, dtype=np.int64),
            np.empty(stack_size, dtype=np.float64), np.empty(NUM_COUNTS, dtype=np.int64))
