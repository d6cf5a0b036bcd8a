"""Plotly figures of ``breakdown`` and ``scaling`` results, and writing them as self-contained HTML."""

from __future__ import annotations

import statistics
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from covertreex.algo.types import PHASES


def _label(run: dict) -> str:
    return f"n={run['n']:,} d={run['dim']}"


def breakdown_figure(result: dict) -> go.Figure:
    """Four panels per size: build phases + query seconds (stacked), CPU use, peak memory, work per query."""
    runs = result["runs"]
    x = [_label(r) for r in runs]
    fig = make_subplots(rows=2, cols=2, subplot_titles=(
        "seconds: build phases and query", "CPU utilisation (CPU s / wall s)", "peak extra RSS (MB)",
        "work per query"))
    for phase in PHASES:
        fig.add_trace(go.Bar(name=f"build: {phase.replace('_', ' ')}", x=x, y=[r["phases"][phase] for r in runs]),
                      row=1, col=1)
    fig.add_trace(go.Bar(name="build: other (validation, layout)", x=x,
                         y=[max(0.0, r["build"]["wall_s"] - sum(r["phases"].values())) for r in runs]), row=1, col=1)
    fig.add_trace(go.Bar(name="query: all-points k-NN", x=x, y=[r["query"]["wall_s"] for r in runs]), row=1, col=1)
    for what in ("build", "query"):
        fig.add_trace(go.Scatter(name=f"{what} CPU", x=x, y=[r[what]["cpu_utilisation"] for r in runs],
                                 mode="lines+markers"), row=1, col=2)
        fig.add_trace(go.Bar(name=f"{what} memory", x=x, y=[r[what]["peak_extra_rss_bytes"] / 2**20 for r in runs]),
                      row=2, col=1)
    fig.add_trace(go.Bar(name="distance evaluations", x=x, y=[r["evals_mean"] for r in runs]), row=2, col=2)
    fig.add_trace(go.Bar(name="nodes visited", x=x, y=[r["visited_mean"] for r in runs]), row=2, col=2)
    fig.update_layout(barmode="stack", height=800, title=_title("covertreex runtime breakdown", result))
    fig.update_yaxes(type="log", row=2, col=2)
    top = max([r[w]["cpu_utilisation"] for r in runs for w in ("build", "query")] + [1.0])
    fig.update_yaxes(range=[0, 1.1 * top], row=1, col=2)
    # only the first panel stacks; the others group
    for trace in fig.data:
        if trace.xaxis not in (None, "x") and isinstance(trace, go.Bar):
            trace.offsetgroup = trace.name
    return fig


def scaling_figure(result: dict, exponents: list[dict]) -> go.Figure:
    """Median build and query seconds against n (log-log), one line per dimension, slopes in the legend."""
    fig = go.Figure()
    slope = {(e["dim"], w): e[f"{w}_exponent"] for e in exponents for w in ("build", "query")}
    shaky = {e["dim"]: e.get("warning") for e in exponents if e.get("warning")}
    for dim in result["dims"]:
        part = sorted((r for r in result["runs"] if r["dim"] == dim), key=lambda r: r["n"])
        for what, dash in (("build", "solid"), ("query", "dot")):
            s = slope.get((dim, what))
            name = f"{what} d={dim}" + ("" if s is None else f" (n^{s:.2f}{'?' if dim in shaky else ''})")
            fig.add_trace(go.Scatter(x=[r["n"] for r in part], y=[statistics.median(r[f"{what}_runs"]) for r in part],
                                     name=name, mode="lines+markers", line={"dash": dash}))
    fig.update_xaxes(type="log", title="n (points)")
    fig.update_yaxes(type="log", title="seconds (median)")
    fig.update_layout(height=600, title=_title("covertreex scaling", result))
    for row, (dim, warning) in enumerate(sorted(shaky.items())):
        fig.add_annotation(text=f"d={dim}: exponents {warning}", xref="paper", yref="paper", x=0.0,
                           y=1.0 - 0.06 * row, xanchor="left", yanchor="top", showarrow=False,
                           font={"color": "#b00020"}, bgcolor="rgba(255,255,255,0.8)")
    return fig


def _title(head: str, result: dict) -> str:
    rt = result["runtime"]
    return (f"{head}: k={result['k']}, median of {result['repeat']} runs, {rt['metric']} {rt['precision']}, "
            f"conflict graph {rt['conflict_graph']}; JIT/cache load {result['jit_s']:.2f} s (not in the bars)")


def write_html(fig: go.Figure, path: str | Path) -> Path:
    """A self-contained HTML file (plotly.js embedded: opens offline)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    return path
