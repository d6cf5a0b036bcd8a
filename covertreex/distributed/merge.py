"""Exact merge of per-shard k-NN answers: each shard returns its own top k by (distance, id) with
global ids, so the top k of their union by (distance, id) is the top k of all points — the same rule,
and the same bits, as one tree."""

from __future__ import annotations

import numpy as np

_PAD_ID = np.iinfo(np.int64).max  # sorts after every id at equal (infinite) distance


def merge_topk(best: tuple[np.ndarray, np.ndarray], found: tuple[np.ndarray, np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
    """``best``: (ids, distances) of shape (rows, k), the best k so far; ``found``: a shard's (rows, k_i)
    answer for the same rows; both padded with -1 / +inf.  Returns the k best of their union by
    (distance, id), padded with -1 / +inf."""
    k = best[0].shape[1]
    ids = np.concatenate([best[0], found[0]], axis=1)
    dist = np.concatenate([best[1], found[1]], axis=1)
    pad = ids < 0
    ids = np.where(pad, _PAD_ID, ids)
    dist = np.where(pad, np.inf, dist)
    order = np.lexsort((ids, dist), axis=-1)[:, :k]
    top_ids = np.take_along_axis(ids, order, axis=1)
    return np.where(top_ids == _PAD_ID, -1, top_ids), np.take_along_axis(dist, order, axis=1)
