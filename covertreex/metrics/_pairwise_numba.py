"""Distances between selected rows with the tree's own distance function (bit-identical values)."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import point_distance


@nb.njit(parallel=True, cache=True)
def pairwise_distances(metric, A, rows_a, B, rows_b):
    """(len(rows_a), len(rows_b)) distances d(A[rows_a[i]], B[rows_b[j]])."""
    out = np.empty((rows_a.shape[0], rows_b.shape[0]), dtype=np.float64)
    for i in nb.prange(rows_a.shape[0]):
        for j in range(rows_b.shape[0]):
            out[i, j] = point_distance(metric, A, rows_a[i], B, rows_b[j])
    return out


@nb.njit(parallel=True, cache=True)
def listed_distances(metric, A, rows_a, B, rows_b):
    """Distances d(A[rows_a[t]], B[rows_b[t]]) for matched index lists."""
    out = np.empty(rows_a.shape[0], dtype=np.float64)
    for t in nb.prange(rows_a.shape[0]):
        out[t] = point_distance(metric, A, rows_a[t], B, rows_b[t])
    return out
