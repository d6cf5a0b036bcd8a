"""The screened conflict graph (residual): all pairs in BLAS blocks with rigorous error bounds.

Only pairs that may lie within reach are recomputed with the scalar kernel, so the neighbour sets and
distances equal the dense strategy's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from covertreex.algo.conflict._screened_numba import flagged_pairs, screen_within
from covertreex.metrics._pairwise_numba import listed_distances
from covertreex.metrics.base import RESIDUAL
from covertreex.metrics.residual_dense import ScreenRows, screen_gamma

BLOCK_ROWS = 512  # rows per BLAS block
SCREEN_SLACK = 1e-9  # relative room on R^2 when screening (the exact test follows)


@dataclass(frozen=True)
class ScreenedConflictGraph:
    """All pairs for the residual metric, in BLAS blocks (upper triangle) with rigorous error bounds;
    only pairs that may lie within reach are recomputed with the scalar kernel, so the neighbour sets
    and distances equal the dense strategy's."""

    name: str = "screened"

    def neighbours(self, metric, pts, lo, hi, reach, root, slack=0.0):
        if metric.kind != RESIDUAL:
            raise ValueError("conflict_graph='screened' is for metric='residual'")
        F = pts[lo:hi]
        b = F.shape[0]
        V = F[:, metric.dim + 1:]
        screen = ScreenRows.of(F, metric.dim)
        gamma = screen_gamma(metric.m)
        limit = np.where(np.isfinite(reach), reach * reach * (1.0 + SCREEN_SLACK), np.inf)
        rows, cols, dists = [], [], []
        for start in range(0, b, BLOCK_ROWS):
            stop = min(b, start + BLOCK_ROWS)
            G = V[start:stop] @ V[start:].T
            sq, sx = screen.span(start, stop), screen.span(start, b)
            # upper triangle: column c of the block is point start + c; the diagonal is not a pair
            first_col = np.arange(1, stop - start + 1, dtype=np.int64)
            flags = screen_within(metric, gamma, sq.coords, sq.sqrt_p, sq.v_norm, sx.coords, sx.sqrt_p, sx.v_norm,
                                  G, limit[start:stop], limit[start:], first_col)
            x, y = flagged_pairs(flags, start)
            # the exact test per block: when the screen cannot separate (distances near 1) nearly every
            # pair is flagged, and holding all flagged pairs of a round took O(b^2) memory
            d = listed_distances(metric, pts, x + lo, pts, y + lo)
            keep = d < reach[x]
            rows.append(x[keep])
            cols.append(y[keep])
            dists.append(d[keep])
        rows = np.concatenate(rows)
        cols = np.concatenate(cols)
        dist = np.concatenate(dists)
        order = np.lexsort((cols, rows))
        ptr = np.zeros(b + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=b), out=ptr[1:])
        return ptr, cols[order], dist[order]
