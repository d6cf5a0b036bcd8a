"""The child process of ``covertreex bench jit``: times the first calls made by a fresh interpreter.

Run as ``python -m covertreex.bench.jit_probe METRIC DIM``; prints one JSON object of phase ->
seconds (interpreter start and imports are the parent's wall time minus these).  Whether the seconds
are compilation (cold) or cache loading (warm) depends only on the Numba cache directory the parent
gives it.
"""

from __future__ import annotations

import json
import sys
import time

PROBE_POINTS = 2000  # small: the phases measure compilation, not search work
PROBE_K = 10


def probe(metric: str, dim: int) -> dict[str, float]:
    """Seconds of each first call: fit, all-points k-NN, k-NN at new points, predecessor search."""
    import numpy as np

    from covertreex import CoverTree, Residual, Runtime
    from covertreex.kernels import RBF

    phases: dict[str, float] = {}

    def timed(name: str, call):
        start = time.perf_counter()
        out = call()
        phases[name] = time.perf_counter() - start
        return out

    X = np.random.default_rng(0).standard_normal((PROBE_POINTS, dim))
    runtime = Runtime() if metric == "euclidean" else Runtime(
        metric="residual", residual=Residual(RBF(1.0, 1.0), inducing=64, seed=0))
    tree = timed("fit", lambda: CoverTree(runtime).fit(X))
    timed("knn all points", lambda: tree.knn(k=PROBE_K))
    timed("knn new points", lambda: tree.knn(X[:16] + 0.5, k=PROBE_K))
    timed("predecessor", lambda: tree.knn(k=PROBE_K, predecessor=True))
    return phases


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], int(sys.argv[2]))))
