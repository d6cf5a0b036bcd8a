"""``ScopeExplorer``: build a tree with the panel's Runtime and look at its conflict-graph scopes."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import ipywidgets as W
import numpy as np

from covertreex.api.tree import CoverTree
from covertreex.runtime.config import Runtime
from covertreex.telemetry.artifacts import artifact_path, new_run_id
from covertreex.telemetry.load import load
from covertreex.telemetry.writer import TelemetryWriter
from covertreex.viz.build_views import phase_breakdown, scope_sizes
from covertreex.viz.tree_views import level_histogram
from covertreex.widgets._figures import Displayed, error_html, figure_widget, show, table_html
from covertreex.widgets.runtime_panel import RuntimePanel

DATA_KINDS = ("gaussian", "uniform", "clusters", "grid")
# the n slider's stops: powers of two and the halfway points between them (a slider of 512 steps of 256
# was ~40 px per hundred steps: unusable by mouse or keyboard)
SIZES = tuple(sorted({2**e for e in range(8, 18)} | {3 * 2**e for e in range(7, 16)}))
WARM_UP_POINTS = 512
VIEWS = {"scope per batch and level": scope_sizes, "time per phase": phase_breakdown}


def synthetic_points(kind: str, n: int, dim: int, seed: int) -> np.ndarray:
    """Seeded test data: N(0, I), uniform cube, 20 tight clusters, or an integer grid (many ties)."""
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((n, dim))
    if kind == "uniform":
        return rng.random((n, dim))
    if kind == "clusters":
        centres = rng.standard_normal((20, dim)) * 10
        return centres[rng.integers(0, 20, n)] + 0.05 * rng.standard_normal((n, dim))
    if kind == "grid":
        side = max(2, int(np.ceil(n ** (1 / dim))))
        return rng.integers(0, side, (n, dim)).astype(np.float64)
    raise ValueError(f"data must be one of {', '.join(DATA_KINDS)}, got {kind!r}")


def explore_scopes(runtime: Runtime, n: int, dim: int, data: str = "gaussian", seed: int = 0,
                   log: str | Path | None = None, run_id: str | None = None) -> dict:
    """Build over synthetic data with telemetry; returns ``{"tree", "frame", "rounds", "log", "warm_up_s"}``
    (``rounds``: one dict per prefix round with its conflict-graph statistics; ``run_id`` names the
    telemetry run, a new id when None).  A small build with the same Runtime runs first and is timed
    apart (``warm_up_s``: compilation or cache load of this Runtime's kernels), so the measured rounds
    are steady-state ones, not a first round that compiled."""
    if runtime.metric != "euclidean":
        raise ValueError("the scope explorer builds Euclidean trees: set metric='euclidean' in the panel")
    for name, value, low in (("n", n, 2), ("dim", dim, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if runtime.query_engine == "auto":  # an auto Euclidean fit cuts k-d leaves: the explorer is about the tree
        runtime = runtime.with_updates(query_engine="tree")
    if runtime.build == "auto":  # and about its rounds (an auto build in <= 3 coordinates goes by nets)
        runtime = runtime.with_updates(build="rounds")
    X = synthetic_points(data, n, dim, seed)
    start = time.perf_counter()
    CoverTree(runtime).fit(X[:WARM_UP_POINTS]).knn(k=1)
    warm_up_s = time.perf_counter() - start
    log = Path(log) if log is not None else Path(tempfile.mkdtemp(prefix="covertreex-scopes-")) / "build.jsonl"
    run_id = run_id or new_run_id({"n": n, "dim": dim, "data": data})
    with TelemetryWriter(log, runtime, run_id=run_id) as writer:
        tree = CoverTree(runtime).fit(X, telemetry=writer)
    rounds = [{"round": s.round, "batch": s.batch_size, "edges": s.neighbour_edges, "scope mean": s.scope_mean,
               "scope p95": s.scope_p95, "scope max": s.scope_max, "levels": s.levels_processed,
               "MIS total": s.mis_total, "Luby rounds": s.luby_rounds} for s in tree.build_stats]
    return {"tree": tree, "frame": load(log), "rounds": rounds, "log": log, "warm_up_s": warm_up_s}


class ScopeExplorer(Displayed):
    """Data controls + Build; a view selector (scopes per batch/level, time per phase), the tree's
    level/fan-out histogram and a table of the rounds.  With ``live=True`` every change of n, dimension,
    data or the panel's Runtime rebuilds at once (keep n small)."""

    def __init__(self, panel: RuntimePanel | None = None, artifacts: str | Path | None = None, live: bool = True):
        self.panel = panel or RuntimePanel()
        self.artifacts = artifacts
        self.n = W.SelectionSlider(options=SIZES, value=4096, description="n", layout={"width": "340px"})
        self.dim = W.IntSlider(value=3, min=1, max=32, description="dimension")
        self.data = W.Dropdown(options=DATA_KINDS, value="gaussian", description="data")
        self.view = W.ToggleButtons(options=list(VIEWS), value="scope per batch and level")
        self.button = W.Button(description="Build", button_style="primary")
        self.message = W.HTML()
        self.table = W.HTML()
        self.figure = figure_widget()
        self.shape = figure_widget()
        self.last: dict | None = None
        self.button.on_click(lambda _b: self.build())
        self.view.observe(lambda _c: self._draw(), names="value")
        if live:
            for control in (self.n, self.dim, self.data):
                control.observe(lambda _c: self.build(), names="value")
            self.panel.on_change(lambda _rt: self.build())
        self.widget = W.VBox([W.HBox([self.n, self.dim, self.data, self.button]), self.message, self.view,
                              self.figure, self.shape, self.table])

    def build(self) -> dict | None:
        run_id = new_run_id({"n": self.n.value, "dim": self.dim.value, "data": self.data.value})
        log = None if self.artifacts is None else artifact_path(self.artifacts, "logs", "scopes", run_id, "jsonl")
        try:
            self.last = explore_scopes(self.panel.runtime, self.n.value, self.dim.value, self.data.value,
                                       self.panel.runtime.seed, log, run_id)
        except (ValueError, TypeError) as exc:
            self.message.value = error_html(str(exc))
            return None
        stats = self.last["rounds"]
        self.message.value = (f"{self.n.value:,} points in {len(stats)} rounds, "
                              f"{sum(r['edges'] for r in stats):,} conflict edges; first call (compile or cache "
                              f"load) {self.last['warm_up_s']:.2f} s, run apart and not in the charts; telemetry: "
                              f"{self.last['log']}")
        self.table.value = table_html(stats)
        self._draw()
        show(self.shape, level_histogram(self.last["tree"]))
        return self.last

    def _draw(self) -> None:
        if self.last is not None:
            show(self.figure, VIEWS[self.view.value](self.last["frame"]))
