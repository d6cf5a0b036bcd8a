"""Views of query work: distance evaluations per query, and recall against speed across engines."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from covertreex.queries.types import KnnResult


def _counts(value, name: str) -> np.ndarray:
    counts = value.distance_evaluations if isinstance(value, KnnResult) else np.asarray(value)
    if counts.ndim != 1 or counts.size == 0 or not np.issubdtype(counts.dtype, np.number):
        raise ValueError(f"{name}: expected a KnnResult or a non-empty 1-D array of counts, got shape {counts.shape}")
    return counts


def distance_evaluations(results, tree_size: int | None = None) -> go.Figure:
    """Histogram of distance evaluations per query; ``results`` is a ``KnnResult``/array or a
    mapping label -> one of those (overlaid, to compare settings).  ``tree_size`` marks brute force."""
    if not isinstance(results, Mapping):
        results = {"queries": results}
    if not results:
        raise ValueError("results is empty")
    fig = go.Figure()
    for label, value in results.items():
        counts = _counts(value, str(label))
        fig.add_trace(go.Histogram(x=counts, name=f"{label} (mean {counts.mean():,.0f})", opacity=0.7))
    if tree_size is not None:
        fig.add_vline(x=tree_size, line_dash="dash", annotation_text=f"brute force: {tree_size:,}")
    fig.update_layout(barmode="overlay", height=400, xaxis_title="distance evaluations per query",
                      yaxis_title="queries", title="work per query")
    return fig


def _number(value) -> bool:
    """A finite number (a DataFrame turns a missing recall into NaN)."""
    return isinstance(value, (int, float, np.number)) and bool(np.isfinite(value))


def recall_vs_speed(engines) -> go.Figure:
    """Queries per second (log) against recall, one marker per engine row of a benchmark table
    (``run_euclidean(...)["rows"]`` or a DataFrame of it); rows without a recall are left out."""
    rows = engines.to_dict("records") if hasattr(engines, "to_dict") else list(engines)
    rows = [r for r in rows if _number(r.get("recall")) and _number(r.get("queries_per_s"))]
    if not rows:
        raise ValueError("engines has no row with both recall and queries_per_s")
    fig = go.Figure()
    # one legend entry per engine, no text on the plot: exact engines share recall 1, where labels piled up
    # on each other and ran off the plot's edges
    tasks = list(dict.fromkeys(r.get("task", "knn") for r in rows))
    for r in rows:
        task = r.get("task", "knn")
        fig.add_trace(go.Scatter(
            x=[r["queries_per_s"]], y=[r["recall"]], mode="markers", legendgroup=task,
            name=r["engine"] + (f" ({task})" if len(tasks) > 1 else ""),
            hovertext=f"{r['engine']} ({task}): {r['queries_per_s']:,.0f} q/s, recall {r['recall']:.4f}",
            hoverinfo="text", marker={"size": 12, "symbol": "circle" if r.get("exact", True) else "x"}))
    fig.update_xaxes(type="log", title="queries per second (log)")
    fig.update_yaxes(title="recall against the exact oracle", range=[min(0.0, min(r["recall"] for r in rows)), 1.05])
    fig.update_layout(height=450, title="recall vs speed (x: approximate engines)")
    return fig
