"""scikit-learn's bundled copy of the UCI handwritten digits (no download)."""

from __future__ import annotations

from importlib import import_module

import numpy as np


def digits(seed: int = 0) -> np.ndarray:
    """The 1,797 8x8 digit images as 64-dimensional points (intensities 0..16), in a seeded random order."""
    try:
        datasets = import_module("sklearn.datasets")
    except ImportError:
        raise ValueError("the digits data set is read from scikit-learn: pip install 'covertreex[sklearn]'") from None
    X = datasets.load_digits().data.astype(np.float64)
    return X[np.random.default_rng(seed).permutation(X.shape[0])]
