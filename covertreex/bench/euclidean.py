"""The Euclidean all-points benchmark: covertreex and its peers on the same seeded data, in one run.

Every engine's answer is checked against the brute-force oracle on sampled rows (or all rows).
Times are medians over repeats; JIT time of covertreex is measured apart, before anything else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

import covertreex
from covertreex.api.tree import CoverTree
from covertreex.bench.gp_peers import gp_peers
from covertreex.bench.harness import (EngineRow, Steps, check_fields, check_rows, given_points, machine_info, sample_rows,
                                      timed, warm_up, with_ratios)
from covertreex.bench.peers import BruteForce, all_peers
from covertreex.reference.brute_force import brute_force_knn, euclidean_block
from covertreex.runtime.config import Runtime


@dataclass(frozen=True)
class EuclideanWorkload:
    n: int = 131_072
    dim: int = 3
    k: int = 10
    seed: int = 0
    repeat: int = 3
    verify_rows: int = 2_000  # 0 = verify every row
    brute_rows: int = 1_024  # rows the brute-force peer is timed on
    source: str = "synthetic"  # N(0, I) data, or a covertreex.data name or file the points were read from

    def __post_init__(self) -> None:
        check_fields(self, ("n", "dim", "k", "repeat"), ("verify_rows", "brute_rows", "seed"))
        if self.k >= self.n:
            raise ValueError(f"k={self.k} must be smaller than n={self.n} (all-points queries exclude the point)")

    def data(self) -> np.ndarray:
        return np.random.default_rng(self.seed).standard_normal((self.n, self.dim))


def check_euclidean(X: np.ndarray, at: np.ndarray, got: np.ndarray, oracle, owners: np.ndarray | None = None,
                    predecessor: bool = False) -> tuple[float, float]:
    """``check_rows`` for neighbour rows ``got`` of the query points ``at``, true distances from ``X``."""
    safe = np.where(got >= 0, got, 0)
    true_d = np.stack([euclidean_block(at[j : j + 1], X[safe[j]])[0] for j in range(got.shape[0])])
    return check_rows(got, true_d, oracle, owners=owners, predecessor=predecessor)


def verify(X: np.ndarray, ids: np.ndarray, rows: np.ndarray, oracle, predecessor: bool = False):
    """``check_euclidean`` for all-points rows ``ids[rows]`` (row r is point r's neighbours)."""
    return check_euclidean(X, X[rows], ids[rows], oracle, owners=rows, predecessor=predecessor)


def euclidean_peers() -> dict:
    """Every peer of the Euclidean benchmark: all-points k-NN libraries and GPBoost's Vecchia search."""
    return {**all_peers(), **{n: p for n, p in gp_peers().items() if p.task == "predecessor"}}


def run_euclidean(workload: EuclideanWorkload, runtime: Runtime, peer_names: list[str], progress=None,
                  X: np.ndarray | None = None, telemetry=None) -> dict:
    """Run the benchmark; returns a JSON-serialisable dict (``rows``: one ``EngineRow`` dict per engine
    and task, with ratios against covertreex on the same task).

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
    gp_names = [p for p in peer_names if p in gp_peers()]
    step = Steps(progress, 3 + len(peer_names) - len(gp_names) + (2 + len(gp_names) if gp_names else 0))
    X = workload.data() if X is None else given_points(X, workload.n, workload.dim)
    n, k, repeat = workload.n, workload.k, workload.repeat
    rows = sample_rows(n, workload.verify_rows, workload.seed + 1)
    step("JIT warm-up")
    jit_s = warm_up(runtime, workload.dim, k)
    step("oracle")
    oracle = brute_force_knn(X, k=k, rows=rows)
    results: list[EngineRow] = []

    step("covertreex")
    build = timed(lambda: CoverTree(runtime).fit(X, telemetry=telemetry), repeat)
    tree = build.out
    query = timed(lambda: tree.knn(k=k, telemetry=telemetry), repeat)
    recall, exact_rows = verify(X, query.out, rows, oracle)
    results.append(EngineRow("knn all points", "covertreex", covertreex.__version__, True,
                             "CoverTree.fit + knn(k) (all points)", build.runs, query.runs, n, recall, exact_rows,
                             len(rows), max(build.peak_mb, query.peak_mb)))
    for name in [p for p in peer_names if p not in gp_names]:
        peer = peers[name]
        step(name)
        timed_rows = rows[: min(len(rows), workload.brute_rows) or len(rows)] if isinstance(peer, BruteForce) else None
        if timed_rows is None:
            small = X[: min(n, 2048)]
            peer.query_all(peer.build(small), min(k, len(small) - 1))  # loads lazy imports and thread pools
        pbuild = timed(lambda: peer.build(X), repeat)
        index = pbuild.out
        pquery = timed(lambda: peer.query_all(index, k, *(() if timed_rows is None else (timed_rows,))), repeat)
        del index
        answered = rows if timed_rows is None else timed_rows
        full = np.full((n, k), -1, dtype=np.int64)
        full[np.arange(n) if timed_rows is None else timed_rows] = pquery.out[0]
        sub = (oracle[0][: len(answered)], oracle[1][: len(answered)])
        recall_p, exact_p = verify(X, full, answered, sub)
        note = peer.note + ("" if timed_rows is None else f" (timed on {len(timed_rows)} rows)")
        results.append(EngineRow("knn all points", name, peer.version, peer.exact, note, pbuild.runs, pquery.runs,
                                 n if timed_rows is None else len(timed_rows), recall_p, exact_p, len(answered),
                                 max(pbuild.peak_mb, pquery.peak_mb), precision=peer.precision))
    if gp_names:
        results += _predecessor_task(X, workload, tree, results[0], [peers[p] for p in gp_names], rows, step)
    return {
        "schema": "covertreex.bench.euclidean",
        "schema_version": 2,
        "workload": asdict(workload),
        "runtime": runtime.describe(),
        "machine": machine_info(),
        "jit_s": jit_s,
        "rows": with_ratios(results),
    }


def _predecessor_task(X, workload: EuclideanWorkload, tree: CoverTree, ours: EngineRow, peers, rows,
                      step) -> list[EngineRow]:
    """covertreex's predecessor query (on the all-points row's last tree) vs GPBoost construction."""
    k, n = workload.k, workload.n
    step("covertreex: predecessor")
    query = timed(lambda: tree.knn(k=k, predecessor=True), workload.repeat)
    step("oracle: predecessor")
    recall, exact_rows = verify(X, query.out, rows, brute_force_knn(X, k=k, rows=rows, predecessor=True),
                                predecessor=True)
    out = [EngineRow("predecessor all points", "covertreex", covertreex.__version__, True,
                     "CoverTree.fit + knn(k, predecessor=True)", ours.build_runs, query.runs, n, recall,
                     exact_rows, len(rows), query.peak_mb)]
    for peer in peers:
        step(peer.name)
        peer.run(X[: min(n, 256)], min(k, 255))  # loads the library and its thread pool
        run = timed(lambda: peer.run(X, k), workload.repeat)
        out.append(EngineRow("predecessor all points", peer.name, peer.version, peer.exact, peer.includes, [],
                             run.runs, n, None, None, 0, run.peak_mb))
    return out
