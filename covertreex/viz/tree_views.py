"""Views of a tree's shape: nodes per level, fan-out, and a picture of a small tree."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from covertreex.core._levels_numba import DUP_LEVEL


def _arrays(tree):
    arrays = getattr(tree, "arrays", tree)
    if not hasattr(arrays, "child_ptr"):
        raise TypeError(f"tree must be a fitted CoverTree or its PCCTree arrays, got {type(tree).__name__}")
    return arrays


def level_histogram(tree) -> go.Figure:
    """Left: nodes per level (exact duplicates apart).  Right: how many nodes have each number of children."""
    a = _arrays(tree)
    levels, counts = np.unique(a.level, return_counts=True)
    names = ["duplicates" if lv == DUP_LEVEL else str(lv) for lv in levels[::-1]]
    fanout = np.diff(a.child_ptr)
    inner = fanout[fanout > 0]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "nodes per level", f"fan-out of {inner.size:,} inner nodes (mean {inner.mean() if inner.size else 0:.2f})"))
    fig.add_trace(go.Bar(x=names, y=counts[::-1], name="nodes"), row=1, col=1)
    sizes, how_many = np.unique(inner, return_counts=True)
    fig.add_trace(go.Bar(x=sizes, y=how_many, name="inner nodes"), row=1, col=2)
    fig.update_xaxes(title="level (high to low)", type="category", row=1, col=1)
    fig.update_xaxes(title="children", row=1, col=2)
    fig.update_yaxes(type="log", title="count", row=1, col=2)
    fig.update_layout(height=420, showlegend=False, title=f"tree shape: {a.num_points:,} points")
    return fig


def tree_picture(tree, coordinates=None, max_points: int = 5000) -> go.Figure:
    """Points coloured by level with a line from each node to its parent; 2-D or 3-D (first 3 columns).

    ``coordinates`` (n, D), in id order, replaces the tree's own points (a ``CoverTree``'s ``points``:
    coordinates also for residual trees; bare ``PCCTree`` arrays: the stored rows).
    """
    a = _arrays(tree)
    if a.num_points > max_points:
        raise ValueError(f"tree has {a.num_points:,} points; tree_picture draws at most max_points={max_points:,}")
    if coordinates is None and hasattr(tree, "arrays"):
        coordinates = tree.points
    xyz = np.asarray(a.points if coordinates is None else coordinates, dtype=np.float64)
    if xyz.ndim != 2 or xyz.shape[0] != a.num_points or xyz.shape[1] < 2:
        raise ValueError(f"coordinates must be (n_points, >=2) = ({a.num_points}, D), got {xyz.shape}")
    if coordinates is not None:
        xyz = xyz[a.ids]  # id order -> tree positions
    dims = 3 if xyz.shape[1] >= 3 else 2
    xyz = xyz[:, :dims]
    child = np.flatnonzero(a.parent >= 0)
    # segments child -> parent separated by NaN (one trace for all links)
    seg = np.full((child.size * 3, dims), np.nan)
    seg[0::3] = xyz[child]
    seg[1::3] = xyz[a.parent[child]]
    finite = a.level > DUP_LEVEL
    colour = np.where(finite, a.level, a.level[finite].min() - 1 if finite.any() else 0)
    hover = [f"id {i}, level {'dup' if lv == DUP_LEVEL else lv}" for i, lv in zip(a.ids, a.level)]
    marker = {"size": 4 if dims == 3 else 6, "color": colour, "colorscale": "Viridis",
              "colorbar": {"title": "level"}}
    if dims == 3:
        links = go.Scatter3d(x=seg[:, 0], y=seg[:, 1], z=seg[:, 2], mode="lines", name="parent links",
                             line={"color": "rgba(120,120,120,0.5)", "width": 1}, hoverinfo="skip")
        nodes = go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="markers", name="points", marker=marker,
                             text=hover, hoverinfo="text")
    else:
        links = go.Scatter(x=seg[:, 0], y=seg[:, 1], mode="lines", name="parent links",
                           line={"color": "rgba(120,120,120,0.5)", "width": 1}, hoverinfo="skip")
        nodes = go.Scatter(x=xyz[:, 0], y=xyz[:, 1], mode="markers", name="points", marker=marker, text=hover,
                           hoverinfo="text")
    fig = go.Figure([links, nodes])
    fig.add_annotation(text=f"root: id {a.ids[0]}", showarrow=False, xref="paper", yref="paper", x=0, y=1.05)
    fig.update_layout(height=550, title=f"cover tree of {a.num_points:,} points, coloured by level",
                      legend={"orientation": "h", "x": 0.0, "y": -0.08, "yanchor": "top"})  # the bar is on the right
    if dims == 2:
        fig.update_yaxes(scaleanchor="x")
    return fig
