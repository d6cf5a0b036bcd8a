"""The Euclidean metric: rows are the coordinates themselves, stored in the runtime's precision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from covertreex.metrics.base import EUCLIDEAN, MetricSlots

_SLOTS = MetricSlots.of(EUCLIDEAN)


def no_factors(v_matrix, p_diag) -> None:
    """Precomputed residual factors make no sense for a coordinate metric: say so instead of ignoring them."""
    if v_matrix is not None or p_diag is not None:
        raise ValueError("v_matrix/p_diag are only used with Runtime(metric='residual')")


@dataclass(frozen=True)
class EuclideanMetric:
    """Euclidean distance between coordinates stored as ``precision`` (accumulated in float64).

    Its own policy: ``fit`` returns the metric unchanged (nothing to learn from the data).
    """

    precision: str = "float64"
    name: str = "euclidean"
    engines: tuple[str, ...] = ("tree",)  # query engines that can answer (``Runtime.query_engine``)

    @property
    def slots(self) -> MetricSlots:
        return _SLOTS

    @property
    def order_dims(self) -> None:
        return None  # every column is a coordinate (Hilbert order, grid)

    @property
    def coordinate_dtype(self) -> np.dtype:
        return np.dtype(self.precision)

    def fit(self, coords: np.ndarray, v_matrix=None, p_diag=None) -> EuclideanMetric:
        no_factors(v_matrix, p_diag)
        return self

    def rows(self, coords: np.ndarray, v_matrix=None, p_diag=None, name: str = "X") -> np.ndarray:
        no_factors(v_matrix, p_diag)
        return coords

    def prune_slack(self, *row_sets: np.ndarray) -> float:  # noqa: ARG002 - the protocol's signature
        """Absolute room for pruning bounds: none (the relative PRUNE_SLACK covers Euclidean rounding)."""
        return 0.0
