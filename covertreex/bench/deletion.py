"""``covertreex bench delete``: the cost of ``CoverTree.delete`` against rebuilding the tree.

For each fraction, ``repeat`` seeded deletions from one fitted tree: the repair (``delete``) and the
alternative a user has, fitting a new tree on the survivors, timed in the same run (medians), plus a
scipy cKDTree rebuild for scale where scipy is installed.  Every repaired tree is checked against the
brute-force oracle on sampled rows (k nearest among the survivors).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

import numpy as np

from covertreex.api.tree import CoverTree
from covertreex.bench.harness import Steps, check_rows, machine_info, sample_rows, timed
from covertreex.reference.brute_force import brute_force_knn
from covertreex.runtime.config import Runtime


@dataclass(frozen=True)
class DeleteWorkload:
    n: int = 131_072
    dim: int = 3
    fractions: tuple[float, ...] = (0.01, 0.1)
    repeat: int = 5
    k: int = 10
    verify_rows: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.fractions or not all(0.0 < f < 1.0 for f in self.fractions):
            raise ValueError(f"fractions must be one or more numbers strictly between 0 and 1, got {self.fractions}")
        if self.n < 16:
            raise ValueError(f"n must be at least 16, got {self.n}")
        left = self.n - int(round(max(self.fractions) * self.n))
        if not 1 <= self.k < left:
            raise ValueError(f"k must be in [1, {left}): the largest deletion leaves {left} of n={self.n} points")

    def data(self) -> np.ndarray:
        return np.random.default_rng(self.seed).standard_normal((self.n, self.dim))


def _ckdtree_rebuild(points: np.ndarray, repeat: int) -> float | None:
    try:
        from scipy.spatial import cKDTree
    except ImportError:
        return None
    return timed(lambda: cKDTree(points), repeat).median


def run_delete(workload: DeleteWorkload, runtime: Runtime, progress=None) -> dict:
    """Run the benchmark; returns a JSON-serialisable dict with one row per fraction."""
    step = Steps(progress, 2 + len(workload.fractions))
    if runtime.query_engine == "auto":  # an auto Euclidean fit cuts k-d leaves: the repair of the tree is measured
        runtime = runtime.with_updates(query_engine="tree")
    X = workload.data()
    step("JIT warm-up")
    warm = min(workload.n, 2048)
    small = CoverTree(runtime).fit(X[:warm])
    jit = timed(lambda: small.delete(np.arange(0, warm, 7)).knn(k=2), 1).median
    step("fit")
    fit = timed(lambda: CoverTree(runtime).fit(X), 1)
    tree = fit.out
    rng = np.random.default_rng(workload.seed + 1)
    rows = []
    for fraction in workload.fractions:
        step(f"delete {fraction:g}")
        count = int(round(fraction * workload.n))
        deletes, rebuilds, stats, exact = [], [], [], []
        for _ in range(workload.repeat):
            gone = np.sort(rng.choice(workload.n, count, replace=False))
            survivors = np.delete(X, gone, axis=0)
            repaired = timed(lambda: tree.delete(gone), 1)
            deletes.append(repaired.median)
            rebuilds.append(timed(lambda: CoverTree(runtime).fit(survivors), 1).median)
            after = repaired.out
            stats.append(after.delete_stats)
            at = sample_rows(after.num_points, workload.verify_rows, workload.seed + 2)
            got, got_d = after.knn(k=workload.k, query_ids=after.ids[at], return_distances=True)
            o_rows, o_dist = brute_force_knn(survivors, k=workload.k, rows=at)
            recall, exact_rows = check_rows(np.searchsorted(after.ids, got), got_d, (o_rows, o_dist))
            exact.append(min(recall, exact_rows))
        delete_s, rebuild_s = statistics.median(deletes), statistics.median(rebuilds)
        rows.append({
            "fraction": fraction, "deleted": count, "delete_s": delete_s, "delete_runs": deletes,
            "rebuild_s": rebuild_s, "rebuild_runs": rebuilds, "ratio": delete_s / rebuild_s,
            "ckdtree_rebuild_s": _ckdtree_rebuild(survivors, workload.repeat),  # the last repeat's survivors
            "orphans": statistics.median(s.orphans for s in stats),
            "promoted": statistics.median(s.promoted for s in stats),
            "exact": min(exact), "verified_rows": int(at.size),
        })
    return {
        "schema": "covertreex.bench.delete",
        "schema_version": 1,
        "workload": asdict(workload),
        "runtime": runtime.describe(),
        "machine": machine_info(),
        "jit_s": jit,
        "fit_s": fit.median,
        "rows": rows,
    }
