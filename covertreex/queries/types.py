"""Result records of the query algorithms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from covertreex.queries._knn_numba import COUNTERS as TRAVERSAL_COUNTERS
from covertreex.runtime.diagnostics import OperationStats


@dataclass(frozen=True)
class KnnResult:
    ids: np.ndarray  # (q, k) int64, -1 where fewer than k candidates exist
    distances: np.ndarray  # (q, k) float64, +inf beside -1 ids
    distance_evaluations: np.ndarray  # (q,) int64 distance computations per query
    operation: OperationStats | None = None  # wall/CPU/RSS of the call, with Runtime(diagnostics=True)
    # which answered: "tree", "dense" (blocked residual search), "jax" (its screen in JAX) or "block-scan"
    # (all-points Euclidean search of k-d leaves, ``queries.blockscan``)
    engine: str = "tree"
    # (q, 4) int64 tree-traversal counters per query, columns ``TRAVERSAL_COUNTERS``; None for the dense
    # engines and the block scan
    traversal: np.ndarray | None = None

    def counter(self, name: str) -> np.ndarray | None:
        """One traversal counter per query by name (None when no tree walk answered)."""
        if name not in TRAVERSAL_COUNTERS:
            raise ValueError(f"counter must be one of {TRAVERSAL_COUNTERS}, got {name!r}")
        return None if self.traversal is None else self.traversal[:, TRAVERSAL_COUNTERS.index(name)]


@dataclass(frozen=True)
class RadiusResult:
    """Every point within the radius of each query row, ragged (CSR): row r's neighbours are
    ``ids[indptr[r]:indptr[r + 1]]`` with ``distances`` beside them, sorted by (distance, id)."""

    indptr: np.ndarray  # (rows + 1,) int64
    ids: np.ndarray  # (total,) int64
    distances: np.ndarray  # (total,) float64

    def __len__(self) -> int:
        return int(self.indptr.shape[0] - 1)

    def row(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, distances) of row ``r``."""
        lo, hi = int(self.indptr[r]), int(self.indptr[r + 1])
        return self.ids[lo:hi], self.distances[lo:hi]

    def counts(self) -> np.ndarray:
        """Neighbours per row."""
        return np.diff(self.indptr)
