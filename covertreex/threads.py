"""Parallel work without Numba's parallel compiler: compiled serial kernels that release the GIL
(``nogil=True``), run on Python threads, one piece of work per call.

Why not ``prange``: each parallel kernel costs seconds of cold compilation on top of its serial body
(measured on the fit + k-NN start-up path: ~12 s for four kernels), and its static schedule hands each
thread a fixed share of chunks.  Here threads take chunks in order as they free up, so queries of
uneven cost still keep every core busy to the end.  The thread count is Numba's (``numba.get_num_threads``),
which ``CoverTree`` sets from ``Runtime.threads`` around its calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import numba


def chunk_ranges(n: int, nchunks: int, min_size: int = 1) -> list[tuple[int, int]]:
    """``[start, stop)`` of near-equal consecutive pieces of ``range(n)``: ``nchunks`` of them, fewer when
    pieces would hold under ``min_size`` items (at least one piece)."""
    count = max(1, min(nchunks, n // max(1, min_size)))
    return [(c * n // count, (c + 1) * n // count) for c in range(count)]


def each_in_threads(work: Callable[[object], object], items: Iterable[object]) -> None:
    """``work(item)`` for every item, taken in order by Numba's thread count of threads (this thread and
    the rest started here; all in this thread when that count is one or there is one item); returns
    when all are done and re-raises the first error.

    Plain threads, not an executor: starting and joining one thread costs ~0.13 ms here, a
    ``ThreadPoolExecutor`` ~0.8 ms, and a build makes two such calls per insertion round.
    """
    items = list(items)
    workers = min(numba.get_num_threads(), len(items))
    if workers <= 1:
        for item in items:
            work(item)
        return
    lock = threading.Lock()
    state = {"next": 0, "error": None}

    def drain() -> None:
        while True:
            with lock:
                t = state["next"]
                if t >= len(items) or state["error"] is not None:
                    return
                state["next"] = t + 1
            try:
                work(items[t])
            except BaseException as exc:  # handed to the caller's thread below
                with lock:
                    if state["error"] is None:
                        state["error"] = exc
                return

    helpers = [threading.Thread(target=drain, daemon=True) for _ in range(workers - 1)]
    for helper in helpers:
        helper.start()
    drain()
    for helper in helpers:
        helper.join()
    if state["error"] is not None:
        raise state["error"]
