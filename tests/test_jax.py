"""The JAX engine (extra ``jax``): the dense residual search with its screen in JAX answers exactly as the
Numba engines and the oracle — ids and distances bit for bit — on the residual test shapes; rows the
screen cannot narrow go to the Numba engine; without JAX the engine is a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_data

from covertreex import CoverTree, Residual, Runtime
from covertreex.kernels import RBF, Matern12, Matern32, Matern52
from covertreex.reference import brute_force_knn

jax = pytest.importorskip("jax")  # the extra "jax" (make test installs it)

SHAPES = {
    "tiny p (RBF l=1, m=64)": (make_data("gaussian", 1500, 3, seed=1), Residual(RBF(1.0, 1.0), inducing=64)),
    "large p (Matern12 l=0.1, m=8)": (make_data("uniform", 1200, 2, seed=2), Residual(Matern12(2.0, 0.1), inducing=8)),
    "ARD Matern32": (make_data("gaussian", 1000, 3, seed=3), Residual(Matern32(1.0, (0.5, 1.0, 2.0)), inducing=40)),
    "duplicates Matern52": (make_data("duplicates", 900, 2, seed=4), Residual(Matern52(1.5, 0.6), inducing=24)),
    "inducing points in the data (p ~ jitter)": (make_data("uniform", 800, 2, seed=5),
                                                 Residual(RBF(1.0, 0.5), inducing=32, jitter=1e-9)),
}


def _same(got, want):
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_jax_engine_equals_the_numba_engines_and_the_oracle(shape):
    X, policy = SHAPES[shape]
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="jax")).fit(X)
    assert not tree.has_tree and "'jax'" in tree.describe()["plan"]["reason"]
    rows = np.array([len(X) - 1, 0, 5, 5, len(X) // 2])
    Q = np.random.default_rng(7).standard_normal((30, X.shape[1]))
    kw = {"metric": "residual", "residual": tree.metric}
    for call, oracle in (
        (dict(k=12), brute_force_knn(X, k=12, **kw)),
        (dict(k=12, predecessor=True), brute_force_knn(X, k=12, predecessor=True, **kw)),
        (dict(k=7, query_ids=rows), brute_force_knn(X, k=7, rows=rows, **kw)),
        (dict(k=7, query_ids=rows, predecessor=True), brute_force_knn(X, k=7, rows=rows, predecessor=True, **kw)),
    ):
        result = tree.knn_result(**call)
        assert result.engine == "jax"
        _same((result.ids, result.distances), oracle)
        _same((result.ids, result.distances), tree.knn(return_distances=True, engine="dense", **call))
    _same(tree.knn(Q, k=9, return_distances=True), brute_force_knn(X, Q, k=9, **kw))


def test_rows_past_the_capacity_go_to_the_numba_engine(monkeypatch):
    from covertreex.queries import jax_dense

    calls = []
    real = jax_dense.dense_knn
    monkeypatch.setattr(jax_dense, "dense_knn", lambda *a: calls.append(a[3].shape[0]) or real(*a))
    monkeypatch.setattr(jax_dense, "CAPACITY", 8)  # fewer than a row's candidates: every row falls back
    monkeypatch.setattr(jax_dense, "ROW_BLOCK_BYTES", 48 * 600 * 37)  # 37 rows a block: a short last block
    X, policy = SHAPES["ARD Matern32"]
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="jax")).fit(X[:600])
    _same(tree.knn(k=10, return_distances=True, predecessor=True),
          brute_force_knn(X[:600], k=10, predecessor=True, metric="residual", residual=tree.metric))
    assert sum(calls) >= 590  # rows 0..~10 have fewer than k candidates, the rest more than 8


def test_jax_engine_names_its_limits():
    X = make_data("gaussian", 200, 2, seed=6)
    with pytest.raises(ValueError, match="engine='jax' is for metric='residual'"):
        CoverTree().fit(X).knn(k=3, engine="jax")
    from covertreex.queries import jax_dense

    assert jax_dense.devices() and all(":" in d for d in jax_dense.devices())


def test_without_jax_the_engine_is_a_clear_error(monkeypatch):
    import sys

    X, policy = SHAPES["ARD Matern32"]
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="dense")).fit(X[:100])
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax now raises ImportError
    with pytest.raises(ValueError, match=r"engine='jax' needs JAX: pip install 'covertreex\[jax\]'"):
        tree.knn(k=3, engine="jax")
    from covertreex.queries import jax_dense

    assert jax_dense.devices() == []


def test_bench_residual_adds_the_jax_rows(tmp_path):
    import json

    from typer.testing import CliRunner

    from covertreex.cli.main import app

    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["bench", "residual", "--workload", "custom", "--n", "900", "--inducing", "32",
                                      "--k", "8", "--queries", "60", "--repeat", "1", "--verify-rows", "0",
                                      "--engines", "dense,jax", "--all-points", "predecessor", "--peers", "none",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = [r for r in json.loads(out.read_text())["rows"] if "(jax)" in r["engine"]]
    assert len(rows) == 2 and all(r["recall"] == 1.0 and r["exact_rows"] == 1.0 for r in rows)


ORACLE_SHAPES = {**SHAPES,  # p ~ 5e-11: k and V.V cancel to ~1e-11, so the screen's error bound decides
                 "p ~ 1e-11 (RBF l=1, m=128)": (make_data("uniform", 1200, 2, seed=11),
                                                Residual(RBF(1.0, 1.0), inducing=128, jitter=1e-10))}


@pytest.mark.parametrize("shape", sorted(ORACLE_SHAPES))
def test_the_oracle_screened_in_jax_gives_the_numpy_oracles_answers(shape):
    X, policy = ORACLE_SHAPES[shape]
    Q = np.random.default_rng(8).standard_normal((25, X.shape[1]))
    rows = np.array([len(X) - 1, 0, 3, len(X) // 3])
    for call in (dict(k=10), dict(k=10, predecessor=True), dict(k=6, rows=rows), dict(Q=Q, k=8)):
        kw = dict(call, metric="residual", residual=policy, block_bytes=2**22)  # several blocks of rows
        _same(brute_force_knn(X, backend="jax", **kw), brute_force_knn(X, **kw))


def test_the_jax_oracle_is_for_residual_distances():
    with pytest.raises(ValueError, match="the Euclidean oracle runs in NumPy"):
        brute_force_knn(np.zeros((5, 2)), k=1, backend="jax")
    with pytest.raises(ValueError, match="backend must be 'numpy' or 'jax', got 'cuda'"):
        brute_force_knn(np.zeros((5, 2)), k=1, backend="cuda")


@pytest.mark.parametrize("shape", ["p ~ 1e-11 (RBF l=1, m=128)", "tiny p (RBF l=1, m=64)", "ARD Matern32"])
def test_the_jax_screens_error_bound_holds_for_every_pair(shape):
    """The JAX oracle is exact only if |approximate - exact 1 - |rho|| <= its bound on every pair."""
    from covertreex.metrics._pairwise_numba import listed_distances
    from covertreex.reference.jax_screen import screen_block_jax

    X, policy = ORACLE_SHAPES[shape]
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="dense")).fit(X)
    F, slots = tree._fitted()[:300], tree.metric.slots
    approx, err = screen_block_jax(slots, F, F)
    r, c = np.divmod(np.arange(F.shape[0] ** 2), F.shape[0])
    exact = listed_distances(slots, F, r, F, c).reshape(approx.shape) ** 2  # d = sqrt(1 - |rho|)
    slack = 4 * np.finfo(np.float64).eps  # squaring the exact distance back
    assert np.all(np.abs(approx - exact) <= err + slack)
