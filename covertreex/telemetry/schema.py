"""Versioned schemas of the JSONL telemetry events, and their validation.

Every event carries the common fields (which run, which configuration, when) plus the fields of its
schema.  A schema's version changes whenever a field is renamed, removed or changes meaning.
"""

from __future__ import annotations

from covertreex.algo.types import PHASES

COMMON = {
    "schema_id": str,
    "schema_version": int,
    "run_id": str,
    "runtime_hash": str,  # sha256 prefix of Runtime.describe() (which includes the seed)
    "seed": int,
    "timestamp": str,  # ISO 8601, UTC
}

_OPT_FLOAT = (float, type(None))
_OPT_INT = (int, type(None))
_PHASES = {f"seconds_{p}": float for p in PHASES}

SCHEMAS: dict[str, tuple[int, dict]] = {
    "covertreex.build.round": (1, {
        "operation": str,  # "fit" or "insert"
        "round": int,
        "tree_size": int,
        "batch_size": int,
        "levels_processed": int,
        "mis_total": int,
        "luby_rounds": int,
        "neighbour_edges": int,
        "parent_search_distances": int,
        "scope_mean": float,
        "scope_p50": float,
        "scope_p95": float,
        "scope_max": int,
        **_PHASES,
    }),
    "covertreex.build.level": (1, {
        "operation": str,
        "round": int,
        "level": int,  # cover-tree level the points were placed at; duplicates: DUP_LEVEL
        "points": int,
        "scope_mean": float,  # conflict-graph degree of those points
        "scope_max": int,
    }),
    "covertreex.build.summary": (1, {
        "operation": str,
        "points_before": int,
        "points_added": int,
        "rounds": int,
        "seconds": float,
        "metric": str,
        "dimension": int,
    }),
    "covertreex.fit.plan": (1, {
        "metric": str,
        "points": int,
        "tree": bool,  # whether the fit builds the cover tree
        "reason": str,  # the decision in words (the requested engine, or the probe's finding)
        "skippable": _OPT_FLOAT,  # probe: fraction of points a tree search could skip (None: no probe ran)
        "probe_points": _OPT_INT,  # probe: points of the sampled tree it searched
    }),
    "covertreex.query": (2, {
        "mode": str,  # "points", "self" or "predecessor"
        "engine": str,
        "queries": int,
        "k": int,
        "tree_size": int,
        "seconds": float,
        "evals_mean": float,
        "evals_p95": float,
        "evals_max": int,
        # tree traversal (None when the dense residual engine answered)
        "visited_mean": _OPT_FLOAT,  # nodes expanded per query
        "visited_p95": _OPT_FLOAT,
        "visited_max": _OPT_INT,
        "pruned_radius": _OPT_INT,  # subtrees cut by d(q, c) - r(c) > tau, all queries together
        "pruned_parent": _OPT_INT,  # children cut by |d(q, p) - d(p, c)| - r(c) > tau without computing d(q, c)
        "pruned_subtree_id": _OPT_INT,  # subtrees cut because all their ids are >= a predecessor row's id
        "recall": _OPT_FLOAT,  # when an oracle was run
    }),
    "covertreex.gate": (1, {
        "action": str,  # "calibrate" or "audit"
        "k": int,
        "predecessor": bool,
        "delta": float,  # target probability that a query misses a true neighbour
        "proxy": str,
        "bands": int,
        "budget_min": int,  # candidates re-ranked per query, over the bands of p
        "budget_max": int,
        "calibration_queries": int,
        "calibration_seconds": float,
        "audit_queries": _OPT_INT,  # held-out queries answered both ways (None: no audit)
        "recall": _OPT_FLOAT,  # true neighbours returned / true neighbours
        "recall_low": _OPT_FLOAT,  # Clopper-Pearson interval of the recall
        "recall_high": _OPT_FLOAT,
        "served_fraction": _OPT_FLOAT,  # queries returned with all their true neighbours
        "served_low": _OPT_FLOAT,
        "served_high": _OPT_FLOAT,
    }),
    "covertreex.operation": (1, {
        "operation": str,  # what was timed ("build", "query", ...)
        "points": int,
        "dimension": int,
        "wall_s": float,
        "cpu_s": float,
        "cpu_utilisation": float,  # CPU seconds per wall second
        "rss_peak_mb": float,
        "peak_extra_mb": float,  # peak RSS above the RSS on entry
        "threads": int,
    }),
}


def validate(event: dict) -> None:
    """Raise ``ValueError`` naming the first missing, unexpected or mistyped field."""
    schema_id = event.get("schema_id")
    if schema_id not in SCHEMAS:
        raise ValueError(f"unknown schema_id {schema_id!r}; known: {', '.join(SCHEMAS)}")
    version, fields = SCHEMAS[schema_id]
    if event.get("schema_version") != version:
        raise ValueError(f"{schema_id}: schema_version must be {version}, got {event.get('schema_version')!r}")
    expected = {**COMMON, **fields}
    missing = sorted(set(expected) - set(event))
    extra = sorted(set(event) - set(expected))
    if missing or extra:
        raise ValueError(f"{schema_id}: missing fields {missing}, unexpected fields {extra}")
    for name, kind in expected.items():
        value = event[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = any(isinstance(value, t) and not (t in (int, float) and isinstance(value, bool)) for t in kinds)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            names = " or ".join(t.__name__ for t in kinds)
            raise ValueError(f"{schema_id}: field {name!r} must be {names}, got {value!r}")
