"""What a conditioning set costs the statistics: the exact KL divergence of a Vecchia approximation.

For a Gaussian N(0, R) and conditioning sets c(i) (indices below i), the Vecchia approximation has
precision A^T A with row i of A equal to (e_i - b_i) / sqrt(d_i), b_i = R_{c,c}^{-1} R_{c,i} and
d_i = R_ii - R_{i,c} b_i.  Then KL(N(0, R) || N(0, (A^T A)^{-1})) = (tr(A R A^T) - n + sum log d_i
- log det R) / 2, computed densely (small n: O(n^3)).
"""

from __future__ import annotations

import numpy as np


def residual_covariance(tree, X: np.ndarray, nugget: float = 1e-6) -> np.ndarray:
    """The residual covariance R = K - K_xu (K_uu + jitter I)^-1 K_ux of a fitted residual tree's
    points ``X`` (its coordinates), plus ``nugget`` on the diagonal."""
    metric = tree.metric
    if tree.runtime.metric != "residual" or not metric.computes_features:
        raise ValueError("tree must be a residual CoverTree fitted with its inducing points (not precomputed V, p)")
    kernel, U = metric.kernel, metric.inducing
    Kxu = kernel(X, U)
    jitter = tree.runtime.residual.jitter
    Q = Kxu @ np.linalg.solve(kernel(U, U) + jitter * np.eye(len(U)), Kxu.T)
    return kernel(X, X) - Q + nugget * np.eye(len(X))


def vecchia_kl(R: np.ndarray, conditioning: np.ndarray) -> float:
    """KL(N(0, R) || Vecchia approximation with conditioning sets ``conditioning[i]`` (ids < i; -1 =
    unused slot)), exactly."""
    R = np.asarray(R, dtype=np.float64)
    n = R.shape[0]
    if R.shape != (n, n) or len(conditioning) != n:
        raise ValueError(f"R must be square and conditioning must have one row per point, got {R.shape} and "
                         f"{len(conditioning)} rows")
    A = np.zeros_like(R)
    logdet = 0.0
    for i in range(n):
        c = np.asarray(conditioning[i])
        c = c[c >= 0]
        if np.any(c >= i):
            raise ValueError(f"conditioning set of row {i} holds ids >= {i}: Vecchia conditions on earlier points")
        b = np.linalg.solve(R[np.ix_(c, c)], R[c, i]) if c.size else np.zeros(0)
        d = R[i, i] - R[i, c] @ b
        A[i, i] = 1.0 / np.sqrt(d)
        A[i, c] = -b / np.sqrt(d)
        logdet += np.log(d)
    return float(0.5 * (np.sum((A @ R) * A) - n + logdet - np.linalg.slogdet(R)[1]))
