"""Hypothesis: random small data sets (with ties and duplicates) against the oracle."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from covertreex import CoverTree, Runtime
from covertreex.reference import SequentialCoverTree, brute_force_knn
from covertreex.validation import spread_underflows


@st.composite
def point_sets(draw):
    n = draw(st.integers(2, 60))
    d = draw(st.integers(1, 4))
    coarse = draw(st.booleans())  # small integer grids force ties and duplicates
    elements = st.integers(-3, 3).map(float) if coarse else st.floats(-1e3, 1e3, allow_nan=False, width=64)
    X = draw(arrays(np.float64, (n, d), elements=elements))
    Q = draw(arrays(np.float64, (draw(st.integers(1, 10)), d), elements=elements))
    k = draw(st.integers(1, n - 1))
    runtime = Runtime(
        conflict_graph=draw(st.sampled_from(["grid", "kdtree", "block", "segmented", "dense"])),
        batch_order=draw(st.sampled_from(["hilbert", "random", "natural"])),
        prefix_schedule=draw(st.sampled_from(["doubling", "adaptive", "none"])),
        seed=draw(st.integers(0, 5)),
    )
    split = draw(st.integers(1, n))
    return X, Q, k, runtime, split


@settings(max_examples=150, deadline=None)
@given(point_sets())
def test_fit_insert_knn_equal_oracle(case):
    X, Q, k, runtime, split = case
    # points spread below float64's squared-distance resolution are refused (tests/test_validation.py)
    assume(not spread_underflows(X) and not spread_underflows(X[:split]))
    tree = CoverTree(runtime).fit(X[:split])
    if split < X.shape[0]:
        tree = tree.insert(X[split:])
    tree.check_invariants()
    ids, dist = tree.knn(k=k, return_distances=True)
    oi, od = brute_force_knn(X, k=k)
    np.testing.assert_array_equal(dist, od)
    np.testing.assert_array_equal(ids, oi)
    qi, qd = tree.knn(Q, k=k, return_distances=True)
    bi, bd = brute_force_knn(X, Q, k=k)
    np.testing.assert_array_equal(qd, bd)
    np.testing.assert_array_equal(qi, bi)


@settings(max_examples=40, deadline=None)
@given(point_sets())
def test_sequential_teaching_tree_equals_oracle(case):
    X, Q, k, _, _ = case
    assume(not spread_underflows(X))
    ids, dist = SequentialCoverTree(X).knn(Q, k)
    bi, bd = brute_force_knn(X, Q, k=k)
    np.testing.assert_array_equal(dist, bd)
    np.testing.assert_array_equal(ids, bi)
