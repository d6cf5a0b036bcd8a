"""Result records of the query algorithms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from covertreex.runtime.diagnostics import OperationStats


@dataclass(frozen=True)
class KnnResult:
    ids: np.ndarray  # (q, k) int64, -1 where fewer than k candidates exist
    distances: np.ndarray  # (q, k) float64, +inf beside -1 ids
    distance_evaluations: np.ndarray  # (q,) int64 distance computations per query
    operation: OperationStats | None = None  # wall/CPU/RSS of the call, with Runtime(diagnostics=True)
    engine: str = "tree"  # "tree" or "dense" (blocked residual search): which search answered
