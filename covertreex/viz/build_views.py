"""Views of a build's telemetry: scope sizes per batch and per level, and time per phase."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from covertreex.algo.types import PHASES
from covertreex.core._levels_numba import DUP_LEVEL
from covertreex.viz._frames import events, first_run


def _round_labels(rounds) -> list[str]:
    return [f"{r} ({b:,})" for r, b in zip(rounds["round"].astype(int), rounds["batch_size"].astype(int))]


def scope_sizes(frame, run_id: str | None = None, operation: str = "fit") -> go.Figure:
    """Conflict-graph scope (batch points within reach of a point) per prefix round and per level.

    Left: median, 95th percentile and maximum per round (x: round and its batch size).  Right: per level the
    points placed there, their mean scope and the largest scope, over all rounds of the run.
    """
    run_id = run_id or first_run(frame, "covertreex.build.round")
    rounds = events(frame, "covertreex.build.round", run_id, operation).sort_values("round")
    levels = events(frame, "covertreex.build.level", run_id, operation)
    x = _round_labels(rounds)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("scope per batch (prefix round)", "scope per level"),
                        specs=[[{}, {"secondary_y": True}]])
    for name, column in (("median", "scope_p50"), ("95th percentile", "scope_p95"), ("max", "scope_max"),
                         ("mean", "scope_mean")):
        fig.add_trace(go.Scatter(x=x, y=rounds[column], name=f"round {name}", mode="lines+markers"), row=1, col=1)
    levels = levels.assign(weighted=levels["scope_mean"] * levels["points"])
    per_level = levels.groupby(levels["level"].astype(int)).agg(points=("points", "sum"), weighted=("weighted", "sum"),
                                                               scope_max=("scope_max", "max"))
    per_level = per_level.sort_index(ascending=False)
    names = ["duplicates" if lv == DUP_LEVEL else str(lv) for lv in per_level.index]
    fig.add_trace(go.Bar(x=names, y=per_level["weighted"] / per_level["points"], name="level mean scope"),
                  row=1, col=2)
    fig.add_trace(go.Scatter(x=names, y=per_level["scope_max"], name="level max scope", mode="markers"),
                  row=1, col=2)
    fig.add_trace(go.Scatter(x=names, y=per_level["points"], name="points placed", mode="lines+markers",
                             line={"dash": "dot"}), row=1, col=2, secondary_y=True)
    fig.update_xaxes(title="round (batch size)", row=1, col=1)
    fig.update_xaxes(title="level (high to low)", type="category", row=1, col=2)
    fig.update_yaxes(title="scope (conflict-graph degree)", row=1, col=1)
    fig.update_yaxes(title="scope", row=1, col=2)
    fig.update_yaxes(title="points", secondary_y=True, row=1, col=2)
    fig.update_layout(title=f"scope sizes ({operation}, run {run_id})", height=450)
    return fig


def phase_breakdown(frame, run_id: str | None = None, operation: str = "fit") -> go.Figure:
    """Seconds per build phase, stacked, per prefix round."""
    run_id = run_id or first_run(frame, "covertreex.build.round")
    rounds = events(frame, "covertreex.build.round", run_id, operation).sort_values("round")
    x = _round_labels(rounds)
    fig = go.Figure()
    for phase in PHASES:
        fig.add_trace(go.Bar(x=x, y=rounds[f"seconds_{phase}"], name=phase.replace("_", " ")))
    total = sum(float(rounds[f"seconds_{p}"].sum()) for p in PHASES)
    fig.update_layout(barmode="stack", height=420, xaxis_title="round (batch size)", yaxis_title="seconds",
                      title=f"build time per phase ({operation}, run {run_id}): {total:.3f} s in rounds")
    return fig
