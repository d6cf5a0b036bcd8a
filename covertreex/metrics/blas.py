"""BLAS work whose bits must not depend on how many threads BLAS runs, and the pattern that keeps it
fast: single-threaded BLAS calls on independent pieces, one piece per thread.

OpenBLAS splits a product differently by thread count, so the same GEMM, triangular solve or Cholesky
factor can differ in the last bits between a 2-thread process and a 1-thread Dask worker.  Residual
feature rows (V) must be the same bits wherever they are computed (a fit, an insert, the oracle, a
shard on a worker), so every BLAS call that forms them runs single-threaded; ``in_parallel`` then runs
the pieces on all cores.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

from covertreex.threads import each_in_threads


def single_threaded_blas():
    """A context in which numpy's BLAS (and LAPACK through it) runs one thread."""
    return threadpool_limits(limits=1, user_api="blas")


def in_parallel(work, items) -> None:
    """``work(item)`` for every item, one per thread at a time (Numba's thread count), each with a
    single-threaded BLAS: BLAS threads that spin between calls would otherwise take the cores the
    work runs on, and the results would depend on the thread count."""
    with single_threaded_blas():
        each_in_threads(work, items)
