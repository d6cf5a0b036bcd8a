"""``covertreex bench ...``: benchmark commands that print a table and write JSON under artifacts/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from covertreex.bench.jit_timing import METRICS, run_jit
from covertreex.bench.residual import (RESIDUAL_PEERS, ResidualWorkload, residual_peer_available,
                                                 run_residual)
from covertreex.bench.euclidean import EuclideanWorkload, euclidean_peers, run_euclidean
from covertreex.cli.common import (ArtifactsOption, JsonOption, ThreadsOption, new_console, progress_steps,
                                   save_result)
from covertreex.runtime.config import Runtime

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


def render_table(result: dict) -> Table:
    w = result["workload"]
    table = Table(title=f"Euclidean k-NN  n={w['n']} d={w['dim']} k={w['k']}  (median of {w['repeat']} runs)")
    for col in ("task", "engine", "build s", "query s", "queries/s", "recall", "exact rows", "peak MB",
                "ours/peer q/s", "peer/ours build", "peer/ours total"):
        table.add_column(col, justify="left" if col in ("task", "engine") else "right")
    for r in result["engines"]:
        table.add_row(
            r["task"], f"{r['engine']} {r['version'] or ''}" + (" (float32)" if r.get("precision") == "float32" else ""),
            _fmt(r["build_s"] or None, ".3f"),
            _fmt(r["query_s"], ".3f"), _fmt(r["queries_per_s"], ",.0f"), _fmt(r["recall"], ".4f"),
            _fmt(r["exact_rows"], ".3f"), _fmt(r["peak_extra_rss_mb"], ".1f"),
            _fmt(r["covertreex_speedup_query"], ".2f", "x"), _fmt(r["covertreex_speedup_build"], ".2f", "x"),
            _fmt(r["covertreex_speedup_total"], ".2f", "x"),
        )
    return table


@bench_app.command("euclidean")
def bench_euclidean(
    n: Annotated[int, typer.Option(min=2, help="Number of points (N(0, I) data).")] = 131_072,
    dim: Annotated[int, typer.Option(min=1, help="Dimension of the points.")] = 3,
    k: Annotated[int, typer.Option(min=1, help="Neighbours per point (all-points query excludes the point).")] = 10,
    repeat: Annotated[int, typer.Option(min=1, help="Repeats per engine; medians are reported.")] = 3,
    peers: Annotated[str, typer.Option(help="Comma-separated peers, 'all' (installed ones) or 'none'.")] = "all",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the data (numpy default_rng).")] = 0,
    verify_rows: Annotated[int, typer.Option(min=0, help="Rows verified against the oracle (0 = all).")] = 2000,
    brute_rows: Annotated[int, typer.Option(min=0, help="Rows the brute-force peer is timed on.")] = 1024,
    conflict_graph: Annotated[str | None, typer.Option(help="Override Runtime.conflict_graph.")] = None,
    batch_order: Annotated[str | None, typer.Option(help="Override Runtime.batch_order.")] = None,
    threads: ThreadsOption = None,
    json_path: JsonOption = None,
    artifacts: ArtifactsOption = Path("artifacts"),
) -> None:
    """Euclidean all-points k-NN: covertreex vs peers, verified against brute force."""
    console = new_console()
    try:
        overrides = {key: val for key, val in (("conflict_graph", conflict_graph), ("batch_order", batch_order),
                                               ("threads", threads)) if val is not None}
        runtime = Runtime.from_env().with_updates(**overrides)
        workload = EuclideanWorkload(n=n, dim=dim, k=k, seed=seed, repeat=repeat, verify_rows=verify_rows,
                                     brute_rows=brute_rows)
        names = parse_peers(peers)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    with progress_steps(console, "bench euclidean") as step:
        result = run_euclidean(workload, runtime, names, progress=step)
    console.print(render_table(result))
    console.print(f"covertreex first call (JIT compile or cache load): {result['jit_s']:.2f} s; "
                  f"recall verified on {result['engines'][0]['verified_rows']} rows")
    save_result(console, result, "bench-euclidean", json_path, artifacts)


def render_residual(result: dict) -> Table:
    w = result["workload"]
    table = Table(title=f"residual k-NN  n={w['n']} d={w['dim']} k={w['k']} m={w['inducing']} {w['kernel']} "
                        f"ls={w['lengthscale']}  build {result['build_s']:.2f} s (median of {w['repeat']})")
    for col in ("task", "engine", "rows", "seconds", "queries/s", "evals/query", "recall", "exact rows",
                "peak MB", "peer s / ours s"):
        table.add_column(col, justify="left" if col in ("task", "engine") else "right")
    for t in result["tasks"]:
        engine = "covertreex " + t["engine"] + (" (auto)" if "engine=auto" in t["note"] else "")
        table.add_row(t["task"], engine, str(t["rows"]), f"{t['seconds']:.3f}", _fmt(t["queries_per_s"], ",.0f"),
                      f"{t['evals_per_query']:,.0f}", f"{t['recall']:.4f}", f"{t['exact_rows']:.3f}",
                      f"{t['peak_extra_mb']:.1f}", "")
    for p in result["peers"]:
        table.add_row(p["task"], f"{p['engine']} {p['version'] or ''}", str(p["rows"]), f"{p['seconds']:.3f}",
                      _fmt(p["queries_per_s"], ",.0f"), "—", _fmt(p["recall"], ".4f"), _fmt(p["exact_rows"], ".3f"),
                      _fmt(p["peak_extra_mb"], ".1f"), f"{p['ratio']:.2f}x")
    return table


@bench_app.command("residual")
def bench_residual(
    n: Annotated[int, typer.Option(min=2, help="Number of points (N(0, I) data, default_rng(seed)).")] = 32_768,
    dim: Annotated[int, typer.Option(min=1, help="Dimension of the points.")] = 3,
    k: Annotated[int, typer.Option(min=1, help="Neighbours per query.")] = 50,
    inducing: Annotated[int, typer.Option(min=1, help="Inducing points (seeded random subset).")] = 512,
    kernel: Annotated[str, typer.Option(help="rbf, matern12, matern32 or matern52.")] = "rbf",
    lengthscale: Annotated[float, typer.Option(help="Kernel lengthscale (> 0).")] = 1.0,
    variance: Annotated[float, typer.Option(help="Kernel variance (> 0).")] = 1.0,
    queries: Annotated[int, typer.Option(min=0, help="Random query ids (default_rng(seed + 1)).")] = 1024,
    repeat: Annotated[int, typer.Option(min=1, help="Repeats of the build and query-id runs (medians).")] = 3,
    all_points: Annotated[str, typer.Option(help="All-points searches to time once: 'knn', 'predecessor' "
                                                 "(comma-separated) or 'none'.")] = "knn,predecessor",
    engines: Annotated[str, typer.Option(help="Query engines timed on the query ids (comma-separated: "
                                              "auto, tree, dense).")] = "tree,auto",
    all_points_engine: Annotated[str, typer.Option(help="Engine of the all-points runs.")] = "auto",
    verify_rows: Annotated[int, typer.Option(min=0, help="All-points rows checked against the oracle.")] = 1024,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the data.")] = 42,
    peers: Annotated[str, typer.Option(help=f"Comma-separated peers ({', '.join(RESIDUAL_PEERS)}), 'all' "
                                            "(installed ones) or 'none' (the oracle still runs, unlisted).")] = "all",
    threads: ThreadsOption = None,
    json_path: JsonOption = None,
    artifacts: ArtifactsOption = Path("artifacts"),
) -> None:
    """Residual-correlation k-NN and Vecchia predecessor search, verified against the brute-force oracle."""
    console = new_console()
    try:
        workload = ResidualWorkload(n=n, dim=dim, k=k, inducing=inducing, kernel=kernel, variance=variance,
                                    lengthscale=lengthscale, seed=seed, query_count=queries, repeat=repeat,
                                    all_points=tuple(t.strip() for t in all_points.split(",")
                                                     if t.strip() and t.strip() != "none"),
                                    verify_rows=verify_rows,
                                    engines=tuple(e.strip() for e in engines.split(",") if e.strip()),
                                    all_points_engine=all_points_engine)
        base = Runtime.from_env()
        runtime = base.with_updates(metric="residual", residual=workload.residual(), precision="float64",
                                    conflict_graph="auto" if base.conflict_graph == "grid" else base.conflict_graph,
                                    **({"threads": threads} if threads is not None else {}))
        names = tuple(parse_peers(peers, {n: residual_peer_available(n) for n in RESIDUAL_PEERS}))
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    with progress_steps(console, "bench residual") as step:
        result = run_residual(workload, runtime, progress=step, peer_names=names)
    console.print(render_residual(result))
    console.print(f"covertreex first calls (JIT compile or cache load): {result['jit_s']:.2f} s; residual "
                  f"variance p min/median/max {', '.join(f'{v:.2g}' for v in result['p_quantiles'])}")
    save_result(console, result, "bench-residual", json_path, artifacts)


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
    table = Table(title=f"first calls in a fresh interpreter, {metric} d={dim}, "
                        f"{result['workload']['points']:,} points (median of {repeat})")
    for col in ("phase", "cold s (compile)", "warm s (cache)"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for phase in result["phases"]:
        table.add_row(phase, f"{result['median']['cold'][phase]:.2f}", f"{result['median']['warm'][phase]:.2f}")
    console.print(table)
    save_result(console, result, "bench-jit", json_path, artifacts)
