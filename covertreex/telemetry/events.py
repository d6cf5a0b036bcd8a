"""Turning build statistics and query results into telemetry events (called only when a writer is given)."""

from __future__ import annotations

import numpy as np

_ROUND_FIELDS = ("round", "tree_size", "batch_size", "levels_processed", "mis_total", "luby_rounds",
                 "neighbour_edges", "parent_search_distances", "scope_mean", "scope_p50", "scope_p95", "scope_max",
                 "seconds_order", "seconds_traversal", "seconds_conflict_graph", "seconds_mis", "seconds_link")


def emit_build(writer, operation: str, stats, seconds: float, before: int, added: int, metric: str,
               dimension: int) -> None:
    """Per prefix round a ``covertreex.build.round`` event and one ``covertreex.build.level`` event per level
    the round placed points at; then a ``covertreex.build.summary``."""
    for s in stats:
        writer.emit("covertreex.build.round", operation=operation, **{f: getattr(s, f) for f in _ROUND_FIELDS})
        for lv in s.levels:
            writer.emit("covertreex.build.level", operation=operation, round=s.round, level=lv.level,
                        points=lv.points, scope_mean=lv.scope_mean, scope_max=lv.scope_max)
    writer.emit("covertreex.build.summary", operation=operation, points_before=before, points_added=added,
                rounds=len(stats), seconds=seconds, metric=metric, dimension=dimension)


def _spread(prefix: str, values: np.ndarray | None) -> dict:
    """``{prefix}_mean/_p95/_max`` of per-query counts (None when not counted, 0 for no queries)."""
    if values is None:
        return {f"{prefix}_mean": None, f"{prefix}_p95": None, f"{prefix}_max": None}
    if values.size == 0:
        return {f"{prefix}_mean": 0.0, f"{prefix}_p95": 0.0, f"{prefix}_max": 0}
    return {f"{prefix}_mean": float(values.mean()), f"{prefix}_p95": float(np.percentile(values, 95)),
            f"{prefix}_max": int(values.max())}


def emit_plan(writer, plan, points: int, metric: str) -> None:
    """One ``covertreex.fit.plan`` event: whether the fit builds the cover tree, and why."""
    probe = plan.probe or {}
    writer.emit("covertreex.fit.plan", metric=metric, points=points, tree=plan.tree, reason=plan.reason,
                skippable=probe.get("skippable"), probe_points=probe.get("points"))


def emit_query(writer, mode: str, result, k: int, tree_size: int, seconds: float, recall: float | None = None) -> None:
    """One ``covertreex.query`` event: sizes, time, distance evaluations and nodes visited per query
    (mean/p95/max) and the subtrees each bound pruned (totals; None for the dense engine)."""
    pruned = {f"pruned_{name}": None if result.traversal is None else int(result.counter(f"pruned_{name}").sum())
              for name in ("radius", "parent", "subtree_id")}
    writer.emit("covertreex.query", mode=mode, engine=result.engine, queries=int(result.distance_evaluations.size),
                k=k, tree_size=tree_size, seconds=seconds, **_spread("evals", result.distance_evaluations),
                **_spread("visited", result.counter("nodes_visited")), **pruned, recall=recall)


def emit_operation(writer, stats, points: int, dimension: int) -> None:
    """One ``covertreex.operation`` event from an ``OperationStats`` (wall, CPU, memory, threads)."""
    writer.emit("covertreex.operation", operation=stats.name, points=points, dimension=dimension,
                wall_s=stats.wall_s, cpu_s=stats.cpu_s, cpu_utilisation=stats.cpu_utilisation,
                rss_peak_mb=stats.rss_peak_bytes / 2**20, peak_extra_mb=stats.peak_extra_rss_bytes / 2**20,
                threads=stats.threads)


def emit_gate(writer, action: str, profile, audit) -> None:
    """One ``covertreex.gate`` event: a gate calibrated or audited, its budgets and the audited recall
    with its Clopper–Pearson interval (None where no audit ran)."""
    a = audit.describe() if audit is not None else {}
    writer.emit("covertreex.gate", action=action, k=profile.k, predecessor=profile.predecessor,
                delta=profile.gate.delta, proxy=profile.gate.proxy, bands=profile.gate.bands,
                budget_min=min(profile.budgets), budget_max=max(profile.budgets),
                calibration_queries=int(profile.calibration["ids"].size), calibration_seconds=profile.seconds,
                audit_queries=a.get("queries"), recall=a.get("recall"), recall_low=a.get("recall_low"),
                recall_high=a.get("recall_high"), served_fraction=a.get("served_fraction"),
                served_low=a.get("served_low"), served_high=a.get("served_high"))
