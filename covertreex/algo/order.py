"""Batch orders: which points go into which prefix round, and in what order inside a round."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from covertreex.algo._order_numba import hilbert_rows
from covertreex.runtime.config import check_choice
from covertreex.threads import chunk_ranges, each_in_threads

_HILBERT_DIMS = 3
HILBERT_CHUNKS_PER_THREAD = 2  # rows cost the same: chunks only to use every thread
HILBERT_MIN_CHUNK = 1024  # rows: fewer are not worth starting a thread for


def spread_dims(points: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` coordinates with the largest range (ties by index)."""
    if points.shape[0] == 0:
        return np.arange(min(count, points.shape[1]), dtype=np.int64)
    extent = points.max(axis=0).astype(np.float64) - points.min(axis=0).astype(np.float64)
    return np.sort(np.argsort(-extent, kind="stable")[:count]).astype(np.int64)


def hilbert_index(points: np.ndarray) -> np.ndarray:
    """Hilbert-curve index (int64) of each point over its widest coordinates."""
    if points.shape[0] <= 1:
        return np.zeros(points.shape[0], dtype=np.int64)
    dims = spread_dims(points, _HILBERT_DIMS)
    sub = points[:, dims].astype(np.float64)
    lo = sub.min(axis=0)
    extent = sub.max(axis=0) - lo
    bits = min(20, 62 // len(dims))
    unit = np.divide(sub - lo, extent, out=np.zeros_like(sub), where=extent > 0)  # in [0, 1]
    grid = np.clip(np.floor(unit * ((1 << bits) - 1)), 0, (1 << bits) - 1).astype(np.int64)
    keys = np.empty(grid.shape[0], dtype=np.int64)
    each_in_threads(lambda rows: hilbert_rows(grid, bits, keys, *rows),
                    chunk_ranges(grid.shape[0], HILBERT_CHUNKS_PER_THREAD * numba.get_num_threads(), HILBERT_MIN_CHUNK))
    return keys


@dataclass(frozen=True)
class BatchOrder:
    """``membership`` decides the insertion sequence; ``round_keys`` (computed once for the new points,
    in that sequence) sort each round when the order is "hilbert"."""

    name: str

    def membership(self, count: int, seed: int) -> np.ndarray:
        if self.name == "natural":
            return np.arange(count, dtype=np.int64)
        return np.random.default_rng(seed).permutation(count).astype(np.int64)

    def round_keys(self, points: np.ndarray) -> np.ndarray | None:
        return hilbert_index(points) if self.name == "hilbert" else None

    @staticmethod
    def within_round(keys: np.ndarray | None, lo: int, hi: int) -> np.ndarray | None:
        """Permutation of the round [lo, hi) (None: keep the order)."""
        return None if keys is None else np.argsort(keys[lo:hi], kind="stable")


def batch_order(name: str) -> BatchOrder:
    return BatchOrder(check_choice("batch_order", name))
