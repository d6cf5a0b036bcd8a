"""``ResidualTuner``: how kernel, lengthscale and inducing count change residual neighbours and work."""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from covertreex.api.tree import CoverTree
from covertreex.kernels import KERNELS, kernel_by_name
from covertreex.metrics.residual import Residual
from covertreex.runtime.config import Runtime
from covertreex.viz.residual_views import residual_landscape
from covertreex.widgets._figures import Displayed, error_html, figure_widget, show


@dataclass(frozen=True)
class TuneResult:
    figure: go.Figure  # the residual landscape around the chosen point
    overlap: float  # mean fraction of residual k-NN also among the Euclidean k-NN (sampled rows)
    evals_residual: float  # mean distance evaluations per query (tree engine, residual)
    evals_euclidean: float  # the same for a Euclidean tree over the coordinates
    median_kth: float  # median residual distance of the k-th neighbour
    tree: CoverTree
    rows: np.ndarray  # the sampled points the statistics are over (never inducing points)


def tune_residual(X: np.ndarray, kernel: str = "rbf", lengthscale: float = 1.0, inducing: int = 64, k: int = 10,
                  point_id: int = 0, sample: int = 64, seed: int = 0) -> TuneResult:
    """Fit a residual tree on ``X`` and compare with Euclidean neighbours on ``sample`` seeded rows.

    The rows are drawn (seeded, apart from the inducing points' draw) among the points that are *not*
    inducing points: at an inducing point p is ~0 and its residual neighbours say nothing typical."""
    X = np.asarray(X, dtype=np.float64)
    kern = kernel_by_name(kernel, variance=1.0, lengthscale=lengthscale)
    if isinstance(inducing, bool) or not isinstance(inducing, (int, np.integer)) or not 1 <= inducing <= len(X):
        raise ValueError(f"inducing must be an int in [1, {len(X)}], got {inducing!r}")
    policy = Residual(kern, inducing=int(inducing), seed=seed)
    tree = CoverTree(Runtime(metric="residual", residual=policy)).fit(X)
    pool = np.setdiff1d(np.arange(len(X)), policy.inducing_rows(len(X)))
    if pool.size == 0:
        raise ValueError("every point is an inducing point, so none is left to sample statistics from: "
                         "use fewer inducing points")
    rows = np.sort(np.random.default_rng([seed, 1]).choice(pool, min(sample, pool.size), replace=False))
    res = tree.knn_result(k=k, query_ids=rows, engine="tree")
    euc = CoverTree(Runtime(seed=seed)).fit(X).knn_result(k=k, query_ids=rows)
    overlap = float(np.mean([np.intersect1d(a, b).size / k for a, b in zip(res.ids, euc.ids)]))
    return TuneResult(figure=residual_landscape(tree, point_id, k=k), overlap=overlap,
                      evals_residual=float(res.distance_evaluations.mean()),
                      evals_euclidean=float(euc.distance_evaluations.mean()),
                      median_kth=float(np.median(res.distances[:, -1])), tree=tree, rows=rows)


class ResidualTuner(Displayed):
    """Kernel, lengthscale, inducing count, k and the point to look at; redraws on every change."""

    def __init__(self, X: np.ndarray, point_id: int = 0):
        self.X = np.asarray(X, dtype=np.float64)
        n = len(self.X)
        self.kernel = W.Dropdown(options=list(KERNELS), value="rbf", description="kernel")
        self.lengthscale = W.FloatLogSlider(value=1.0, base=10, min=-2, max=1.5, description="lengthscale")
        self.inducing = W.IntSlider(value=min(64, n), min=1, max=min(1024, n), description="inducing m")
        self.k = W.IntSlider(value=10, min=1, max=min(100, n - 1), description="k")
        self.point = W.BoundedIntText(value=point_id, min=0, max=n - 1, description="point id")
        self.summary = W.HTML()
        self.figure = figure_widget()
        self.last: TuneResult | None = None
        for control in (self.kernel, self.lengthscale, self.inducing, self.k, self.point):
            control.observe(lambda _c: self.update(), names="value")
        self.widget = W.VBox([W.HBox([W.VBox([self.kernel, self.lengthscale, self.inducing]),
                                      W.VBox([self.k, self.point])]), self.summary, self.figure])
        self.update()

    def update(self) -> TuneResult | None:
        try:
            self.last = tune_residual(self.X, self.kernel.value, self.lengthscale.value, self.inducing.value,
                                      self.k.value, self.point.value)
        except (ValueError, TypeError) as exc:
            self.summary.value = error_html(str(exc))
            return None
        r = self.last
        self.summary.value = (
            f"residual k-NN shared with Euclidean k-NN: <b>{r.overlap:.0%}</b>; distance evaluations per query: "
            f"residual <b>{r.evals_residual:,.0f}</b>, Euclidean <b>{r.evals_euclidean:,.0f}</b> "
            f"(of {len(self.X):,}); median k-th residual distance {r.median_kth:.3f} "
            f"(over {r.rows.size} sampled points that are not inducing points)")
        show(self.figure, r.figure)
        return r
