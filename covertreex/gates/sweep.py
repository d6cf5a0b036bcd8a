"""Recall and speed of a gated search across candidate budgets, measured against the exact engine.

``budget_sweep`` answers the same held-out tree points exactly once and gated at every budget: the
points a recall-vs-budget chart and a recall-vs-queries/s (Pareto) chart are drawn from.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from covertreex.gates.calibration import clopper_pearson
from covertreex.gates.profile import GateProfile
from covertreex.gates.search import neighbour_counts


def held_out_ids(tree, profile: GateProfile, count: int, seed: int) -> np.ndarray:
    """``count`` seeded tree points outside the profile's calibration points (ids >= 1 in predecessor mode)."""
    first = 1 if profile.predecessor else 0
    pool = np.setdiff1d(tree.ids[first:], profile.calibration["ids"])
    if count > pool.size:
        raise ValueError(f"only {pool.size} points lie outside the calibration set; ask for at most that many")
    return np.sort(np.random.default_rng(seed).choice(pool, count, replace=False))


def budget_sweep(tree, profile: GateProfile, budgets, queries: int = 512, seed: int = 1,
                 confidence: float = 0.95) -> list[dict]:
    """For each budget (one for every band): recall@k with its Clopper–Pearson interval, the fraction
    of queries served whole and queries/s of the gated search (always gated: ``Gate.fallback`` off), on
    ``queries`` held-out points; plus a first row for the exact engine (``budget`` None)."""
    ids = held_out_ids(tree, profile, queries, seed)
    k, pred = profile.k, profile.predecessor
    start = time.perf_counter()
    exact = tree.knn(k=k, query_ids=ids, predecessor=pred)
    exact_s = time.perf_counter() - start
    rows = [{"budget": None, "recall": 1.0, "recall_low": 1.0, "recall_high": 1.0, "served": 1.0,
             "queries_per_s": queries / exact_s, "label": "exact"}]
    for budget in budgets:
        budget = int(budget)
        if not k <= budget <= tree.num_points:
            raise ValueError(f"budgets must lie in [k, points] = [{k}, {tree.num_points}], got {budget}")
        # the gated search itself at this budget (never the exact fallback): the trade-off being charted
        trial = dataclasses.replace(profile, gate=dataclasses.replace(profile.gate, fallback=False),
                                    budgets=(budget,) * len(profile.budgets))
        start = time.perf_counter()
        got = tree.knn(k=k, query_ids=ids, predecessor=pred, gate=trial)
        seconds = time.perf_counter() - start
        found, true, served = neighbour_counts(got, exact)
        low, high = clopper_pearson(found, true, confidence) if true else (1.0, 1.0)
        rows.append({"budget": budget, "recall": found / true if true else 1.0, "recall_low": low,
                     "recall_high": high, "served": served / queries,
                     "queries_per_s": queries / seconds, "label": f"budget {budget}"})
    return rows
