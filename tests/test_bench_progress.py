"""Benchmarks announce their number of steps before the first one (``progress(message, done, total)``),
so the CLI and the BenchmarkRunner show 'step i of n': the total must be the steps actually taken, in
every combination of engines, tasks, gates and peers."""

from __future__ import annotations

import pytest

from covertreex import Runtime
from covertreex.bench.deletion import DeleteWorkload, run_delete
from covertreex.bench.euclidean import EuclideanWorkload, euclidean_peers, run_euclidean
from covertreex.bench.profiling import sweep
from covertreex.bench.residual import ResidualWorkload, residual_peer_available, run_residual


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, message: str, done: int, total: int) -> None:
        self.calls.append((message, done, total))

    def check(self) -> int:
        """Steps numbered 1..total in order, one total throughout, and every announced step taken."""
        totals = {total for _, _, total in self.calls}
        assert len(totals) == 1, totals
        total = totals.pop()
        assert [done for _, done, _ in self.calls] == list(range(1, total + 1))
        return total


def _installed(names):
    return [n for n in names if residual_peer_available(n)]


@pytest.mark.parametrize("peers", [[], ["brute-force", "scipy-cKDTree"], ["brute-force", "gpboost-vecchia"]])
def test_euclidean_benchmark_counts_its_steps(peers):
    if not all(euclidean_peers()[p].available() for p in peers):
        pytest.skip("peer not installed (extra 'bench')")
    rec = Recorder()
    run_euclidean(EuclideanWorkload(n=400, dim=2, k=3, repeat=1, verify_rows=50), Runtime(), peers, progress=rec)
    gp = "gpboost-vecchia" in peers  # adds the predecessor task: ours, its oracle, the peer
    assert rec.check() == 3 + len(peers) - gp + (3 if gp else 0)


@pytest.mark.parametrize("engines, all_points, queries, gates, searches, peers", [
    (("dense",), (), 32, (), ("walk",), ()),
    (("dense", "tree"), ("knn", "predecessor"), 0, (), ("walk",), ("brute-force",)),
    (("auto",), ("predecessor",), 32, (0.2,), ("walk", "cells"),
     ("brute-force", "scipy-cKDTree", "pynndescent", "gpboost-vif")),
])
def test_residual_benchmark_counts_its_steps(engines, all_points, queries, gates, searches, peers):
    workload = ResidualWorkload(n=400, dim=2, k=4, inducing=16, repeat=1, query_count=queries, verify_rows=40,
                                all_points=all_points, engines=engines, gates=gates, gate_calibration=64,
                                gate_audit=32, gate_searches=searches)
    rec = Recorder()
    run_residual(workload, Runtime(), progress=rec, peer_names=tuple(_installed(peers)))
    tasks = int(queries > 0) + len(all_points)
    peers = _installed(peers)
    assert rec.check() == (3 + len(engines) * (1 + tasks) + len(gates) * len(searches) * tasks
                           + ("gpboost-vif" in peers)
                           + queries // 32 * (("scipy-cKDTree" in peers) + ("pynndescent" in peers)))


def test_delete_and_sweep_count_their_steps():
    rec = Recorder()
    run_delete(DeleteWorkload(n=600, fractions=(0.1, 0.3), repeat=1, verify_rows=50), Runtime(), progress=rec)
    assert rec.check() == 4
    rec = Recorder()
    sweep(Runtime(), [128, 256], [2, 3], k=3, repeat=1, progress=rec)
    assert rec.check() == 5


def test_delete_benchmark_runs_below_its_warm_up_size_and_refuses_what_it_cannot_run():
    rec = Recorder()  # n below the 2,048-point warm-up tree (its deletions once ran past n)
    out = run_delete(DeleteWorkload(n=100, fractions=(0.5,), repeat=1, k=3, verify_rows=20), Runtime(), progress=rec)
    assert rec.check() == 3 and out["rows"][0]["exact"] == 1.0
    with pytest.raises(ValueError, match="n must be at least 16"):
        DeleteWorkload(n=10)
    with pytest.raises(ValueError, match=r"k must be in \[1, 10\): the largest deletion leaves 10 of n=100"):
        DeleteWorkload(n=100, fractions=(0.9,), k=10)
