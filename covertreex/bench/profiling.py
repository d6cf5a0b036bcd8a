"""Build + query runs over several sizes: where the time goes (``breakdown``) and how it grows (``scaling``).

Every run uses seeded N(0, I) data, times the build and the all-points k-NN under an
``OperationTimer`` (wall, CPU, peak RSS, threads) and, with a writer, records the per-round build
phases, the query event and both operations as telemetry.  The first (JIT) call is made and timed
before anything else, so compile or cache-load time never lands in a measured run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from covertreex.algo.types import PHASES
from covertreex.api.tree import CoverTree
from covertreex.bench.harness import Steps, timed, warm_up
from covertreex.runtime.config import Runtime
from covertreex.telemetry.events import emit_operation, emit_query



def _check_sizes(sizes, dims, k: int, repeat: int) -> None:
    if not sizes or not dims:
        raise ValueError("sizes and dims must each name at least one value")
    if min(sizes) <= k:
        raise ValueError(f"every size must exceed k={k}, got {min(sizes)}")
    if min(dims) < 1 or repeat < 1 or k < 1:
        raise ValueError("dims, k and repeat must be >= 1")


@dataclass(frozen=True)
class SizeRun:
    n: int
    dim: int
    build: dict  # OperationStats.as_dict() of the median-wall repeat
    query: dict
    phases: dict  # seconds per build phase (summed over rounds), median repeat
    rounds: int
    evals_mean: float
    visited_mean: float | None  # None when no tree walk answered (the block scan)
    build_runs: list
    query_runs: list

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def run_size(runtime: Runtime, n: int, dim: int, k: int, repeat: int, seed: int, writer=None) -> SizeRun:
    """``repeat`` build + all-points query runs at one size; the repeat with the median build wall is kept.
    The cover tree is built whatever the fit's plan would choose: its build phases are what is profiled."""
    X = np.random.default_rng(seed).standard_normal((n, dim))
    if runtime.query_engine == "auto":
        runtime = runtime.with_updates(query_engine="tree")
    if runtime.build == "auto":  # the phases profiled are the rounds' (an auto build in <= 3 coordinates goes by nets)
        runtime = runtime.with_updates(build="rounds")
    runs = []
    for _ in range(repeat):
        build = timed(lambda: CoverTree(runtime).fit(X, telemetry=writer), 1, "build")
        tree, tb = build.out, build.stats[0]
        query = timed(lambda: tree.knn_result(k=k), 1, "query")
        result, tq = query.out, query.stats[0]
        if writer is not None:
            emit_query(writer, "self", result, k, n, tq.wall_s)
            emit_operation(writer, tb, n, dim)
            emit_operation(writer, tq, n, dim)
        phases = {p: sum(getattr(s, f"seconds_{p}") for s in tree.build_stats) for p in PHASES}
        runs.append((tb, tq, phases, len(tree.build_stats), result))
        del tree, build
    builds = [r[0].wall_s for r in runs]
    keep = sorted(range(repeat), key=lambda i: builds[i])[repeat // 2]
    tb, tq, phases, rounds, result = runs[keep]
    visited = result.counter("nodes_visited")
    return SizeRun(n=n, dim=dim, build=tb.as_dict(), query=tq.as_dict(), phases=phases, rounds=rounds,
                   evals_mean=float(result.distance_evaluations.mean()),
                   visited_mean=None if visited is None else float(visited.mean()),
                   build_runs=builds, query_runs=[r[1].wall_s for r in runs])


def sweep(runtime: Runtime, sizes, dims, k: int = 10, repeat: int = 3, seed: int = 0, writer=None,
          progress=None) -> dict:
    """Every (n, dim) pair; returns a JSON-serialisable dict with ``runs`` and the JIT seconds."""
    _check_sizes(sizes, dims, k, repeat)
    step = Steps(progress, 1 + len(dims) * len(sizes))
    step("JIT warm-up")
    jit_s = sum(warm_up(runtime, dim, k) for dim in dims)
    runs = []
    for dim in dims:
        for n in sizes:
            step(f"n={n:,} d={dim}")
            runs.append(run_size(runtime, n, dim, k, repeat, seed, writer).as_dict())
    return {"sizes": list(sizes), "dims": list(dims), "k": k, "repeat": repeat, "seed": seed, "jit_s": jit_s,
            "runtime": runtime.describe(), "runs": runs}


# an exponent says something only when the sizes span a factor of 4 and the smallest run takes 50 ms:
# below that, fixed costs (thread start-up, allocation, Python) dominate and slopes come out near 0 or < 0
MIN_SIZE_SPAN = 4.0
MIN_SECONDS = 0.05


def fit_exponents(runs: list[dict]) -> list[dict]:
    """Per dimension, the least-squares slope of log(time) on log(n) for build and query (>= 2 sizes),
    with ``warning``: None, or why the slopes are not to be trusted (sizes too close or runs too short)."""
    out = []
    for dim in sorted({r["dim"] for r in runs}):
        part = sorted((r for r in runs if r["dim"] == dim), key=lambda r: r["n"])
        if len({r["n"] for r in part}) < 2:
            continue
        logn = np.log([r["n"] for r in part])
        row = {"dim": dim, "sizes": [r["n"] for r in part]}
        shortest = np.inf
        for what in ("build", "query"):
            secs = [statistics.median(r[f"{what}_runs"]) for r in part]
            slope, _ = np.polyfit(logn, np.log(secs), 1)
            row[f"{what}_exponent"] = float(slope)
            shortest = min(shortest, min(secs))
        problems = []
        if part[-1]["n"] < MIN_SIZE_SPAN * part[0]["n"]:
            problems.append(f"sizes span less than {MIN_SIZE_SPAN:g}x")
        if shortest < MIN_SECONDS:
            problems.append(f"a run took {shortest * 1e3:.1f} ms, where fixed costs dominate")
        row["warning"] = ("unreliable: " + " and ".join(problems) + "; use larger sizes") if problems else None
        out.append(row)
    return out
