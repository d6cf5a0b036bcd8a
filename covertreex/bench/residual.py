"""The residual-metric benchmark (N(0, I) points, RBF l=1, m=512, k=50 by default), verified in the same run.

X ~ N(0, I_D) from ``default_rng(seed)``, an RBF/Matern kernel, m inducing points, k neighbours.  Three
tasks: ``query_count`` random query ids (``default_rng(seed + 1)``), the all-points k-NN, and the
all-points Vecchia predecessor search.  covertreex is compared with the repo's brute force (BLAS
screen + exact re-check) timed on the same query ids; every answer is checked against that oracle.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

import numpy as np

import covertreex
from covertreex.api.tree import CoverTree
from covertreex.reference.brute_force import brute_force_knn
from covertreex.bench.gp_peers import gp_peers
from covertreex.bench.peers import drop_self, all_peers
from covertreex.bench.euclidean import given_points, machine_info
from covertreex.kernels import kernel_by_name
from covertreex.metrics.residual import Residual
from covertreex.runtime.config import QUERY_ENGINES, Runtime
from covertreex.runtime.diagnostics import OperationTimer


@dataclass(frozen=True)
class ResidualWorkload:
    n: int = 32_768
    dim: int = 3
    k: int = 50
    inducing: int = 512
    kernel: str = "rbf"
    variance: float = 1.0
    lengthscale: float = 1.0
    seed: int = 42
    query_count: int = 1_024
    repeat: int = 3
    all_points: tuple[str, ...] = ("knn", "predecessor")  # all-points searches timed (once each)
    verify_rows: int = 1_024  # rows of the all-points answers checked against the oracle (0 = all)
    engines: tuple[str, ...] = ("tree", "auto")  # query engines timed on the query ids
    all_points_engine: str = "auto"

    def __post_init__(self) -> None:
        for name in ("n", "dim", "k", "inducing", "repeat"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.k >= self.n:
            raise ValueError(f"k={self.k} must be smaller than n={self.n}")
        if self.inducing > self.n:
            raise ValueError(f"inducing={self.inducing} exceeds n={self.n}")
        if not 0 <= self.query_count <= self.n:
            raise ValueError(f"query_count must be in [0, n], got {self.query_count}")
        if self.verify_rows < 0:
            raise ValueError(f"verify_rows must be >= 0, got {self.verify_rows}")
        unknown = [t for t in self.all_points if t not in ("knn", "predecessor")]
        if unknown:
            raise ValueError(f"all-points tasks must be 'knn' and/or 'predecessor', got {', '.join(unknown)}")
        for engine in (*self.engines, self.all_points_engine):
            if engine not in QUERY_ENGINES:
                raise ValueError(f"engine must be 'auto', 'tree' or 'dense', got {engine!r}")
        kernel_by_name(self.kernel, variance=self.variance, lengthscale=self.lengthscale)  # validates

    def data(self) -> np.ndarray:
        return np.random.default_rng(self.seed).standard_normal((self.n, self.dim))

    def query_ids(self) -> np.ndarray:
        return np.sort(np.random.default_rng(self.seed + 1).choice(self.n, self.query_count, replace=False))

    def residual(self) -> Residual:
        kernel = kernel_by_name(self.kernel, variance=self.variance, lengthscale=self.lengthscale)
        return Residual(kernel, inducing=self.inducing, seed=0)


def _timed(fn, repeat: int):
    walls, peak, out = [], 0, None
    for _ in range(repeat):
        with OperationTimer("run") as t:
            out = fn()
        walls.append(t.stats.wall_s)
        peak = max(peak, t.stats.rss_peak_bytes - t.stats.rss_start_bytes)
    return statistics.median(walls), walls, peak / 2**20, out


def _check(ids, dist, oracle) -> tuple[float, float]:
    """(recall by distance, exact-row fraction) against the oracle's (ids, distances)."""
    oi, od = oracle
    valid = oi >= 0
    hit = (ids >= 0) & (dist <= od[:, -1:])
    recall = float(hit.sum() / max(valid.sum(), 1))
    return recall, float(np.mean(np.all(ids == oi, axis=1) & np.all(dist == od, axis=1)))


RESIDUAL_PEERS = ("brute-force", "scipy-cKDTree", "gpboost-vif")
PEER_NOTES = {
    "brute-force": "covertreex.reference.brute_force_knn (BLAS screen + exact re-check): the oracle",
    "scipy-cKDTree": "Euclidean k-NN of the coordinates as a proxy for residual neighbours (what is often used "
                     "instead): cKDTree build + query; recall measured against the residual oracle",
}


def residual_peer_available(name: str) -> bool:
    if name == "brute-force":
        return True
    if name == "scipy-cKDTree":
        return all_peers()[name].available()
    return gp_peers()[name].available()


def run_residual(workload: ResidualWorkload, runtime: Runtime, progress=None,
                 peer_names: tuple[str, ...] = ("brute-force",), X: np.ndarray | None = None, telemetry=None) -> dict:
    """Run the benchmark; returns a JSON-serialisable dict (``tasks``: covertreex rows, ``peers``: peer rows
    with ``ratio`` = peer seconds / covertreex seconds on the same task).  The brute-force oracle always runs.
    ``X`` (workload.n, workload.dim) replaces the synthetic data; ``telemetry`` receives the build and
    query events of covertreex."""
    unknown = [p for p in peer_names if p not in RESIDUAL_PEERS]
    if unknown:
        raise ValueError(f"unknown residual peer(s) {', '.join(unknown)}; known: {', '.join(RESIDUAL_PEERS)}")
    missing = [p for p in peer_names if not residual_peer_available(p)]
    if missing:
        raise ValueError(f"peer(s) {', '.join(missing)} not installed (pip install 'covertreex[bench]')")
    step = progress or (lambda message: None)
    peers: list[dict] = []
    X = workload.data() if X is None else given_points(X, workload.n, workload.dim)
    policy = workload.residual()
    runtime = runtime.with_updates(metric="residual", residual=policy, precision="float64")
    k, n = workload.k, workload.n
    qids = workload.query_ids()

    step("JIT warm-up")
    small = X[: min(n, 1024)]
    small_rt = runtime.with_updates(residual=Residual(policy.kernel, inducing=min(64, len(small))))
    with OperationTimer("jit") as tj:
        warm = CoverTree(small_rt).fit(small)
        warm.knn(k=min(k, len(small) - 1), query_ids=np.arange(4))
        warm.knn(k=min(k, len(small) - 1), predecessor=True)
        warm.knn(small[:4], k=min(k, len(small)))
        brute_force_knn(small, k=min(k, len(small) - 1), rows=np.arange(4), metric="residual", residual=warm.metric)

    step("covertreex build")
    build_s, build_runs, build_peak, tree = _timed(lambda: CoverTree(runtime).fit(X, telemetry=telemetry),
                                                    workload.repeat)
    factors = tree.metric
    tasks = []

    def record(task, rows, seconds, runs, peak, result, oracle, brute_s=None, note=""):
        recall, exact = _check(result.ids[: len(oracle[0])], result.distances[: len(oracle[0])], oracle)
        tasks.append({
            "task": task, "engine": result.engine, "rows": rows, "seconds": seconds, "runs": runs,
            "queries_per_s": rows / seconds if seconds > 0 else None,
            "evals_per_query": float(result.distance_evaluations.mean()),
            "evals_p95": float(np.quantile(result.distance_evaluations, 0.95)),
            "recall": recall, "exact_rows": exact, "verified_rows": len(oracle[0]), "peak_extra_mb": peak,
            "brute_queries_per_s": None if brute_s is None else rows / brute_s,
            "speedup_vs_brute": None if brute_s is None else brute_s / seconds, "note": note,
        })

    def peer_row(task, name, version, rows, seconds, ours_s, recall, exact, peak, note):
        peers.append({"task": task, "engine": name, "version": version, "rows": rows, "seconds": seconds,
                      "queries_per_s": rows / seconds if seconds > 0 else None, "recall": recall,
                      "exact_rows": exact, "peak_extra_mb": peak, "ratio": seconds / ours_s, "note": note})

    def best(task):
        return min(t["seconds"] for t in tasks if t["task"] == task)

    if workload.query_count:
        step("brute force: query ids")
        bs, _, bpeak, oracle = _timed(lambda: brute_force_knn(X, k=k, rows=qids, metric="residual",
                                                              residual=factors), workload.repeat)
        for engine in workload.engines:
            step(f"covertreex ({engine}): {len(qids)} query ids")
            s, runs, peak, res = _timed(lambda e=engine: tree.knn_result(k=k, query_ids=qids, engine=e,
                                                                    telemetry=telemetry),
                                        workload.repeat)
            record("knn query ids", len(qids), s, runs, peak, res, oracle, bs, note=f"engine={engine}")
        if "brute-force" in peer_names:
            peer_row("knn query ids", "brute-force", covertreex.__version__, len(qids), bs, best("knn query ids"),
                     1.0, 1.0, bpeak, PEER_NOTES["brute-force"])
        if "scipy-cKDTree" in peer_names:
            step("scipy-cKDTree: Euclidean proxy")
            peer = all_peers()["scipy-cKDTree"]
            s, _, peak, (pid, _) = _timed(lambda: _proxy_knn(peer, X, qids, k), workload.repeat)
            dist = np.stack([tree.distances([q], row)[0] for q, row in zip(qids, pid)])
            recall, exact = _check(pid, dist, oracle)
            peer_row("knn query ids", peer.name, peer.version, len(qids), s, best("knn query ids"), recall, exact,
                     peak, PEER_NOTES["scipy-cKDTree"])

    if workload.all_points:
        rng = np.random.default_rng(workload.seed + 2)
        vrows = np.arange(n) if workload.verify_rows in (0, n) else np.sort(
            rng.choice(n, min(n, workload.verify_rows), replace=False))
        chosen = [(name, task, kw) for name, task, kw in (("knn", "knn all points", {}),
                                                          ("predecessor", "predecessor all points",
                                                           {"predecessor": True})) if name in workload.all_points]
        for _, task, kw in chosen:
            step(f"covertreex: {task}")
            s, runs, peak, res = _timed(lambda kw=kw: tree.knn_result(k=k, engine=workload.all_points_engine,
                                                                 telemetry=telemetry, **kw),
                                        1)
            step(f"oracle: {task} ({len(vrows)} rows)")
            bs, _, _, oracle = _timed(lambda kw=kw: brute_force_knn(X, k=k, rows=vrows, metric="residual",
                                                                    residual=factors, **kw), 1)
            sub = type(res)(ids=res.ids[vrows], distances=res.distances[vrows],
                            distance_evaluations=res.distance_evaluations, engine=res.engine)
            record(task, n, s, runs, peak, sub, oracle, bs * n / len(vrows),
                   note=f"engine={workload.all_points_engine}; brute force timed on {len(vrows)} rows, scaled to {n}")
            if "brute-force" in peer_names:
                peer_row(task, "brute-force", covertreex.__version__, n, bs * n / len(vrows), s, 1.0, 1.0, None,
                         PEER_NOTES["brute-force"] + f"; timed on {len(vrows)} rows, scaled to {n}")
    if "gpboost-vif" in peer_names:
        peer = gp_peers()["gpboost-vif"]
        step("gpboost-vif")
        args = dict(k=k, kernel=workload.kernel, variance=workload.variance, lengthscale=workload.lengthscale,
                    inducing=workload.inducing, seed=workload.seed)
        peer.run(X[: min(n, 512)], **{**args, "k": min(k, 100), "inducing": min(workload.inducing, 64)})  # warm-up
        s, _, peak, _ = _timed(lambda: peer.run(X, **args), workload.repeat)
        ours = [t for t in tasks if t["task"] == "predecessor all points"]
        ours_s = build_s + ours[0]["seconds"] if ours else build_s
        peer_row("predecessor all points", peer.name, peer.version, n, s, ours_s, None, None, peak,
                 peer.includes + ("; ratio vs covertreex fit + predecessor" if ours else "; ratio vs covertreex fit"))
    return {
        "schema": "covertreex.bench.residual",
        "schema_version": 1,
        "workload": asdict(workload),
        "runtime": runtime.describe(),
        "machine": machine_info(),
        "covertreex": covertreex.__version__,
        "jit_s": tj.stats.wall_s,
        "build_s": build_s,
        "build_runs": build_runs,
        "build_peak_extra_mb": build_peak,
        "p_quantiles": np.quantile(tree.arrays.points[:, workload.dim], [0, 0.5, 1]).tolist(),
        "tasks": tasks,
        "peers": peers,
    }


def _proxy_knn(peer, X: np.ndarray, qids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k Euclidean nearest other points of ``X[qids]`` (cKDTree built on all of X)."""
    index = peer.build(X)
    dist, ids = index.query(X[qids], k=k + 1, workers=-1)
    return drop_self(ids.astype(np.int64), dist, k, owners=qids)
