"""What every benchmark shares: one timing helper, one warm-up, one checker, one row type.

- ``timed(fn, repeat)``: runs ``fn`` ``repeat`` times under an ``OperationTimer``; wall seconds of each
  run, their median, the peak extra memory and the last output.
- ``warm_up(runtime, dim, k)``: the first calls of a fitted tree on small data (compilation or Numba
  cache load), timed so that JIT time never lands in a measured run.
- ``check_rows(got, got_distances, oracle, ...)``: recall and exact-row fraction of neighbour rows
  against the brute-force oracle, with the true distances of the returned ids.
- ``EngineRow``: one engine on one task; ``with_ratios`` relates every row to covertreex's on its task.
"""

from __future__ import annotations

import dataclasses
import platform
import statistics
from dataclasses import asdict, dataclass, field

import numba
import numpy as np

import covertreex
from threadpoolctl import threadpool_info

from covertreex.api.tree import CoverTree
from covertreex.queries.knn import BLOCK_SCAN_MIN_POINTS
from covertreex.runtime.config import Runtime
from covertreex.runtime.diagnostics import OperationStats, OperationTimer
from covertreex.validation import as_points


@dataclass(frozen=True)
class Timed:
    """Each run's ``OperationStats`` (wall, CPU, memory, threads) and the last run's output."""

    stats: list[OperationStats]
    out: object

    @property
    def runs(self) -> list[float]:
        """Wall seconds of each run."""
        return [s.wall_s for s in self.stats]

    @property
    def peak_mb(self) -> float:
        """Peak extra resident memory over the runs (MB)."""
        return max(s.peak_extra_rss_bytes for s in self.stats) / 2**20

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


class Steps:
    """A benchmark run's progress: its steps counted before the first one, then announced one by one as
    ``progress(message, done, total)`` (``done`` counts the step that starts); ``progress`` may be None."""

    def __init__(self, progress, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, message: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(message, self.done, self.total)


def timed(fn, repeat: int, name: str = "run") -> Timed:
    """Run ``fn()`` ``repeat`` times; the previous output is released before each run."""
    stats, out = [], None
    for _ in range(repeat):
        out = None
        with OperationTimer(name) as t:
            out = fn()
        stats.append(t.stats)
    return Timed(stats, out)


def warm_up(runtime: Runtime, dim: int, k: int) -> float:
    """Seconds of the first fit and queries of every kind in this process (compilation or cache load),
    on seeded points of dimension ``dim``: all-points, query ids, predecessor and new points.  Euclidean:
    ``BLOCK_SCAN_MIN_POINTS`` of them, so a fit above three coordinates makes its k-d leaves, the large
    queries scan them and the small ones build the tree (every path a benchmark's fit and query take);
    residual: 1,024."""
    n = BLOCK_SCAN_MIN_POINTS if runtime.metric == "euclidean" else 1024
    X = np.random.default_rng(123).standard_normal((n, dim))
    if runtime.metric == "residual":  # a small inducing set: the kernels compiled do not depend on m
        runtime = runtime.with_updates(residual=dataclasses.replace(runtime.metric_policy(), inducing=64))
    kk = min(k, n - 1)
    with OperationTimer("jit") as t:
        tree = CoverTree(runtime).fit(X)
        tree.knn(k=kk)
        tree.knn(k=kk, query_ids=np.arange(4))
        tree.knn(k=kk, predecessor=True)
        tree.knn(X[:4] + 0.5, k=kk)
    return t.stats.wall_s


def check_rows(got: np.ndarray, got_distances: np.ndarray, oracle, owners: np.ndarray | None = None,
               predecessor: bool = False) -> tuple[float, float]:
    """(recall, exact-row fraction) of neighbour rows ``got`` against the oracle's (ids, distances).

    ``got_distances``: the *true* distances of the returned ids (computed by the caller from the
    data, not taken from the engine under test).  A returned id counts when it is not padding, its
    true distance is within the oracle's k-th (any valid tie-break is accepted), it is not the row's
    own point ``owners[r]``, it is an earlier point on predecessor rows, and its row repeats no id
    (predecessor rows may repeat the -1 padding).  Recall is over the oracle's non-padding entries;
    a row is exact when its ids equal the oracle's, order included.
    """
    oi, od = oracle
    kth = np.where(oi[:, -1:] >= 0, od[:, -1:], np.inf)
    hit = (got >= 0) & (got_distances <= kth)
    if owners is not None:
        hit &= got != owners[:, None]
        if predecessor:
            hit &= got < owners[:, None]
    kept = [row[row >= 0] if predecessor else row for row in got]
    hit &= np.array([len(set(row.tolist())) == len(row) for row in kept])[:, None]
    return float(hit.sum() / max(int((oi >= 0).sum()), 1)), float(np.mean(np.all(got == oi, axis=1)))


def sample_rows(n: int, count: int, seed: int) -> np.ndarray:
    """Sorted seeded sample of ``count`` row ids out of ``n`` (all rows when ``count`` is 0 or >= n)."""
    if count == 0 or count >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, count, replace=False))


@dataclass
class EngineRow:
    """One engine on one task.  ``build_s``: its index build or model fit (0 where it has none);
    ``query_s``: the query; both medians of ``build_runs`` / ``query_runs``.  ``recall`` is None where
    the answer cannot be read back (GPBoost)."""

    task: str
    engine: str
    version: str | None
    exact: bool
    note: str
    build_runs: list[float]
    query_runs: list[float]
    rows: int  # query rows answered
    recall: float | None
    exact_rows: float | None  # fraction of verified rows identical to the oracle (ids and order)
    verified_rows: int
    peak_extra_mb: float | None
    precision: str = "float64"  # what the engine computes in (float32 engines are exact up to its rounding)
    evals_per_query: float | None = None
    flops: float | None = None  # arithmetic the task needs at least (GEMM bound), where one applies
    recall_low: float | None = None  # approximate rows: Clopper-Pearson interval of the recall
    recall_high: float | None = None
    calibration_s: float | None = None  # gated rows: the calibration, included in build_s
    build_s: float = field(init=False)
    query_s: float = field(init=False)
    total_s: float = field(init=False)
    queries_per_s: float | None = field(init=False)
    gflops: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.build_s = statistics.median(self.build_runs) if self.build_runs else 0.0
        self.query_s = statistics.median(self.query_runs)
        self.total_s = self.build_s + self.query_s
        self.queries_per_s = self.rows / self.query_s if self.query_s > 0 else None
        self.gflops = self.flops / self.query_s / 1e9 if self.flops and self.query_s > 0 else None


def with_ratios(rows: list[EngineRow], reference: str = "covertreex") -> list[dict]:
    """Rows as dicts with ``ratio_query`` (reference queries/s over the row's), ``ratio_build`` and
    ``ratio_total`` (the row's seconds over the reference's: > 1 means covertreex is faster), each
    against the first ``reference`` row of the same task; totals only where both answered every row."""
    out = []
    for r in rows:
        ours = next((o for o in rows if o.engine.startswith(reference) and o.task == r.task), None)
        row = asdict(r)
        row["ratio_query"] = (ours.queries_per_s / r.queries_per_s
                              if ours and ours.queries_per_s and r.queries_per_s else None)
        row["ratio_build"] = r.build_s / ours.build_s if ours and ours.build_s and r.build_s else None
        row["ratio_total"] = r.total_s / ours.total_s if ours and r.rows == ours.rows and ours.total_s else None
        out.append(row)
    return out


def machine_info() -> dict:
    """What ran the benchmark: Python, platform, Numba threads and layer, versions, the BLAS kernel."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": _threading_layer(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "covertreex": covertreex.__version__,
        "blas": blas_info(),
    }


def blas_info() -> list[dict]:
    """The BLAS libraries numpy loaded and the kernel each runs (threadpoolctl), as plain dicts."""
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: info.get(k) for k in keys} for info in threadpool_info() if info.get("user_api") == "blas"]


def _threading_layer() -> str:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return "unset"


def given_points(X, n: int, dim: int) -> np.ndarray:
    """Validated float64 points of shape (n, dim) given in place of a workload's synthetic data."""
    X = as_points(X, "X", np.float64)
    if X.shape != (n, dim):
        raise ValueError(f"X has shape {X.shape} but the workload says (n, dim) = ({n}, {dim})")
    return X


def check_fields(workload, at_least_one: tuple[str, ...], at_least_zero: tuple[str, ...]) -> None:
    """A workload's counts: ``ValueError`` naming the first field below its minimum."""
    for names, low in ((at_least_one, 1), (at_least_zero, 0)):
        for name in names:
            value = getattr(workload, name)
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
