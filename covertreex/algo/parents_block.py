"""The block parent search of an insertion round: for Euclidean points in 4 to ``BLOCK_MAX_DIM``
dimensions, where a tree walk evaluates a large share of the tree for every batch point (~36% at d=16),
the round's points, cut into k-d blocks, scan k-d leaves of the tree's nodes in vectorised passes instead
(``_parents_block_numba``).  The answers are the walk's: the nearest node that may parent each point,
ties to the lower position."""

from __future__ import annotations

import numpy as np

from covertreex.algo._parents_block_numba import block_parents
from covertreex.core._levels_numba import DUP_LEVEL
from covertreex.core.leaves import LEAF, Leaves, kd_leaves
from covertreex.core.tree import readonly_view
from covertreex.metrics.base import EUCLIDEAN
from covertreex.runtime.config import BLOCK_MAX_DIM, GRID_MAX_DIM
from covertreex.threads import each_in_threads

# Rounds with at least this many tree nodes and batch points: below it the walk costs little and cutting
# the tree into leaves (numpy, per round) would dominate.
BLOCK_PARENTS_MIN = 2_048
# ... and when a pilot of walks evaluates at least this share of the tree.  Measured (parent-search seconds
# of a fit, 2 cores, walk vs block): N(0, I) d=8 n=32,768 0.92 vs 0.59 (walks evaluate 13-25% of the tree
# in the big rounds); d=16 3.10 vs 1.47 (37-53%); d=32 n=16,384 1.81 vs 0.76 (97%); d=4 n=131,072 1.13 vs
# 0.98 (0.7-8%); a 3-D Gaussian in 8-D, n=131,072, 0.59 vs 1.21 (0.3-5%).
BLOCK_PARENTS_SHARE = 0.02


def block_parents_pay(kind: int, dim: int, tree_size: int, batch: int) -> bool:
    """Does a round of ``batch`` points into a tree of ``tree_size`` nodes search parents in blocks?"""
    return (kind == EUCLIDEAN and GRID_MAX_DIM < dim <= BLOCK_MAX_DIM and tree_size >= BLOCK_PARENTS_MIN
            and batch >= BLOCK_PARENTS_MIN)


def pilot_picks_blocks(evals_mean: float, tree_size: int) -> bool:
    """Do pilot walks that computed ``evals_mean`` distances each, in a tree of ``tree_size`` nodes, call
    for the block search (at least ``BLOCK_PARENTS_SHARE`` of the tree)?"""
    return evals_mean >= BLOCK_PARENTS_SHARE * tree_size


def block_tree_parents(pts: np.ndarray, level: np.ndarray, lo: int, hi: int):
    """For each batch point ``lo .. hi-1`` of ``pts``, the nearest of the tree nodes ``0 .. lo-1`` that may
    be its parent (``d <= 2**level``; ties: lower position), that distance and the distances computed —
    ``insert.find_tree_parents``'s outputs."""
    leaves = Leaves.of(pts[:lo], LEAF, screen=False)  # the tree's nodes; ids: their positions
    lv = level[:lo][leaves.ids]
    finite = lv > DUP_LEVEL
    reach = np.where(finite, np.ldexp(1.0, np.where(finite, lv, 0)), -1.0)
    cols = (leaves.P, leaves.ids, reach, leaves.starts, leaves.lo, leaves.hi,
            np.maximum.reduceat(reach, leaves.starts[:-1]))
    batch = np.asarray(pts[lo:hi], dtype=np.float64)
    qperm, qstarts = kd_leaves(batch, LEAF)
    R = np.ascontiguousarray(batch[qperm])
    b = hi - lo
    best_d = np.full(b, np.inf)
    best_p = np.full(b, -1, dtype=np.int64)
    evals = np.zeros(b, dtype=np.int64)
    args = tuple(map(readonly_view, cols))

    def work(j: int) -> None:
        block_parents(readonly_view(R), qstarts[j], qstarts[j + 1], *args, best_d, best_p, evals)

    each_in_threads(work, range(qstarts.shape[0] - 1))
    out_p, out_d, out_evals = np.empty_like(best_p), np.empty_like(best_d), np.empty_like(evals)
    out_p[qperm], out_d[qperm], out_evals[qperm] = best_p, best_d, evals
    return out_p, out_d, out_evals
