"""The segmented conflict graph (any metric): windows of the round sorted by distance to pivots.

|d(x, p) - d(y, p)| <= d(x, y) for every pivot p, so x's candidates lie in one window of the order
sorted by the first pivot's distance and must pass the same test for the other pivots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from covertreex.algo.conflict._segmented_numba import farthest_pivots, pivot_keys, segmented_neighbours

SEGMENT_PIVOTS = 4


@dataclass(frozen=True)
class SegmentedConflictGraph:
    """Windows of the batch sorted by distance to pivots (triangle inequality); any metric."""

    name: str = "segmented"

    def neighbours(self, metric, pts, lo, hi, reach, root, slack=0.0):
        pivots = farthest_pivots(metric, pts, lo, hi, root, SEGMENT_PIVOTS)
        keys = pivot_keys(metric, pts, lo, hi, pivots)
        order = np.argsort(keys[:, 0], kind="stable").astype(np.int64)
        return segmented_neighbours(metric, slack, pts, lo, hi, reach, keys, order)
