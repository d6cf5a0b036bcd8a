"""Low intrinsic dimension in a high ambient dimension: a swiss roll laid isometrically into R^D."""

from __future__ import annotations

import numpy as np


def swiss_roll_in(ambient: int, n: int, seed: int = 0, noise: float = 0.0) -> np.ndarray:
    """``n`` points of a 2-D swiss roll (3-D coordinates, unit-ish scale) mapped into ``ambient``
    dimensions by a seeded random orthonormal map (distances unchanged), plus optional isotropic
    Gaussian ``noise`` in all dimensions.  Cover trees adapt to the intrinsic dimension; k-d trees see
    the ambient one."""
    if isinstance(ambient, bool) or not isinstance(ambient, (int, np.integer)) or ambient < 3:
        raise ValueError(f"ambient must be an integer >= 3 (the roll lives in 3-D), got {ambient!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
    height = 21.0 * rng.random(n)
    roll = np.c_[t * np.cos(t), height, t * np.sin(t)] / 10.0
    basis, _ = np.linalg.qr(rng.standard_normal((ambient, 3)))  # orthonormal columns
    X = roll @ basis.T
    if noise:
        X = X + noise * rng.standard_normal(X.shape)
    return X
