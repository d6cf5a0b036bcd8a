"""Views of a gated residual search: its calibration profile, recall against budget, and the
recall-vs-speed (Pareto) chart of exact engines, gated settings and approximate peers together."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def gate_profile(profile) -> go.Figure:
    """Each calibration query's score (the smallest budget that serves it: the proxy rank of its worst
    true neighbour) against its residual variance p and against its exact k-th distance, with the chosen
    budget of every band of p drawn over its band."""
    cal = profile.calibration
    if cal["ids"].size == 0:
        raise ValueError("the profile holds no calibration queries")
    scores, p, kth = np.asarray(cal["scores"]), np.asarray(cal["p"]), np.asarray(cal["kth_distance"])
    over = scores > np.asarray(profile.budget_of(p))
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=p[~over], y=scores[~over], mode="markers", name="served by its band's budget",
                               marker={"size": 5, "color": "#1f77b4"},
                               text=[f"id {i}: k-th d={d:.4f}" for i, d in zip(cal["ids"][~over], kth[~over])]))
    fig.add_trace(go.Scattergl(x=p[over], y=scores[over], mode="markers", name="would miss a neighbour",
                               marker={"size": 7, "color": "#d62728", "symbol": "x"},
                               text=[f"id {i}: k-th d={d:.4f}" for i, d in zip(cal["ids"][over], kth[over])]))
    edges = [float(p.min())] + list(profile.band_edges) + [float(p.max())]
    for b, budget in enumerate(profile.budgets):
        fig.add_trace(go.Scatter(x=[edges[b], edges[b + 1]], y=[budget, budget], mode="lines",
                                 name=f"budget {budget}" + (f" (band {b + 1})" if len(profile.budgets) > 1 else ""),
                                 line={"color": "#2ca02c", "width": 3}))
    a = profile.audit
    audit = "" if a is None else f"; audited recall {a.recall:.4f} [{a.recall_low:.4f}, {a.recall_high:.4f}]"
    fig.update_layout(height=450, title=f"gate profile: k={profile.k}, delta={profile.gate.delta:g}, "
                                        f"<br><sup>{scores.size} calibration queries{audit}</sup>",
                      xaxis={"title": "residual variance p", "type": "log"},
                      yaxis={"title": "budget needed (proxy rank of the worst true neighbour)", "type": "log"})
    return fig


def recall_vs_budget(sweep: list[dict]) -> go.Figure:
    """Recall@k (with its interval) and the fraction of queries served whole, against the budget
    (rows of ``gates.sweep.budget_sweep``)."""
    rows = [r for r in sweep if r["budget"] is not None]
    if not rows:
        raise ValueError("the sweep holds no gated rows")
    b = [r["budget"] for r in rows]
    recall = np.array([r["recall"] for r in rows])
    fig = go.Figure(go.Scatter(
        x=b, y=recall, mode="lines+markers", name="recall@k",
        error_y={"type": "data", "symmetric": False, "array": [r["recall_high"] - r["recall"] for r in rows],
                 "arrayminus": [r["recall"] - r["recall_low"] for r in rows]}))
    fig.add_trace(go.Scatter(x=b, y=[r["served"] for r in rows], mode="lines+markers", name="queries served whole"))
    fig.update_layout(height=420, title="gated recall against the candidate budget", xaxis_title="budget",
                      yaxis={"title": "fraction", "range": [min(0.9, float(recall.min()) - 0.01), 1.001]})
    return fig


def recall_speed_pareto(points: list[dict]) -> go.Figure:
    """One marker per setting (``name``, ``kind`` in exact / gated / peer, ``recall``, ``queries_per_s``,
    optional ``recall_low``/``recall_high``); the settings no other beats on both axes are joined."""
    pts = [p for p in points if p.get("queries_per_s")]
    if not pts:
        raise ValueError("no setting with a queries/s figure")
    fig = go.Figure()
    styles = {"exact": ("#2ca02c", "square"), "gated": ("#1f77b4", "circle"), "peer": ("#d62728", "diamond")}
    for kind, (colour, symbol) in styles.items():
        for p in (p for p in pts if p["kind"] == kind):  # one legend entry per setting: no labels to overlap
            fig.add_trace(go.Scatter(
                x=[p["queries_per_s"]], y=[p["recall"]], mode="markers", name=f"{p['name']} ({kind})",
                legendgroup=kind, hovertext=f"{p['name']}: {p['queries_per_s']:,.0f} q/s, recall {p['recall']:.4f}",
                hoverinfo="text", marker={"size": 11, "color": colour, "symbol": symbol},
                error_y={"type": "data", "symmetric": False, "array": [p.get("recall_high", p["recall"]) - p["recall"]],
                         "arrayminus": [p["recall"] - p.get("recall_low", p["recall"])]}))
    front = sorted((p for p in pts if not any(o["queries_per_s"] >= p["queries_per_s"] and o["recall"] >= p["recall"]
                                              and o is not p and (o["queries_per_s"], o["recall"])
                                              != (p["queries_per_s"], p["recall"]) for o in pts)),
                   key=lambda p: p["queries_per_s"])
    fig.add_trace(go.Scatter(x=[p["queries_per_s"] for p in front], y=[p["recall"] for p in front], mode="lines",
                             name="Pareto front", line={"dash": "dot", "color": "grey"}))
    fig.update_layout(height=450, title="recall@k against queries/s", xaxis={"title": "queries/s", "type": "log"},
                      yaxis_title="recall@k")
    return fig
