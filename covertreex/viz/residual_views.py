"""The residual-correlation distance around one point, drawn over the points' coordinates."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from covertreex.reference.brute_force import brute_force_knn


def residual_landscape(tree, point_id: int, k: int = 10, compare_euclidean: bool = True,
                       axes: tuple[int, int] = (0, 1)) -> go.Figure:
    """Every point at its coordinates (two of them: ``axes``), coloured by its residual distance to
    ``point_id``; the point's k residual neighbours are ringed, and (``compare_euclidean``) its k
    Euclidean neighbours marked, to show how the two neighbour sets differ."""
    if getattr(tree, "runtime", None) is None or tree.runtime.metric != "residual":
        raise ValueError("tree must be a fitted CoverTree with Runtime(metric='residual')")
    n = tree.num_points
    if isinstance(point_id, bool) or not isinstance(point_id, (int, np.integer)) or not 0 <= point_id < n:
        raise ValueError(f"point_id must be an int in [0, {n}), got {point_id!r}")
    coords = np.asarray(tree.points)
    if len(axes) != 2 or not all(0 <= ax < coords.shape[1] for ax in axes):
        raise ValueError(f"axes must be two column numbers in [0, {coords.shape[1]}), got {axes!r}")
    dist = tree.distances([point_id], np.arange(n))[0]
    resid = tree.knn(k=k, query_ids=[point_id])[0]
    x, y = coords[:, axes[0]], coords[:, axes[1]]
    fig = go.Figure(go.Scattergl(
        x=x, y=y, mode="markers", name="points", text=[f"id {i}: d={d:.3f}" for i, d in enumerate(dist)],
        hoverinfo="text", marker={"size": 5, "color": dist, "colorscale": "Magma", "cmin": 0.0, "cmax": 1.0,
                                  "colorbar": {"title": "residual d"}}))
    fig.add_trace(go.Scatter(x=x[resid], y=y[resid], mode="markers", name=f"{k} residual neighbours",
                             marker={"size": 12, "symbol": "circle-open", "color": "#1f77b4",
                                     "line": {"width": 2}}))
    if compare_euclidean:
        eucl = brute_force_knn(coords, k=k, rows=[point_id], return_distances=False)[0]
        fig.add_trace(go.Scatter(x=x[eucl], y=y[eucl], mode="markers", name=f"{k} Euclidean neighbours",
                                 marker={"size": 9, "symbol": "x", "color": "#2ca02c"}))
        shared = np.intersect1d(resid, eucl).size
        title = f"residual distance to point {point_id}: {shared} of {k} neighbours shared with Euclidean"
    else:
        title = f"residual distance to point {point_id}"
    fig.add_trace(go.Scatter(x=[x[point_id]], y=[y[point_id]], mode="markers", name=f"point {point_id}",
                             marker={"size": 16, "symbol": "star", "color": "#d62728"}))
    # the colour bar takes the right-hand side: the legend goes under the plot, never over the bar
    fig.update_layout(height=550, title=title, xaxis_title=f"x{axes[0]}", yaxis_title=f"x{axes[1]}",
                      legend={"orientation": "h", "x": 0.0, "y": -0.15, "yanchor": "top"})
    return fig
