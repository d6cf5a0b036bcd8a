"""Blocked dense residual distances: BLAS for V . V, with a rigorous error bound.

``screen_block`` returns approximate squared distances (1 - |rho|) for a block of query rows against a
block of feature rows, and a per-pair bound on their error with respect to the exact scalar kernel
(``point_sqdistance``).  Only the V . V sums differ (BLAS may sum in any order: the classic bound
|fl(sum) - sum| <= gamma_m * |V_i| |V_j| holds for every order); kernel values and p are identical.
Callers re-check with the scalar kernel every pair whose bound straddles their threshold, so results
are exactly those of the scalar path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from covertreex.kernels._kernels_numba import kernel_matrix

_EPS = np.finfo(np.float64).eps


def screen_gamma(m: int) -> float:
    """Relative error factor of the screen: gamma_m plus the rounding of the subtraction and division."""
    return 2.0 * (m + 4) * _EPS


def split_rows(F: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scaled coordinates, p, V) views of residual feature rows."""
    return F[:, :dim], F[:, dim], F[:, dim + 1:]


def v_norms(V: np.ndarray) -> np.ndarray:
    """|V_i| of every row."""
    return np.sqrt(np.einsum("ij,ij->i", V, V))


@dataclass(frozen=True)
class ScreenRows:
    """What the screen reads per row, as contiguous arrays: scaled coordinates, sqrt(p) and |V|."""

    coords: np.ndarray
    sqrt_p: np.ndarray
    v_norm: np.ndarray

    @staticmethod
    def of(F: np.ndarray, dim: int) -> "ScreenRows":
        x, p, V = split_rows(F, dim)
        return ScreenRows(np.ascontiguousarray(x), np.sqrt(p), v_norms(V))

    def take(self, rows: np.ndarray) -> "ScreenRows":
        return ScreenRows(self.coords[rows], self.sqrt_p[rows], self.v_norm[rows])

    def span(self, start: int, stop: int) -> "ScreenRows":
        return ScreenRows(self.coords[start:stop], self.sqrt_p[start:stop], self.v_norm[start:stop])


def residual_cross(metric, xa: np.ndarray, Va: np.ndarray, xb: np.ndarray, Vb: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(K, c): the kernel k(a, b) and the residual covariance c(a, b) = k(a, b) - V_a . V_b of scaled
    coordinates and V rows (``metric``: the residual metric's ``MetricSlots``)."""
    K = kernel_matrix(metric.kernel, metric.variance, np.ascontiguousarray(xa), np.ascontiguousarray(xb))
    return K, K - Va @ Vb.T


def screen_block(metric, Fq: np.ndarray, Fx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Approximate 1 - |rho| (len(Fq), len(Fx)) and an upper bound on each entry's error
    (``metric``: the residual metric's ``MetricSlots``)."""
    xq, pq, Vq = split_rows(Fq, metric.dim)
    xx, px, Vx = split_rows(Fx, metric.dim)
    K, c = residual_cross(metric, xq, Vq, xx, Vx)
    approx, err, _ = screen_from_gap(np.abs(c), np.abs(K), pq, px, Vq, Vx, metric.m)
    return approx, err


def screen_from_gap(gap: np.ndarray, k_abs, pq: np.ndarray, px: np.ndarray, Vq: np.ndarray, Vx: np.ndarray,
                    m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From ``gap`` = |k - V_q . V_x| computed in any summation order, with |k| at most ``k_abs`` (an
    array or a number): approximate 1 - |rho|, the bound gamma_m (|V_q| |V_x| + |k|) / sqrt(p_q p_x) on
    its error, and sqrt(p_q p_x) itself (for callers that add error terms of their own)."""
    scale = np.sqrt(np.multiply.outer(pq, px))
    rho = gap / scale
    np.minimum(rho, 1.0, out=rho)
    vv = np.multiply.outer(np.linalg.norm(Vq, axis=1), np.linalg.norm(Vx, axis=1))
    return 1.0 - rho, screen_gamma(m) * (vv + k_abs) / scale, scale
