"""Exact merge of per-shard k-NN answers: each shard returns its own top k by (distance, id) with
global ids, so the top k of their union by (distance, id) is the top k of all points — the same rule,
and the same bits, as one tree."""

from __future__ import annotations

import numpy as np

_PAD_ID = np.iinfo(np.int64).max  # sorts after every id at equal (infinite) distance


def merge_topk(parts: list[tuple[np.ndarray, np.ndarray]], rows: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``parts``: (ids, distances) of shape (rows, k_i), padded with -1 / +inf.  Returns the k best of each
    row by (distance, id), padded with -1 / +inf."""
    if not parts:
        return np.full((rows, k), -1, dtype=np.int64), np.full((rows, k), np.inf)
    ids = np.concatenate([p[0] for p in parts], axis=1)
    dist = np.concatenate([p[1] for p in parts], axis=1)
    pad = ids < 0
    ids = np.where(pad, _PAD_ID, ids)
    dist = np.where(pad, np.inf, dist)
    if ids.shape[1] < k:  # fewer candidates than k in all: pad up to k
        extra = k - ids.shape[1]
        ids = np.concatenate([ids, np.full((rows, extra), _PAD_ID, dtype=np.int64)], axis=1)
        dist = np.concatenate([dist, np.full((rows, extra), np.inf)], axis=1)
    order = np.lexsort((ids, dist), axis=-1)[:, :k]
    best_ids = np.take_along_axis(ids, order, axis=1)
    best = np.take_along_axis(dist, order, axis=1)
    return np.where(best_ids == _PAD_ID, -1, best_ids), best
