"""Peer adapters (bench extra): each answers the all-points query exactly, on the same data."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from covertreex.baselines import brute_force_knn
from covertreex.baselines.peers import all_peers

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
    np.testing.assert_allclose(dist, od, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(ids, oi)  # continuous data: no ties, so the ids must agree
    assert peer.version
