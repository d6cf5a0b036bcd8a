"""Hilbert-curve keys (Skilling's transposed-axes construction) for integer grid coordinates."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def hilbert_rows(grid, bits, keys, start, stop):
    """``keys[r]``: the Hilbert index of row r of ``grid`` (non-negative ints < 2**bits) for r in
    ``start .. stop-1`` (releases the GIL: ``algo.order`` runs chunks of rows on threads)."""
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
