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
# "block": leaves this wide, each scanned in vectorised passes (conflict-graph seconds of a fit at N(0, I)
# d=8 / d=16 (n=32,768) / the swiss roll in 64-D (n=131,072): leaves of 32 -> 0.59 / 2.85 / 0.94 s, 128 ->
# 0.47 / 1.82 / 1.06 s; the pair-by-pair k-d tree: 1.02 / 6.85 / 0.76 s)
BLOCK_LEAF_SIZE = 128
KD_SIZE_SAMPLE = 256  # rows whose neighbours are counted to size the one-pass output
CHUNKS_PER_THREAD = 4  # as the grid's: range searches differ in cost, several chunks per thread balance them


@dataclass(frozen=True)
class KdTreeConflictGraph:
    """A k-d tree over the round's points in all coordinates (Euclidean): range searches of radius R(x).
    ``wide``: leaves of ``leaf_size`` points scanned in vectorised passes (the "block" strategy), else
    pair by pair."""

    name: str = "kdtree"
    leaf_size: int = KD_LEAF_SIZE
    wide: bool = False

    def neighbours(self, metric, pts, lo, hi, reach, root, slack=0.0):
        if metric.kind == RESIDUAL:
            raise ValueError(f"conflict_graph={self.name!r} needs coordinates (metric='euclidean')")
        P = np.ascontiguousarray(pts[lo:hi], dtype=np.float64)
        b = hi - lo
        sample = np.unique(np.linspace(0, b - 1, min(b, KD_SIZE_SAMPLE)).astype(np.int64))
        tree = kd_build(P, self.leaf_size)
        return kd_neighbours(metric, pts, lo, hi, reach, P, tree, sample, CHUNKS_PER_THREAD * numba.get_num_threads(),
                             self.wide)


def kd_neighbours(metric, pts, lo, hi, reach, P, tree, sample, nchunks, wide=False):
    """Neighbour CSR (batch-local ids) from a k-d tree over the round's points ``P``, in one pass when it
    fits: the neighbours of the ``sample`` rows are counted first, and each point gets room for twice
    their mean (+8); a chunk that overflows its room makes ``one_pass_csr`` run an exact second pass.
    ``wide``: leaves scanned in vectorised passes over ``P`` transposed in leaf order."""
    perm, start, end, left = tree[:4]
    if wide:
        Xt = np.ascontiguousarray(P[perm].T)
        width = int((end - start)[left < 0].max(initial=1))
    else:
        Xt, width = np.empty((0, 0)), 0

    def rows_of(rows):
        def fill(start, stop, pos, limit, out_idx, out_dist, counts):  # stack and scratch: one per call (thread)
            kd_rows(np.empty(STACK, dtype=np.int64), np.empty(width), metric, pts, lo, reach, P, tree, Xt, rows, start,
                    stop, pos, limit, out_idx, out_dist, counts)
        return fill

    probe = np.zeros(sample.shape[0], dtype=np.int64)
    rows_of(sample)(0, sample.shape[0], 0, 0, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64), probe)
    per_point = 8 + 2 * int(probe.sum() // max(1, sample.shape[0]))
    return one_pass_csr(hi - lo, nchunks, per_point, rows_of(np.arange(hi - lo, dtype=np.int64)))
