"""``GateTuner``: calibrate a gated residual search and see what it costs and what it misses, live."""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from covertreex.api.tree import CoverTree
from covertreex.gates.policy import PROXIES, SEARCHES, Gate
from covertreex.gates.profile import GateProfile
from covertreex.gates.sweep import budget_sweep
from covertreex.viz.gate_views import gate_profile, recall_speed_pareto
from covertreex.widgets._figures import Displayed, error_html, figure_widget, show

SWEEP_FACTORS = (0.25, 0.5, 1.0, 2.0)  # budgets of the Pareto chart, relative to the calibrated one


@dataclass(frozen=True)
class GateTuning:
    profile: GateProfile
    sweep: list[dict]  # ``budget_sweep`` rows: exact first, then the sweep's budgets
    gated_qps: float  # queries/s at the calibrated budgets on the audited (held-out) points
    profile_figure: go.Figure
    pareto_figure: go.Figure


def tune_gate(tree: CoverTree, delta: float = 0.01, calibration: int = 512, proxy: str = "scaled", k: int = 10,
              bands: int = 1, predecessor: bool = False, audit: int = 256, seed: int = 0,
              peers: list[dict] | None = None, search: str = "walk", cell: int = 512) -> GateTuning:
    """Calibrate ``Gate(delta, calibration, audit, proxy, bands, seed, search=search, cell=cell)`` on ``tree``
    for k (``audit`` >= 1), sweep budgets around the calibrated one on held-out points, and draw the
    profile and the recall/speed chart (``peers``: extra Pareto points, e.g. an approximate library's measured recall and
    queries/s)."""
    if audit < 1:
        raise ValueError("the tuner reports audited recall: audit must be >= 1")
    gate = Gate(delta=delta, calibration=calibration, audit=audit, proxy=proxy, bands=bands, seed=seed,
                search=search, cell=cell)
    profile = tree.calibrate_gate(gate, k, predecessor=predecessor)
    chosen = max(profile.budgets)
    budgets = sorted({int(np.clip(round(f * chosen), k, tree.num_points)) for f in SWEEP_FACTORS})
    queries = min(256, tree.num_points - calibration - (1 if predecessor else 0))
    sweep = budget_sweep(tree, profile, budgets, queries=queries, seed=seed + 1)
    points = [{"name": "exact", "kind": "exact", "recall": 1.0, "queries_per_s": sweep[0]["queries_per_s"]}]
    points += [{"name": str(r["budget"]), "kind": "gated", "recall": r["recall"], "recall_low": r["recall_low"],
                "recall_high": r["recall_high"], "queries_per_s": r["queries_per_s"]} for r in sweep[1:]]
    gated_qps = profile.audit.queries / profile.audit.seconds_gated  # the calibrated budgets, held-out points
    return GateTuning(profile, sweep, gated_qps, gate_profile(profile),
                      recall_speed_pareto(points + list(peers or [])))


class GateTuner(Displayed):
    """Target delta, calibration size, proxy, search, k and bands of p; recalibrates on every change."""

    def __init__(self, tree: CoverTree, peers: list[dict] | None = None):
        self.tree = tree
        self.peers = peers
        n = tree.num_points
        self.delta = W.FloatLogSlider(value=0.05, base=10, min=-3, max=-0.5, step=0.1, description="target delta")
        self.calibration = W.IntSlider(value=min(512, n // 3), min=20, max=max(20, min(4096, n // 2)), step=4,
                                       description="calibration")
        self.proxy = W.Dropdown(options=list(PROXIES), value="scaled", description="proxy")
        self.search = W.Dropdown(options=list(SEARCHES), value="walk", description="search")
        self.k = W.IntSlider(value=10, min=1, max=min(100, n // 4), description="k")
        self.bands = W.IntSlider(value=1, min=1, max=8, description="bands of p")
        self.summary = W.HTML()
        self.profile_figure = figure_widget()
        self.pareto_figure = figure_widget()
        self.last: GateTuning | None = None
        for control in (self.delta, self.calibration, self.proxy, self.search, self.k, self.bands):
            control.observe(lambda _c: self.update(), names="value")
        self.widget = W.VBox([W.HBox([W.VBox([self.delta, self.calibration, self.proxy]),
                                      W.VBox([self.search, self.k, self.bands])]), self.summary,
                              W.HBox([self.profile_figure, self.pareto_figure])])
        self.update()

    def update(self) -> GateTuning | None:
        try:
            self.last = tune_gate(self.tree, self.delta.value, self.calibration.value, self.proxy.value,
                                  self.k.value, self.bands.value, audit=min(256, self.tree.num_points // 4),
                                  peers=self.peers, search=self.search.value, cell=max(64, self.tree.num_points // 16))
        except (ValueError, TypeError) as exc:
            self.summary.value = error_html(str(exc))
            return None
        r = self.last
        a = r.profile.audit
        self.summary.value = (
            f"budgets <b>{', '.join(map(str, r.profile.budgets))}</b> of {self.tree.num_points:,} candidates; "
            f"audited recall@{r.profile.k} <b>{a.recall:.4f}</b> [{a.recall_low:.4f}, {a.recall_high:.4f}], "
            f"served whole {a.served_fraction:.3f}; gated {r.gated_qps:,.0f} queries/s vs exact "
            f"{r.sweep[0]['queries_per_s']:,.0f}; calibration {r.profile.seconds:.2f} s")
        show(self.profile_figure, r.profile_figure)
        show(self.pareto_figure, r.pareto_figure)
        return r
