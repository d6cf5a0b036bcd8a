"""The residual-correlation metric of a Vecchia + inducing-points Gaussian process.

With kernel k, inducing points U (m of them) and K_mm + jitter * I = L L^T:
V_i = L^-1 k(U, x_i), p_i = k(x_i, x_i) - |V_i|^2, rho_ij = (k(x_i, x_j) - V_i . V_j) / sqrt(p_i p_j),
d_ij = sqrt(1 - |rho_ij|) in [0, 1] (a pseudometric: the distance between the +-unit residual feature
vectors).  Everything is float64.  ``Residual`` is the policy placed on the Runtime; fitting it to data
gives ``ResidualFactors``, which turn coordinates (or a user's precomputed V and p) into the feature
rows the tree kernels read: ``[x / lengthscale (D), p (1), V (m)]``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from covertreex.kernels.stationary import StationaryKernel
from covertreex.metrics._residual_numba import pack_rows
from covertreex.metrics.base import RESIDUAL, MetricSlots
from covertreex.metrics.blas import in_parallel, single_threaded_blas
from covertreex.validation import as_points, check_scale

DEFAULT_JITTER = 1e-6
# p = k(x, x) - |V|^2 cancels catastrophically: coordinates, factors and distances are all float64
RESIDUAL_DTYPE = np.dtype(np.float64)
# user-supplied p may exceed k(x,x) - |V|^2 (e.g. a nugget) but not undercut it beyond rounding
P_UNDERCUT_TOL = 1e-9
# points per feature product (V rows): 256 keeps the GEMM near its peak and wastes at most 255 columns
FEATURE_CHUNK = 256


def _readonly_copy(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Residual:
    """Residual policy: ``kernel``, ``inducing`` (a count, chosen as a seeded random subset of the fitted
    points, or an (m, D) array of points), ``seed`` for that subset and ``jitter`` added as given to the
    diagonal of K_mm."""

    kernel: StationaryKernel
    inducing: int | np.ndarray = 512
    seed: int = 0
    jitter: float = DEFAULT_JITTER

    def __post_init__(self) -> None:
        if not isinstance(self.kernel, StationaryKernel):
            raise TypeError(
                "Residual.kernel must be a covertreex.kernels kernel (RBF, Matern12, Matern32, Matern52), "
                f"got {type(self.kernel).__name__}"
            )
        if isinstance(self.inducing, numbers.Integral) and not isinstance(self.inducing, bool):
            if self.inducing < 1:
                raise ValueError(f"Residual.inducing must be >= 1 when it is a count, got {self.inducing}")
            object.__setattr__(self, "inducing", int(self.inducing))
        else:
            pts = as_points(self.inducing, "Residual.inducing", np.float64)
            object.__setattr__(self, "inducing", _readonly_copy(pts))
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise ValueError(f"Residual.seed must be an int >= 0, got {self.seed!r}")
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, numbers.Real) or not (
            np.isfinite(self.jitter) and self.jitter >= 0
        ):
            raise ValueError(f"Residual.jitter must be a finite number >= 0, got {self.jitter!r}")
        object.__setattr__(self, "jitter", float(self.jitter))

    @property
    def coordinate_dtype(self) -> np.dtype:
        return RESIDUAL_DTYPE

    @property
    def inducing_count(self) -> int:
        return self.inducing if isinstance(self.inducing, int) else int(self.inducing.shape[0])

    def _key(self):
        ind = self.inducing if isinstance(self.inducing, int) else (self.inducing.shape, self.inducing.tobytes())
        return (self.kernel, ind, self.seed, self.jitter)

    def __eq__(self, other) -> bool:
        return isinstance(other, Residual) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def describe(self) -> dict:
        ind = self.inducing if isinstance(self.inducing, int) else {"points": list(self.inducing.shape)}
        return {**self.kernel.describe(), "inducing": ind, "seed": self.seed, "jitter": self.jitter}

    def inducing_rows(self, n: int) -> np.ndarray:
        """The rows of n fitted points that a count ``inducing`` picks as inducing points (sorted; seeded);
        empty when ``inducing`` is an array of points."""
        if not isinstance(self.inducing, int):
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.random.default_rng(self.seed).choice(n, self.inducing, replace=False))

    def fit(self, X: np.ndarray, v_matrix=None, p_diag=None) -> ResidualFactors:
        """Factors for the coordinates ``X`` (validated float64), or for a user's precomputed V and p."""
        X = as_points(X, "X", np.float64)
        if (v_matrix is None) != (p_diag is None):
            raise ValueError("pass v_matrix and p_diag together (or neither)")
        self.kernel.lengthscales(X.shape[1])  # ARD length vs the data
        if v_matrix is not None:
            m = np.asarray(v_matrix).shape[1] if np.ndim(v_matrix) == 2 else -1
            factors = ResidualFactors(self.kernel, X.shape[1], max(m, 1), None, None)
            factors.check_factors(X, v_matrix, p_diag)
            return factors
        if isinstance(self.inducing, int):
            if self.inducing > X.shape[0]:
                raise ValueError(
                    f"Residual.inducing={self.inducing} exceeds the number of points ({X.shape[0]}); "
                    "use at most as many inducing points as points"
                )
            U = X[self.inducing_rows(X.shape[0])]
        else:
            U = self.inducing
            if U.shape[1] != X.shape[1]:
                raise ValueError(f"Residual.inducing has {U.shape[1]} columns but the points have {X.shape[1]}")
        Kmm = self.kernel(U) + self.jitter * np.eye(U.shape[0])
        try:
            with single_threaded_blas():  # the same factor in every process (see metrics.blas)
                L = np.linalg.cholesky(Kmm)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"K_mm + jitter*I is not positive definite (m={U.shape[0]}, jitter={self.jitter:g}): "
                "increase Residual.jitter or remove repeated inducing points"
            ) from None
        return ResidualFactors(self.kernel, X.shape[1], U.shape[0], _readonly_copy(U), _readonly_copy(L))


@dataclass(frozen=True, eq=False)
class ResidualFactors:
    """A fitted residual metric (a ``metrics.base.Metric``): the kernels' slots and the feature maps."""

    kernel: StationaryKernel
    dim: int
    m: int
    inducing: np.ndarray | None  # (m, D); None when V and p were supplied by the user
    chol: np.ndarray | None  # lower Cholesky factor of K_mm + jitter * I
    name: str = "residual"
    engines: tuple[str, ...] = ("tree", "dense", "jax")  # query engines that can answer (``Runtime.query_engine``)

    @property
    def slots(self) -> MetricSlots:
        return MetricSlots.of(RESIDUAL, self.kernel.code, self.kernel.variance, self.dim, self.m)

    @property
    def order_dims(self) -> int:
        """Leading feature columns that are (scaled) coordinates: what the Hilbert batch order reads."""
        return self.dim

    @property
    def coordinate_dtype(self) -> np.dtype:
        return RESIDUAL_DTYPE

    def rho_error_bound(self, p_min: float) -> float:
        """Bound on |computed rho - exact rho| for rows with p >= p_min (float64 rounding).

        |V_i|^2 <= k(x, x) = variance, so the kernel value and the dot (any summation order: gamma_m)
        err by at most (m + 4) eps * 2 variance; dividing by sqrt(p_i p_j) >= p_min; doubled for room.
        """
        return 4.0 * (self.m + 4) * np.finfo(np.float64).eps * self.kernel.variance / p_min

    def prune_slack(self, *row_sets: np.ndarray) -> float:
        """Absolute room for the search's pruning bounds: each bound combines up to four computed
        distances, each within sqrt(rho error) of the true pseudometric (|sqrt a - sqrt b| <= sqrt|a - b|)."""
        p_min = min(float(rows[:, self.dim].min()) for rows in row_sets if rows.shape[0])
        return 4.0 * math.sqrt(self.rho_error_bound(p_min))

    @property
    def computes_features(self) -> bool:
        """True when V and p can be computed for new coordinates (inducing points are known)."""
        return self.chol is not None

    def rows(self, X: np.ndarray, v_matrix=None, p_diag=None, name: str = "X") -> np.ndarray:
        """Feature rows for validated float64 coordinates; V and p computed unless supplied."""
        if (v_matrix is None) != (p_diag is None):
            raise ValueError("pass v_matrix and p_diag together (or neither)")
        if v_matrix is not None:
            return self.check_factors(X, v_matrix, p_diag)
        if not self.computes_features:
            raise ValueError(
                f"this tree was fitted with precomputed v_matrix/p_diag: pass v_matrix= and p_diag= for {name} too"
            )
        scaled = self.kernel.scale(X)
        check_scale(scaled, name, "coordinates / lengthscale")
        Kum = self.kernel(self.inducing, X)
        V = self._v_rows(Kum)
        rows, resid = pack_rows(self.kernel.code, self.kernel.variance, scaled, V, np.empty(0))
        bad = np.flatnonzero(~(resid > 0))
        if bad.size:
            raise ValueError(
                f"{name}: residual variance k(x,x) - |V|^2 is {resid[bad[0]]:.3g} <= 0 at row {bad[0]} "
                "(numerically singular): increase Residual.jitter"
            )
        return rows

    @cached_property
    def _chol_inverse(self) -> np.ndarray:
        """L^-1 (lower triangular), formed once: V = (L^-1 K_um)^T is then one GEMM per chunk."""
        with single_threaded_blas():
            return np.linalg.solve(self.chol, np.eye(self.m))

    def _v_rows(self, Kum: np.ndarray) -> np.ndarray:
        """V = (L^-1 K_um)^T, in products of one fixed shape (FEATURE_CHUNK columns, the last chunk
        zero-padded): a point's row is the same bits whichever points share its call (a fit, an
        insert of one point, the oracle), because single-threaded BLAS computes each column of a
        product of a given shape by the same sequence of operations — in any process, whatever its
        BLAS thread count (a Dask worker's shard too).  Chunks run in parallel, one per thread."""
        n = Kum.shape[1]
        V = np.empty((n, self.m))
        inverse = self._chol_inverse

        def product(s: int) -> None:
            e = min(n, s + FEATURE_CHUNK)
            chunk = np.zeros((self.m, FEATURE_CHUNK))
            chunk[:, : e - s] = Kum[:, s:e]
            V[s:e] = (inverse @ chunk)[:, : e - s].T

        in_parallel(product, range(0, n, FEATURE_CHUNK))
        return V

    def check_factors(self, X: np.ndarray, v_matrix, p_diag) -> np.ndarray:
        """Validate a user's V (n, m) and p (n,) and return the feature rows."""
        n = X.shape[0]
        V = np.asarray(v_matrix)
        p = np.asarray(p_diag)
        if V.ndim != 2 or V.shape[0] != n:
            raise ValueError(f"v_matrix must have shape (n_points, m) = ({n}, m), got {V.shape}")
        if V.shape[1] != self.m:
            raise ValueError(f"v_matrix has {V.shape[1]} columns but the tree's V has {self.m}")
        if p.shape != (n,):
            raise ValueError(f"p_diag must have shape ({n},), got {p.shape}")
        for label, arr in (("v_matrix", V), ("p_diag", p)):
            if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
                raise TypeError(f"{label} must hold real numbers, got dtype {arr.dtype}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{label} contains NaN or infinity")
        if np.any(p <= 0):
            i = int(np.flatnonzero(p <= 0)[0])
            raise ValueError(f"p_diag must be > 0 (residual variances), got {p[i]!r} at row {i}")
        V = np.ascontiguousarray(V, dtype=np.float64)
        p = np.ascontiguousarray(p, dtype=np.float64)
        rows, resid = pack_rows(self.kernel.code, self.kernel.variance, self.kernel.scale(X), V, p)
        under = p < resid - P_UNDERCUT_TOL * self.kernel.variance
        if np.any(under):
            i = int(np.flatnonzero(under)[0])
            raise ValueError(
                f"p_diag[{i}]={p[i]:.6g} is below k(x,x) - |V|^2 = {resid[i]:.6g}: the residual correlation "
                "would exceed 1 (p_diag must be the residual variances of this kernel and V)"
            )
        return rows
