"""Shared data generators: the awkward shapes every query path is checked on."""

from __future__ import annotations

import re

import numpy as np
import pytest


def cli_text(output: str) -> str:
    """A command's output as one line of words: the rich error box's borders and the line breaks of its
    wrapping (which moves with the width of a temporary path) removed."""
    return " ".join(re.sub("[\u2500-\u257f]", " ", output).split())


def make_data(shape: str, n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if shape == "uniform":
        return rng.uniform(-1.0, 1.0, size=(n, d))
    if shape == "gaussian":
        return rng.standard_normal((n, d))
    if shape == "duplicates":  # few distinct points, each repeated many times
        base = rng.standard_normal((max(1, n // 20), d))
        return base[rng.integers(0, base.shape[0], size=n)]
    if shape == "grid":  # integer lattice: massive distance ties
        side = int(np.ceil(n ** (1.0 / d))) + 1
        return rng.integers(0, side, size=(n, d)).astype(np.float64)
    if shape == "collinear":
        t = rng.standard_normal(n)
        direction = rng.standard_normal(d)
        return np.outer(t, direction / np.linalg.norm(direction))
    if shape == "clusters":  # tight clusters plus far outliers
        centres = rng.standard_normal((5, d)) * 100.0
        pts = centres[rng.integers(0, 5, size=n)] + 1e-4 * rng.standard_normal((n, d))
        pts[: max(1, n // 100)] = rng.standard_normal((max(1, n // 100), d)) * 1e4
        return pts
    raise ValueError(shape)


SHAPES = ("uniform", "gaussian", "duplicates", "grid", "collinear", "clusters")


@pytest.fixture(scope="session")
def data_factory():
    return make_data


def assert_gate_matches_oracle(X, tree, k: int, gate, *, rows=None, predecessor: bool = False, Q=None) -> None:
    """A gated residual answer (tree points ``rows`` — all when None — or new points ``Q``) equals the
    brute-force oracle's, ids and distances bit for bit."""
    from covertreex.reference import brute_force_knn

    if Q is None:
        got = tree.knn(query_ids=rows, k=k, predecessor=predecessor, gate=gate, return_distances=True)
        want = brute_force_knn(X, k=k, rows=rows, predecessor=predecessor, metric="residual", residual=tree.metric)
    else:
        got = tree.knn(Q, k=k, gate=gate, return_distances=True)
        want = brute_force_knn(X, Q, k=k, metric="residual", residual=tree.metric)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
