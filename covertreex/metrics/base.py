"""What every metric offers the engine: the ``Metric`` protocol and ``MetricSlots``, its named parameters.

The Numba kernels take one ``MetricSlots`` value (a named tuple; the same type for every metric, so each
kernel compiles once) and branch on its ``kind``.  The Python side of a metric -- validating and
preparing rows, the rounding room of the pruning bounds, which columns are coordinates -- is the
``Metric`` protocol, implemented by ``EuclideanMetric`` and ``ResidualFactors``.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from covertreex.metrics._distance_numba import EUCLIDEAN, RESIDUAL

__all__ = ["EUCLIDEAN", "RESIDUAL", "Metric", "MetricPolicy", "MetricSlots"]


class MetricSlots(NamedTuple):
    """The metric as the kernels read it (unused slots are 0)."""

    kind: int  # EUCLIDEAN or RESIDUAL: the branch taken by ``point_sqdistance``
    kernel: int = 0  # residual: the stationary kernel's code (``kernels._kernels_numba``)
    variance: float = 0.0  # residual: the kernel's variance k(x, x)
    dim: int = 0  # residual: leading feature columns that are scaled coordinates
    m: int = 0  # residual: number of V columns (inducing points)

    @staticmethod
    def of(kind: int, kernel: int = 0, variance: float = 0.0, dim: int = 0, m: int = 0) -> "MetricSlots":
        """Slots with exact Python types (int, float), so every metric gives the kernels one Numba type."""
        return MetricSlots(int(kind), int(kernel), float(variance), int(dim), int(m))


@runtime_checkable
class Metric(Protocol):
    """A fitted metric: everything the tree, its builder and its queries need to know about it."""

    name: str  # "euclidean", "residual", ...
    engines: tuple[str, ...]  # the query engines that can answer under this metric ("tree", "dense")

    @property
    def slots(self) -> MetricSlots:
        """The kernels' view of the metric."""

    @property
    def order_dims(self) -> int | None:
        """Leading row columns that are coordinates (batch order, grid); None: all of them."""

    @property
    def coordinate_dtype(self) -> np.dtype:
        """The dtype coordinates given by the user are validated and stored in."""

    def rows(self, coords: np.ndarray, v_matrix=None, p_diag=None, name: str = "X") -> np.ndarray:
        """The rows the kernels read for validated coordinates (the coordinates themselves, or features)."""

    def prune_slack(self, *row_sets: np.ndarray) -> float:
        """Absolute room added to every pruning bound for searches over these rows (rounding)."""


class MetricPolicy(Protocol):
    """An unfitted metric, as the Runtime names it: ``fit`` turns coordinates into a fitted ``Metric``."""

    @property
    def coordinate_dtype(self) -> np.dtype:
        """The dtype the user's coordinates are validated and stored in."""

    def fit(self, coords: np.ndarray, v_matrix=None, p_diag=None) -> Metric:
        """The metric fitted to validated coordinates (or to a user's precomputed factors)."""
