"""The dense conflict graph: all pairs of the round, O(b^2) distances; the reference, any metric."""

from __future__ import annotations

from dataclasses import dataclass

from covertreex.algo.conflict._dense_numba import dense_neighbours


@dataclass(frozen=True)
class DenseConflictGraph:
    """All pairs of the round: O(b^2) distances; the reference, any metric."""

    name: str = "dense"

    def neighbours(self, metric, pts, lo, hi, reach, root, slack=0.0):
        return dense_neighbours(metric, pts, lo, hi, reach)
