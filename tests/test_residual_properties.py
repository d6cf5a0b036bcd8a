"""Metric properties of the residual distance (hypothesis): the pruning bounds rely on them."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from covertreex import CoverTree, Residual, Runtime
from covertreex.kernels import KERNELS
from covertreex.validation import spread_underflows


@st.composite
def residual_trees(draw):
    n = draw(st.integers(3, 40))
    d = draw(st.integers(1, 3))
    coords = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)
    X = draw(arrays(np.float64, (n, d), elements=coords))
    if draw(st.booleans()):  # exact duplicates
        X[n // 2:] = X[: n - n // 2]
    assume(not spread_underflows(X))  # refused by fit (tests/test_validation.py)
    kernel = KERNELS[draw(st.sampled_from(sorted(KERNELS)))](
        draw(st.floats(0.1, 10)), draw(st.floats(0.1, 10)))
    m = draw(st.integers(1, n))
    policy = Residual(kernel, inducing=m, seed=draw(st.integers(0, 5)), jitter=draw(st.sampled_from([1e-6, 1e-3])))
    return CoverTree(Runtime(metric="residual", residual=policy)).fit(X)


@settings(max_examples=120, deadline=None)
@given(residual_trees())
def test_residual_distance_is_a_pseudometric(tree):
    n = tree.num_points
    D = tree.distances(np.arange(n))
    assert np.all((D >= 0) & (D <= 1))
    np.testing.assert_array_equal(D, D.T)
    np.testing.assert_array_equal(np.diag(D), 0.0)
    # d(i, j) <= d(i, l) + d(l, j) for every triple, up to 1e-12 plus float64 rounding: each computed
    # distance is within sqrt(rho error) of the exact pseudometric (the bound the search prunes with)
    p_min = tree.arrays.points[:, tree.dimension].min()
    tol = 1e-12 + 3 * np.sqrt(tree.metric.rho_error_bound(p_min))
    slack = D[:, :, None] + D[None, :, :] - D[:, None, :]  # [i, l, j] = d(i,l) + d(l,j) - d(i,j)
    assert slack.min() >= -tol, f"triangle inequality violated by {-slack.min():.3g} (allowed {tol:.3g})"
    assert tree.metric.prune_slack(tree.arrays.points) >= 4 * np.sqrt(tree.metric.rho_error_bound(p_min))


@settings(max_examples=60, deadline=None)
@given(residual_trees())
def test_residual_triangle_inequality_is_tight_when_p_is_not_small(tree):
    """Well-conditioned rows (p >= 0.05 variance): the inequality holds to 1e-12 outright."""
    n = tree.num_points
    rows = tree.arrays.points[tree.arrays.position_of]
    good = np.flatnonzero(rows[:, tree.dimension] >= 0.05 * tree.metric.kernel.variance)
    D = tree.distances(good)
    slack = D[:, :, None] + D[None, :, :] - D[:, None, :]
    near_zero = (D[:, :, None] < 1e-4) | (D[None, :, :] < 1e-4)  # sqrt amplifies rounding next to 0
    assert n >= 3 and (slack[~near_zero].min(initial=0.0) >= -1e-12)
