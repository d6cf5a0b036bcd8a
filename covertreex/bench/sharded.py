"""``bench sharded``: a ShardedTree on a Dask cluster against one CoverTree in this process, on the same
points and task: wall seconds of fit and query, peak memory (this process; each worker), bytes sent to
and received from the workers, and whether the answers are identical (every row compared)."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass

import numba
import numpy as np

from covertreex.api.tree import CoverTree
from covertreex.bench.harness import Steps, check_fields, machine_info, timed
from covertreex.kernels import kernel_by_name
from covertreex.metrics.residual import Residual
from covertreex.runtime.config import Runtime

TASKS = ("knn", "predecessor")


@dataclass(frozen=True)
class ShardedWorkload:
    metric: str = "euclidean"
    n: int = 4_194_304
    dim: int = 3
    k: int = 10
    task: str = "knn"  # all-points k-NN, or all-points Vecchia predecessor sets
    inducing: int = 256  # residual: inducing points (seeded subset), Matern32 l=0.3 as vif-realistic
    lengthscale: float = 0.3
    workers: int = 2  # of the LocalCluster this benchmark starts (no scheduler given)
    threads_per_worker: int = 1
    shards: int = 0  # 0: one per worker (Euclidean), four per worker (residual: balances the id ranges)
    seed: int = 0
    single: bool = True  # also run one CoverTree in this process on the same points
    scheduler: str | None = None  # address of a running cluster's scheduler, in place of a LocalCluster

    def __post_init__(self) -> None:
        check_fields(self, ("n", "dim", "k", "workers", "threads_per_worker", "inducing"), ("shards", "seed"))
        if self.metric not in ("euclidean", "residual"):
            raise ValueError(f"metric must be 'euclidean' or 'residual', got {self.metric!r}")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.k >= self.n:
            raise ValueError(f"k={self.k} must be smaller than n={self.n}")
        if self.metric == "residual" and self.inducing > self.n:
            raise ValueError(f"inducing={self.inducing} exceeds n={self.n}")

    @property
    def shard_count(self) -> int:
        return self.shards or self.workers * (1 if self.metric == "euclidean" else 4)

    def data(self) -> np.ndarray:
        return np.random.default_rng(self.seed).standard_normal((self.n, self.dim))

    def runtime(self, threads: int | None) -> Runtime:
        if self.metric == "euclidean":
            return Runtime(threads=threads)
        kernel = kernel_by_name("matern32", variance=1.0, lengthscale=self.lengthscale)
        return Runtime(metric="residual", residual=Residual(kernel, inducing=self.inducing, seed=0),
                       query_engine="dense", threads=threads)


def _status_mb(field: str) -> float | None:
    """A memory line of this process's /proc/self/status (Linux), in MB; None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _clear_peak() -> float | None:
    """Reset this process's peak resident memory (Linux: /proc/self/clear_refs); returns the resident
    memory now (MB), the baseline the peak is compared with; None where it cannot be reset."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    return _status_mb("VmRSS")


def _peak_mb() -> float | None:
    """Peak resident memory of this process since the last reset (Linux VmHWM), in MB."""
    return _status_mb("VmHWM")


def _query(tree, workload: ShardedWorkload):
    return tree.knn_result(k=workload.k, predecessor=workload.task == "predecessor")


def run_sharded(workload: ShardedWorkload, progress=None) -> dict:
    """Run it; returns a JSON-serialisable dict with a ``single`` and a ``sharded`` row."""
    import distributed  # extra "dask"

    step = Steps(progress, 5 + int(workload.single))
    X = workload.data()
    out = {"schema": "covertreex.bench.sharded", "schema_version": 1, "workload": asdict(workload),
           "runtime": workload.runtime(workload.threads_per_worker).describe(), "machine": machine_info(),
           "single": None}
    single_ids = None
    if workload.single:
        step("one CoverTree in this process")
        rt = workload.runtime(threads=None)  # all of this machine's cores
        CoverTree(rt).fit(X[:2048]).knn(k=min(workload.k, 2047))  # JIT
        fit = timed(lambda: CoverTree(rt).fit(X), 1)
        query = timed(lambda: _query(fit.out, workload), 1)
        single_ids, single_dist = query.out.ids, query.out.distances
        out["single"] = {"fit_s": fit.median, "query_s": query.median, "total_s": fit.median + query.median,
                         "peak_extra_mb": max(fit.peak_mb, query.peak_mb), "threads": numba.get_num_threads()}
        del fit, query
    step("cluster")
    cluster = None
    if workload.scheduler is None:
        cluster = distributed.LocalCluster(n_workers=workload.workers, threads_per_worker=workload.threads_per_worker,
                                           processes=True, dashboard_address=":0", memory_limit=0)
    try:
        with distributed.Client(cluster if cluster is not None else workload.scheduler) as client:
            from covertreex.distributed import ShardedTree

            rt = workload.runtime(threads=workload.threads_per_worker)
            step("JIT warm-up on the workers")
            ShardedTree(client, rt, shards=workload.shard_count).fit(X[:4096]).knn(k=min(workload.k, 100))
            baseline = client.run(_clear_peak)
            step("sharded fit")
            start = time.perf_counter()
            sharded = ShardedTree(client, rt, shards=workload.shard_count).fit(X)
            fit_s = time.perf_counter() - start
            step("sharded query")
            start = time.perf_counter()
            result = _query(sharded, workload)
            query_s = time.perf_counter() - start
            step("peak memory and checks")
            peaks = client.run(_peak_mb)
            identical = None if single_ids is None else bool(
                np.array_equal(result.ids, single_ids) and np.array_equal(result.distances, single_dist))
            out["sharded"] = {
                "fit_s": fit_s, "query_s": query_s, "total_s": fit_s + query_s, "shards": sharded.shard_sizes,
                "workers": len(peaks), "threads_per_worker": workload.threads_per_worker,
                "worker_peak_mb": [peaks[w] for w in sorted(peaks)],
                "worker_peak_extra_mb": [None if peaks[w] is None or baseline.get(w) is None else
                                         peaks[w] - baseline[w] for w in sorted(peaks)],
                "fit_bytes_sent": int(X.nbytes), "query_bytes_sent": result.bytes_sent,
                "query_bytes_received": result.bytes_received, "shards_per_row": result.shards_per_row,
                "identical_to_single": identical}
    finally:
        if cluster is not None:
            cluster.close()
    out["python"] = sys.version.split()[0]
    return out
