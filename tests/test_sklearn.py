"""The scikit-learn estimators: scikit-learn's own estimator checks, answers equal to the oracle (and to
scikit-learn's NearestNeighbors), sparse graphs, and pipelines with metric="precomputed" consumers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import make_data

sklearn = pytest.importorskip("sklearn")  # the extra "sklearn" (make test installs it)

from sklearn.base import clone  # noqa: E402
from sklearn.cluster import DBSCAN  # noqa: E402
from sklearn.manifold import Isomap  # noqa: E402
from sklearn.neighbors import KNeighborsTransformer, NearestNeighbors  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from covertreex import Residual, Runtime  # noqa: E402
from covertreex.kernels import Matern32  # noqa: E402
from covertreex.reference import brute_force_knn  # noqa: E402
from covertreex.sklearn import CoverTreeNeighbors, CoverTreeTransformer  # noqa: E402


@pytest.mark.parametrize("estimator", [CoverTreeNeighbors(), CoverTreeTransformer(),
                                       CoverTreeTransformer(mode="connectivity", n_neighbors=3)],
                         ids=["neighbors", "transformer-distance", "transformer-connectivity"])
def test_scikit_learn_estimator_checks(estimator):
    check_estimator(estimator)


def test_kneighbors_matches_scikit_learn_and_the_oracle():
    X = make_data("grid", 500, 2, seed=1)  # ties: order by (distance, index) like the oracle
    Q = make_data("grid", 40, 2, seed=2) + 0.5
    ours = CoverTreeNeighbors(n_neighbors=6).fit(X)
    assert ours.fit(X) is ours and ours.n_features_in_ == 2 and ours.n_samples_fit_ == 500
    dist, ind = ours.kneighbors(Q)
    o_ind, o_dist = brute_force_knn(X, Q, k=6)
    np.testing.assert_array_equal(ind, o_ind)
    np.testing.assert_array_equal(dist, o_dist)
    ref = NearestNeighbors(n_neighbors=6).fit(X)
    np.testing.assert_allclose(dist, ref.kneighbors(Q)[0], rtol=1e-12)  # scikit-learn's distances agree
    self_ind = ours.kneighbors(return_distance=False)  # X=None: each fitted point without itself
    np.testing.assert_array_equal(self_ind, brute_force_knn(X, k=6)[0])
    graph = ours.kneighbors_graph(Q, n_neighbors=3, mode="distance")
    assert graph.shape == (40, 500) and graph.nnz == 120
    np.testing.assert_array_equal(graph.indices.reshape(40, 3), o_ind[:, :3])
    np.testing.assert_array_equal(graph.data.reshape(40, 3), o_dist[:, :3])


def test_radius_neighbors_equal_the_oracle_and_scikit_learn():
    X = make_data("gaussian", 400, 3, seed=3)
    Q = make_data("gaussian", 30, 3, seed=4)
    ours = CoverTreeNeighbors(radius=0.4).fit(X)
    dist, ind = ours.radius_neighbors(Q)
    o_ind, o_dist = brute_force_knn(X, Q, k=400)
    ref_dist, ref_ind = NearestNeighbors(radius=0.4).fit(X).radius_neighbors(Q, sort_results=True)
    for q in range(30):
        keep = o_dist[q] <= 0.4
        np.testing.assert_array_equal(ind[q], o_ind[q][keep])
        np.testing.assert_array_equal(dist[q], o_dist[q][keep])
        assert set(ref_ind[q].tolist()) == set(ind[q].tolist())
    graph = ours.radius_neighbors_graph(Q, radius=0.4, mode="distance")
    assert graph.shape == (30, 400) and graph.nnz == sum(len(i) for i in ind)
    self_graph = ours.radius_neighbors_graph(mode="connectivity")
    assert self_graph.shape == (400, 400) and self_graph.diagonal().sum() == 0  # no point is its own neighbour


def test_transformer_graph_matches_kneighbors_transformer():
    X = make_data("gaussian", 300, 4, seed=5)
    ours = CoverTreeTransformer(n_neighbors=5).fit_transform(X)
    ref = KNeighborsTransformer(n_neighbors=5).fit_transform(X)
    assert ours.shape == ref.shape == (300, 300) and ours.nnz == ref.nnz == 300 * 6
    np.testing.assert_array_equal(ours.indices, ref.indices)  # each sample first, at distance 0
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-12, atol=1e-15)


def test_pipelines_with_precomputed_consumers():
    X = make_data("clusters", 300, 3, seed=6)
    labels = make_pipeline(CoverTreeTransformer(n_neighbors=10), DBSCAN(eps=1.0, metric="precomputed")).fit_predict(X)
    ref = make_pipeline(KNeighborsTransformer(n_neighbors=10), DBSCAN(eps=1.0, metric="precomputed")).fit_predict(X)
    np.testing.assert_array_equal(labels, ref)
    t = np.linspace(0, 3 * np.pi, 400)
    swiss = np.c_[t * np.cos(t), 10 * np.random.default_rng(0).random(400), t * np.sin(t)]
    embedding = make_pipeline(CoverTreeTransformer(n_neighbors=8),
                              Isomap(n_neighbors=8, n_components=2, metric="precomputed")).fit_transform(swiss)
    ref = make_pipeline(KNeighborsTransformer(n_neighbors=8),
                        Isomap(n_neighbors=8, n_components=2, metric="precomputed")).fit_transform(swiss)
    np.testing.assert_allclose(np.abs(embedding), np.abs(ref), rtol=1e-6, atol=1e-6)


def test_residual_metric_through_parameters_and_pickling():
    X = make_data("gaussian", 250, 2, seed=7)
    policy = Residual(Matern32(1.0, 0.5), inducing=20)
    est = CoverTreeNeighbors(n_neighbors=4, metric="residual", residual=policy, runtime=Runtime(seed=3)).fit(X)
    o_ind, o_dist = brute_force_knn(X, k=4, metric="residual", residual=est.tree_.metric)
    dist, ind = est.kneighbors()
    np.testing.assert_array_equal(ind, o_ind)
    np.testing.assert_array_equal(dist, o_dist)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.kneighbors(return_distance=False), ind)
    assert clone(est).get_params()["residual"] == policy


def test_bad_parameters_are_clear_errors():
    X = make_data("gaussian", 20, 2, seed=8)
    with pytest.raises(ValueError, match="metric='residual' needs residual="):
        CoverTreeNeighbors(metric="residual").fit(X)
    with pytest.raises(ValueError, match="metric must be 'euclidean' or 'residual'"):
        CoverTreeNeighbors(metric="cosine").fit(X)
    est = CoverTreeNeighbors().fit(X)
    with pytest.raises(ValueError, match="n_neighbors=20 but only 19 fitted points"):
        est.kneighbors(n_neighbors=20)
    with pytest.raises(ValueError, match="radius must be a finite number >= 0"):
        est.radius_neighbors(radius=-1)
    with pytest.raises(ValueError, match="mode must be"):
        est.kneighbors_graph(mode="weights")
    with pytest.raises(ValueError, match="X has 3 features"):
        est.kneighbors(np.zeros((2, 3)))
