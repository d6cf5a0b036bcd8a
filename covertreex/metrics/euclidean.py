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
