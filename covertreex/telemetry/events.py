"""Turning build statistics and query results into telemetry events (called only when a writer is given)."""

from __future__ import annotations

import numpy as np

_ROUND_FIELDS = ("round", "tree_size", "batch_size", "levels_processed", "mis_total", "luby_rounds",
                 "neighbour_edges", "parent_search_distances", "scope_mean", "scope_p50", "scope_p95", "scope_max",
                 "seconds_order", "seconds_traversal", "seconds_conflict_graph", "seconds_mis", "seconds_link")


def emit_build(writer, operation: str, stats, seconds: float, before: int, added: int, metric: str,
               dimension: int) -> None:
    """One ``covertreex.build.round`` event per prefix round, then a ``covertreex.build.summary``."""
    for s in stats:
        writer.emit("covertreex.build.round", operation=operation, **{f: getattr(s, f) for f in _ROUND_FIELDS})
    writer.emit("covertreex.build.summary", operation=operation, points_before=before, points_added=added,
                rounds=len(stats), seconds=seconds, metric=metric, dimension=dimension)


def emit_query(writer, mode: str, result, k: int, tree_size: int, seconds: float, recall: float | None = None) -> None:
    """One ``covertreex.query`` event: sizes, time and distance evaluations per query (mean/p95/max)."""
    evals = result.distance_evaluations
    has = evals.size > 0
    writer.emit("covertreex.query", mode=mode, engine=result.engine, queries=int(evals.size), k=k,
                tree_size=tree_size, seconds=seconds, evals_mean=float(evals.mean()) if has else 0.0,
                evals_p95=float(np.percentile(evals, 95)) if has else 0.0,
                evals_max=int(evals.max()) if has else 0, recall=recall)
