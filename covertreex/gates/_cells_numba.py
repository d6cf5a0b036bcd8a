"""The cell layout's screen and exact re-check for one cell's queries (``gates.cells``)."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import point_distance
from covertreex.queries._dense_numba import _heap_offer
from covertreex.queries._knn_numba import offer


@nb.njit(inline="always", cache=True)
def _rho_bounds(a, sp_q, se_q, wn_q, sp_y, se_y, wn_y, gamma32, scalar):
    """(lower, upper) bounds on the |rho| the scalar kernel computes, from the screen's product ``a``."""
    s = sp_q * sp_y
    centre = abs(a) / s
    err = (se_q * se_y + gamma32 * wn_q * wn_y + scalar) / s
    return max(centre - err, 0.0), centre + err


@nb.njit(cache=True, nogil=True)
def cell_search(residual, fq, q_rows, fx, prod, halo, sp_h, se_h, wn_h, sp_q, se_q, wn_q, exclude, limit, prefix,
                gamma32, scalar, heap, upper, out_ids, out_dist, evals):
    """Queries ``fq[q_rows[t]]`` against the first ``prefix[t]`` points of one cell's halo (ids ``halo``;
    ``prod[t, j]`` = the screen's W_q . W_y, float32): the k nearest by the exact scalar distance among
    those halo points that are not ``exclude[t]`` and have ids < ``limit[t]``, ordered by (distance,
    id) into ``out_ids``/``out_dist`` (k columns; -1 / +inf padding).  A point is re-checked exactly
    only when its upper bound on |rho| reaches the k-th largest lower bound (ties kept); ``evals[t]``
    counts the re-checks.  ``sp``/``se``/``wn``: sqrt(p), sqrt(e), |W| of the halo (``_h``) and the
    queries (``_q``); ``heap``: room for k numbers, ``upper``: for a halo's length."""
    k = out_ids.shape[1]
    for t in range(q_rows.shape[0]):
        size = 0
        for j in range(prefix[t]):
            y = halo[j]
            if y == exclude[t] or y >= limit[t]:
                upper[j] = -1.0  # never re-checked
                continue
            low, upper[j] = _rho_bounds(prod[t, j], sp_q[t], se_q[t], wn_q[t], sp_h[j], se_h[j], wn_h[j], gamma32,
                                        scalar)
            size = _heap_offer(heap, size, k, low)
        kth = heap[0] if size == k else 0.0  # fewer than k candidates: every one (upper bounds are >= 0)
        for j in range(k):
            out_ids[t, j] = -1
            out_dist[t, j] = np.inf
        count = 0
        for j in range(prefix[t]):
            if upper[j] >= kth:
                y = halo[j]
                offer(out_dist[t], out_ids[t], point_distance(residual, fq, q_rows[t], fx, y), y)
                count += 1
        evals[t] = count
    return 0
