"""Stationary covariance kernels: frozen, validated values with a vectorised evaluation.

``k(x, y) = variance * f(|(x - y) / lengthscale|)`` with ``lengthscale`` a scalar or one value per
dimension (ARD).  The Numba side sees a kernel as ``(code, variance)`` plus coordinates divided by the
lengthscale (``scale``), so the same scalar function serves every caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from covertreex.kernels._kernels_numba import MATERN12, MATERN32, MATERN52, RBF, kernel_matrix


def _positive_float(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{owner}.{name} must be a positive number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}.{name} must be a finite number > 0, got {value!r}")
    return value


def _lengthscale(owner: str, value) -> float | tuple[float, ...]:
    if np.ndim(value) == 0:
        return _positive_float(owner, "lengthscale", value)
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{owner}.lengthscale must be a number or a 1-D sequence (one per dimension), got shape {arr.shape}")
    return tuple(_positive_float(owner, f"lengthscale[{i}]", v) for i, v in enumerate(arr.tolist()))


@dataclass(frozen=True)
class StationaryKernel:
    """Base of the four kernels; use ``RBF``, ``Matern12``, ``Matern32`` or ``Matern52``."""

    variance: float = 1.0
    lengthscale: float | tuple[float, ...] = 1.0
    code: ClassVar[int] = -1
    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "variance", _positive_float(owner, "variance", self.variance))
        object.__setattr__(self, "lengthscale", _lengthscale(owner, self.lengthscale))

    def lengthscales(self, dim: int) -> np.ndarray:
        """The lengthscale per dimension for ``dim``-dimensional inputs (checks ARD length)."""
        if isinstance(self.lengthscale, tuple):
            if len(self.lengthscale) != dim:
                raise ValueError(
                    f"{type(self).__name__}.lengthscale has {len(self.lengthscale)} entries but the points have "
                    f"{dim} dimensions"
                )
            return np.asarray(self.lengthscale, dtype=np.float64)
        return np.full(dim, self.lengthscale, dtype=np.float64)

    def scale(self, X: np.ndarray) -> np.ndarray:
        """Coordinates divided by the lengthscale(s), float64 C-contiguous."""
        X = np.asarray(X, dtype=np.float64)
        return np.ascontiguousarray(X / self.lengthscales(X.shape[1]))

    def __call__(self, A, B=None) -> np.ndarray:
        """Kernel matrix k(A, B) (k(A, A) when B is None), float64."""
        A = np.atleast_2d(np.asarray(A, dtype=np.float64))
        B = A if B is None else np.atleast_2d(np.asarray(B, dtype=np.float64))
        if A.shape[1] != B.shape[1]:
            raise ValueError(f"kernel inputs have {A.shape[1]} and {B.shape[1]} columns")
        return kernel_matrix(self.code, self.variance, self.scale(A), self.scale(B))

    def describe(self) -> dict:
        ls = list(self.lengthscale) if isinstance(self.lengthscale, tuple) else self.lengthscale
        return {"kernel": self.name, "variance": self.variance, "lengthscale": ls}


@dataclass(frozen=True)
class RBF(StationaryKernel):
    """Squared exponential: variance * exp(-r^2 / 2)."""

    code: ClassVar[int] = RBF
    name: ClassVar[str] = "rbf"


@dataclass(frozen=True)
class Matern12(StationaryKernel):
    """Matern nu=1/2 (exponential): variance * exp(-r)."""

    code: ClassVar[int] = MATERN12
    name: ClassVar[str] = "matern12"


@dataclass(frozen=True)
class Matern32(StationaryKernel):
    """Matern nu=3/2: variance * (1 + sqrt(3) r) exp(-sqrt(3) r)."""

    code: ClassVar[int] = MATERN32
    name: ClassVar[str] = "matern32"


@dataclass(frozen=True)
class Matern52(StationaryKernel):
    """Matern nu=5/2: variance * (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r)."""

    code: ClassVar[int] = MATERN52
    name: ClassVar[str] = "matern52"


KERNELS = {cls.name: cls for cls in (RBF, Matern12, Matern32, Matern52)}


def kernel_by_name(name: str, **params) -> StationaryKernel:
    """A kernel from its name ("rbf", "matern12", "matern32", "matern52")."""
    try:
        cls = KERNELS[name.lower()] if isinstance(name, str) else None
    except KeyError:
        cls = None
    if cls is None:
        raise ValueError(f"unknown kernel {name!r}; choose from {', '.join(KERNELS)}")
    return cls(**params)
