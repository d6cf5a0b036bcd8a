"""``Runtime``: the immutable configuration value passed explicitly to every covertreex operation.

Nothing in covertreex reads the process environment except ``Runtime.from_env()`` (and the CLI).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numba

from covertreex.metrics.base import MetricPolicy
from covertreex.metrics.euclidean import EuclideanMetric
from covertreex.metrics.residual import Residual

METRICS = ("euclidean", "residual")
PRECISIONS = ("float64", "float32")
CONFLICT_GRAPHS = ("auto", "grid", "kdtree", "block", "segmented", "dense", "screened")
GRID_MAX_DIM = 3  # "auto" uses the grid up to this dimension, then the block k-d tree, then the k-d tree
# "auto" uses the block k-d tree (vectorised leaves) up to this dimension.  Measured (conflict-graph seconds
# of a fit, 2 cores, block vs kdtree): N(0, I) d=4 n=131,072 0.33 vs 0.41; d=8 n=32,768 0.47 vs 1.02;
# d=16 n=32,768 1.82 vs 6.85; d=32 n=16,384 1.12 vs 3.71; a 3-D Gaussian in 8-D, n=131,072, 0.31 vs 0.36;
# but the swiss roll in 64-D (n=131,072) 1.06 vs 0.76, where rows are long and the k-d tree's small leaves
# stop distances at partial sums (from EARLY_EXIT_DIM = 48 coordinates).
BLOCK_MAX_DIM = 47
BATCH_ORDERS = ("hilbert", "random", "natural")
PREFIX_SCHEDULES = ("doubling", "adaptive", "none")
BUILDS = ("auto", "rounds", "nets")
NETS_MAX_DIM = 3  # the net build's grid cells take three coordinates at most
NETS_MIN_POINTS = 4096  # "auto" builds fresh Euclidean trees from this many points by nets
QUERY_ENGINES = ("auto", "tree", "dense", "jax")  # "jax": the dense engine with its screen in JAX (extra)

CHOICES = {
    "metric": METRICS,
    "precision": PRECISIONS,
    "conflict_graph": CONFLICT_GRAPHS,
    "batch_order": BATCH_ORDERS,
    "prefix_schedule": PREFIX_SCHEDULES,
    "query_engine": QUERY_ENGINES,
    "build": BUILDS,
}
ENV_PREFIX = "COVERTREEX_"


def check_choice(name: str, value: Any) -> str:
    """``value`` must be one of the names ``Runtime.<name>`` allows (the one list of them, ``CHOICES``)."""
    allowed = CHOICES[name]
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"Runtime.{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _check_int(name: str, value: Any, minimum: int, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        allowed = "an int" + (" or None" if allow_none else "")
        raise TypeError(f"Runtime.{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"Runtime.{name} must be >= {minimum}, got {value}")


@dataclass(frozen=True)
class Runtime:
    """Engine configuration.  Invalid values raise on construction, naming the field.

    metric           distance: "euclidean" or "residual" (residual correlation; needs ``residual``)
    residual         the ``Residual`` policy (kernel, inducing points, seed, jitter) for
                     metric="residual"; must be None otherwise
    precision        storage dtype of the points: "float64" or "float32" (distances are always
                     accumulated in float64 from the stored values; the residual metric is float64 only)
    conflict_graph   how a round finds nearby batch points: "grid" (Euclidean cells over <= 3
                     coordinates), "kdtree" (Euclidean k-d tree over all coordinates), "block" (the
                     k-d tree with wide leaves, each scanned in vectorised passes), "segmented"
                     (pivot-distance windows, any metric), "dense" (all pairs), "screened" (all pairs
                     in BLAS blocks with exact re-checks; residual only) or "auto" (Euclidean: grid
                     up to 3 dimensions, block up to 47, k-d tree above; residual: screened); all
                     build the same tree
    batch_order      order of insertion: "hilbert" (random rounds, each sorted along a Hilbert
                     curve), "random" (seeded permutation) or "natural" (data order)
    prefix_schedule  round sizes: "doubling" (1, 1, 2, 4, ... each at most the tree size),
                     "adaptive" (doubling that slows down when rounds get crowded) or "none"
                     (everything after the root in rounds of ``batch_size``)
    batch_size       largest round (None = no cap; required >= 1 when given)
    seed             seeds the batch order and the MIS priorities: same seed, same tree
    threads          Numba threads for parallel kernels (None = Numba's default)
    query_engine     "tree" (cover-tree search; the fit builds the tree), "dense" (blocked BLAS search
                     with exact re-checks; residual only) or "auto" (residual: a 16-query tree pilot,
                     then the engine a per-distance cost model says is cheaper; Euclidean from 4,096
                     points: the fit cuts k-d leaves, large queries scan them and the tree is built
                     when a small query first needs it, see ``queries.plan``).
                     Results are identical.
    build            how a fit builds its cover tree: "rounds" (prefix-doubling batch insertion, with
                     per-round statistics and telemetry), "nets" (bottom-up nets in grid cells; Euclidean
                     points in one to three coordinates; no rounds to report) or "auto" (nets for a
                     Euclidean fit in one to three coordinates from 4,096 points, rounds otherwise).
                     Inserting into a tree always goes by rounds; both builds satisfy the same invariants
                     and every query answers the same
    diagnostics      also time builds and queries (wall, CPU, peak RSS, threads): see
                     ``CoverTree.build_operation`` and ``KnnResult.operation``
    """

    metric: str = "euclidean"
    precision: str = "float64"
    conflict_graph: str = "auto"
    batch_order: str = "hilbert"
    prefix_schedule: str = "doubling"
    batch_size: int | None = None
    seed: int = 0
    threads: int | None = None
    diagnostics: bool = False
    residual: Residual | None = None
    query_engine: str = "auto"
    build: str = "auto"

    def __post_init__(self) -> None:
        for name in CHOICES:
            check_choice(name, getattr(self, name))
        _check_int("batch_size", self.batch_size, 1, allow_none=True)
        _check_int("seed", self.seed, 0, allow_none=False)
        _check_int("threads", self.threads, 1, allow_none=True)
        if self.threads is not None and self.threads > numba.config.NUMBA_NUM_THREADS:
            raise ValueError(
                f"Runtime.threads={self.threads} exceeds the {numba.config.NUMBA_NUM_THREADS} threads Numba "
                "started with (NUMBA_NUM_THREADS)"
            )
        if not isinstance(self.diagnostics, bool):
            raise TypeError(f"Runtime.diagnostics must be a bool, got {self.diagnostics!r}")
        if self.conflict_graph in ("grid", "kdtree", "block") and self.metric != "euclidean":
            raise ValueError(
                f"Runtime.conflict_graph={self.conflict_graph!r} needs coordinates (metric='euclidean'); "
                f"got metric={self.metric!r}"
            )
        if self.conflict_graph == "screened" and self.metric != "residual":
            raise ValueError(f"Runtime.conflict_graph='screened' is for metric='residual'; got metric={self.metric!r}")
        if self.build == "nets" and self.metric != "euclidean":
            raise ValueError(f"Runtime.build='nets' needs coordinates (metric='euclidean'); got metric={self.metric!r}")
        if self.query_engine == "dense" and self.metric != "residual":
            raise ValueError(f"Runtime.query_engine='dense' is for metric='residual'; got metric={self.metric!r}")
        if self.metric == "residual":
            if not isinstance(self.residual, Residual):
                raise ValueError(
                    "Runtime.residual must be a covertreex.Residual policy when metric='residual', "
                    f"got {type(self.residual).__name__}"
                )
            if self.precision != "float64":
                raise ValueError("Runtime.precision must be 'float64' with metric='residual' (computed in float64)")
        elif self.residual is not None:
            raise ValueError(f"Runtime.residual is only used with metric='residual'; got metric={self.metric!r}")

    def resolved_conflict_graph(self, dim: int) -> str:
        """The conflict graph a build over ``dim``-dimensional points uses ("auto" resolved by metric and dim)."""
        if self.conflict_graph != "auto":
            return self.conflict_graph
        if self.metric != "euclidean":
            return "screened"
        if dim <= GRID_MAX_DIM:
            return "grid"
        return "block" if dim <= BLOCK_MAX_DIM else "kdtree"

    def builds_by_nets(self, points: int, dim: int) -> bool:
        """Does a fresh build of ``points`` points in ``dim`` coordinates use the nets ("auto" resolved)?
        ``ValueError`` when the nets were asked for and cannot take that many coordinates."""
        if self.build == "nets" and dim > NETS_MAX_DIM:
            raise ValueError(f"Runtime.build='nets' builds trees over 1 to {NETS_MAX_DIM} coordinates; "
                             f"the points have {dim} (use build='rounds' or 'auto')")
        if self.build == "auto":
            return self.metric == "euclidean" and dim <= NETS_MAX_DIM and points >= NETS_MIN_POINTS
        return self.build == "nets"

    def metric_policy(self) -> MetricPolicy:
        """The metric this runtime names, unfitted: its ``fit(coords)`` gives the tree's ``Metric``."""
        return EuclideanMetric(self.precision) if self.metric == "euclidean" else self.residual

    def describe(self) -> dict[str, Any]:
        """The configuration as a plain dict (JSON-serialisable)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["residual"] = None if self.residual is None else self.residual.describe()
        return out

    def with_updates(self, **changes: Any) -> Runtime:
        """A new Runtime with ``changes`` applied (validated); unknown names raise ``TypeError``."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"Runtime has no field(s) {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Runtime:
        """Read ``COVERTREEX_<FIELD>`` variables (e.g. COVERTREEX_CONFLICT_GRAPH=dense).

        Unknown ``COVERTREEX_*`` names and unparsable values raise ``ValueError``.
        """
        env = os.environ if environ is None else environ
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in env.items():
            if not key.startswith(ENV_PREFIX):
                continue
            name = key[len(ENV_PREFIX):].lower()
            if name not in fields:
                raise ValueError(f"{key}: unknown setting; known: {', '.join(ENV_PREFIX + f.upper() for f in fields)}")
            if name == "residual":
                raise ValueError(f"{key}: the residual policy cannot be read from the environment; pass Runtime(residual=...)")
            values[name] = _parse_env(key, name, raw)
        return cls(**values)


def _parse_env(key: str, name: str, raw: str) -> Any:
    text = raw.strip()
    if name in CHOICES:
        return text.lower()
    if name == "diagnostics":
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{key}: expected a boolean (1/0, true/false), got {raw!r}")
    if name in ("batch_size", "threads") and text.lower() in ("", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{key}: expected an integer, got {raw!r}") from None
