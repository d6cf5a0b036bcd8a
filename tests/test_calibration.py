"""Calibration statistics (conformal budgets, proxy ranks, Clopper–Pearson) — the pieces a calibrated
candidate budget is built from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from covertreex.gates.calibration import beta_cdf, clopper_pearson, conformal_budget, worst_proxy_ranks


def test_conformal_budget_is_the_documented_order_statistic():
    scores = np.random.default_rng(0).permutation(np.arange(1, 1001))
    assert conformal_budget(scores, 0.1) == 901  # ceil(1001 * 0.9) = 901st smallest
    assert conformal_budget(scores, 0.5) == 501
    assert conformal_budget(np.arange(1, 11), 0.01) is None  # needs the 11th of 10
    with pytest.raises(ValueError, match="delta"):
        conformal_budget(scores, 0.0)
    with pytest.raises(ValueError, match="non-empty"):
        conformal_budget(np.array([]), 0.1)


def test_conformal_budget_covers_a_new_exchangeable_score():
    """Coverage P(new score <= budget) lies in [1 - delta, 1 - delta + 1/(S+1)] for exchangeable scores."""
    rng = np.random.default_rng(1)
    s, delta, trials = 99, 0.1, 4000
    draws = rng.geometric(0.01, size=(trials, s + 1))
    covered = [draws[t, -1] <= conformal_budget(draws[t, :-1], delta) for t in range(trials)]
    assert 0.88 <= np.mean(covered) <= 0.93  # expectation in [0.90, 0.91]; 4,000 trials: sd 0.005


def test_worst_proxy_ranks_count_ties_against_the_budget():
    pts = np.array([[0.0], [1.0], [1.0], [2.0], [-3.0], [5.0]])
    truth = np.array([[1, 3], [2, -1]])
    # query 0: neighbour 3 at proxy distance 4; points 1, 2 (1), 3 (4) are within: rank 3
    # query 5 (predecessor: ids < 5): neighbour 2 at distance 16; 3 (9), 1 (16), 2 (16): rank 3
    got = worst_proxy_ranks(pts, np.array([0, 5]), truth, predecessor=True)
    np.testing.assert_array_equal(got, [0, 3])  # query 0 has no earlier points: its truth is empty below
    got = worst_proxy_ranks(pts, np.array([0, 5]), truth)
    np.testing.assert_array_equal(got, [3, 3])


def test_beta_cdf_matches_the_binomial_tail():
    """P(X >= x) for X ~ Binomial(n, p) equals I_p(x, n - x + 1)."""
    for n, p in ((10, 0.3), (40, 0.9), (7, 0.05)):
        for x in range(1, n + 1):
            tail = sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(x, n + 1))
            assert beta_cdf(p, x, n - x + 1) == pytest.approx(tail, rel=1e-10, abs=1e-300)


def test_clopper_pearson_closed_forms_and_coverage_edges():
    n = 1000
    lo, hi = clopper_pearson(n, n)  # all found: lower = (alpha/2)^(1/n)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / n), rel=1e-12)
    lo, hi = clopper_pearson(0, n)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-12)
    lo, hi = clopper_pearson(51_150, 51_200)
    assert lo < 51_150 / 51_200 < hi < 1.0
    with pytest.raises(ValueError):
        clopper_pearson(5, 4)


def test_clopper_pearson_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    for x, n, conf in ((3, 20, 0.95), (990, 1000, 0.99), (51_150, 51_200, 0.95)):
        lo, hi = clopper_pearson(x, n, conf)
        a = 1 - conf
        assert lo == pytest.approx(stats.beta.ppf(a / 2, x, n - x + 1), rel=1e-9)
        assert hi == pytest.approx(stats.beta.ppf(1 - a / 2, x + 1, n - x), rel=1e-9)
