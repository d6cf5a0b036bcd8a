"""Residual-correlation metric: tree == oracle (ids, distances, ties), kernels, factors, soundness."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_data

from covertreex import CoverTree, Residual, Runtime
from covertreex.reference import brute_force_knn
from covertreex.kernels import KERNELS, RBF, Matern12, Matern32, Matern52, kernel_by_name


def residual_runtime(kernel, inducing=64, **kw) -> Runtime:
    return Runtime(metric="residual", residual=Residual(kernel, inducing=inducing), **kw)


def assert_same(a, b):
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])


def check_tree_vs_oracle(X, policy, k=10, queries=None, seed=0):
    tree = CoverTree(Runtime(metric="residual", residual=policy, seed=seed)).fit(X)
    assert_same(tree.knn(k=k, return_distances=True),
                brute_force_knn(X, k=k, metric="residual", residual=policy))
    if queries is not None:
        assert_same(tree.knn(queries, k=k, return_distances=True),
                    brute_force_knn(X, queries, k=k, metric="residual", residual=tree.metric))
    return tree


# -- kernels ----------------------------------------------------------------------------------
def test_kernel_values_match_closed_forms():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
    ls = np.array([0.5, 1.0, 2.0])
    r = np.sqrt((((A[:, None, :] - B[None, :, :]) / ls) ** 2).sum(-1))
    expected = {
        "rbf": np.exp(-0.5 * r**2),
        "matern12": np.exp(-r),
        "matern32": (1 + np.sqrt(3) * r) * np.exp(-np.sqrt(3) * r),
        "matern52": (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r),
    }
    for name, cls in KERNELS.items():
        np.testing.assert_allclose(cls(2.5, tuple(ls))(A, B), 2.5 * expected[name], rtol=1e-13, atol=1e-15)
        assert kernel_by_name(name, variance=2.0).variance == 2.0


@pytest.mark.parametrize("bad", [dict(variance=0.0), dict(variance=-1.0), dict(variance=float("nan")),
                                 dict(lengthscale=0.0), dict(lengthscale=(1.0, -2.0)),
                                 dict(lengthscale=(1.0, float("inf"))), dict(lengthscale=[[1.0]])])
def test_kernel_rejects_bad_parameters(bad):
    with pytest.raises(ValueError, match=r"(variance|lengthscale)"):
        RBF(**bad)


def test_kernel_ard_length_and_unknown_name():
    with pytest.raises(ValueError, match="lengthscale has 2 entries"):
        Matern32(1.0, (1.0, 2.0))(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="unknown kernel 'gauss'"):
        kernel_by_name("gauss")
    with pytest.raises(TypeError, match="Residual.kernel"):
        Residual("rbf")


# -- tree == oracle -----------------------------------------------------------------------------
@pytest.mark.parametrize("kernel_cls", [RBF, Matern12, Matern32, Matern52])
@pytest.mark.parametrize("lengthscale", [0.1, 1.0, 10.0])
def test_kernels_and_lengthscales_match_oracle(kernel_cls, lengthscale):
    X = make_data("gaussian", 1200, 2, seed=3)
    Q = np.random.default_rng(5).standard_normal((60, 2)) * 1.5
    check_tree_vs_oracle(X, Residual(kernel_cls(1.3, lengthscale), inducing=64, seed=1), k=10, queries=Q)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
@pytest.mark.parametrize("m", [8, 64, 512])
def test_dimensions_and_inducing_counts_match_oracle(d, m):
    X = make_data("uniform", 1500, d, seed=d + m)
    check_tree_vs_oracle(X, Residual(Matern52(1.0, 0.7), inducing=m), k=8)


def test_ard_duplicates_and_clusters_match_oracle():
    X = np.concatenate([make_data("duplicates", 600, 3, seed=2), make_data("clusters", 600, 3, seed=4) * 0.01])
    policy = Residual(RBF(0.8, (0.3, 1.0, 3.0)), inducing=48)
    tree = check_tree_vs_oracle(X, policy, k=12)
    ids, dist = tree.knn(k=3, return_distances=True)
    dup = np.flatnonzero((X[:600] == X[0]).all(axis=1))
    assert dup.size > 2 and np.all(dist[dup[0], :2] == 0.0)  # exact duplicates sit at distance 0
    tree.check_invariants()


def test_points_on_inducing_points_have_tiny_p_and_match_oracle():
    X = make_data("gaussian", 1500, 3, seed=8)
    U = X[::15].copy()  # 100 inducing points that are data points: p ~ jitter there
    policy = Residual(RBF(1.0, 1.0), inducing=U, jitter=1e-8)
    tree = check_tree_vs_oracle(X, policy, k=10, queries=U[:20] + 1e-9)
    p = tree.arrays.points[tree.arrays.position_of, 3]
    assert p[::15].max() < 1e-6 and np.median(p) > 1e-4


def test_large_tree_query_ids_match_oracle():
    X = make_data("gaussian", 20000, 3, seed=11)
    policy = Residual(RBF(1.0, 1.0), inducing=64)
    tree = CoverTree(Runtime(metric="residual", residual=policy)).fit(X)
    rows = np.random.default_rng(0).choice(20000, 300, replace=False)
    assert_same(tree.knn(k=20, query_ids=rows, return_distances=True),
                brute_force_knn(X, k=20, rows=rows, metric="residual", residual=policy))


def test_precomputed_factors_match_oracle_and_queries_need_them():
    X = make_data("uniform", 1000, 2, seed=1)
    kernel = Matern32(1.0, 0.5)
    U = X[:40]
    L = np.linalg.cholesky(kernel(U) + 1e-6 * np.eye(40))
    V = np.linalg.solve(L, kernel(U, X)).T
    p = kernel.variance - (V * V).sum(axis=1)
    policy = Residual(kernel, inducing=40)
    tree = CoverTree(Runtime(metric="residual", residual=policy)).fit(X, v_matrix=V, p_diag=p)
    assert_same(tree.knn(k=7, return_distances=True),
                brute_force_knn(X, k=7, metric="residual", residual=policy, v_matrix=V, p_diag=p))
    with pytest.raises(ValueError, match="pass v_matrix= and p_diag= for Q"):
        tree.knn(X[:3], k=2)
    a = tree.knn(X[:5], k=3, v_matrix=V[:5], p_diag=p[:5])
    assert np.array_equal(a[:, 0], np.arange(5))  # a point's nearest is itself (distance 0)


def test_insert_keeps_factors_and_old_version():
    X = make_data("gaussian", 1600, 3, seed=6)
    policy = Residual(Matern12(1.0, 1.5), inducing=32)
    t1 = CoverTree(Runtime(metric="residual", residual=policy)).fit(X[:1000])
    before = t1.knn(k=5, return_distances=True)
    t2 = t1.insert(X[1000:])
    t2.check_invariants()
    assert_same(t1.knn(k=5, return_distances=True), before)
    assert_same(t2.knn(k=5, return_distances=True),
                brute_force_knn(X, k=5, metric="residual", residual=t1.metric))
    np.testing.assert_array_equal(t2.points, X)


def test_all_conflict_graphs_build_the_same_residual_tree():
    X = make_data("duplicates", 900, 2, seed=2)
    built = []
    for cg in ("screened", "dense", "segmented"):
        t = CoverTree(residual_runtime(RBF(1.0, 0.5), 32, conflict_graph=cg)).fit(X)
        t.check_invariants()
        built.append((t.arrays.ids, t.arrays.parent, t.arrays.radius))
    for other in built[1:]:
        for a, b in zip(built[0], other):
            np.testing.assert_array_equal(a, b)


# -- numerical soundness ------------------------------------------------------------------------
def _independent_distance(X, U, jitter, ls, pairs, dtype):
    """sqrt(1 - |rho_ij|) by a separate dense computation (closed-form RBF, NumPy Cholesky) in ``dtype``."""
    def rbf(A, B):
        return np.exp(-0.5 * (((A[:, None, :] - B[None, :, :]) / ls) ** 2).sum(-1))
    L = np.linalg.cholesky(rbf(U, U) + jitter * np.eye(len(U)))
    V = np.linalg.solve(L, rbf(U, X)).T.astype(dtype)
    p = (1.0 - (V.astype(np.float64) ** 2).sum(1)) if dtype == np.float64 else (1 - (V * V).sum(1, dtype=dtype))
    i, j = pairs
    num = np.exp(-0.5 * (((X[i] - X[j]) / ls) ** 2).sum(-1)).astype(dtype) - (V[i] * V[j]).sum(1, dtype=dtype)
    with np.errstate(invalid="ignore", divide="ignore"):  # float32 p can come out <= 0
        rho = np.abs(num.astype(np.float64) / np.sqrt(p[i].astype(np.float64) * p[j].astype(np.float64)))
        return np.sqrt(1 - np.minimum(rho, 1))


def test_float64_is_needed_where_p_is_tiny():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(1500, 2))
    U = rng.uniform(-1, 1, size=(100, 2))
    policy = Residual(RBF(1.0, 0.5), inducing=U, jitter=1e-7)
    tree = CoverTree(Runtime(metric="residual", residual=policy)).fit(X)
    p = tree.arrays.points[tree.arrays.position_of, 2]
    assert 1e-7 < np.median(p) < 5e-6  # p ~ 1e-6: k - V.V cancels catastrophically
    nbrs = tree.knn(k=5)
    pairs = (np.repeat(np.arange(1500), 5), nbrs.ravel())
    d_tree = tree.distances(np.arange(1500))[pairs]
    np.testing.assert_allclose(d_tree, _independent_distance(X, U, 1e-7, 0.5, pairs, np.float64), rtol=0, atol=1e-5)
    # the same computation with float32 V and numerator misses by far more than that tolerance
    d32 = _independent_distance(X, U, 1e-7, 0.5, pairs, np.float32)
    assert not np.all(np.abs(d32 - d_tree) <= 1e-2)


# -- bad input -----------------------------------------------------------------------------------
def test_bad_residual_input():
    X = make_data("gaussian", 50, 2, seed=0)
    with pytest.raises(ValueError, match="not positive definite"):
        CoverTree(Runtime(metric="residual", residual=Residual(RBF(), inducing=np.zeros((4, 2)), jitter=0.0))).fit(X)
    with pytest.raises(ValueError, match="exceeds the number of points"):
        CoverTree(residual_runtime(RBF(), 51)).fit(X)
    with pytest.raises(ValueError, match="Residual.inducing must be >= 1"):
        Residual(RBF(), inducing=0)
    with pytest.raises(ValueError, match="Residual.jitter"):
        Residual(RBF(), jitter=-1.0)
    with pytest.raises(ValueError, match="Residual.inducing has 3 columns"):
        CoverTree(Runtime(metric="residual", residual=Residual(RBF(), inducing=np.zeros((2, 3))))).fit(X)
    rt = residual_runtime(RBF(), 8)
    V, p = np.ones((50, 8)) * 0.1, np.ones(50)
    for v_bad, p_bad, msg in [
        (np.full((50, 8), np.nan), p, "v_matrix contains NaN"),
        (V, np.where(np.arange(50) == 3, np.nan, 1.0), "p_diag contains NaN"),
        (V, np.where(np.arange(50) == 3, 0.0, 1.0), r"p_diag must be > 0 .* at row 3"),
        (V, np.full(50, 0.5), "p_diag\\[0\\]=0.5 is below"),
        (V[:49], p, "v_matrix must have shape"),
        (V, p[:49], "p_diag must have shape"),
    ]:
        with pytest.raises(ValueError, match=msg):
            CoverTree(rt).fit(X, v_matrix=v_bad, p_diag=p_bad)
    with pytest.raises(ValueError, match="together"):
        CoverTree(rt).fit(X, v_matrix=V)
    with pytest.raises(ValueError, match="only used with Runtime\\(metric='residual'\\)"):
        CoverTree().fit(X, v_matrix=V, p_diag=p)
    tree = CoverTree(rt).fit(X)
    with pytest.raises(ValueError, match=r"the queries \(Q\) have 3 columns"):
        tree.knn(np.zeros((2, 3)), k=1)
    with pytest.raises(ValueError, match="v_matrix has 7 columns"):
        tree.insert(X[:2], v_matrix=np.ones((2, 7)), p_diag=np.ones(2))


def test_runtime_residual_validation():
    with pytest.raises(ValueError, match="Runtime.residual must be a covertreex.Residual"):
        Runtime(metric="residual")
    with pytest.raises(ValueError, match="only used with metric='residual'"):
        Runtime(residual=Residual(RBF()))
    with pytest.raises(ValueError, match="precision must be 'float64'"):
        Runtime(metric="residual", residual=Residual(RBF()), precision="float32")
    with pytest.raises(ValueError, match="'grid' needs coordinates"):
        Runtime(metric="residual", residual=Residual(RBF()), conflict_graph="grid")
    with pytest.raises(ValueError, match="'screened' is for metric='residual'"):
        Runtime(conflict_graph="screened")
    rt = Runtime(metric="residual", residual=Residual(RBF(2.0, (1.0, 2.0)), inducing=16))
    assert rt.resolved_conflict_graph(3) == "screened" and Runtime().resolved_conflict_graph(3) == "grid"
    assert Runtime().resolved_conflict_graph(4) == "block" and Runtime().resolved_conflict_graph(47) == "block"
    assert Runtime().resolved_conflict_graph(48) == "kdtree" and Runtime(conflict_graph="grid").resolved_conflict_graph(8) == "grid"
    assert rt.describe()["residual"] == {"kernel": "rbf", "variance": 2.0, "lengthscale": [1.0, 2.0],
                                         "inducing": 16, "seed": 0, "jitter": 1e-6}
    assert rt == Runtime(metric="residual", residual=Residual(RBF(2.0, (1.0, 2.0)), inducing=16))
    U = np.ones((3, 2))
    assert Residual(RBF(), inducing=U) == Residual(RBF(), inducing=U.copy())


# -- query engines --------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["tree", "dense", "auto"])
def test_every_query_engine_matches_oracle(engine):
    X = np.concatenate([make_data("gaussian", 2500, 3, seed=12), make_data("duplicates", 500, 3, seed=1)])
    policy = Residual(Matern52(1.0, 0.8), inducing=96)
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine=engine)).fit(X)
    Q = np.random.default_rng(3).standard_normal((40, 3))
    rows = np.array([2999, 0, 5, 5, 1700])
    cases = [
        (tree.knn_result(k=20), brute_force_knn(X, k=20, metric="residual", residual=policy)),
        (tree.knn_result(k=20, predecessor=True),
         brute_force_knn(X, k=20, predecessor=True, metric="residual", residual=policy)),
        (tree.knn_result(k=9, query_ids=rows), brute_force_knn(X, k=9, rows=rows, metric="residual", residual=policy)),
        (tree.knn_result(k=9, query_ids=rows, predecessor=True),
         brute_force_knn(X, k=9, rows=rows, predecessor=True, metric="residual", residual=policy)),
        (tree.knn_result(Q, k=11), brute_force_knn(X, Q, k=11, metric="residual", residual=tree.metric)),
    ]
    for result, oracle in cases:
        assert_same((result.ids, result.distances), oracle)
        assert result.engine in ("tree", "dense") and (engine == "auto" or result.engine == engine)
    assert np.all(cases[0][0].distance_evaluations >= 20)


def test_dense_engine_handles_tiny_p_and_k_near_n():
    X = make_data("uniform", 700, 2, seed=9)
    policy = Residual(RBF(1.0, 0.5), inducing=X[::7].copy(), jitter=1e-9)  # p ~ 1e-9 on inducing points
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="dense")).fit(X)
    for k in (1, 699):
        assert_same(tree.knn(k=k, return_distances=True), tree.knn(k=k, return_distances=True, engine="tree"))
    assert_same(tree.knn(k=30, return_distances=True),
                brute_force_knn(X, k=30, metric="residual", residual=policy))


def test_dense_engine_merges_row_and_column_blocks(monkeypatch):
    """Small blocks: every row meets several column blocks, its own id (excluded) falls inside one of
    them and predecessor limits cut blocks in the middle; all-points rows are screened from both sides
    of each block pair; results must still be the oracle's."""
    from covertreex.queries import dense

    monkeypatch.setattr(dense, "COL_BLOCK", 257)
    monkeypatch.setattr(dense, "ROW_BLOCK", 100)
    monkeypatch.setattr(dense, "PAIR_BLOCK", 97)  # all-points: 16 blocks, 136 pairs, a short last block
    X = np.concatenate([make_data("gaussian", 1300, 3, seed=21), make_data("duplicates", 200, 3, seed=2)])
    policy = Residual(RBF(1.0, 0.7), inducing=48)
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="dense")).fit(X)
    rows = np.array([0, 256, 257, 258, 1499, 700])
    cases = [
        (tree.knn_result(k=15), brute_force_knn(X, k=15, metric="residual", residual=policy)),
        (tree.knn_result(k=15, predecessor=True),
         brute_force_knn(X, k=15, predecessor=True, metric="residual", residual=policy)),
        (tree.knn_result(k=4, query_ids=rows), brute_force_knn(X, k=4, rows=rows, metric="residual", residual=policy)),
    ]
    for result, oracle in cases:
        assert result.engine == "dense"
        assert_same((result.ids, result.distances), oracle)
    assert cases[0][0].distance_evaluations.tolist() == [1499] * 1500  # every other point screened once


def test_dense_engine_candidate_buffer_overflow_is_exact(monkeypatch):
    """Many exact ties (duplicated points: |rho| = 1, distance 0) and a candidate buffer barely larger
    than k: the buffer is compacted and re-checked exactly many times; results stay the oracle's."""
    from covertreex.queries import dense

    monkeypatch.setattr(dense, "MIN_CANDIDATES", 1)
    monkeypatch.setattr(dense, "CANDIDATES_PER_K", 2)
    X = np.repeat(make_data("gaussian", 60, 2, seed=4), 12, axis=0)  # each point 12 times
    X = X[np.random.default_rng(0).permutation(X.shape[0])]
    policy = Residual(Matern32(1.0, 0.6), inducing=24)
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="dense")).fit(X)
    for kw in ({}, {"predecessor": True}):
        assert_same(tree.knn(k=17, return_distances=True, **kw),
                    brute_force_knn(X, k=17, metric="residual", residual=policy, **kw))


def test_dense_engine_stays_exact_under_the_worst_blas_error(monkeypatch):
    """BLAS may return V_q . V_x off by up to gamma_m |V_q| |V_x| in any direction; with p ~ 1e-9 that
    moves |rho| by ~1e-4, enough to reorder neighbours.  G perturbed by the full allowance, in a
    seeded random direction per entry, must leave the answers exactly the oracle's."""
    from covertreex.metrics.residual_dense import screen_gamma
    from covertreex.queries import dense

    def worst_gram(Vq, Vx):
        G = Vq @ Vx.T
        bound = screen_gamma(Vq.shape[1]) / 2 * np.multiply.outer(np.linalg.norm(Vq, axis=1),
                                                                   np.linalg.norm(Vx, axis=1))
        sign = np.random.default_rng(G.shape[0] * 7919 + G.shape[1]).choice([-1.0, 1.0], G.shape)
        return G + sign * bound

    monkeypatch.setattr(dense, "block_gram", worst_gram)
    X = make_data("uniform", 900, 2, seed=19)
    policy = Residual(RBF(1.0, 0.5), inducing=X[::9].copy(), jitter=1e-10)  # p ~ 1e-10 near inducing points
    tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="dense")).fit(X)
    assert np.quantile(tree.metric.rows(X)[:, 2], 0.1) < 1e-8
    for kw in ({}, {"predecessor": True}):
        assert_same(tree.knn(k=25, return_distances=True, **kw),
                    brute_force_knn(X, k=25, metric="residual", residual=policy, **kw))


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_screen_kernel_error_is_within_its_bound(code):
    """The dense screen's vectorised kernel against the scalar kernel every exact path uses: its
    stated bound must hold everywhere (a looser kernel would let the screen drop true neighbours)."""
    from covertreex.kernels._approx_numba import KERNEL_ABS_ERR, KERNEL_REL_ERR, fill_kernel
    from covertreex.kernels._kernels_numba import kernel_matrix

    rng = np.random.default_rng(code)
    r2 = np.concatenate([[0.0, 1e-300, 5e-324], rng.uniform(0, 1e-6, 2000), rng.uniform(0, 4, 20000),
                         rng.uniform(0, 12000, 20000), [2500.0, 2499.999, 1e30]])
    variance = 2.5
    got = np.empty_like(r2)
    fill_kernel(code, variance, r2, got, r2.shape[0])
    # the scalar kernel at the same squared distances: points (sqrt(r2), 0) against the origin
    exact = kernel_matrix(code, variance, np.c_[np.sqrt(r2), np.zeros_like(r2)], np.zeros((1, 2)))[:, 0]
    exact_r2 = (np.sqrt(r2)) ** 2  # kernel_matrix saw the rounded square of the root
    got_same = np.empty_like(r2)
    fill_kernel(code, variance, exact_r2, got_same, r2.shape[0])
    err = np.abs(got_same - exact)
    assert np.all(err <= KERNEL_REL_ERR * np.abs(exact) + KERNEL_ABS_ERR * variance)
    assert np.all(np.isfinite(got)) and np.all(got >= 0) and got[0] == pytest.approx(variance, rel=1e-15)


def test_dense_fit_builds_no_tree_until_a_tree_search_asks():
    X = make_data("gaussian", 900, 3, seed=5)
    policy = Residual(RBF(1.0, 1.0), inducing=32)
    dense_tree = CoverTree(Runtime(metric="residual", residual=policy, query_engine="dense")).fit(X)
    assert not dense_tree.has_tree and dense_tree.describe()["plan"]["tree"] is False
    oracle = brute_force_knn(X, k=7, predecessor=True, metric="residual", residual=policy)
    assert_same(dense_tree.knn(k=7, predecessor=True, return_distances=True), oracle)
    np.testing.assert_array_equal(dense_tree.distances([300], oracle[0][300])[0], oracle[1][300])
    assert not dense_tree.has_tree  # the dense engine and distances read the rows only
    grown = dense_tree.insert(X[:5] + 0.25)
    assert not grown.has_tree and grown.num_points == 905 and dense_tree.num_points == 900
    both = np.concatenate([X, X[:5] + 0.25])
    assert_same(grown.knn(k=7, return_distances=True),
                brute_force_knn(both, k=7, metric="residual", residual=grown.metric))
    # a tree search builds this version's tree once, on demand; answers agree with the oracle
    assert_same(grown.knn(k=7, return_distances=True, engine="tree"),
                brute_force_knn(both, k=7, metric="residual", residual=grown.metric))
    assert grown.has_tree and not dense_tree.has_tree
    grown.check_invariants()


def test_auto_plan_probes_and_says_why():
    from covertreex.queries.plan import prune_probe

    rng = np.random.default_rng(6)
    clusters = np.repeat(rng.uniform(0, 100, (40, 2)), 100, axis=0) + 0.05 * rng.standard_normal((4000, 2))
    spread = make_data("gaussian", 4000, 2, seed=6)
    local = Residual(Matern32(1.0, 1.0), inducing=16)  # tight clusters far apart: a tree prunes whole clusters
    smooth = Residual(RBF(1.0, 2.0), inducing=64)  # long lengthscale, tiny p: no bound prunes
    plans = {}
    for name, X, pol in (("local", clusters, local), ("smooth", spread, smooth)):
        tree = CoverTree(Runtime(metric="residual", residual=pol)).fit(X)
        plans[name] = tree.describe()["plan"]
        assert plans[name]["reason"].startswith("auto:") and 0.0 <= plans[name]["probe"]["skippable"] <= 1.0
        assert tree.has_tree is plans[name]["tree"]
        factors = pol.fit(X)
        assert prune_probe(factors.rows(X), tree.runtime, factors, seed=0)["points"] == 1024
    assert plans["smooth"]["tree"] is False and "dense scan is cheaper" in plans["smooth"]["reason"]
    assert plans["local"]["probe"]["skippable"] > plans["smooth"]["probe"]["skippable"], plans
    small = CoverTree(Runtime(metric="residual", residual=Residual(RBF(), inducing=8))).fit(spread[:50])
    assert small.describe()["plan"]["tree"] is False and "would scan them all" in small.describe()["plan"]["reason"]


def test_engine_choice_is_validated():
    with pytest.raises(ValueError, match="query_engine='dense' is for metric='residual'"):
        Runtime(query_engine="dense")
    with pytest.raises(ValueError, match="Runtime.query_engine must be one of"):
        Runtime(query_engine="gpu")
    tree = CoverTree().fit(make_data("gaussian", 50, 2))
    with pytest.raises(ValueError, match="engine='dense' is for metric='residual'"):
        tree.knn(k=1, engine="dense")
    with pytest.raises(ValueError, match="engine must be"):
        tree.knn(k=1, engine="fast")


def test_feature_rows_do_not_depend_on_the_batch():
    """A point's feature row (V by one fixed-shape product per chunk) is the same bits alone, in a
    small group, at any offset of a batch and in the full fit: inserts and the oracle agree with fits."""
    X = make_data("gaussian", 1100, 3, seed=31)
    factors = Residual(Matern32(1.0, 0.6), inducing=70).fit(X)
    full = factors.rows(X)
    pick = np.random.default_rng(5).choice(X.shape[0], 40, replace=False)
    np.testing.assert_array_equal(np.vstack([factors.rows(X[[i]]) for i in pick]), full[pick])
    np.testing.assert_array_equal(factors.rows(X[pick]), full[pick])
    np.testing.assert_array_equal(factors.rows(X[3:700]), full[3:700])
