"""Widget callbacks without a browser: set ``.value`` (observers fire synchronously), check figures and results."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("ipywidgets")  # extra "notebook" (installed by make test)
pytest.importorskip("anywidget")

from covertreex import CoverTree, Residual, Runtime  # noqa: E402
from covertreex.reference import brute_force_knn  # noqa: E402
from covertreex.kernels import Matern32  # noqa: E402
from covertreex.telemetry import load  # noqa: E402
from covertreex.widgets import (BenchmarkRunner, BenchmarkSettings, ResidualTuner, RuntimePanel,  # noqa: E402
                                ScopeExplorer, TelemetryBrowser, run_benchmark, runtime_from_values)


def test_runtime_panel_tracks_every_knob():
    panel = RuntimePanel()
    assert panel.runtime == Runtime() and panel.error is None
    seen = []
    panel.on_change(seen.append)
    panel.controls["conflict_graph"].value = "segmented"
    panel.controls["batch_size"].value = 64
    panel.controls["threads"].value = 1
    panel.controls["diagnostics"].value = True
    assert panel.runtime == Runtime(conflict_graph="segmented", batch_size=64, threads=1, diagnostics=True)
    assert seen[-1] is panel.runtime and len(seen) == 4
    panel.controls["batch_size"].value = 0  # 0 = no cap
    assert panel.runtime.batch_size is None
    assert panel._residual_box.layout.display == "none"


def test_a_negative_batch_size_or_seed_is_said_not_clamped():
    panel = RuntimePanel()
    good = panel.runtime
    panel.controls["batch_size"].value = -5
    assert panel.controls["batch_size"].value == -5  # kept as typed
    assert "batch size must be 0 (no cap) or a positive number, got -5" in panel.message.value
    assert panel.runtime is good
    panel.controls["batch_size"].value = 0
    panel.controls["seed"].value = -1
    assert "seed" in panel.error and panel.runtime == good
    panel.controls["seed"].value = 3
    assert panel.error is None and panel.runtime.seed == 3 and panel.runtime.batch_size is None


def test_runtime_panel_shows_invalid_combinations_inline():
    panel = RuntimePanel()
    panel.controls["conflict_graph"].value = "grid"
    good = panel.runtime
    calls = []
    panel.on_change(calls.append)
    panel.controls["metric"].value = "residual"  # grid needs coordinates
    assert "conflict_graph='grid'" in panel.error and "grid" in panel.message.value
    assert panel.runtime is good and calls == []
    assert panel._residual_box.layout.display is None  # residual controls appear
    panel.controls["conflict_graph"].value = "auto"
    panel.controls["kernel"].value = "matern32"
    panel.controls["lengthscale"].value = 0.5
    panel.controls["inducing"].value = 32
    assert panel.error is None and panel.message.value == ""
    res = panel.runtime.residual
    assert panel.runtime.metric == "residual" and res.inducing == 32
    assert isinstance(res.kernel, Matern32) and res.kernel.lengthscale == pytest.approx(0.5)
    panel.controls["precision"].value = "float32"
    assert "float64" in panel.error and panel.runtime.precision == "float64"


def test_runtime_from_values_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown panel value"):
        runtime_from_values({"metric": "euclidean", "colour": "red"})
    with pytest.raises(ValueError, match="Runtime.batch_order"):
        runtime_from_values({"batch_order": "sideways"})


def test_benchmark_runner_euclidean(tmp_path):
    runner = BenchmarkRunner(RuntimePanel(), artifacts=tmp_path)
    runner.n.value, runner.dim.value, runner.k.value = 1500, 3, 5
    assert "brute-force" in runner.peers.options and "scipy-cKDTree" in runner.peers.options
    runner.peers.value = ("scipy-cKDTree", "brute-force")
    out = runner.run()
    assert out is runner.last and runner.progress.value == runner.progress.max
    engines = [r["engine"] for r in out["rows"]]
    assert engines == ["covertreex", "scipy-cKDTree", "brute-force"]
    assert all(r["recall"] == 1.0 for r in out["rows"])
    assert all(name in runner.table.value for name in engines)
    # the recall-vs-speed figure holds the table's numbers
    traces = runner.recall_plot.data
    assert [t.name for t in traces] == engines and [t.x[0] for t in traces] == [r["queries_per_s"] for r in out["rows"]]
    # one bar per progress step, step names in order
    steps = list(runner.steps_plot.data[0].y)
    assert steps[0].endswith("JIT warm-up") and any("covertreex" in s for s in steps) and len(steps) >= 5
    saved = json.loads(out["json"].read_text())
    assert out["json"].parent == tmp_path / "benchmarks" and saved["run_id"] == out["result"]["run_id"]
    frame = load(out["telemetry"])
    assert set(frame["run_id"]) == {saved["run_id"]}
    assert (frame["schema_id"] == "covertreex.query").sum() == 1  # repeat=1: one query event


def test_benchmark_runner_residual_and_file_source(tmp_path):
    X = np.random.default_rng(5).standard_normal((700, 2))
    np.save(tmp_path / "points.npy", X)
    settings = BenchmarkSettings(source=str(tmp_path / "points.npy"), metric="residual", k=8, inducing=32,
                                 peers=("brute-force",))
    out = run_benchmark(settings, Runtime(), artifacts=tmp_path)
    assert out["result"]["workload"]["n"] == 700 and out["result"]["workload"]["dim"] == 2
    assert {r["engine"] for r in out["rows"]} == {"covertreex (tree)", "covertreex (dense)", "brute-force"}
    assert all(r["recall"] == 1.0 for r in out["rows"])


def test_benchmark_runner_reports_bad_input_inline(tmp_path):
    runner = BenchmarkRunner(artifacts=tmp_path)
    runner.source.value = str(tmp_path / "missing.npy")
    assert runner.run() is None and "no such file" in runner.message.value
    assert not runner.button.disabled and runner.last is None
    with pytest.raises(TypeError, match="BenchmarkSettings"):
        run_benchmark({"n": 5}, Runtime())


def test_scope_explorer_rebuilds_live_and_switches_views(tmp_path):
    panel = RuntimePanel()
    explorer = ScopeExplorer(panel, artifacts=tmp_path)
    assert len(explorer.n.options) <= 32 and {1024, 4096, 131072} <= set(explorer.n.options)  # a usable slider
    explorer.n.value = 1024
    first = explorer.last
    assert first["tree"].num_points == 1024 and first["log"].parent == tmp_path / "logs"
    # the first call (compile or cache load) runs apart, before the telemetry run, and is said
    assert first["warm_up_s"] > 0 and "not in the charts" in explorer.message.value
    assert len(first["frame"][first["frame"].schema_id == "covertreex.build.summary"]) == 1
    assert set(first["frame"]["run_id"]) == {first["log"].stem.removeprefix("scopes-")}  # file and events agree
    rounds = first["rounds"]
    assert sum(r["batch"] for r in rounds) == 1023
    assert list(explorer.figure.data[2].y) == [r["scope max"] for r in rounds]
    explorer.dim.value = 5  # live rebuild
    assert explorer.last is not first and explorer.last["tree"].dimension == 5
    explorer.view.value = "time per phase"
    assert explorer.figure.layout.title.text.startswith("build time per phase") and len(explorer.figure.data) == 5
    panel.controls["prefix_schedule"].value = "none"
    panel.controls["batch_size"].value = 256
    assert [r["batch"] for r in explorer.last["rounds"]] == [256, 256, 256, 255]
    assert sum(explorer.shape.data[0].y) == 1024  # level histogram of the new tree
    panel.controls["conflict_graph"].value = "segmented"
    panel.controls["metric"].value = "residual"
    panel.controls["conflict_graph"].value = "auto"  # valid residual runtime: the explorer refuses it inline
    assert "builds Euclidean trees" in explorer.message.value


def test_residual_tuner_matches_the_oracles():
    X = np.random.default_rng(2).standard_normal((500, 2))
    tuner = ResidualTuner(X, point_id=3)
    tuner.inducing.value = 16
    tuner.lengthscale.value = 0.5
    r = tuner.last
    kern = r.tree.runtime.residual.kernel
    assert kern.lengthscale == pytest.approx(0.5) and r.tree.metric.m == 16
    rows = r.rows
    inducing = r.tree.runtime.residual.inducing_rows(500)
    assert rows.size == 64 and np.intersect1d(rows, inducing).size == 0  # statistics never at inducing points
    np.testing.assert_array_equal(X[inducing], r.tree.metric.inducing)
    res, _ = brute_force_knn(X, k=10, rows=rows, metric="residual", residual=r.tree.metric)
    euc, _ = brute_force_knn(X, k=10, rows=rows)
    expected = np.mean([np.intersect1d(a, b).size / 10 for a, b in zip(res, euc)])
    assert r.overlap == pytest.approx(expected)
    assert f"{expected:.0%}" in tuner.summary.value
    assert np.array_equal(np.asarray(tuner.figure.data[0].marker.color), r.tree.distances([3], np.arange(500))[0])
    tuner.point.value = 7
    assert "point 7" in tuner.figure.layout.title.text
    tuner.k.value = 4
    assert tuner.figure.data[1].name == "4 residual neighbours"
    tuner.inducing.value = 500  # m = n: no point is left to take statistics on, said inline
    assert "every point is an inducing point" in tuner.summary.value


def test_residual_tuner_samples_apart_from_the_inducing_points():
    """The defaults once drew the statistics sample with the inducing points' seed and size: the sample *was*
    the inducing set (p ~ 0 there), which showed every query scanning all points and a k-th distance of 1."""
    X = np.random.default_rng(5).standard_normal((1500, 2))
    tuner = ResidualTuner(X)
    r = tuner.last
    assert r.tree.metric.m == 64 and r.rows.size == 64
    assert np.intersect1d(r.rows, r.tree.runtime.residual.inducing_rows(1500)).size == 0
    kth = brute_force_knn(X, k=10, rows=r.rows, metric="residual", residual=r.tree.metric)[1][:, -1]
    assert r.median_kth == pytest.approx(np.median(kth)) and r.median_kth < 0.9
    assert "not inducing points" in tuner.summary.value


def test_telemetry_browser_compares_runs(tmp_path):
    from covertreex.telemetry import TelemetryWriter

    X = np.random.default_rng(4).standard_normal((2000, 3))
    for name, rt in (("grid", Runtime(conflict_graph="grid")), ("segmented", Runtime(conflict_graph="segmented"))):
        with TelemetryWriter(tmp_path / f"{name}.jsonl", rt) as w:
            CoverTree(rt).fit(X, telemetry=w).knn(k=4, telemetry=w)
    browser = TelemetryBrowser(tmp_path)
    assert [label for label, _ in browser.files.options] == ["grid.jsonl", "segmented.jsonl"]
    browser.files.value = tuple(path for _, path in browser.files.options)
    assert [r["file"] for r in browser.rows] == ["grid.jsonl", "segmented.jsonl"]
    for row, (_, path) in zip(browser.rows, browser.files.options):
        frame = load(path)
        rounds = frame[frame["schema_id"] == "covertreex.build.round"]
        assert row["conflict edges"] == rounds["neighbour_edges"].sum() and row["queries"] == 2000
    assert len(browser.figure.data) == 6 and "grid.jsonl" in browser.table.value
    browser.files.value = ()
    assert browser.rows == [] and browser.table.value == ""


def test_gate_tuner_recalibrates_live_and_reports_the_audit():
    from covertreex.kernels import RBF
    from covertreex.widgets import GateTuner

    X = np.random.default_rng(6).standard_normal((1200, 3))
    tree = CoverTree(Runtime(metric="residual", residual=Residual(RBF(1.0), inducing=64))).fit(X)
    peer = [{"name": "some peer", "kind": "peer", "recall": 0.9, "queries_per_s": 50.0}]
    tuner = GateTuner(tree, peers=peer)
    first = tuner.last
    a = first.profile.audit
    assert f"{a.recall:.4f}" in tuner.summary.value and str(first.profile.budgets[0]) in tuner.summary.value
    assert [t.y[0] for t in tuner.profile_figure.data[2:]] == list(first.profile.budgets)
    assert "some peer (peer)" in [t.name for t in tuner.pareto_figure.data]
    tuner.delta.value = 0.2  # a looser target: a budget no larger
    assert tuner.last.profile.gate.delta == pytest.approx(0.2)
    assert max(tuner.last.profile.budgets) <= max(first.profile.budgets)
    tuner.bands.value = 2
    assert len(tuner.last.profile.budgets) == 2 and len(tuner.profile_figure.data) == 4
    tuner.k.value = 5
    assert tuner.last.profile.k == 5
    tuner.search.value = "cells"
    assert tuner.last.profile.gate.search == "cells" and tuner.last.profile.audit.recall > 0
    tuner.calibration.value = 20
    assert tuner.last.profile.calibration["ids"].size == 20
    tuner.delta.value = 0.05  # 10 queries per band cannot certify it: said inline, the last result kept
    assert "cannot certify" in tuner.summary.value and tuner.last.profile.gate.delta == pytest.approx(0.2)


def test_a_new_figure_clears_the_old_ones_subplot_titles_in_the_browser():
    """plotly.js merges a new layout into the old one: ``show`` must send the annotations (subplot titles),
    shapes and images arrays even when the new figure has none, or the old ones stay on screen."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from covertreex.widgets._figures import figure_widget, show

    widget = figure_widget()
    sent = []
    widget._send_relayout_msg = lambda *a, **k: sent.append(a[0] if a else k.get("layout_data"))
    widget._send_update_msg = lambda *a, **k: sent.append(k.get("relayout_data"))
    two = make_subplots(rows=1, cols=2, subplot_titles=["build", "query"])
    two.add_bar(y=[1, 2], row=1, col=1)
    show(widget, two)
    sent.clear()
    show(widget, go.Figure(go.Scatter(y=[1, 2]), layout={"title": "one"}))
    browser = {}  # what the second figure's messages set in the browser's layout
    for message in sent:
        browser.update(message or {})
    assert browser["annotations"] == [] and browser["shapes"] == [] and browser["images"] == []
    assert len(widget.layout.annotations) == 0


def test_a_shown_figure_is_the_state_a_reloaded_page_draws():
    """A reloaded page draws a FigureWidget from its synchronised state, which plotly writes only when the
    widget is first displayed: ``show`` must write it, or the chart comes back as first shown (empty)."""
    import plotly.graph_objects as go

    from covertreex.widgets._figures import figure_widget, show

    widget = figure_widget()
    widget._repr_mimebundle_()  # displayed while empty, as a panel's figure is
    show(widget, go.Figure([go.Bar(y=[3, 1, 2]), go.Scatter(y=[5, 6])], layout={"title": "after"}))
    state = widget.get_state()
    assert [list(t["y"]) for t in state["_widget_data"]] == [[3, 1, 2], [5, 6]]
    assert state["_widget_layout"]["title"]["text"] == "after"
