"""Telemetry: JSONL events validate against their schemas, load back as DataFrames, and agree with the tree."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_data

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
    summaries = frame[frame["schema_id"] == "covertreex.build.summary"]
    assert summaries["points_added"].tolist() == [2000, 1000] and summaries["points_before"].tolist() == [0, 2000]
    queries = frame[frame["schema_id"] == "covertreex.query"].reset_index(drop=True)
    assert queries["mode"].tolist() == ["self", "points", "predecessor"]
    assert queries.loc[0, "evals_mean"] == pytest.approx(result.distance_evaluations.mean())
    assert queries.loc[0, "evals_max"] == result.distance_evaluations.max()
    # a single query evaluates at least k distances and at most every tree point
    assert 5 <= queries.loc[1, "evals_max"] == one.distance_evaluations[0] <= 3000
    assert queries["recall"].isna().all()
    table = summarize(frame)
    assert set(table["schema_id"]) == set(SCHEMAS)
    assert table.set_index("schema_id").loc["covertreex.query", "total_queries"] == 3000 + 1 + 3000


def test_validate_names_the_broken_field(tmp_path):
    rt = Runtime()
    with TelemetryWriter(tmp_path / "x.jsonl", rt) as writer:
        event = writer.emit("covertreex.query", mode="self", engine="tree", queries=3, k=1, tree_size=10,
                            seconds=0.1, evals_mean=2.0, evals_p95=2.0, evals_max=2, recall=None)
        with pytest.raises(ValueError, match="unknown schema_id"):
            writer.emit("covertreex.nope")
        with pytest.raises(ValueError, match="missing fields \\['tree_size'\\]"):
            writer.emit("covertreex.query", mode="self", engine="tree", queries=3, k=1, seconds=0.1,
                        evals_mean=2.0, evals_p95=2.0, evals_max=2, recall=None)
    bad = dict(event, queries="3")
    with pytest.raises(ValueError, match="field 'queries' must be int"):
        validate(bad)
    with pytest.raises(ValueError, match="schema_version must be 1"):
        validate(dict(event, schema_version=2))
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
    path.write_text(json.dumps({"schema_id": "covertreex.query", "schema_version": 1}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: covertreex.query: missing fields"):
        load(path)
