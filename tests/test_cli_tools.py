"""CLI tools on tiny inputs: build/query files, telemetry summary/export, guardrail, doctor, breakdown, scaling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import cli_text
from typer.testing import CliRunner

from covertreex import CoverTree, Residual, Runtime
from covertreex.kernels import RBF, Matern32
from covertreex.telemetry import TelemetryWriter
from covertreex.api.persist import load_tree, save_tree
from covertreex.reference import brute_force_knn
from covertreex.bench.profiling import fit_exponents
from covertreex.cli.main import app
from covertreex.telemetry import load, validate

runner = CliRunner()


def _invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


@pytest.fixture()
def points(tmp_path):
    X = np.random.default_rng(5).standard_normal((900, 3))
    np.save(tmp_path / "x.npy", X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", header="a,b,c", comments="")
    return X


def test_save_load_round_trip_answers_identically(tmp_path, points):
    tree = CoverTree(Runtime(seed=3)).fit(points)
    loaded = load_tree(save_tree(tree, tmp_path / "t.npz"))
    assert loaded.runtime == tree.runtime and loaded.num_points == 900
    again = CoverTree.load(tree.save(tmp_path / "m.npz"))  # the same, where users look for it
    np.testing.assert_array_equal(again.knn(k=4), tree.knn(k=4))
    np.testing.assert_array_equal(loaded.knn(k=4), tree.knn(k=4))
    loaded.check_invariants()
    with pytest.raises(ValueError, match="must end in .npz"):
        save_tree(tree, tmp_path / "t.bin")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a covertreex tree file"):
        load_tree(tmp_path / "other.npz")


def test_build_then_query_files_match_the_oracle(tmp_path, points):
    pytest.importorskip("pyarrow")
    log = tmp_path / "log.jsonl"
    r = _invoke("build", tmp_path / "x.csv", "--out", tmp_path / "t.npz", "--telemetry", log)
    assert r.exit_code == 0, r.output
    r = _invoke("query", tmp_path / "t.npz", "--k", 6, "--out", tmp_path / "n.parquet", "--verify-rows", 300,
                "--telemetry", log)
    assert r.exit_code == 0, r.output
    import pandas as pd

    frame = pd.read_parquet(tmp_path / "n.parquet")
    ids = frame.sort_values(["query", "rank"])["neighbour"].to_numpy().reshape(900, 6)
    oi, _ = brute_force_knn(points, k=6)
    np.testing.assert_array_equal(ids, oi)
    r = _invoke("query", tmp_path / "x.npy", "--k", 4, "--predecessor", "--out", tmp_path / "p.npy")
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), brute_force_knn(points, k=4, predecessor=True)[0])
    assert np.load(tmp_path / "p.distances.npy").shape == (900, 4)
    r = _invoke("query", tmp_path / "t.npz", "--queries", tmp_path / "x.npy", "--k", 2, "--out", tmp_path / "q.npy")
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(np.load(tmp_path / "q.npy"), brute_force_knn(points, points, k=2)[0])
    events = [json.loads(line) for line in log.read_text().splitlines()]
    for event in events:
        validate(event)
    query = [e for e in events if e["schema_id"] == "covertreex.query"]
    assert len(query) == 1 and query[0]["recall"] == 1.0 and query[0]["queries"] == 900


@pytest.mark.parametrize("args, message", [
    (["build", "missing.npy", "--out", "t.npz"], "no such file"),
    (["build", "x.txt", "--out", "t.npz"], "must end in .npy, .csv, .parquet"),
    (["build", "{x}", "--out", "t.bin"], "--out must end in .npz"),
    (["query", "{x}", "--out", "n.csv"], "must end in .npy, .parquet"),
    (["query", "{x}", "--out", "n.npy", "--k", "0"], "--k"),
    (["query", "{x}", "--out", "n.npy", "--k", "900"], "k=900 exceeds"),
    (["query", "{x}", "--out", "n.npy", "--predecessor", "--queries", "{x}"], "without --queries"),
    (["guardrail", "{log}"], "give --min-recall"),
    (["guardrail", "{log}", "--max", "evals_mean"], "expected FIELD=NUMBER"),
    (["guardrail", "{log}", "--max", "nope=1"], "no field nope"),
    (["guardrail", "missing.jsonl", "--min-recall", "0.9"], "no such file"),
    (["telemetry", "export", "{log}", "--out", "x.xlsx"], "must end in .csv or .parquet"),
    (["breakdown", "--sizes", "10,x"], "comma-separated integers"),
    (["scaling", "--sizes", "500"], "at least two different sizes"),
    (["scaling", "--sizes", "5,500", "--k", "10", "--repeat", "1"], "every size must exceed k=10"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, points, args, message):
    log = tmp_path / "log.jsonl"
    with TelemetryWriter(log, Runtime()) as writer:  # a real run's events
        CoverTree().fit(points[:50], telemetry=writer)
    args = [a.format(x=tmp_path / "x.npy", log=log) for a in args]
    r = _invoke(*args)
    assert r.exit_code == 2, r.output
    assert message in cli_text(r.output), r.output


def _run_log(tmp_path, points):
    log = tmp_path / "run.jsonl"
    np.save(tmp_path / "small.npy", points[:400])
    r = _invoke("query", tmp_path / "small.npy", "--k", 5, "--out", tmp_path / "n.npy", "--verify-rows", 400,
                "--telemetry", log)
    assert r.exit_code == 0, r.output
    return log


def test_guardrail_passes_and_fails(tmp_path, points):
    pytest.importorskip("pandas")
    log = _run_log(tmp_path, points)
    evals = load(log).dropna(subset=["evals_mean"])["evals_mean"].max()
    assert 5 <= evals <= 400  # a query evaluates at least k and at most n distances
    ok = _invoke("guardrail", log, "--min-recall", 0.999, "--max", f"evals_mean={evals}", "--max",
                 "seconds_traversal=60")
    assert ok.exit_code == 0 and "guardrail passed" in ok.output, ok.output
    bad = _invoke("guardrail", log, "--max", f"evals_mean={evals / 2}")
    assert bad.exit_code == 1 and "evals_mean" in bad.output
    # a run without an oracle has no recall: a recall bound must fail, not pass silently
    plain = tmp_path / "plain.jsonl"
    assert _invoke("query", tmp_path / "small.npy", "--k", 3, "--out", tmp_path / "m.npy", "--telemetry",
                   plain).exit_code == 0
    none = _invoke("guardrail", plain, "--min-recall", 0.5)
    assert none.exit_code == 1 and "no recall recorded" in none.output


def test_telemetry_summary_and_export(tmp_path, points):
    pytest.importorskip("pyarrow")
    log = _run_log(tmp_path, points)
    r = _invoke("telemetry", "summary", log)
    assert r.exit_code == 0 and "covertreex.query" in r.output, r.output
    assert _invoke("telemetry", "export", log, "--out", tmp_path / "e.csv").exit_code == 0
    assert _invoke("telemetry", "export", log, "--out", tmp_path / "s.parquet", "--summary").exit_code == 0
    import pandas as pd

    events = pd.read_csv(tmp_path / "e.csv")
    assert len(events) == len(log.read_text().splitlines())
    assert set(pd.read_parquet(tmp_path / "s.parquet")["schema_id"]) == set(events["schema_id"])


def test_doctor_lists_versions_and_extras():
    r = _invoke("doctor")
    assert r.exit_code == 0, r.output
    for word in ("numba threading layer", "numpy", "faiss-cpu", "gpboost", "plotly", "JAX devices"):
        assert word in r.output


def test_breakdown_writes_jsonl_and_html(tmp_path):
    r = _invoke("breakdown", "--sizes", "300,600", "--k", 4, "--repeat", 1, "--artifacts", tmp_path)
    assert r.exit_code == 0, r.output
    (log,) = (tmp_path / "logs").glob("breakdown-*.jsonl")
    (html,) = (tmp_path / "profiles").glob("breakdown-*.html")
    (summary,) = (tmp_path / "profiles").glob("breakdown-*.json")
    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = {e["schema_id"] for e in events}
    assert kinds == {"covertreex.build.round", "covertreex.build.level", "covertreex.build.summary", "covertreex.query", "covertreex.operation"}
    ops = [e for e in events if e["schema_id"] == "covertreex.operation"]
    assert [(e["operation"], e["points"]) for e in ops] == [("build", 300), ("query", 300), ("build", 600),
                                                           ("query", 600)]
    assert all(e["wall_s"] > 0 and e["cpu_s"] >= 0 for e in ops)
    runs = json.loads(summary.read_text())["runs"]
    assert all(sum(r["phases"].values()) <= r["build"]["wall_s"] for r in runs)
    page = html.read_text()
    assert "plotly" in page and "build: traversal" in page and len(page) > 1_000_000  # plotly.js embedded


def test_fit_exponents_recovers_power_laws():
    sizes = [1000, 2000, 8000]
    runs = [{"dim": d, "n": n, "build_runs": [3e-5 * n**1.25, 9.0, 3e-5 * n**1.25],
             "query_runs": [2e-5 * n**(0.5 + d)]} for d in (1, 2) for n in sizes]
    fitted = fit_exponents(runs)
    assert [e["dim"] for e in fitted] == [1, 2] and all(e["sizes"] == sizes for e in fitted)
    assert [round(e["build_exponent"], 9) for e in fitted] == [1.25, 1.25]  # medians ignore the outlier
    assert [round(e["query_exponent"], 9) for e in fitted] == [1.5, 2.5]
    assert all(e["warning"] is None for e in fitted)  # 8x span, every run >= 50 ms
    short = fit_exponents([dict(r, query_runs=[r["query_runs"][0] * 1e-6]) for r in runs])
    assert all("fixed costs dominate" in e["warning"] for e in short)
    close = fit_exponents([r for r in runs if r["n"] < 8000])
    assert all("sizes span less than 4x" in e["warning"] for e in close)


def test_scaling_fits_exponents(tmp_path):
    r = _invoke("scaling", "--sizes", "400,800,1600", "--dims", "2,3", "--k", 3, "--repeat", 1,
                "--artifacts", tmp_path)
    assert r.exit_code == 0, r.output
    (path,) = (tmp_path / "benchmarks").glob("scaling-*.json")
    data = json.loads(path.read_text())
    assert [e["dim"] for e in data["exponents"]] == [2, 3]
    # millisecond timings say nothing reliable about the slope: only that one was fitted per dimension
    # (the fit itself is checked on exact power laws below)
    assert all(np.isfinite(e[f"{w}_exponent"]) for e in data["exponents"] for w in ("build", "query"))
    assert all(e["warning"] for e in data["exponents"]) and "unreliable" in r.output  # said, not hidden
    assert len(list((tmp_path / "profiles").glob("scaling-*.html"))) == 1


def _rewrite(path, out, **changes):
    """A copy of a saved tree with arrays replaced; ``sha256=True`` re-stamps a valid checksum (a crafted file)."""
    from covertreex.api.persist import checksum

    with np.load(path, allow_pickle=False) as data:
        arrays = {f: data[f] for f in data.files}
    restamp = changes.pop("sha256", False)
    arrays.update(changes)
    if restamp:
        header = json.loads(str(arrays["header"]))
        header["sha256"] = checksum(arrays)
        arrays["header"] = np.array(json.dumps(header))
    np.savez(out, **arrays)
    return out


def test_untrusted_tree_files_are_refused_with_a_clear_error(tmp_path, points):
    from covertreex.api.persist import checksum

    tree = CoverTree(Runtime(seed=3)).fit(points)
    good = save_tree(tree, tmp_path / "t.npz")
    with np.load(good) as data:
        a = {f: data[f] for f in data.files}
    n = 900
    forward = a["parent"].copy()
    forward[5] = 700
    small_radius = a["radius"].copy()
    small_radius[0] *= 0.5
    wrong_pd = a["parent_dist"].copy()
    wrong_pd[3] += 1e-9
    leaf = int(np.flatnonzero(np.bincount(a["parent"][1:], minlength=n) == 0)[0])
    negative_leaf = a["radius"].copy()
    negative_leaf[leaf] = -1.0  # a leaf's radius is never checked against descendants: only its sign
    nan_pts = a["points"].copy()
    nan_pts[4, 1] = np.nan
    huge = a["points"] * 1e160
    cases = {
        "altered, checksum kept": (dict(radius=small_radius), "checksum mismatch"),
        "crafted radius": (dict(radius=small_radius, sha256=True), "outside the stored radius"),
        "crafted parent distance": (dict(parent_dist=wrong_pd, sha256=True), "not a valid cover tree"),
        "parent forward": (dict(parent=forward, sha256=True), "depth-first order"),
        "negative leaf radius": (dict(radius=negative_leaf, sha256=True), "negative values"),
        "ids repeated": (dict(ids=np.zeros(n, dtype=np.int64), sha256=True), "permutation"),
        "wrong dtype": (dict(level=a["level"].astype(np.int32), sha256=True), "level must be int64"),
        "short array": (dict(radius=a["radius"][:-1], sha256=True), r"radius must be float64 of shape \(900,\)"),
        "NaN point": (dict(points=nan_pts, sha256=True), "NaN or infinity"),
        "huge points": (dict(points=huge, sha256=True), "supported range"),
        "bad header": (dict(header=np.array("{not json")), "header is not JSON"),
        "foreign runtime": (dict(header=np.array(json.dumps({"format": "covertreex.tree", "version": 2,
                                                             "runtime": {"metric": "cosine"},
                                                             "sha256": checksum(a)}))), "Runtime"),
    }
    for name, (changes, message) in cases.items():
        bad = _rewrite(good, tmp_path / f"{name.replace(' ', '_').replace(',', '')}.npz", **changes)
        with pytest.raises(ValueError, match=message):
            load_tree(bad)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable tree file"):
        load_tree(truncated)
    r = _invoke("query", truncated, "--k", 3, "--out", tmp_path / "n.npy")
    assert r.exit_code == 2 and "readable" in r.output
    r = _invoke("query", tmp_path / "crafted_radius.npz", "--k", 3, "--out", tmp_path / "n.npy")
    assert r.exit_code == 2 and "radius" in cli_text(r.output)


def test_version_1_files_load_with_their_derived_arrays_rebuilt(tmp_path, points):
    import dataclasses as dc

    tree = CoverTree(Runtime(seed=3)).fit(points)
    arrays = tree.arrays
    header = {"format": "covertreex.tree", "version": 1, "runtime": tree.runtime.describe()}
    fields = {f.name: getattr(arrays, f.name) for f in dc.fields(arrays)}
    fields["child_idx"] = np.full_like(fields["child_idx"], 10**9)  # v1 derived arrays are never read
    np.savez(tmp_path / "v1.npz", header=np.array(json.dumps(header)), **fields)
    loaded = load_tree(tmp_path / "v1.npz")
    np.testing.assert_array_equal(loaded.knn(k=5), tree.knn(k=5))
    loaded.check_invariants()


@pytest.mark.parametrize("policy", [Residual(Matern32(1.0, (0.5, 1.0, 2.0)), inducing=40),
                                    Residual(RBF(2.0, 0.7), inducing=np.linspace(-1, 1, 60).reshape(20, 3),
                                             jitter=1e-5)])
@pytest.mark.parametrize("engine", ["dense", "tree"])
def test_residual_trees_save_and_load(tmp_path, points, policy, engine):
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine=engine)).fit(points)
    loaded = CoverTree.load(tree.save(tmp_path / "r.npz"))
    assert loaded.runtime == tree.runtime
    Q = np.random.default_rng(2).standard_normal((30, 3))
    for kw in ({}, {"predecessor": True}, {"query_ids": [3, 500]}):
        np.testing.assert_array_equal(loaded.knn(k=6, **kw), tree.knn(k=6, **kw))
    np.testing.assert_array_equal(loaded.knn(Q, k=6), tree.knn(Q, k=6))  # new coordinates: the same factors
    grown = loaded.insert(Q)  # a loaded tree grows like any other
    o, _ = brute_force_knn(np.asarray(grown.points), k=4, metric="residual", residual=grown.metric)
    np.testing.assert_array_equal(grown.knn(k=4), o)


def test_residual_files_with_precomputed_factors_and_tampering(tmp_path, points):
    from covertreex.api.persist import checksum

    base = CoverTree(Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.6), inducing=30))).fit(points)
    F = base._fitted()
    dim = 3
    mine = CoverTree(base.runtime).fit(points, v_matrix=F[:, dim + 1:], p_diag=F[:, dim] * 1.05)
    loaded = CoverTree.load(mine.save(tmp_path / "p.npz"))
    np.testing.assert_array_equal(loaded.knn(k=5), mine.knn(k=5))
    with pytest.raises(ValueError, match="v_matrix"):
        loaded.knn(points[:2], k=3)  # rows of new points need the user's V and p, as before saving
    good = base.save(tmp_path / "g.npz")
    with np.load(good) as data:
        a = {f: data[f] for f in data.files}
    rows = a["points"].copy()
    rows[7, dim + 5] += 1e-3
    chol = a["chol"].copy()
    chol[4, 2] *= 1.01
    coords = a["coords"].copy()
    coords[9, 0] += 0.5
    header = json.loads(str(a["header"]))
    header["runtime"]["residual"]["lengthscale"] = 0.61
    cases = {"rows": ({"points": rows}, "feature rows"), "chol": ({"chol": chol}, "Cholesky"),
             "coords": ({"coords": coords}, "coordinate columns"),
             "kernel": ({"header": np.array(json.dumps(header))}, "coordinate columns")}
    for name, (changes, message) in cases.items():
        b = {**a, **changes}
        h = json.loads(str(b["header"]))
        h["sha256"] = checksum(b)
        b["header"] = np.array(json.dumps(h))
        np.savez(tmp_path / f"{name}.npz", **b)
        with pytest.raises(ValueError, match=message):
            load_tree(tmp_path / f"{name}.npz")


@pytest.mark.parametrize("text,message", [
    ("a,b,c\n1,2,3\n4,x,6\n", "bad.csv, line 3, value 2: 'x' is not a number"),
    ("1,2,3\n4,5,6\n7,8\n", "bad.csv, line 3: 2 values where the lines above have 3"),
    ("x;y\n1,5;2\n", "seems to separate values with ';'"),
    ("x\ty\n1\t2\n", "seems to separate values with '\\t'"),
])
def test_csv_problems_are_located_as_users_count(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    r = _invoke("build", tmp_path / "bad.csv", "--out", tmp_path / "t.npz")
    assert r.exit_code == 2 and message in cli_text(r.output), r.output


def test_build_progress_counts_every_point_of_every_round():
    X = np.random.default_rng(8).standard_normal((3000, 2))
    calls = []
    tree = CoverTree(Runtime(seed=1)).fit(X, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == len(tree.build_stats) and calls[0] == (2, 3000) and calls[-1] == (3000, 3000)
    assert all(a[0] < b[0] for a, b in zip(calls, calls[1:])) and {t for _, t in calls} == {3000}
    more = []
    tree.insert(X[:500] + 0.5, progress=lambda done, total: more.append((done, total)))
    assert more[-1] == (500, 500)


def test_queries_in_chunks_answer_as_one_call(tmp_path, monkeypatch):
    import covertreex.cli.tree_commands as commands

    X = np.random.default_rng(9).standard_normal((1000, 3))
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "q.npy", X[:300] + 0.01)
    monkeypatch.setattr(commands, "QUERY_CHUNK", 128)  # several chunks on a small input
    for extra, want in (([], brute_force_knn(X, k=4)),
                        (["--predecessor"], brute_force_knn(X, k=4, predecessor=True)),
                        (["--queries", tmp_path / "q.npy"], brute_force_knn(X, X[:300] + 0.01, k=4))):
        r = _invoke("query", tmp_path / "x.npy", "--k", 4, "--out", tmp_path / "n.npy", *extra)
        assert r.exit_code == 0, r.output
        np.testing.assert_array_equal(np.load(tmp_path / "n.npy"), want[0])
        np.testing.assert_array_equal(np.load(tmp_path / "n.distances.npy"), want[1])
