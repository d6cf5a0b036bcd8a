"""The Euclidean metric as seen by the tree kernels: a kind code and an (empty) parameter vector."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from covertreex.metrics._distance_numba import EUCLIDEAN


@dataclass(frozen=True)
class EuclideanMetric:
    name: str = "euclidean"
    kind: int = EUCLIDEAN
    params: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.float64))
    order_dims: int | None = None  # every column is a coordinate (Hilbert order, grid)

    def prune_slack(self, *row_sets: np.ndarray) -> float:  # noqa: ARG002 - same interface as residual
        """Absolute room for pruning bounds: none (the relative PRUNE_SLACK covers Euclidean rounding)."""
        return 0.0
