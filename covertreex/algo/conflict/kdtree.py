"""The k-d tree conflict graph (Euclidean): range searches of radius R(x) in a k-d tree over the round.

The grid hashes at most three coordinates, so in higher dimensions its cells hold ever more
candidates (build time grew like n^1.9 at d=8); the k-d tree's boxes prune on every coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from covertreex.algo.conflict._kdtree_numba import STACK, kd_build, kd_rows
from covertreex.algo.conflict.one_pass import one_pass_csr
from covertreex.metrics.base import RESIDUAL

KD_LEAF_SIZE = 16
KD_SIZE_SAMPLE = 256  # rows whose neighbours are counted to size the one-pass output
CHUNKS_PER_THREAD = 4  # as the grid's: range searches differ in cost, several chunks per thread balance them


@dataclass(frozen=True)
class KdTreeConflictGraph:
    """A k-d tree over the round's points in all coordinates (Euclidean): range searches of radius R(x)."""

    name: str = "kdtree"

    def neighbours(self, metric, pts, lo, hi, reach, root, slack=0.0):
        if metric.kind == RESIDUAL:
            raise ValueError("conflict_graph='kdtree' needs coordinates (metric='euclidean')")
        P = np.ascontiguousarray(pts[lo:hi], dtype=np.float64)
        b = hi - lo
        sample = np.unique(np.linspace(0, b - 1, min(b, KD_SIZE_SAMPLE)).astype(np.int64))
        return kd_neighbours(metric, pts, lo, hi, reach, P, kd_build(P, KD_LEAF_SIZE), sample,
                             CHUNKS_PER_THREAD * numba.get_num_threads())


def kd_neighbours(metric, pts, lo, hi, reach, P, tree, sample, nchunks):
    """Neighbour CSR (batch-local ids) from a k-d tree over the round's points ``P``, in one pass when it
    fits: the neighbours of the ``sample`` rows are counted first, and each point gets room for twice
    their mean (+8); a chunk that overflows its room makes ``one_pass_csr`` run an exact second pass."""

    def rows_of(rows):
        def fill(start, stop, pos, limit, out_idx, out_dist, counts):
            kd_rows(np.empty(STACK, dtype=np.int64), metric, pts, lo, reach, P, tree, rows, start, stop, pos, limit,
                    out_idx, out_dist, counts)
        return fill

    probe = np.zeros(sample.shape[0], dtype=np.int64)
    rows_of(sample)(0, sample.shape[0], 0, 0, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64), probe)
    per_point = 8 + 2 * int(probe.sum() // max(1, sample.shape[0]))
    return one_pass_csr(hi - lo, nchunks, per_point, rows_of(np.arange(hi - lo, dtype=np.int64)))
