"""Cold and warm start of covertreex: fresh interpreters with an empty, then a filled, Numba cache.

Each repeat makes a new temporary cache directory, runs ``jit_probe`` in it twice (cold: everything is
compiled and written to the cache; warm: everything is loaded from it) and keeps the per-phase seconds.
The child's environment is given by the caller (the CLI), so this module reads no environment itself.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping

from covertreex.bench.harness import Steps
from covertreex.bench.jit_probe import PROBE_K, PROBE_POINTS

METRICS = ("euclidean", "residual")


def _run_probe(metric: str, dim: int, env: Mapping[str, str], cache_dir: str) -> dict[str, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "covertreex.bench.jit_probe", metric, str(dim)],
                          env={**env, "NUMBA_CACHE_DIR": cache_dir}, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"jit probe failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    phases = json.loads(done.stdout.strip().splitlines()[-1])
    phases["start + imports"] = max(0.0, wall - sum(phases.values()))
    phases["total"] = wall
    return phases


def run_jit(metric: str, dim: int, repeat: int, env: Mapping[str, str],
            progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Medians over ``repeat`` cold/warm pairs; every run's phases are kept under ``runs``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if dim < 1 or repeat < 1:
        raise ValueError(f"dim and repeat must be >= 1, got dim={dim}, repeat={repeat}")
    step = Steps(progress, 2 * repeat)
    runs = []
    for r in range(repeat):
        with tempfile.TemporaryDirectory(prefix="covertreex-numba-cache-") as cache_dir:
            step(f"cold start {r + 1}/{repeat}")
            cold = _run_probe(metric, dim, env, cache_dir)
            step(f"warm start {r + 1}/{repeat}")
            warm = _run_probe(metric, dim, env, cache_dir)
        runs.append({"cold": cold, "warm": warm})
    phases = list(runs[0]["cold"])
    median = {kind: {p: statistics.median(run[kind][p] for run in runs) for p in phases} for kind in ("cold", "warm")}
    return {"workload": {"metric": metric, "dim": dim, "repeat": repeat, "points": PROBE_POINTS, "k": PROBE_K},
            "runtime": {"numba_threads": env.get("NUMBA_NUM_THREADS", "default")},
            "phases": phases, "median": median, "runs": runs}
