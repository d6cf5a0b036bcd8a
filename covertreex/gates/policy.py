"""``Gate``: the settings of an opt-in approximate residual search, as a value.

A gated search ranks a query's candidates by a cheap *proxy* distance and re-ranks only the first C
of them with the exact float64 residual distance.  Every distance it reports is exact; only whether
every true neighbour is among the C candidates is left to chance, and calibration bounds that chance:
a query misses at least one true neighbour with probability at most ``delta`` (split-conformal, for
queries exchangeable with the calibration queries).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

# proxies: "scaled" = Euclidean distance of the lengthscale-scaled coordinates (ARD-aware; what a
# stationary kernel's correlation decreases with); "v" = Euclidean distance of the V rows (the fallback
# for precomputed factors whose coordinates say little)
PROXIES = ("scaled", "v")
# searches: "walk" = each query's C proxy-nearest candidates (a walk of a Euclidean cover tree over the
# proxy coordinates), re-ranked exactly; "cells" = the first C points of the query's proxy cell's halo,
# screened in a local low-rank basis with certified bounds and re-checked exactly (``gates.cells``);
# "auto" = the walk unless its calibrated budget would cost more than the exact scan, then the cells
SEARCHES = ("walk", "cells", "auto")


def _count(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"Gate.{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value < 1.0:
        raise ValueError(f"Gate.{name} must be a number in (0, 1), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Gate:
    """How to calibrate a gated residual search.

    delta : float
        Target probability that a query misses at least one of its k true neighbours (mean recall@k
        is at least 1 - delta, usually far above it).
    calibration : int
        Calibration queries (tree points drawn with ``seed``) answered exactly to set the budget.
    audit : int
        Further held-out tree points answered both ways to measure recall@k (0: no audit).
    proxy : {"scaled", "v"}
        The candidate ranking: lengthscale-scaled coordinates, or the V rows.
    bands : int
        Budgets per band of the residual variance p (quantile bands of the calibration queries):
        each band gets its own calibrated budget ("scope caps", learned, never hand-set).
    seed : int
        Draws the calibration and audit queries.
    confidence : float
        Level of the audit's Clopper–Pearson intervals.
    fallback : bool
        Answer exactly (the dense engine, recall 1) when the budget's candidates would cost more than the
        exact scan (``gates.search.CANDIDATE_COST``; for cells a halo of half the points); False always
        runs the gated search (to study it).
    search : {"walk", "cells", "auto"}
        How candidates are found and re-ranked: "walk" takes each query's C proxy-nearest points;
        "cells" takes the first C points of its proxy cell's halo and screens them in a local low-rank
        basis of the residual kernel (exact within the halo; a basis per cell is built at calibration,
        costing time and memory there).  The walk suits a large residual variance p (the proxy ranks
        well, C is small); the cells a tiny one.  "auto" calibrates the walk and switches to the cells
        when the walk's budget would cost more than the exact scan; the profile names the choice.
    cell : int
        Points per proxy cell of the "cells" search.
    """

    delta: float = 0.01
    calibration: int = 1024
    audit: int = 1024
    proxy: str = "scaled"
    bands: int = 1
    seed: int = 0
    confidence: float = 0.95
    fallback: bool = True
    search: str = "walk"
    cell: int = 512

    def __post_init__(self) -> None:
        if not isinstance(self.fallback, bool):
            raise ValueError(f"Gate.fallback must be True or False, got {self.fallback!r}")
        object.__setattr__(self, "delta", _fraction("delta", self.delta))
        object.__setattr__(self, "confidence", _fraction("confidence", self.confidence))
        object.__setattr__(self, "calibration", _count("calibration", self.calibration, 1))
        object.__setattr__(self, "audit", _count("audit", self.audit, 0))
        object.__setattr__(self, "bands", _count("bands", self.bands, 1))
        object.__setattr__(self, "seed", _count("seed", self.seed, 0))
        object.__setattr__(self, "cell", _count("cell", self.cell, 2))
        if self.search not in SEARCHES:
            raise ValueError(f"Gate.search must be one of {', '.join(map(repr, SEARCHES))}, got {self.search!r}")
        if self.proxy not in PROXIES:
            raise ValueError(f"Gate.proxy must be one of {', '.join(map(repr, PROXIES))}, got {self.proxy!r}")
        per_band = self.calibration // self.bands
        if math.ceil((per_band + 1) * (1.0 - self.delta)) > per_band:
            need = math.ceil((1.0 - self.delta) / self.delta) * self.bands
            raise ValueError(
                f"Gate.calibration={self.calibration} over {self.bands} band(s) cannot certify delta={self.delta:g}: "
                f"a band needs at least {need // self.bands} calibration queries (calibration >= {need}), "
                "or choose a larger delta"
            )

    def describe(self) -> dict:
        return asdict(self)
