"""The statistics of a calibrated candidate budget: split-conformal budgets, proxy ranks, and
Clopper–Pearson intervals for an audited recall.

A gated search ranks candidates by a cheap proxy and re-ranks the first C of them exactly.  A query is
served completely when all of its k true neighbours are among its first C proxy candidates, i.e. when
its *score* — the largest proxy rank (1-based) of a true neighbour — is at most C.  For scores of S
calibration queries exchangeable with future queries, the ceil((S + 1)(1 - delta))-th smallest score
is a budget under which a future query is served completely with probability at least 1 - delta
(split-conformal prediction).
"""

from __future__ import annotations

import math

import numpy as np


def conformal_budget(scores: np.ndarray, delta: float) -> int | None:
    """The candidate budget for miss probability ``delta`` from calibration ``scores`` (proxy ranks,
    1-based); None when ``delta`` is too small for this many calibration queries (the rank needed
    exceeds S)."""
    scores = np.asarray(scores)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError("scores must be a non-empty 1-D array of calibration scores")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    s = scores.size
    rank = math.ceil((s + 1) * (1.0 - delta))
    if rank > s:
        return None
    return int(np.partition(scores, rank - 1)[rank - 1])


def worst_proxy_ranks(proxy_rows: np.ndarray, query_ids: np.ndarray, true_ids: np.ndarray,
                      predecessor: bool = False) -> np.ndarray:
    """Per calibration query (a point of ``proxy_rows``, the proxy's coordinates in id order): the
    proxy rank (1-based) of its worst-ranked true neighbour, counting every other candidate point (ids
    below the query's when ``predecessor``) at a proxy distance below it or tied with it, so ties
    never make a budget look smaller than it is.  ``true_ids[r]`` are query r's exact neighbours (-1
    entries ignored)."""
    n = proxy_rows.shape[0]
    out = np.zeros(query_ids.shape[0], dtype=np.int64)
    for r, q in enumerate(query_ids):
        d = np.zeros(n)
        for col in range(proxy_rows.shape[1]):  # coordinate order, as the search sums: ties are its ties
            d += (proxy_rows[:, col] - proxy_rows[q, col]) ** 2
        d = np.sqrt(d)
        eligible = np.arange(n) < q if predecessor else np.ones(n, dtype=bool)
        eligible[q] = False
        truth = true_ids[r][true_ids[r] >= 0]
        if truth.size == 0:
            continue
        worst = d[truth].max()
        out[r] = int(np.count_nonzero(eligible & (d <= worst)))
    return out


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (a, b > 0)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _beta_quantile(p: float, a: float, b: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(200):  # bisection to the last bit of [0, 1]
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if beta_cdf(mid, a, b) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) two-sided interval for a binomial proportion, e.g. recall@k as
    found neighbours out of true neighbours."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes} of {trials}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    alpha = 1.0 - confidence
    lower = 0.0 if successes == 0 else _beta_quantile(alpha / 2, successes, trials - successes + 1)
    upper = 1.0 if successes == trials else _beta_quantile(1.0 - alpha / 2, successes + 1, trials - successes)
    return lower, upper
