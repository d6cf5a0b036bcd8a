"""``covertreex bench ...``: benchmark commands that print a table and write JSON under artifacts/."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from covertreex.bench.deletion import DeleteWorkload, run_delete
from covertreex.bench.real_data import benchmark_data
from covertreex.bench.sharded import ShardedWorkload, run_sharded
from covertreex.data import names as data_names
from covertreex.bench.jit_timing import METRICS, run_jit
from covertreex.bench.residual import (RESIDUAL_PEERS, WORKLOADS, ResidualWorkload, residual_peer_available,
                                       run_residual)
from covertreex.bench.euclidean import EuclideanWorkload, euclidean_peers, run_euclidean
from covertreex.cli.tables import Sheet
from covertreex.cli.common import (ArtifactsOption, JsonOption, ThreadsOption, new_console, progress_steps,
                                   save_result)
from covertreex.runtime.config import QUERY_ENGINES, Runtime

bench_app = typer.Typer(help="Benchmarks against peer libraries (results verified against brute force).",
                        no_args_is_help=True)


def parse_peers(text: str, peers: dict | None = None) -> list[str]:
    """``all`` (every installed peer), ``none``, or comma-separated names from ``peers`` (name -> available)."""
    peers = peers if peers is not None else {n: p.available() for n, p in euclidean_peers().items()}
    known = list(peers)
    if text.strip().lower() == "all":
        return [name for name, available in peers.items() if available]
    if text.strip().lower() in ("", "none"):
        return []
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in known]
    if unknown:
        raise typer.BadParameter(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(known)}, all, none")
    return names


def _fmt(value, spec: str, suffix: str = "") -> str:
    return "—" if value is None else format(value, spec) + suffix


# (header, row key, format, suffix) of the table columns
COLUMNS = {
    "task": ("task", "task", "s", ""), "engine": ("engine", "engine", "s", ""),
    "build": ("build s", "build_s", ".3f", ""), "fit": ("fit s", "build_s", ".3f", ""),
    "query": ("query s", "query_s", ".3f", ""), "total": ("total s", "total_s", ".3f", ""),
    "qps": ("queries/s", "queries_per_s", ",.0f", ""), "evals": ("evals/query", "evals_per_query", ",.0f", ""),
    "recall": ("recall", "recall", ".4f", ""), "exact": ("exact rows", "exact_rows", ".3f", ""),
    "recall_ci": ("recall 95% CI", "recall_ci", "s", ""),
    "peak": ("peak MB", "peak_extra_mb", ".1f", ""), "gflops": ("GFLOP/s", "gflops", ".1f", ""),
    "bound": ("x GEMM bound", "of_bound", ".2f", "x"),
    "ratio_query": ("ours/peer q/s", "ratio_query", ".2f", "x"),
    "ratio_build": ("peer/ours build", "ratio_build", ".2f", "x"),
    "ratio_total": ("peer/ours total", "ratio_total", ".2f", "x"),
}


def render_rows(title: str, rows: list[dict], columns: list[str]) -> Sheet:
    """One row per engine row of a benchmark result (``—`` where a figure does not apply); a task shared
    by every row goes into the title instead of a column."""
    tasks = {r["task"] for r in rows}
    if len(tasks) == 1 and "task" in columns:
        columns = [c for c in columns if c != "task"]
        title = f"{title}: {tasks.pop()}"
    sheet = Sheet(title, [COLUMNS[col][0] for col in columns], key=sum(c in ("task", "engine") for c in columns))
    for r in rows:
        cells = []
        for col in columns:
            _, key, spec, suffix = COLUMNS[col]
            value = r[key]
            if col == "engine":
                value = f"{value} {r['version'] or ''}" + (" (float32)" if r["precision"] == "float32" else "")
            if col in ("build", "fit") and not r["build_runs"]:
                value = None
            cells.append(value if spec == "s" else _fmt(value, spec, suffix))
        sheet.add(*cells)
    return sheet


def render_table(result: dict) -> Sheet:
    w = result["workload"]
    source = "" if w.get("source", "synthetic") == "synthetic" else f"{w['source']}  "
    return render_rows(f"Euclidean k-NN  {source}n={w['n']} d={w['dim']} k={w['k']}  (median of {w['repeat']} runs)",
                       result["rows"], ["task", "engine", "build", "query", "qps", "recall", "exact", "peak",
                                        "ratio_query", "ratio_build", "ratio_total"])


@bench_app.command("euclidean")
def bench_euclidean(
    n: Annotated[int | None, typer.Option(min=2, help="Number of points: of N(0, I) data (default 131,072), "
                                                      "or the first n of --data (default all).")] = None,
    dim: Annotated[int, typer.Option(min=1, help="Dimension of the N(0, I) points (--data sets its own).")] = 3,
    data: Annotated[str | None, typer.Option(help="Real data instead of N(0, I): a data set name "
                                                  f"({', '.join(data_names())}) or a .npy/.csv/.parquet file.")] = None,
    k: Annotated[int, typer.Option(min=1, help="Neighbours per point (all-points query excludes the point).")] = 10,
    repeat: Annotated[int, typer.Option(min=1, help="Repeats per engine; medians are reported.")] = 3,
    peers: Annotated[str, typer.Option(help="Comma-separated peers, 'all' (installed ones) or 'none'.")] = "all",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the data (numpy default_rng).")] = 0,
    verify_rows: Annotated[int, typer.Option(min=0, help="Rows verified against the oracle (0 = all).")] = 2000,
    brute_rows: Annotated[int, typer.Option(min=0, help="Rows the brute-force peer is timed on.")] = 1024,
    conflict_graph: Annotated[str | None, typer.Option(help="Override Runtime.conflict_graph.")] = None,
    batch_order: Annotated[str | None, typer.Option(help="Override Runtime.batch_order.")] = None,
    query_engine: Annotated[str | None, typer.Option(help="Override Runtime.query_engine ('tree': the fit builds "
                                                          "the cover tree and the query searches it).")] = None,
    build: Annotated[str | None, typer.Option(help="Override Runtime.build (how the cover tree is built).")] = None,
    threads: ThreadsOption = None,
    json_path: JsonOption = None,
    artifacts: ArtifactsOption = Path("artifacts"),
) -> None:
    """Euclidean all-points k-NN: covertreex vs peers, verified against brute force."""
    console = new_console()
    try:
        overrides = {key: val for key, val in (("conflict_graph", conflict_graph), ("batch_order", batch_order),
                                               ("query_engine", query_engine), ("build", build),
                                               ("threads", threads)) if val is not None}
        runtime = Runtime.from_env().with_updates(**overrides)
        X = None if data is None else benchmark_data(data, n, seed)
        n, dim = (n or 131_072, dim) if X is None else X.shape
        workload = EuclideanWorkload(n=n, dim=dim, k=k, seed=seed, repeat=repeat, verify_rows=verify_rows,
                                     brute_rows=brute_rows, source=data or "synthetic")
        names = parse_peers(peers)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    with progress_steps(console, "bench euclidean") as step:
        result = run_euclidean(workload, runtime, names, progress=step, X=X)
    render_table(result).print(console)
    console.print(f"covertreex first call (JIT compile or cache load): {result['jit_s']:.2f} s; "
                  f"recall verified on {result['rows'][0]['verified_rows']} rows")
    save_result(console, result, "bench-euclidean", json_path, artifacts)


def render_residual(result: dict) -> Sheet:
    w = result["workload"]
    title = (f"residual k-NN, workload {w['name']}: n={w['n']} d={w['dim']} k={w['k']} m={w['inducing']} "
             f"{w['kernel']} l={w['lengthscale']}  (medians; GEMM peak {result['gemm_peak_gflops']:.0f} GFLOP/s)")
    columns = ["task", "engine", "fit", "query", "total", "qps", "evals", "recall", "exact", "peak", "gflops", "bound",
               "ratio_total"]
    if any(r.get("recall_ci") for r in result["rows"]):
        columns.insert(8, "recall_ci")
    return render_rows(title, result["rows"], columns)


def _names(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip() and t.strip() != "none")


def _fractions(text: str, option: str) -> tuple[float, ...]:
    """Comma-separated numbers of ``option`` (each checked in (0, 1) by the workload that takes them)."""
    try:
        return tuple(float(t) for t in _names(text))
    except ValueError:
        raise ValueError(f"{option} must be comma-separated numbers in (0, 1) or 'none', got {text!r}") from None


@bench_app.command("residual")
def bench_residual(
    workload: Annotated[str, typer.Option(help="headline (RBF l=1, m=512, k=50), vif-realistic (Matern32 l=0.3, "
                                               "m=256, k=30), cities (91,122 GeoNames places, Matern32 300 km, "
                                               "m=256, k=30) or custom (the options below).")] = "headline",
    n: Annotated[int | None, typer.Option(min=2, help="Number of points (the workload's by default).")] = None,
    dim: Annotated[int | None, typer.Option(min=1, help="Dimension of synthetic points.")] = None,
    k: Annotated[int | None, typer.Option(min=1, help="Neighbours per query.")] = None,
    inducing: Annotated[int | None, typer.Option(min=1, help="Inducing points (seeded random subset).")] = None,
    kernel: Annotated[str | None, typer.Option(help="rbf, matern12, matern32 or matern52.")] = None,
    lengthscale: Annotated[float | None, typer.Option(help="Kernel lengthscale (> 0).")] = None,
    variance: Annotated[float | None, typer.Option(help="Kernel variance (> 0).")] = None,
    queries: Annotated[int | None, typer.Option(min=0, help="Random query ids (default_rng(seed + 1)).")] = None,
    repeat: Annotated[int | None, typer.Option(min=1, help="Repeats of the fits and query-id runs (medians).")] = None,
    all_points: Annotated[str, typer.Option(help="All-points searches: 'knn', 'predecessor' (comma-separated) "
                                                 "or 'none'.")] = "predecessor",
    all_points_repeat: Annotated[int, typer.Option(min=1, help="Repeats of the all-points searches.")] = 1,
    engines: Annotated[str, typer.Option(help="covertreex query engines, each timed end to end (comma-separated: "
                                              f"{', '.join(QUERY_ENGINES)}).")] = "auto",
    verify_rows: Annotated[int | None, typer.Option(min=0, help="All-points rows checked against the oracle "
                                                               "(0 = all).")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed of the data.")] = None,
    peers: Annotated[str, typer.Option(help=f"Comma-separated peers ({', '.join(RESIDUAL_PEERS)}), 'all' "
                                            "(installed ones; pynndescent only with --gate) or 'none' (the oracle "
                                            "still runs, unlisted).")] = "all",
    gate: Annotated[str, typer.Option(help="Gated rows (the opt-in approximate tier): comma-separated target miss "
                                           "rates delta, e.g. 0.05,0.01; each calibrated per task, recall measured "
                                           "with its interval.")] = "none",
    gate_calibration: Annotated[int, typer.Option(min=1, help="Calibration queries per gate.")] = 1024,
    gate_audit: Annotated[int, typer.Option(min=0, help="Held-out audited queries per gate.")] = 1024,
    gate_search: Annotated[str, typer.Option(help="Gated searches, comma-separated: walk (per-query proxy "
                                                  "candidates), cells (proxy cells, local low-rank screen).")] = "walk",
    threads: ThreadsOption = None,
    json_path: JsonOption = None,
    artifacts: ArtifactsOption = Path("artifacts"),
) -> None:
    """Residual-correlation k-NN and Vecchia predecessor search end to end (fit + query) per engine,
    verified against the brute-force oracle, beside GPBoost and the GEMM bound measured in the same run;
    with --gate, gated rows and an approximate peer (pynndescent) with measured recall."""
    console = new_console()
    given = {"n": n, "dim": dim, "k": k, "inducing": inducing, "kernel": kernel, "lengthscale": lengthscale,
             "variance": variance, "query_count": queries, "repeat": repeat, "verify_rows": verify_rows,
             "seed": seed}
    try:
        if workload not in (*WORKLOADS, "custom"):
            raise ValueError(f"--workload must be one of {', '.join(WORKLOADS)}, custom; got {workload!r}")
        base = WORKLOADS.get(workload, ResidualWorkload())  # custom: the defaults, changed by the options
        chosen = dataclasses.replace(base, **{key: val for key, val in given.items() if val is not None},
                                     all_points=_names(all_points), all_points_repeat=all_points_repeat,
                                     engines=_names(engines), gates=_fractions(gate, "--gate"), gate_calibration=gate_calibration,
                                     gate_audit=gate_audit, gate_searches=_names(gate_search))
        runtime = Runtime.from_env()
        runtime = runtime.with_updates(metric="residual", residual=chosen.residual(), precision="float64",
                                       conflict_graph="auto" if runtime.conflict_graph == "grid"
                                       else runtime.conflict_graph,
                                       **({"threads": threads} if threads is not None else {}))
        names = tuple(parse_peers(peers, {n: residual_peer_available(n) for n in RESIDUAL_PEERS}))
        if peers == "all" and not chosen.gates:  # an approximate peer is compared with gated rows only
            names = tuple(n for n in names if n != "pynndescent")
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    with progress_steps(console, "bench residual") as step:
        result = run_residual(chosen, runtime, progress=step, peer_names=names)
    render_residual(result).print(console)
    blas = ", ".join(f"{b['internal_api']} {b['version']} {b['architecture']}" for b in result["machine"]["blas"])
    console.print(f"covertreex first calls (JIT compile or cache load): {result['jit_s']:.2f} s; residual "
                  f"variance p min/median/max {', '.join(f'{v:.2g}' for v in result['p_quantiles'])}; "
                  f"BLAS: {blas or 'unknown'}")
    save_result(console, result, "bench-residual", json_path, artifacts)


@bench_app.command("delete")
def bench_delete(
    n: Annotated[int, typer.Option(min=16, help="Number of points (N(0, I) data).")] = 131_072,
    dim: Annotated[int, typer.Option(min=1, help="Dimension of the points.")] = 3,
    fractions: Annotated[str, typer.Option(help="Comma-separated fractions of the points to delete.")] = "0.01,0.1",
    repeat: Annotated[int, typer.Option(min=1, help="Deletions per fraction (different points); medians.")] = 5,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the data and of the deleted points.")] = 0,
    verify_rows: Annotated[int, typer.Option(min=0, help="Rows verified against the oracle (0 = all).")] = 1024,
    threads: ThreadsOption = None,
    json_path: JsonOption = None,
    artifacts: ArtifactsOption = Path("artifacts"),
) -> None:
    """Batch deletion: CoverTree.delete against fitting a new tree on the survivors, verified exact."""
    console = new_console()
    try:
        runtime = Runtime.from_env().with_updates(**({} if threads is None else {"threads": threads}))
        workload = DeleteWorkload(n=n, dim=dim, fractions=_fractions(fractions, "--fractions"), repeat=repeat,
                                  seed=seed, verify_rows=verify_rows)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--fractions") from None
    with progress_steps(console, "bench delete") as step:
        result = run_delete(workload, runtime, progress=step)
    table = Sheet(f"delete vs rebuild, n={n:,}, d={dim} (fit {result['fit_s']:.3f} s; medians of {repeat})",
                  ["deleted", "delete s", "rebuild s", "delete/rebuild", "cKDTree rebuild s", "orphans", "promoted",
                   "exact"])
    for r in result["rows"]:
        table.add(f"{r['deleted']:,} ({r['fraction']:.0%})", f"{r['delete_s']:.3f}", f"{r['rebuild_s']:.3f}",
                  f"{r['ratio']:.3f}x", _fmt(r["ckdtree_rebuild_s"], ".3f"), f"{r['orphans']:,.0f}",
                  f"{r['promoted']:,.0f}", f"{r['exact']:.3f}")
    table.print(console)
    console.print(f"first delete in this process (JIT compile or cache load): {result['jit_s']:.2f} s; "
                  f"exact = the worse of recall and identical rows on {result['rows'][0]['verified_rows']} rows")
    save_result(console, result, "bench-delete", json_path, artifacts)


@bench_app.command("sharded")
def bench_sharded(
    metric: Annotated[str, typer.Option(help="euclidean (all-points k-NN) or residual (Matern32 l=0.3, "
                                             "predecessor sets, dense engine).")] = "euclidean",
    n: Annotated[Optional[int], typer.Option(min=2, help="Points, N(0, I) (default 4,194,304 Euclidean, "
                                                         "262,144 residual).")] = None,
    dim: Annotated[int, typer.Option(min=1, help="Dimension of the points.")] = 3,
    k: Annotated[Optional[int], typer.Option(min=1, help="Neighbours (default 10 Euclidean, 30 residual).")] = None,
    task: Annotated[Optional[str], typer.Option(help="knn (all points) or predecessor (default: knn Euclidean, "
                                                     "predecessor residual).")] = None,
    inducing: Annotated[int, typer.Option(min=1, help="Residual: inducing points.")] = 256,
    workers: Annotated[int, typer.Option(min=1, help="Workers of the LocalCluster started here.")] = 2,
    threads_per_worker: Annotated[int, typer.Option(min=1, help="Threads per worker (Numba and Dask).")] = 1,
    shards: Annotated[int, typer.Option(min=0, help="Shards (0: one per worker Euclidean, four per worker "
                                                    "residual).")] = 0,
    scheduler: Annotated[Optional[str], typer.Option(help="Address of a running cluster's scheduler "
                                                          "(tcp://host:8786) in place of a LocalCluster.")] = None,
    single: Annotated[bool, typer.Option(help="Also run one CoverTree in this process and compare.")] = True,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the data.")] = 0,
    json_path: JsonOption = None,
    artifacts: ArtifactsOption = Path("artifacts"),
) -> None:
    """A ShardedTree on a Dask cluster against one CoverTree in this process: fit and query seconds, peak
    memory per worker, bytes moved, identical answers (extra 'dask')."""
    console = new_console()
    residual = metric == "residual"
    try:
        workload = ShardedWorkload(
            metric=metric, n=n or (262_144 if residual else 4_194_304), dim=dim, k=k or (30 if residual else 10),
            task=task or ("predecessor" if residual else "knn"), inducing=inducing, workers=workers,
            threads_per_worker=threads_per_worker, shards=shards, seed=seed, single=single, scheduler=scheduler)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    if importlib.util.find_spec("distributed") is None:
        raise typer.BadParameter("bench sharded needs Dask: pip install 'covertreex[dask]'")
    with progress_steps(console, "bench sharded") as step:
        result = run_sharded(workload, progress=step)
    one, sh = result["single"], result["sharded"]
    table = Sheet(f"sharded vs one tree: {metric} {workload.task}, n={workload.n:,}, d={dim}, k={workload.k}, "
                  f"{sh['workers']} workers x {workload.threads_per_worker} thread(s), {len(sh['shards'])} shards",
                  ["engine", "fit s", "query s", "total s", "peak extra MB", "sent MB", "received MB", "identical"])
    if one is not None:
        table.add(f"one CoverTree ({one['threads']} threads)", f"{one['fit_s']:.2f}", f"{one['query_s']:.2f}",
                  f"{one['total_s']:.2f}", f"{one['peak_extra_mb']:,.0f}", "—", "—", "—")
    peaks = "/".join("?" if p is None else f"{p:,.0f}" for p in sh["worker_peak_extra_mb"])
    table.add("ShardedTree", f"{sh['fit_s']:.2f}", f"{sh['query_s']:.2f}", f"{sh['total_s']:.2f}",
              f"{peaks} per worker", f"{(sh['fit_bytes_sent'] + sh['query_bytes_sent']) / 2**20:,.1f}",
              f"{sh['query_bytes_received'] / 2**20:,.1f}", _fmt(sh["identical_to_single"], ""))
    table.print(console)
    console.print(f"shard queries per row {sh['shards_per_row']:.2f}; shard sizes "
                  f"{', '.join(f'{s:,}' for s in sh['shards'])}; worker peak resident MB "
                  f"{', '.join(f'{p:,.0f}' for p in sh['worker_peak_mb'] if p is not None)}")
    save_result(console, result, "bench-sharded", json_path, artifacts)


@bench_app.command("jit")
def bench_jit(
    metric: Annotated[str, typer.Option(help=f"Metric of the probe: {', '.join(METRICS)}.")] = "euclidean",
    dim: Annotated[int, typer.Option(min=1, help="Dimension of the probe's points.")] = 3,
    repeat: Annotated[int, typer.Option(min=1, help="Cold/warm pairs (medians).")] = 3,
    json_path: JsonOption = None,
    artifacts: ArtifactsOption = Path("artifacts"),
) -> None:
    """Cold start (empty Numba cache: compilation) and warm start (cache filled) of fresh interpreters."""
    console = new_console()
    if metric not in METRICS:
        raise typer.BadParameter(f"choose from {', '.join(METRICS)}", param_hint="--metric")
    with progress_steps(console, "bench jit") as step:
        result = run_jit(metric, dim, repeat, dict(os.environ), progress=step)
    table = Sheet(f"first calls in a fresh interpreter, {metric} d={dim}, {result['workload']['points']:,} points "
                  f"(median of {repeat})", ["phase", "cold s (compile)", "warm s (cache)"])
    for phase in result["phases"]:
        table.add(phase, f"{result['median']['cold'][phase]:.2f}", f"{result['median']['warm'][phase]:.2f}")
    table.print(console)
    save_result(console, result, "bench-jit", json_path, artifacts)
