"""Whether a fit builds the cover tree: only when a query engine that reads it is chosen or will pay.

Euclidean points (from ``BLOCK_SCAN_MIN_POINTS`` points, in any number of coordinates) are cut into
k-d leaves at fit instead under ``query_engine="auto"``: queries of ``BLOCK_SCAN_MIN_ROWS`` rows or more
run as block scans of them (``queries.blockscan``), which cost less than building the tree, and the tree
is built when a smaller query, a radius search or an invariant check first needs it.

The dense residual engine reads the feature rows in id order and nothing else, so a residual ``fit``
under ``query_engine="dense"`` stops after the factors.  Under ``"auto"`` a probe decides before the
full tree is built: a small tree over a seeded sample, searched at the full data's neighbour scale,
shows what fraction of the points a tree search skips.  The tree is built when its estimated cost
(the evaluations it still makes, at tree rates, build included) undercuts the dense scan of every
point at dense rates.  Decision, reason and probe figures are kept
on the tree (``CoverTree.describe()``) and sent to telemetry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from covertreex.algo.insert import insert_points
from covertreex.metrics._distance_numba import EUCLIDEAN
from covertreex.queries.knn import (BLOCK_SCAN_MIN_POINTS, BLOCK_SCAN_MIN_ROWS, DENSE_NS, DENSE_NS_PER_FEATURE,
                                    LEAF_SCAN_LOW_DIM, TREE_NS, TREE_NS_PER_FEATURE, knn_self)

PROBE_POINTS = 1024  # the probe's tree is built over this many sampled points (about 0.3 s at m=512)
PROBE_QUERIES = 32  # searches run on it
PROBE_K = 32  # neighbours the probe assumes in the full data (a typical Vecchia conditioning set)
PROBE_MIN_POINTS = 4 * LEAF_SCAN_LOW_DIM  # below this a tree search scans everything anyway
# A tree search costs its evaluations at tree rates, and building the tree costs about as much again.
BUILD_FACTOR = 2.0
# Why a Euclidean fit makes leaves, not a tree (all-points 10-NN, n=131,072 unless said, 2 cores, seconds:
# cover tree build + its search / leaves + block scan): N(0, I) d=1 0.25 + 0.15 / 0.42, d=2 0.47 +
# 0.20 / 0.42, d=3 0.81 + 0.38 / 0.53, d=4 1.75 + 2.12 / 0.72, d=6 3.74 + 8.00 / 2.87, d=8
# (n=32,768) 1.07 + 2.65 / 0.86; 64 clusters in 3-D 0.55 + 0.30 / 0.46, rounded (duplicated) 3-D
# points 0.72 + 0.43 / 0.86, a 362 x 362 grid 0.45 + 0.20 / 0.58; a 3-D Gaussian in 8-D
# 1.19 + 1.28 / 0.58; a line in 8-D 0.43 + 0.27 / 0.28; 64 clusters in 8-D 1.45 + 1.72 / 0.81; a 5-D
# Gaussian in 32-D 8.51 + 12.57 / 12.05; a noisy 3-D one in 32-D 2.55 + 3.23 / 2.13; the swiss roll in
# 64-D 2.02 + 1.02 / 1.24; a 3-D manifold in 128-D 5.86 + 4.43 / 6.34.  The scan never lost to build +
# search.  The search alone is faster up to three coordinates (the grouped walks of ``queries.groups``)
# and on the last three, so a fitted index queried in full many times may ask for the tree
# (``Runtime(query_engine="tree")``).  Predecessor and new-point queries scan faster than the tree
# searches in one to three coordinates too (N(0, I), d=2: k=30 predecessor rows 0.8-1.1 s against 1.5-1.8
# s, 32,768 new points 0.21 against 0.44-0.50 s; d=3: 1.4-1.5 against 2.8-3.1 s, 0.27 against 0.76-0.83 s).


def leaves_at_fit(kind: int, n: int) -> bool:
    """Does an ``auto`` fit of ``n`` points of metric ``kind`` cut k-d leaves instead of building the tree
    (Euclidean, from ``BLOCK_SCAN_MIN_POINTS`` points)?"""
    return kind == EUCLIDEAN and n >= BLOCK_SCAN_MIN_POINTS


@dataclass(frozen=True)
class EnginePlan:
    """``tree``: whether the fit builds the cover tree; ``reason`` in words; ``probe``: the figures;
    ``scan``: whether large Euclidean queries run as block scans of k-d leaves made at fit."""

    tree: bool
    reason: str
    probe: dict | None = None
    scan: bool = False

    def describe(self) -> dict:
        return asdict(self)


def plan_fit(runtime, engines: tuple[str, ...], rows: np.ndarray, metric) -> EnginePlan:
    """The plan of a fit under ``runtime.query_engine`` for a metric offering ``engines``."""
    requested, seed = runtime.query_engine, runtime.seed
    n, dim = rows.shape
    if "dense" not in engines:
        if requested == "auto" and leaves_at_fit(metric.slots.kind, n):
            return EnginePlan(False, f"auto: {n} Euclidean points in {dim} coordinates: queries of "
                                     f"{BLOCK_SCAN_MIN_ROWS} rows or more run as block scans of k-d leaves, "
                                     "cheaper than building the cover tree; it is built when a smaller query, "
                                     "a radius search or an invariant check needs it", scan=True)
        return EnginePlan(True, f"metric {metric.name!r} is searched by the tree only")
    if requested == "tree":
        return EnginePlan(True, "Runtime.query_engine='tree'")
    if requested in ("dense", "jax"):
        return EnginePlan(False, f"Runtime.query_engine={requested!r}: the dense engine reads the rows, not a tree")
    if n < PROBE_MIN_POINTS:
        return EnginePlan(False, f"{n} points: a tree search would scan them all (auto)")
    probe = prune_probe(rows, runtime, metric, seed)
    features = rows.shape[1]
    tree_ns = BUILD_FACTOR * (1.0 - probe["skippable"]) * (TREE_NS + TREE_NS_PER_FEATURE * features)
    dense_ns = DENSE_NS + DENSE_NS_PER_FEATURE * features
    probe = {**probe, "tree_ns_per_point": tree_ns, "dense_ns_per_point": dense_ns}
    if tree_ns < dense_ns:
        return EnginePlan(True, f"auto: a tree search could skip {probe['skippable']:.0%} of the points, "
                                "cheaper than scanning them all", probe)
    return EnginePlan(False, f"auto: a tree search could skip only {probe['skippable']:.0%} of the points, "
                             "the dense scan is cheaper", probe)


def prune_probe(rows: np.ndarray, runtime, metric, seed: int) -> dict:
    """A tree search on a seeded sample: build a cover tree over ``PROBE_POINTS`` of the rows, run
    ``PROBE_QUERIES`` of its points' searches with k scaled to the sample (the same neighbour
    distance scale as ``PROBE_K`` in the full data) and measure the fraction of the sample they did not
    evaluate.  Pruning improves with more points, so the figure errs towards the dense engine."""
    n = rows.shape[0]
    size = min(n, PROBE_POINTS)
    sample = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
    tree, _ = insert_points(None, np.ascontiguousarray(rows[sample]), runtime, metric)
    k = max(1, min(size - 1, round(PROBE_K * size / n)))
    queries = np.unique(np.linspace(0, size - 1, min(size, PROBE_QUERIES)).astype(np.int64))
    evals = knn_self(tree, metric, k, queries, engine="tree").distance_evaluations
    evaluated = min(1.0, float(evals.mean()) / (size - 1))  # a search may evaluate a point more than once
    return {"points": int(size), "queries": int(queries.shape[0]), "k": int(k), "evaluated": evaluated,
            "skippable": 1.0 - evaluated}
