"""One tree version queried from many threads at once answers as it does from one thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from conftest import make_data

from covertreex import CoverTree, Residual, Runtime
from covertreex.kernels import Matern32

CALLS = (
    dict(k=7),
    dict(k=3, predecessor=True),
    dict(k=5, query_ids=np.array([4, 900, 17, 17, 1500])),
)


def _answers(tree, queries):
    out = [tree.knn(return_distances=True, **kw) for kw in CALLS]
    out.append(tree.knn(queries, k=4, return_distances=True))
    return out


def _same(a, b):
    return all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def _hammer(tree, queries, reference, threads=4, rounds=3):
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda _: _answers(tree, queries), range(threads * rounds)))
    assert all(_same(r, reference) for r in results)


def test_euclidean_tree_answers_the_same_from_many_threads():
    X = make_data("clusters", 2000, 3, seed=3)
    tree = CoverTree(Runtime(seed=2)).fit(X)
    Q = make_data("gaussian", 50, 3, seed=4)
    _hammer(tree, Q, _answers(tree, Q))


def test_residual_engines_answer_the_same_from_many_threads():
    """Dense and tree engines concurrently on one residual tree, the tree built lazily by whichever
    thread asks first (one build, shared)."""
    X = make_data("gaussian", 1600, 2, seed=5)
    policy = Residual(Matern32(1.0, 0.4), inducing=40)
    Q = make_data("gaussian", 30, 2, seed=6)
    reference = _answers(CoverTree(Runtime(metric="residual", residual=policy, query_engine="tree")).fit(X), Q)
    dense = CoverTree(Runtime(metric="residual", residual=policy, query_engine="dense")).fit(X)
    assert not dense.has_tree

    def both(_):
        calls = [dense.knn(return_distances=True, engine=engine, **kw) for engine in ("dense", "tree") for kw in CALLS]
        return calls

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(both, range(8)))
    expected = reference[:3] * 2
    assert all(_same(r, expected) for r in results)
    assert dense.has_tree
