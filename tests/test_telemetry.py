"""Telemetry: JSONL events validate against their schemas, load back as DataFrames, and agree with the tree."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import cli_text, make_data

from covertreex import CoverTree, Runtime
from covertreex.telemetry import SCHEMAS, TelemetryWriter, load, summarize, validate


def test_build_and_query_events_round_trip(tmp_path):
    pytest.importorskip("pandas")
    X = make_data("gaussian", 3000, 3, seed=1)
    rt = Runtime(seed=4)
    path = tmp_path / "logs" / "run.jsonl"
    with TelemetryWriter(path, rt) as writer:
        tree = CoverTree(rt).fit(X[:2000], telemetry=writer)
        bigger = tree.insert(X[2000:], telemetry=writer)
        result = bigger.knn_result(k=10, telemetry=writer)
        one = bigger.knn_result(X[:1] + 0.01, k=5, telemetry=writer)
        bigger.knn_result(k=3, predecessor=True, telemetry=writer)
    lines = path.read_text().splitlines()
    for line in lines:
        validate(json.loads(line))
    frame = load(path)
    assert len(frame) == len(lines) and frame["run_id"].nunique() == 1
    rounds = frame[frame["schema_id"] == "covertreex.build.round"]
    fit_rounds = rounds[rounds["operation"] == "fit"]
    assert len(fit_rounds) == len(tree.build_stats)
    assert fit_rounds["batch_size"].sum() == 1999  # every point but the root enters in a round
    assert rounds[rounds["operation"] == "insert"]["batch_size"].sum() == 1000
    assert (rounds["scope_max"] >= rounds["scope_p95"]).all() and (rounds["scope_p95"] >= rounds["scope_p50"]).all()
    assert rounds["seconds_traversal"].dtype == np.float64 and rounds["scope_mean"].dtype == np.float64
    levels = frame[frame["schema_id"] == "covertreex.build.level"]
    # per round, the per-level points add up to the round's batch and their degrees to its edges
    for (op, rnd), part in levels.groupby(["operation", "round"]):
        row = rounds[(rounds["operation"] == op) & (rounds["round"] == rnd)].iloc[0]
        assert part["points"].sum() == row["batch_size"]
        assert (part["scope_mean"] * part["points"]).sum() == pytest.approx(row["neighbour_edges"])
        assert part["scope_max"].max() == row["scope_max"]
    fit_levels = levels[levels["operation"] == "fit"]
    placed = fit_levels.groupby(fit_levels["level"].astype(np.int64))["points"].sum()
    levels_stored, counts = np.unique(tree.arrays.level[1:], return_counts=True)  # every node but the root
    assert placed.index.tolist() == levels_stored.tolist() and placed.astype(np.int64).tolist() == counts.tolist()
    summaries = frame[frame["schema_id"] == "covertreex.build.summary"]
    assert summaries["points_added"].tolist() == [2000, 1000] and summaries["points_before"].tolist() == [0, 2000]
    queries = frame[frame["schema_id"] == "covertreex.query"].reset_index(drop=True)
    assert queries["mode"].tolist() == ["self", "points", "predecessor"]
    assert queries.loc[0, "evals_mean"] == pytest.approx(result.distance_evaluations.mean())
    assert queries.loc[0, "evals_max"] == result.distance_evaluations.max()
    # a single query evaluates at least k distances and at most every tree point
    assert 5 <= queries.loc[1, "evals_max"] == one.distance_evaluations[0] <= 3000
    assert queries["recall"].isna().all()
    # traversal counters: the root is expanded by every self query; only predecessor rows cut by id
    assert queries.loc[0, "visited_mean"] == pytest.approx(result.counter("nodes_visited").mean())
    assert queries.loc[0, "pruned_radius"] == result.counter("pruned_radius").sum() > 0
    assert queries.loc[0, "pruned_parent"] == result.counter("pruned_parent").sum() > 0
    assert queries.loc[0, "pruned_subtree_id"] == 0 and queries.loc[2, "pruned_subtree_id"] > 0
    assert queries.loc[0, "visited_max"] == result.counter("nodes_visited").max()
    table = summarize(frame)
    # no operation timer here; a Euclidean fit has no engine to plan
    not_here = {"covertreex.operation", "covertreex.fit.plan", "covertreex.gate"}  # the gate event: test_gates
    assert set(table["schema_id"]) == set(SCHEMAS) - not_here
    assert table.set_index("schema_id").loc["covertreex.query", "total_queries"] == 3000 + 1 + 3000


NO_TRAVERSAL = {f"visited_{s}": None for s in ("mean", "p95", "max")} | {
    f"pruned_{b}": None for b in ("radius", "parent", "subtree_id")}


def test_residual_fit_reports_its_engine_plan(tmp_path):
    from covertreex import Residual
    from covertreex.kernels import RBF

    X = np.random.default_rng(4).standard_normal((600, 2))
    path = tmp_path / "plan.jsonl"
    plans = {}
    with TelemetryWriter(path, Runtime()) as writer:
        for engine in ("dense", "tree", "auto"):
            rt = Runtime(metric="residual", residual=Residual(RBF(1.0, 1.0), inducing=16), query_engine=engine)
            plans[engine] = CoverTree(rt).fit(X, telemetry=writer)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for e in events:
        validate(e)
    plan = [e for e in events if e["schema_id"] == "covertreex.fit.plan"]
    assert [e["tree"] for e in plan] == [False, True, plans["auto"].has_tree]
    assert "query_engine='dense'" in plan[0]["reason"] and plan[0]["skippable"] is None
    assert 0.0 <= plan[2]["skippable"] <= 1.0 and plan[2]["probe_points"] == 600  # the probe ran
    assert plans["auto"].describe()["plan"]["probe"]["skippable"] == plan[2]["skippable"]
    assert not plans["dense"].has_tree and plans["tree"].has_tree


def test_traversal_counters_are_consistent():
    X = make_data("clusters", 2500, 3, seed=3)
    tree = CoverTree(Runtime()).fit(X)
    arrays = tree.arrays
    internal = int(np.sum(np.diff(arrays.child_ptr) > 0))
    res = tree.knn_result(k=7)
    visited = res.counter("nodes_visited")
    assert res.traversal.shape == (2500, 4) and res.traversal.dtype == np.int64
    assert (visited >= 1).all() and (visited <= internal).all()
    # every distance computed belongs to a child of an expanded node or a scanned leaf range: at least k
    assert (res.distance_evaluations >= 7).all() and (res.distance_evaluations <= 2500).all()
    assert (res.counter("pruned_subtree_id") == 0).all()
    pred = tree.knn_result(k=7, predecessor=True)
    assert pred.counter("pruned_subtree_id").sum() > 0
    # a query far away from all data still expands the root and prunes by the radius bound
    far = tree.knn_result(np.full((1, 3), 1e3), k=1)
    assert far.counter("nodes_visited")[0] >= 1 and far.counter("pruned_radius")[0] > 0
    with pytest.raises(ValueError, match="counter must be one of"):
        res.counter("nodes")


def test_validate_names_the_broken_field(tmp_path):
    rt = Runtime()
    with TelemetryWriter(tmp_path / "x.jsonl", rt) as writer:
        event = writer.emit("covertreex.query", mode="self", engine="tree", queries=3, k=1, tree_size=10,
                            seconds=0.1, evals_mean=2.0, evals_p95=2.0, evals_max=2, recall=None, **NO_TRAVERSAL)
        with pytest.raises(ValueError, match="unknown schema_id"):
            writer.emit("covertreex.nope")
        with pytest.raises(ValueError, match="missing fields \\['tree_size'\\]"):
            writer.emit("covertreex.query", mode="self", engine="tree", queries=3, k=1, seconds=0.1,
                        evals_mean=2.0, evals_p95=2.0, evals_max=2, recall=None, **NO_TRAVERSAL)
    bad = dict(event, queries="3")
    with pytest.raises(ValueError, match="field 'queries' must be int"):
        validate(bad)
    with pytest.raises(ValueError, match="schema_version must be 2"):
        validate(dict(event, schema_version=1))
    with pytest.raises(ValueError, match="field 'visited_max' must be int or NoneType"):
        validate(dict(event, visited_max=1.5))
    with pytest.raises(ValueError, match="unexpected fields \\['extra'\\]"):
        validate(dict(event, extra=1))
    assert event["seed"] == 0 and len(event["runtime_hash"]) == 16
    other = TelemetryWriter(tmp_path / "y.jsonl", Runtime(seed=1))
    assert other.emit("covertreex.query", **{k: event[k] for k in SCHEMAS["covertreex.query"][1]})["runtime_hash"] \
        != event["runtime_hash"]
    other.close()


def test_load_reports_the_bad_line(tmp_path):
    pytest.importorskip("pandas")
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"schema_id": "covertreex.query", "schema_version": 2}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: covertreex.query: missing fields"):
        load(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no telemetry events"):
        load(empty)
    from typer.testing import CliRunner

    from covertreex.cli.main import app

    result = CliRunner().invoke(app, ["telemetry", "summary", str(empty)])
    assert result.exit_code == 2 and "no telemetry events" in cli_text(result.output), result.output
