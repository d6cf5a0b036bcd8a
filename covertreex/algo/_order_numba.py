"""Hilbert-curve keys (Skilling's transposed-axes construction) for integer grid coordinates."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(parallel=True, cache=True)
def hilbert_keys(grid, bits):
    """Hilbert index of each row of ``grid`` (non-negative ints < 2**bits), as int64."""
    n, nd = grid.shape
    keys = np.empty(n, dtype=np.int64)
    nchunks = min(n, 64)
    for chunk in nb.prange(nchunks):
        _hilbert_rows(grid, bits, keys, chunk * n // nchunks, (chunk + 1) * n // nchunks)
    return keys


@nb.njit(cache=True)
def _hilbert_rows(grid, bits, keys, start, stop):
    nd = grid.shape[1]
    x = np.empty(nd, dtype=np.int64)
    top = np.int64(1) << (bits - 1)
    for r in range(start, stop):
        for i in range(nd):
            x[i] = grid[r, i]
        q = top
        while q > 1:
            p = q - 1
            for i in range(nd):
                if x[i] & q:
                    x[0] ^= p
                else:
                    t = (x[0] ^ x[i]) & p
                    x[0] ^= t
                    x[i] ^= t
            q >>= 1
        for i in range(1, nd):
            x[i] ^= x[i - 1]
        t = np.int64(0)
        q = top
        while q > 1:
            if x[nd - 1] & q:
                t ^= q - 1
            q >>= 1
        for i in range(nd):
            x[i] ^= t
        key = np.int64(0)
        for b in range(bits - 1, -1, -1):
            for i in range(nd):
                key = (key << 1) | ((x[i] >> b) & 1)
        keys[r] = key
