"""The SIMD dot product of the residual kernel is the scalar eight-accumulator loop, bit for bit."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from covertreex.metrics._distance_numba import _scalar_dot, feature_dot
from covertreex.metrics._vector_numba import lane_dot


@nb.njit
def _both(A, i, B, j, start, count):
    return lane_dot(A, i, B, j, start, count), _scalar_dot(A, i, B, j, start, count), feature_dot(A, i, B, j,
                                                                                                   start, count)


@nb.njit
def _feature(A, i, B, j, start, count):
    return feature_dot(A, i, B, j, start, count)


@pytest.mark.parametrize("scale", [1.0, 1e-150, 1e150])
def test_lane_dot_is_bit_identical_to_the_scalar_loop(scale):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 70)) * scale
    B = rng.standard_normal((20, 70)) * rng.choice([1e-8, 1.0, 1e8], size=(20, 70))
    for count in range(0, 60):
        for start in (0, 1, 3, 8, 70 - count):
            lane, scalar, feature = _both(A, count % 20, B, (3 * count) % 20, start, count)
            assert lane == scalar == feature or (np.isnan(lane) and np.isnan(scalar))


def test_rows_that_are_not_contiguous_take_the_scalar_loop():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((10, 80))
    strided = A[:, ::2]  # layout "A": no vector loads
    assert _feature(strided, 2, strided, 5, 1, 33) == _both(np.ascontiguousarray(strided), 2,
                                                            np.ascontiguousarray(strided), 5, 1, 33)[1]
    with pytest.raises(TypeError, match="jitted"):
        feature_dot(A, 0, A, 1, 0, 8)
