"""The plotly views: figures carry exactly the numbers they are given; bad input names the argument."""

from __future__ import annotations

import numpy as np
import pytest

from covertreex import CoverTree, Residual, Runtime
from covertreex.core._levels_numba import DUP_LEVEL
from covertreex.kernels import RBF
from covertreex.telemetry import TelemetryWriter, load
from covertreex.viz import (distance_evaluations, level_histogram, phase_breakdown, recall_vs_speed,
                            residual_landscape, scope_sizes, tree_picture)

pd = pytest.importorskip("pandas")  # extra "telemetry"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    X = np.random.default_rng(3).standard_normal((3000, 2))
    X[:300] = X[300:600]  # duplicates: their own level
    path = tmp_path_factory.mktemp("views") / "run.jsonl"
    rt = Runtime(seed=2)
    with TelemetryWriter(path, rt) as w:
        tree = CoverTree(rt).fit(X, telemetry=w)
        result = tree.knn_result(k=5, telemetry=w)
    return tree, result, load(path)


def test_scope_sizes_per_round_and_level(run):
    tree, _, frame = run
    fig = scope_sizes(frame)
    by_name = {t.name: t for t in fig.data}
    stats = tree.build_stats
    assert list(by_name["round max"].y) == [s.scope_max for s in stats]
    assert list(by_name["round median"].y) == [s.scope_p50 for s in stats]
    # per level: points placed match the tree's own level counts (every node but the root)
    levels, counts = np.unique(tree.arrays.level[1:], return_counts=True)
    expected = {("duplicates" if lv == DUP_LEVEL else str(lv)): c for lv, c in zip(levels, counts)}
    got = dict(zip(by_name["points placed"].x, by_name["points placed"].y))
    assert got == expected and "duplicates" in got
    means = dict(zip(by_name["level mean scope"].x, by_name["level mean scope"].y))
    total = sum(means[name] * got[name] for name in got)
    assert total == pytest.approx(sum(s.neighbour_edges for s in stats))


def test_phase_breakdown_stacks_every_phase(run):
    tree, _, frame = run
    fig = phase_breakdown(frame)
    assert fig.layout.barmode == "stack" and len(fig.data) == 5
    for trace in fig.data:
        column = "seconds_" + trace.name.replace(" ", "_")
        assert list(trace.y) == pytest.approx([getattr(s, column) for s in tree.build_stats])
    with pytest.raises(ValueError, match="no 'covertreex.build.round' events, run_id=.*, operation='insert'"):
        phase_breakdown(frame, operation="insert")
    with pytest.raises(TypeError, match="telemetry DataFrame"):
        phase_breakdown(pd.DataFrame({"x": [1]}))


def test_distance_evaluations_histograms(run):
    tree, result, _ = run
    fig = distance_evaluations({"a": result, "b": result.distance_evaluations + 1}, tree_size=tree.num_points)
    assert list(fig.data[0].x) == result.distance_evaluations.tolist()
    assert list(fig.data[1].x) == (result.distance_evaluations + 1).tolist()
    assert fig.layout.shapes[0].x0 == tree.num_points
    with pytest.raises(ValueError, match="b: expected a KnnResult"):
        distance_evaluations({"b": np.zeros((2, 2))})


def test_recall_vs_speed_keeps_rows_with_recall():
    rows = [{"engine": "ours", "queries_per_s": 100.0, "recall": 1.0, "task": "knn", "exact": True},
            {"engine": "approx", "queries_per_s": 900.0, "recall": 0.8, "task": "knn", "exact": False},
            {"engine": "unreadable", "queries_per_s": 50.0, "recall": None, "task": "knn"}]
    fig = recall_vs_speed(rows)
    assert [t.name for t in fig.data] == ["ours", "approx"] and [t.y[0] for t in fig.data] == [1.0, 0.8]
    assert [t.marker.symbol for t in fig.data] == ["circle", "x"]
    assert all("text" not in t.mode for t in fig.data)  # names in the legend: no labels to pile up or cut off
    assert [t.x for t in recall_vs_speed(pd.DataFrame(rows)).data] == [t.x for t in fig.data]
    two = recall_vs_speed(rows[:2] + [dict(rows[0], task="predecessor")])
    assert [t.name for t in two.data] == ["ours (knn)", "approx (knn)", "ours (predecessor)"]
    with pytest.raises(ValueError, match="no row"):
        recall_vs_speed(rows[2:])


def test_level_histogram_and_fanout(run):
    tree, _, _ = run
    fig = level_histogram(tree)
    assert sum(fig.data[0].y) == tree.num_points
    fanout = np.diff(tree.arrays.child_ptr)
    assert dict(zip(fig.data[1].x, fig.data[1].y)) == dict(zip(*np.unique(fanout[fanout > 0], return_counts=True)))
    with pytest.raises(TypeError, match="fitted CoverTree"):
        level_histogram(np.zeros(3))


def test_tree_picture_links_every_node_to_its_parent():
    X = np.random.default_rng(0).random((200, 3))
    tree = CoverTree().fit(X)
    fig = tree_picture(tree)
    links, nodes = fig.data
    a = tree.arrays
    assert fig.data[1].type == "scatter3d" and len(links.x) == 3 * (tree.num_points - 1)
    assert np.allclose(np.c_[nodes.x, nodes.y, nodes.z], X[a.ids])  # positions -> coordinates by id
    assert list(nodes.marker.color) == a.level.tolist()
    first_child = int(np.flatnonzero(a.parent >= 0)[0])
    assert links.x[1] == a.points[a.parent[first_child], 0]
    flat = tree_picture(CoverTree().fit(X[:, :2]))
    assert flat.data[1].type == "scatter"
    with pytest.raises(ValueError, match="max_points=100"):
        tree_picture(tree, max_points=100)
    with pytest.raises(ValueError, match="coordinates must be"):
        tree_picture(tree, coordinates=X[:5])


def test_residual_landscape_colours_by_the_tree_distance():
    X = np.random.default_rng(1).standard_normal((600, 2))
    tree = CoverTree(Runtime(metric="residual", residual=Residual(RBF(1.0, 0.7), inducing=16))).fit(X)
    fig = residual_landscape(tree, 11, k=7)
    assert np.array_equal(np.asarray(fig.data[0].marker.color), tree.distances([11], np.arange(600))[0])
    resid = tree.knn(k=7, query_ids=[11])[0]
    assert np.allclose(fig.data[1].x, X[resid, 0])
    sq = ((X - X[11]) ** 2).sum(1)
    sq[11] = np.inf
    assert np.allclose(sorted(fig.data[2].x), sorted(X[np.argsort(sq)[:7], 0]))
    with pytest.raises(ValueError, match="point_id must be"):
        residual_landscape(tree, 600)
    with pytest.raises(ValueError, match="metric='residual'"):
        residual_landscape(CoverTree().fit(X), 0)
    with pytest.raises(ValueError, match="axes"):
        residual_landscape(tree, 0, axes=(0, 5))


def test_gate_views_draw_the_profile_the_sweep_and_the_pareto_front():
    from covertreex import Gate
    from covertreex.gates.sweep import budget_sweep
    from covertreex.kernels import RBF
    from covertreex.viz import gate_profile, recall_speed_pareto, recall_vs_budget

    X = np.random.default_rng(4).standard_normal((900, 3))
    tree = CoverTree(Runtime(metric="residual", residual=Residual(RBF(1.0), inducing=64))).fit(X)
    prof = tree.calibrate_gate(Gate(delta=0.1, calibration=200, audit=100, bands=2), 8)
    fig = gate_profile(prof)
    served, missed = fig.data[0], fig.data[1]
    scores = prof.calibration["scores"]
    assert len(served.y) + len(missed.y) == scores.size
    assert all(s > max(prof.budgets) or s > min(prof.budgets) for s in missed.y)  # only over-budget points miss
    assert [t.y[0] for t in fig.data[2:]] == list(prof.budgets)
    sweep = budget_sweep(tree, prof, [8, 40, 900], queries=120, seed=5)
    assert sweep[0]["label"] == "exact" and sweep[-1]["recall"] == 1.0  # every point a candidate: exact
    fig = recall_vs_budget(sweep)
    assert list(fig.data[0].x) == [8, 40, 900] and list(fig.data[0].y) == [r["recall"] for r in sweep[1:]]
    points = [{"name": "exact", "kind": "exact", "recall": 1.0, "queries_per_s": 100.0},
              {"name": "a", "kind": "gated", "recall": 0.99, "queries_per_s": 1000.0},
              {"name": "b", "kind": "gated", "recall": 0.98, "queries_per_s": 500.0},  # dominated by a
              {"name": "peer", "kind": "peer", "recall": 0.95, "queries_per_s": 2000.0}]
    fig = recall_speed_pareto(points)
    front = fig.data[-1]
    assert list(front.x) == [100.0, 1000.0, 2000.0]
    assert [t.name for t in fig.data[:-1]] == ["exact (exact)", "a (gated)", "b (gated)", "peer (peer)"]
    assert all("text" not in t.mode for t in fig.data)
    with pytest.raises(ValueError, match="queries/s"):
        recall_speed_pareto([{"name": "x", "kind": "peer", "recall": 1.0, "queries_per_s": None}])


def _legend_clear_of_colour_bar(fig) -> bool:
    """The legend lies under the plot (horizontal, below y=0) while the colour bar keeps the right side:
    plotly's defaults put both at x ~1.02, the legend over the bar."""
    legend = fig.layout.legend
    return legend.orientation == "h" and legend.y is not None and legend.y < 0


def test_legends_never_cover_colour_bars():
    X = np.random.default_rng(2).standard_normal((300, 2))
    tree = CoverTree(Runtime(metric="residual", residual=Residual(RBF(1.0, 0.7), inducing=16))).fit(X)
    for fig in (residual_landscape(tree, 3, k=5), tree_picture(CoverTree().fit(X)),
                tree_picture(CoverTree().fit(np.c_[X, X[:, :1]]))):
        assert [t.marker.colorbar.title.text for t in fig.data if "marker" in t and t.marker.colorbar.title.text]
        assert _legend_clear_of_colour_bar(fig)
