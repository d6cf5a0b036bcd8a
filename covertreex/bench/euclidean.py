"""The Euclidean all-points benchmark: covertreex and its peers on the same seeded data, in one run.

Every engine's answer is checked against the brute-force oracle on sampled rows (or all rows).
Times are medians over repeats; JIT time of covertreex is measured apart, before anything else.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import asdict, dataclass, field

import numba
import numpy as np

import covertreex
from covertreex.api.tree import CoverTree
from covertreex.reference.brute_force import brute_force_knn, euclidean_block
from covertreex.bench.gp_peers import gp_peers
from covertreex.bench.peers import BruteForce, all_peers
from covertreex.validation import as_points
from covertreex.runtime.config import Runtime
from covertreex.runtime.diagnostics import OperationTimer


@dataclass(frozen=True)
class EuclideanWorkload:
    n: int = 131_072
    dim: int = 3
    k: int = 10
    seed: int = 0
    repeat: int = 3
    verify_rows: int = 2_000  # 0 = verify every row
    brute_rows: int = 1_024  # rows the brute-force peer is timed on

    def __post_init__(self) -> None:
        for name in ("n", "dim", "k", "repeat"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.k >= self.n:
            raise ValueError(f"k={self.k} must be smaller than n={self.n} (all-points queries exclude the point)")
        for name in ("verify_rows", "brute_rows", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def data(self) -> np.ndarray:
        return np.random.default_rng(self.seed).standard_normal((self.n, self.dim))


@dataclass
class EngineResult:
    engine: str
    version: str | None
    exact: bool
    note: str
    build_s: float
    query_s: float
    queries_per_s: float
    query_rows: int
    recall: float | None  # None: the peer's answer cannot be read back (GPBoost)
    exact_rows: float | None  # fraction of verified rows identical to the oracle (ids and order)
    verified_rows: int
    peak_extra_rss_mb: float
    build_runs: list[float] = field(default_factory=list)
    query_runs: list[float] = field(default_factory=list)
    task: str = "knn all points"
    precision: str = "float64"  # what the engine computes in (float32 peers are exact only up to its rounding)


def check_rows(X: np.ndarray, at: np.ndarray, got: np.ndarray, oracle, owners: np.ndarray | None = None,
               predecessor: bool = False) -> tuple[float, float]:
    """(recall, exact-row fraction) of neighbour rows ``got`` for the query points ``at`` against the
    oracle's (ids, distances) for the same rows.

    A returned id counts when it is a point of ``X`` whose true distance is within the oracle's k-th
    (so any valid tie-break is accepted), is not the row's own point ``owners[r]``, is an earlier point
    on predecessor rows, and its row repeats no id (predecessor rows may repeat the -1 padding).
    Recall is over the oracle's non-padding entries.
    """
    oi, od = oracle
    safe = np.where(got >= 0, got, 0)
    true_d = np.stack([euclidean_block(at[j : j + 1], X[safe[j]])[0] for j in range(got.shape[0])])
    kth = np.where(oi[:, -1:] >= 0, od[:, -1:], np.inf)
    hit = (got >= 0) & (true_d <= kth)
    if owners is not None:
        hit &= got != owners[:, None]
        if predecessor:
            hit &= got < owners[:, None]
    kept = [row[row >= 0] if predecessor else row for row in got]
    hit &= np.array([len(set(row.tolist())) == len(row) for row in kept])[:, None]
    return float(hit.sum() / max(int((oi >= 0).sum()), 1)), float(np.mean(np.all(got == oi, axis=1)))


def verify(X: np.ndarray, k: int, ids: np.ndarray, rows: np.ndarray, oracle) -> tuple[float, float]:
    """``check_rows`` for all-points rows ``ids[rows]`` (row r is point r's k other neighbours)."""
    return check_rows(X, X[rows], ids[rows], oracle, owners=rows)


def verify_predecessor(X: np.ndarray, ids: np.ndarray, rows: np.ndarray, oracle) -> tuple[float, float]:
    """``check_rows`` for predecessor rows ``ids[rows]`` (only earlier points; short rows padded with -1)."""
    return check_rows(X, X[rows], ids[rows], oracle, owners=rows, predecessor=True)


def machine_info() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": _threading_layer(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "covertreex": covertreex.__version__,
    }


def _threading_layer() -> str:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return "unset"


def measure_jit(runtime: Runtime, dim: int, k: int) -> float:
    """Seconds of the first fit + query in this process (compilation or cache load)."""
    X = np.random.default_rng(123).standard_normal((1024, dim))
    start = time.perf_counter()
    tree = CoverTree(runtime).fit(X)
    tree.knn(k=min(k, 1023))
    tree.knn(X[:4], k=min(k, 1024))
    return time.perf_counter() - start


def _engine_runs(build, query, repeat: int, warmup=None):
    """Time ``repeat`` build+query runs; ``warmup()`` (untimed) first loads lazy imports and pools."""
    if warmup is not None:
        warmup()
    builds, queries, peaks, answer = [], [], [], None
    for _ in range(repeat):
        with OperationTimer("build") as tb:
            index = build()
        with OperationTimer("query") as tq:
            answer = query(index)
        builds.append(tb.stats.wall_s)
        queries.append(tq.stats.wall_s)
        peaks.append(max(tb.stats.rss_peak_bytes, tq.stats.rss_peak_bytes) - tb.stats.rss_start_bytes)
        del index
    return builds, queries, max(peaks), answer


def given_points(X, n: int, dim: int) -> np.ndarray:
    """Validated float64 points of shape (n, dim) given in place of a workload's synthetic data."""
    X = as_points(X, "X", np.float64)
    if X.shape != (n, dim):
        raise ValueError(f"X has shape {X.shape} but the workload says (n, dim) = ({n}, {dim})")
    return X


def euclidean_peers() -> dict:
    """Every peer of the Euclidean benchmark: all-points k-NN libraries and GPBoost's Vecchia search."""
    return {**all_peers(), **{n: p for n, p in gp_peers().items() if p.task == "predecessor"}}


def run_euclidean(workload: EuclideanWorkload, runtime: Runtime, peer_names: list[str], progress=None,
                  X: np.ndarray | None = None, telemetry=None) -> dict:
    """Run the benchmark; returns a JSON-serialisable dict (``engines`` is the table).

    ``X`` (workload.n, workload.dim) replaces the seeded synthetic data (e.g. points read from a file);
    ``telemetry``, a ``TelemetryWriter``, receives covertreex's build and query events of every repeat.

    A GPBoost peer adds the predecessor (Vecchia) task: covertreex's build + predecessor query
    against GPBoost's model construction, which contains its neighbour search.
    """
    peers = euclidean_peers()
    unknown = [p for p in peer_names if p not in peers]
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(peers)}")
    missing = [p for p in peer_names if not peers[p].available()]
    if missing:
        raise ValueError(f"peer(s) {', '.join(missing)} not installed (pip install 'covertreex[bench]')")
    step = progress or (lambda message: None)
    X = workload.data() if X is None else given_points(X, workload.n, workload.dim)
    rng = np.random.default_rng(workload.seed + 1)
    n, k = workload.n, workload.k
    rows = np.arange(n) if workload.verify_rows == 0 or workload.verify_rows >= n else np.sort(
        rng.choice(n, workload.verify_rows, replace=False))
    step("JIT warm-up")
    jit_s = measure_jit(runtime, workload.dim, k)
    step("oracle")
    oracle = brute_force_knn(X, k=k, rows=rows)
    results: list[EngineResult] = []

    step("covertreex")
    # the query step also hands back its tree: the predecessor task below queries the last one
    builds, queries, peak, (ids, tree) = _engine_runs(lambda: CoverTree(runtime).fit(X, telemetry=telemetry),
                                                      lambda t: (t.knn(k=k, telemetry=telemetry), t), workload.repeat)
    recall, exact_rows = verify(X, k, ids, rows, oracle)
    results.append(_result("covertreex", covertreex.__version__, True, "CoverTree.fit + knn(k) (all points)",
                           builds, queries, n, recall, exact_rows, len(rows), peak))
    gp_names = [p for p in peer_names if p in gp_peers()]
    for name in [p for p in peer_names if p not in gp_names]:
        peer = peers[name]
        step(name)
        if isinstance(peer, BruteForce):
            brute = rows[: min(len(rows), workload.brute_rows)] if workload.brute_rows else rows
            b, q, pk, (pid, _) = _engine_runs(lambda: peer.build(X), lambda ix: peer.query_all(ix, k, brute),
                                              workload.repeat)
            full = np.full((n, k), -1, dtype=np.int64)
            full[brute] = pid
            recall_p, exact_p = verify(X, k, full, brute, (oracle[0][: len(brute)], oracle[1][: len(brute)]))
            results.append(_result(name, peer.version, True, peer.note + f" (timed on {len(brute)} rows)",
                                   b, q, len(brute), recall_p, exact_p, len(brute), pk))
            continue
        small = X[: min(n, 2048)]
        b, q, pk, (pid, _) = _engine_runs(lambda: peer.build(X), lambda ix: peer.query_all(ix, k), workload.repeat,
                                          warmup=lambda: peer.query_all(peer.build(small), min(k, len(small) - 1)))
        recall_p, exact_p = verify(X, k, np.asarray(pid, dtype=np.int64), rows, oracle)
        results.append(_result(name, peer.version, peer.exact, peer.note, b, q, n, recall_p, exact_p, len(rows), pk,
                               precision="float32" if peer.float32 else "float64"))
    if gp_names:
        results += _predecessor_task(X, workload, tree, ours_build=results[0], peers=[peers[p] for p in gp_names],
                                     rows=rows, step=step)
    table = []
    for r in results:
        ours = next(o for o in results if o.engine == "covertreex" and o.task == r.task)
        row = asdict(r)
        row["covertreex_speedup_query"] = ours.queries_per_s / r.queries_per_s if r.queries_per_s else None
        row["covertreex_speedup_build"] = r.build_s / ours.build_s if ours.build_s and r.build_s else None
        # whole-job ratio only where the peer answered every row (brute force is timed on a sample)
        row["covertreex_speedup_total"] = ((r.build_s + r.query_s) / (ours.build_s + ours.query_s)
                                           if r.query_rows == ours.query_rows else None)
        table.append(row)
    return {
        "schema": "covertreex.bench.euclidean",
        "schema_version": 1,
        "workload": asdict(workload),
        "runtime": runtime.describe(),
        "machine": machine_info(),
        "jit_s": jit_s,
        "engines": table,
    }


def _predecessor_task(X, workload: EuclideanWorkload, tree: CoverTree, ours_build: EngineResult, peers, rows,
                      step) -> list[EngineResult]:
    """covertreex's predecessor query (on the all-points row's last tree) vs GPBoost construction."""
    k, n = workload.k, workload.n
    step("covertreex: predecessor")
    queries, answer = [], None
    for _ in range(workload.repeat):
        with OperationTimer("predecessor") as t:
            answer = tree.knn(k=k, predecessor=True)
        queries.append(t.stats.wall_s)
    step("oracle: predecessor")
    recall, exact_rows = verify_predecessor(X, answer, rows, brute_force_knn(X, k=k, rows=rows, predecessor=True))
    out = [_result("covertreex", covertreex.__version__, True, "CoverTree.fit + knn(k, predecessor=True)",
                   ours_build.build_runs, queries, n, recall, exact_rows, len(rows), 0, task="predecessor all points")]
    for peer in peers:
        step(peer.name)
        peer.run(X[: min(n, 256)], min(k, 255))  # loads the library and its thread pool
        runs, peak = [], 0
        for _ in range(workload.repeat):
            with OperationTimer(peer.name) as t:
                peer.run(X, k)
            runs.append(t.stats.wall_s)
            peak = max(peak, t.stats.peak_extra_rss_bytes)
        out.append(_result(peer.name, peer.version, peer.exact, peer.includes, [0.0], runs, n, None, None, 0, peak,
                           task="predecessor all points"))
    return out


def _result(name, version, exact, note, builds, queries, rows, recall, exact_rows, verified, peak,
            task: str = "knn all points", precision: str = "float64") -> EngineResult:
    build_s = statistics.median(builds)
    query_s = statistics.median(queries)
    return EngineResult(
        engine=name, version=version, exact=exact, note=note, build_s=build_s, query_s=query_s,
        queries_per_s=rows / query_s if query_s > 0 else float("inf"), query_rows=rows, recall=recall,
        exact_rows=exact_rows, verified_rows=verified, peak_extra_rss_mb=peak / 2**20,
        build_runs=builds, query_runs=queries, task=task, precision=precision,
    )
