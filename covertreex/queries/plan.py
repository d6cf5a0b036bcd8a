"""Whether a fit builds the cover tree: only when a query engine that reads it is chosen or will pay.

The dense residual engine reads the feature rows in id order and nothing else, so a residual ``fit``
under ``query_engine="dense"`` stops after the factors.  Under ``"auto"`` a probe decides before any
tree is built: the exact distances of a few sampled points to every point (one small BLAS block)
show how much of the data a tree search could skip.  A subtree of radius r at distance D from a
query is pruned only when D - r exceeds the query's k-th distance; with ``PROBE_K`` neighbours and
subtrees the size of a leaf scan, the fraction of points beyond (k-th distance + leaf diameter) is
what a tree search could skip.  The tree is built when its estimated cost (evaluations skipped or not,
build included) undercuts the dense scan of every point.  Decision, reason and probe figures are kept
on the tree (``CoverTree.describe()``) and sent to telemetry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from covertreex.metrics.residual_dense import screen_block
from covertreex.queries.knn import LEAF_SCAN_LOW_DIM, TREE_NS, TREE_NS_PER_FEATURE, DENSE_NS, DENSE_NS_PER_FEATURE

PROBE_QUERIES = 16  # sampled points whose distances to all points the probe computes
PROBE_K = 32  # neighbours the probe assumes (a typical Vecchia conditioning set)
PROBE_MIN_POINTS = 4 * LEAF_SCAN_LOW_DIM  # below this a tree search scans everything anyway
# A tree search costs its evaluations at tree rates, and building the tree costs about as much again.
BUILD_FACTOR = 2.0


@dataclass(frozen=True)
class EnginePlan:
    """``tree``: whether the fit builds the cover tree; ``reason`` in words; ``probe``: the figures."""

    tree: bool
    reason: str
    probe: dict | None = None

    def describe(self) -> dict:
        return asdict(self)


def plan_fit(requested: str, engines: tuple[str, ...], rows: np.ndarray, metric, seed: int) -> EnginePlan:
    """The plan of a fit under ``Runtime.query_engine = requested`` for a metric offering ``engines``."""
    if "dense" not in engines:
        return EnginePlan(True, f"metric {metric.name!r} is searched by the tree only")
    if requested == "tree":
        return EnginePlan(True, "Runtime.query_engine='tree'")
    if requested == "dense":
        return EnginePlan(False, "Runtime.query_engine='dense': the dense engine reads the rows, not a tree")
    n = rows.shape[0]
    if n < PROBE_MIN_POINTS:
        return EnginePlan(False, f"{n} points: a tree search would scan them all (auto)")
    probe = prune_probe(rows, metric, seed)
    features = rows.shape[1]
    tree_ns = BUILD_FACTOR * (1.0 - probe["skippable"]) * (TREE_NS + TREE_NS_PER_FEATURE * features)
    dense_ns = DENSE_NS + DENSE_NS_PER_FEATURE * features
    probe = {**probe, "tree_ns_per_point": tree_ns, "dense_ns_per_point": dense_ns}
    if tree_ns < dense_ns:
        return EnginePlan(True, f"auto: a tree search could skip {probe['skippable']:.0%} of the points, "
                                "cheaper than scanning them all", probe)
    return EnginePlan(False, f"auto: a tree search could skip only {probe['skippable']:.0%} of the points, "
                             "the dense scan is cheaper", probe)


def prune_probe(rows: np.ndarray, metric, seed: int) -> dict:
    """Distances of ``PROBE_QUERIES`` seeded points to all points: the median k-th distance, the median
    leaf diameter (twice the distance to the ``LEAF_SCAN_LOW_DIM``-th nearest point) and the mean
    fraction of points farther than their sum (what pruning could skip)."""
    n = rows.shape[0]
    sample = np.sort(np.random.default_rng(seed).choice(n, min(n, PROBE_QUERIES), replace=False))
    sq, err = screen_block(metric.slots, rows[sample], rows)
    d = np.sqrt(np.maximum(sq - err, 0.0))  # lower bounds: the probe never overstates what pruning skips
    d[np.arange(sample.shape[0]), sample] = np.inf  # the point itself
    k, leaf = min(PROBE_K, n - 1), min(LEAF_SCAN_LOW_DIM, n - 1)
    part = np.partition(d, (k - 1, leaf - 1), axis=1)
    kth, leaf_d = part[:, k - 1], 2.0 * part[:, leaf - 1]
    reach = kth + np.median(leaf_d)
    skippable = float(np.mean(((d > reach[:, None]).sum(axis=1) - 1) / (n - 1)))  # less the point itself
    return {"queries": int(sample.shape[0]), "k": int(k), "kth_distance": float(np.median(kth)),
            "leaf_diameter": float(np.median(leaf_d)), "skippable": skippable}
