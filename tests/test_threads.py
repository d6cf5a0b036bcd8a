"""Chunked work on threads (covertreex.threads): every piece runs exactly once, errors reach the caller, and
answers do not depend on the thread count."""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest

from covertreex import CoverTree, Runtime
from covertreex.threads import chunk_ranges, each_in_threads


@pytest.mark.parametrize("n, nchunks, min_size", [(0, 4, 1), (1, 4, 1), (10, 3, 1), (1000, 16, 64), (100, 16, 64),
                                                  (7, 100, 1)])
def test_chunk_ranges_cover_the_range_once(n, nchunks, min_size):
    ranges = chunk_ranges(n, nchunks, min_size)
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert 1 <= len(ranges) <= max(1, nchunks)
    if len(ranges) > 1:
        assert min(stop - start for start, stop in ranges) >= min_size


def test_each_in_threads_runs_every_item_once_on_several_threads():
    seen, names, lock = [], set(), threading.Lock()
    barrier = threading.Barrier(2, timeout=10)  # passes only if two items run at the same time

    def work(item):
        if item < 2:
            barrier.wait()
        with lock:
            seen.append(item)
            names.add(threading.current_thread().name)

    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        each_in_threads(work, range(50))
    finally:
        numba.set_num_threads(previous)
    assert sorted(seen) == list(range(50))
    assert len(names) == 2


def test_each_in_threads_reraises_the_error_of_a_piece():
    def work(item):
        if item == 3:
            raise ArithmeticError("piece 3 failed")

    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        with pytest.raises(ArithmeticError, match="piece 3 failed"):
            each_in_threads(work, range(8))
    finally:
        numba.set_num_threads(previous)


@pytest.mark.parametrize("dim", [3, 8])
def test_trees_and_answers_do_not_depend_on_the_thread_count(dim):
    X = np.random.default_rng(dim).standard_normal((6000, dim))
    X[100:140] = X[:40]  # duplicates
    trees = [CoverTree(Runtime(threads=t, seed=1)).fit(X) for t in (1, 2)]
    for field in ("ids", "level", "parent", "radius"):
        assert np.array_equal(getattr(trees[0].arrays, field), getattr(trees[1].arrays, field))
    answers = [t.knn(k=7) for t in trees]
    assert np.array_equal(answers[0][0], answers[1][0]) and np.array_equal(answers[0][1], answers[1][1])
