"""``BenchmarkRunner``: run the Euclidean or residual benchmark from widgets, with live progress."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import ipywidgets as W
import plotly.graph_objects as go

from covertreex.bench.residual import RESIDUAL_PEERS, ResidualWorkload, residual_peer_available, run_residual
from covertreex.bench.euclidean import EuclideanWorkload, euclidean_peers, run_euclidean
from covertreex.io import read_points
from covertreex.runtime.config import Runtime
from covertreex.telemetry.artifacts import artifact_path, new_run_id
from covertreex.telemetry.writer import TelemetryWriter
from covertreex.viz.query_views import recall_vs_speed
from covertreex.widgets._figures import Displayed, error_html, figure_widget, show, table_html
from covertreex.widgets.runtime_panel import RuntimePanel

TABLE_COLUMNS = ["task", "engine", "build_s", "query_s", "queries_per_s", "recall", "ratio"]


@dataclass(frozen=True)
class BenchmarkSettings:
    """What to run.  ``source`` is "synthetic" (seeded N(0, I) points of n x dim) or a point file
    (.npy/.csv/.parquet, whose shape then sets n and dim)."""

    source: str = "synthetic"
    n: int = 4096
    dim: int = 3
    k: int = 10
    metric: str = "euclidean"
    peers: tuple[str, ...] = ()
    repeat: int = 1
    inducing: int = 128  # residual metric only (when the runtime has no residual policy)
    seed: int = 0


def available_peers(metric: str) -> list[str]:
    """Peers installed for a metric's benchmark."""
    if metric == "residual":
        return [p for p in RESIDUAL_PEERS if residual_peer_available(p)]
    return [name for name, peer in euclidean_peers().items() if peer.available()]


def table_rows(result: dict) -> list[dict]:
    """One row per engine and task, in the same columns for both benchmarks (``ratio``: the row's
    end-to-end seconds over covertreex's on the same task)."""
    return [{"task": r["task"], "engine": r["engine"], "build_s": r["build_s"] if r["build_runs"] else None,
             "query_s": r["query_s"], "queries_per_s": r["queries_per_s"], "recall": r["recall"],
             "exact": r["exact"], "ratio": r["ratio_total"]} for r in result["rows"]]


def run_benchmark(settings: BenchmarkSettings, runtime: Runtime, progress=None,
                  artifacts: str | Path = "artifacts") -> dict:
    """Run it; returns ``{"result", "rows", "json", "telemetry"}``: the benchmark's JSON dict, the table
    rows, and the paths written under ``artifacts`` (benchmarks/*.json and logs/*.jsonl)."""
    if not isinstance(settings, BenchmarkSettings):
        raise TypeError(f"settings must be a BenchmarkSettings, got {type(settings).__name__}")
    X = None
    n, dim = settings.n, settings.dim
    if settings.source != "synthetic":
        X = read_points(settings.source, "source")
        if X.ndim != 2:
            raise ValueError(f"source: expected a 2-D table of points, got shape {X.shape}")
        n, dim = X.shape
    if settings.metric == "residual":
        res = runtime.residual
        workload = ResidualWorkload(
            n=n, dim=dim, k=settings.k, inducing=res.inducing_count if res else min(settings.inducing, n),
            kernel=res.kernel.name if res else "rbf", variance=res.kernel.variance if res else 1.0,
            lengthscale=res.kernel.lengthscale if res else 1.0, seed=settings.seed, repeat=settings.repeat,
            query_count=min(1024, n), verify_rows=min(256, n), all_points=("knn", "predecessor"),
            engines=("dense", "tree"))
        base = runtime if runtime.metric == "residual" else runtime.with_updates(conflict_graph="auto")
        run = lambda writer: run_residual(workload, base, progress, tuple(settings.peers), X=X,  # noqa: E731
                                          telemetry=writer)
    elif settings.metric == "euclidean":
        workload = EuclideanWorkload(n=n, dim=dim, k=settings.k, seed=settings.seed, repeat=settings.repeat,
                                     verify_rows=min(2000, n), brute_rows=min(256, n))
        base = runtime if runtime.metric == "euclidean" else Runtime(seed=runtime.seed, threads=runtime.threads)
        run = lambda writer: run_euclidean(workload, base, list(settings.peers), progress, X=X,  # noqa: E731
                                           telemetry=writer)
    else:
        raise ValueError(f"settings.metric must be 'euclidean' or 'residual', got {settings.metric!r}")
    run_id = new_run_id({"settings": asdict(settings), "runtime": runtime.describe()})
    log = artifact_path(artifacts, "logs", f"bench-{settings.metric}", run_id, "jsonl")
    with TelemetryWriter(log, base, run_id=run_id) as writer:
        result = run(writer)
    result["run_id"] = run_id
    out = artifact_path(artifacts, "benchmarks", f"bench-{settings.metric}", run_id, "json")
    out.write_text(json.dumps(result, indent=2, default=str))
    return {"result": result, "rows": table_rows(result), "json": out, "telemetry": log}


def steps_figure(steps: list[tuple[str, float]]) -> go.Figure:
    """Seconds spent in each benchmark step so far (horizontal bars, in order)."""
    fig = go.Figure(go.Bar(x=[s for _, s in steps], y=[f"{i + 1}. {m}" for i, (m, _) in enumerate(steps)],
                           orientation="h"))
    fig.update_layout(height=max(250, 28 * len(steps) + 120), title="benchmark steps (seconds)",
                      yaxis={"autorange": "reversed"}, xaxis_title="seconds")
    return fig


class BenchmarkRunner(Displayed):
    """Workload controls + Run button; a progress bar and a live figure of the steps; then the table and
    a recall-vs-speed figure.  Uses the ``RuntimePanel``'s Runtime (its own panel when none is given)."""

    def __init__(self, panel: RuntimePanel | None = None, artifacts: str | Path = "artifacts"):
        self.panel = panel or RuntimePanel()
        self.artifacts = Path(artifacts)
        style = {"description_width": "90px"}
        self.source = W.Text(value="synthetic", description="data", style=style,
                             placeholder="synthetic, or a .npy/.csv/.parquet path")
        self.n = W.BoundedIntText(value=4096, min=2, max=10**8, description="n", style=style)
        self.dim = W.BoundedIntText(value=3, min=1, max=4096, description="dimension", style=style)
        self.k = W.BoundedIntText(value=10, min=1, max=10**4, description="k", style=style)
        self.metric = W.Dropdown(options=["euclidean", "residual"], value="euclidean", description="metric",
                                 style=style)
        self.peers = W.SelectMultiple(options=available_peers("euclidean"), description="peers", style=style, rows=6)
        self.repeat = W.BoundedIntText(value=1, min=1, max=50, description="repeat", style=style)
        self.button = W.Button(description="Run benchmark", button_style="primary")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="idle")
        self.message = W.HTML()
        self.table = W.HTML()
        self.steps_plot = figure_widget()
        self.recall_plot = figure_widget()
        self.last: dict | None = None
        self._steps: list[tuple[str, float]] = []
        self.metric.observe(self._metric_changed, names="value")
        self.button.on_click(lambda _b: self.run())
        controls = W.VBox([self.source, self.n, self.dim, self.k, self.metric, self.peers, self.repeat, self.button,
                           self.progress, self.message])
        self.widget = W.VBox([W.HBox([controls, self.steps_plot]), self.table, self.recall_plot])

    def settings(self) -> BenchmarkSettings:
        return BenchmarkSettings(source=self.source.value.strip() or "synthetic", n=self.n.value, dim=self.dim.value,
                                 k=self.k.value, metric=self.metric.value, peers=tuple(self.peers.value),
                                 repeat=self.repeat.value)

    def _metric_changed(self, change) -> None:
        self.peers.options = available_peers(change["new"])

    def _close_step(self) -> None:
        """The running step's time so far is its time (it ends when the next starts, or the run)."""
        now = time.perf_counter()
        if self._steps:
            name, _ = self._steps[-1]
            self._steps[-1] = (name, now - self._started)
        self._started = now

    def _step(self, message: str, done: int, total: int) -> None:
        self._close_step()
        self._steps.append((message, 0.0))
        self.progress.max = total
        self.progress.value = done - 1  # this step has started, not finished
        self.progress.description = f"step {done}/{total}"
        show(self.steps_plot, steps_figure(self._steps))

    def run(self) -> dict | None:
        """Run with the current values; returns ``run_benchmark``'s dict (None after an error, shown inline)."""
        settings = self.settings()
        self._steps = []
        self._started = time.perf_counter()
        self.progress.value = 0
        self.message.value = "running..."
        self.button.disabled = True
        try:
            out = run_benchmark(settings, self.panel.runtime, progress=self._step, artifacts=self.artifacts)
        except (ValueError, TypeError, RuntimeError) as exc:
            self.message.value = error_html(str(exc))
            return None
        finally:
            self.button.disabled = False
        self._close_step()
        show(self.steps_plot, steps_figure(self._steps))
        self.progress.value = self.progress.max
        self.progress.description = "done"
        self.table.value = table_html(out["rows"], TABLE_COLUMNS)
        show(self.recall_plot, recall_vs_speed(out["rows"]))
        self.message.value = f"wrote {out['json']} and {out['telemetry']}"
        self.last = out
        return out
