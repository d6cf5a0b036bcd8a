"""``covertreex breakdown`` and ``covertreex scaling``: JSONL/JSON plus a self-contained plotly HTML report."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Annotated

import typer

from covertreex.cli.tables import Sheet
from covertreex.api.tree import CoverTree
from covertreex.algo.types import PHASES
from covertreex.bench.profiling import fit_exponents, sweep
from covertreex.cli.common import ArtifactsOption, ThreadsOption, new_console, progress_steps
from covertreex.runtime.config import Runtime
from covertreex.telemetry.artifacts import artifact_path, new_run_id
from covertreex.telemetry.writer import TelemetryWriter
from covertreex.viz.reports import breakdown_figure, scaling_figure, write_html


def _ints(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}", param_hint=name) from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"expected positive integers, got {text!r}", param_hint=name)
    return values


def _runtime(threads: int | None, conflict_graph: str | None) -> Runtime:
    changes = {k: v for k, v in (("threads", threads), ("conflict_graph", conflict_graph)) if v is not None}
    try:
        runtime = Runtime.from_env().with_updates(**changes)
        CoverTree(runtime)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    return runtime


SizesOption = Annotated[str, typer.Option(help="Comma-separated numbers of points.")]
KOption = Annotated[int, typer.Option(min=1, help="Neighbours per point of the all-points query.")]
RepeatOption = Annotated[int, typer.Option(min=1, help="Repeats per size (the median-build repeat is reported).")]
SeedOption = Annotated[int, typer.Option(min=0, help="Seed of the N(0, I) data.")]
ConflictOption = Annotated[str | None, typer.Option(help="Override Runtime.conflict_graph.")]


def breakdown(
    sizes: SizesOption = "8192,32768,131072",
    dim: Annotated[int, typer.Option(min=1, help="Dimension of the points.")] = 3,
    k: KOption = 10,
    repeat: RepeatOption = 3,
    seed: SeedOption = 0,
    conflict_graph: ConflictOption = None,
    threads: ThreadsOption = None,
    artifacts: ArtifactsOption = Path("artifacts"),
) -> None:
    """Per-phase build time, query time, CPU use and memory over several sizes: JSONL + an HTML report."""
    ns = _ints(sizes, "--sizes")
    runtime = _runtime(threads, conflict_graph)
    run_id = new_run_id({"command": "breakdown", "sizes": ns, "dim": dim, "k": k, "runtime": runtime.describe()})
    log = artifact_path(artifacts, "logs", "breakdown", run_id, "jsonl")
    console = new_console()
    try:
        with TelemetryWriter(log, runtime, run_id=run_id) as writer, progress_steps(console, "breakdown") as step:
            result = sweep(runtime, ns, [dim], k=k, repeat=repeat, seed=seed, writer=writer, progress=step)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    result["run_id"] = run_id
    table = Sheet(f"breakdown d={dim} k={k} (median-build repeat of {repeat}; seconds)",
                  [c.replace("_", " ") for c in ("n", *PHASES, "build", "query", "build CPU", "query CPU", "build MB",
                                                 "query MB")])
    for r in result["runs"]:
        table.add(f"{r['n']:,}", *(f"{r['phases'][p]:.3f}" for p in PHASES), f"{r['build']['wall_s']:.3f}",
                  f"{r['query']['wall_s']:.3f}", f"{r['build']['cpu_utilisation']:.2f}",
                  f"{r['query']['cpu_utilisation']:.2f}", f"{r['build']['peak_extra_rss_bytes'] / 2**20:.1f}",
                  f"{r['query']['peak_extra_rss_bytes'] / 2**20:.1f}")
    table.print(console)
    report = write_html(breakdown_figure(result), artifact_path(artifacts, "profiles", "breakdown", run_id, "html"))
    summary = artifact_path(artifacts, "profiles", "breakdown", run_id, "json")
    summary.write_text(json.dumps(result, indent=2))
    console.print(f"JIT/cache load {result['jit_s']:.2f} s (excluded); wrote {log}, {summary} and {report}")


def scaling(
    sizes: SizesOption = "4096,8192,16384,32768,65536",
    dims: Annotated[str, typer.Option(help="Comma-separated dimensions.")] = "3",
    k: KOption = 10,
    repeat: RepeatOption = 3,
    seed: SeedOption = 0,
    conflict_graph: ConflictOption = None,
    threads: ThreadsOption = None,
    artifacts: ArtifactsOption = Path("artifacts"),
) -> None:
    """Sweep over n (and d): fitted exponents of build and query time (log-log least squares), JSON + plot."""
    ns, ds = _ints(sizes, "--sizes"), _ints(dims, "--dims")
    if len(set(ns)) < 2:
        raise typer.BadParameter("give at least two different sizes to fit an exponent", param_hint="--sizes")
    runtime = _runtime(threads, conflict_graph)
    console = new_console()
    try:
        with progress_steps(console, "scaling") as step:
            result = sweep(runtime, ns, ds, k=k, repeat=repeat, seed=seed, progress=step)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    result["exponents"] = exponents = fit_exponents(result["runs"])
    run_id = new_run_id({"command": "scaling", "sizes": ns, "dims": ds, "k": k, "runtime": runtime.describe()})
    result["run_id"] = run_id
    table = Sheet(f"scaling k={k} (medians of {repeat})",
                  ["d", "n", "build s", "query s", "build us/point", "query us/point"], key=2)
    for r in result["runs"]:
        b, q = statistics.median(r["build_runs"]), statistics.median(r["query_runs"])
        table.add(str(r["dim"]), f"{r['n']:,}", f"{b:.3f}", f"{q:.3f}", f"{1e6 * b / r['n']:.2f}",
                  f"{1e6 * q / r['n']:.2f}")
    table.print(console)
    for e in exponents:
        console.print(f"d={e['dim']}: build ~ n^{e['build_exponent']:.2f}, query ~ n^{e['query_exponent']:.2f} "
                      f"(sizes {e['sizes'][0]:,}..{e['sizes'][-1]:,})"
                      + (f" [bold red]{e['warning']}[/]" if e["warning"] else ""))
    path = artifact_path(artifacts, "benchmarks", "scaling", run_id, "json")
    path.write_text(json.dumps(result, indent=2))
    report = write_html(scaling_figure(result, exponents), artifact_path(artifacts, "profiles", "scaling", run_id,
                                                                         "html"))
    console.print(f"wrote {path} and {report}")
