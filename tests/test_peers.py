"""Peer adapters (bench extra): each answers the all-points query exactly, on the same data."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from covertreex.reference import brute_force_knn
from covertreex.bench.peers import all_peers

PEERS = all_peers()


@pytest.mark.parametrize("name", list(PEERS))
def test_peer_matches_oracle_and_leaves_input_alone(name):
    peer = PEERS[name]
    if not peer.available():
        pytest.skip(f"{peer.distribution} not installed (bench extra)")
    X = np.random.default_rng(3).standard_normal((1500, 3))
    before = X.copy()
    index = peer.build(X)
    gc.collect()  # mlpack keeps pointing at its reference matrix: the adapter must keep it alive
    ids, dist = peer.query_all(index, 7)
    oi, od = brute_force_knn(X, k=7)
    np.testing.assert_array_equal(X, before)
    assert ids.shape == dist.shape == (1500, 7) and ids.dtype == np.int64
    assert peer.version
    true = np.sqrt(((X[:, None, :] - X[ids]) ** 2).sum(axis=2))
    if not peer.exact:  # approximate peers: distances are true distances, recall is high but not assumed 1
        np.testing.assert_allclose(dist, true, rtol=1e-5, atol=1e-6)
        assert np.mean(true <= od[:, -1:] * (1 + 1e-6)) > 0.9
        return
    if peer.precision == "float32":  # exact search in float32: true distances within float32 rounding of the oracle's
        np.testing.assert_allclose(dist, od, rtol=1e-5, atol=1e-6)
        assert np.all(true <= od[:, -1:] * (1 + 1e-5)) and np.all(ids != np.arange(1500)[:, None])
        return
    np.testing.assert_allclose(dist, od, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(ids, oi)  # continuous data: no ties, so the ids must agree


def test_check_rows_counts_only_valid_neighbours():
    from covertreex.bench.euclidean import check_euclidean as check_rows

    X = np.random.default_rng(8).standard_normal((300, 2))
    rows = np.arange(40, 60)
    oracle = brute_force_knn(X, k=4, rows=rows)
    good = oracle[0].copy()
    assert check_rows(X, X[rows], good, oracle, owners=rows) == (1.0, 1.0)
    selfish = good.copy()
    selfish[0, 0] = rows[0]  # the point itself is never its own neighbour
    far = good.copy()
    far[1, 3] = int(np.argmax(np.linalg.norm(X - X[rows[1]], axis=1)))  # not within the k-th distance
    repeated = good.copy()
    repeated[2, 1] = repeated[2, 0]  # a repeated id spoils the whole row
    for bad, expected in ((selfish, 79 / 80), (far, 79 / 80), (repeated, 76 / 80)):
        recall, exact = check_rows(X, X[rows], bad, oracle, owners=rows)
        assert recall == pytest.approx(expected) and exact == pytest.approx(19 / 20)
    pred = brute_force_knn(X, k=4, rows=np.arange(3), predecessor=True)
    assert check_rows(X, X[:3], pred[0], pred, owners=np.arange(3), predecessor=True) == (1.0, 1.0)
    later = pred[0].copy()
    later[2, 0] = 5  # a later point is not a predecessor candidate
    assert check_rows(X, X[:3], later, pred, owners=np.arange(3), predecessor=True)[0] == pytest.approx(2 / 3)
