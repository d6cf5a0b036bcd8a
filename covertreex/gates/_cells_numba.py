"""The cell layout's screen and exact re-check for one cell's queries (``gates.cells``)."""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.metrics._distance_numba import point_distance
from covertreex.queries._dense_numba import _heap_offer
from covertreex.queries._knn_numba import offer


@nb.njit(inline="always", cache=True)
def _rho_bounds(a, ip_q, se_q, wn_q, ip_y, se_y, wn_y, gamma32, scalar):
    """(lower, upper) bounds on the |rho| the scalar kernel computes, from the screen's product ``a``
    (``ip``: 1 / sqrt(p), ``se``: sqrt(e), ``wn``: |W|).  Products, not a division: the bounds' room
    covers their rounding (relative 1e-15 against BOUND_ROOM's 1e-3)."""
    s = ip_q * ip_y
    centre = abs(a) * s
    err = (se_q * se_y + gamma32 * wn_q * wn_y + scalar) * s
    return max(centre - err, 0.0), centre + err


@nb.njit(cache=True, nogil=True)
def _bounds(prod, halo, ip_h, se_h, wn_h, ip, se, wn, ex, lim, gamma32, scalar, size, lower, upper):
    """``lower``/``upper`` of the first ``size`` halo points for one query (-1 for the points left out:
    ``ex`` and ids >= ``lim``); returns how many are left in.  Branch-free, so that it vectorises."""
    valid = 0
    for j in range(size):
        y = halo[j]
        low, up = _rho_bounds(np.float64(prod[j]), ip, se, wn, ip_h[j], se_h[j], wn_h[j], gamma32, scalar)
        keep = (y != ex) & (y < lim)
        lower[j] = low if keep else -1.0
        upper[j] = up if keep else -1.0
        valid += np.int64(keep)
    return valid


@nb.njit(cache=True, nogil=True)
def cell_search(residual, fq, q_rows, fx, prod, halo, ip_h, se_h, wn_h, ip_q, se_q, wn_q, exclude, limit, prefix,
                gamma32, scalar, heap, lower, upper, out_ids, out_dist, evals):
    """Queries ``fq[q_rows[t]]`` against the first ``prefix[t]`` points of one cell's halo (ids ``halo``;
    ``prod[t, j]`` = the screen's W_q . W_y, float32): the k nearest by the exact scalar distance among
    those halo points that are not ``exclude[t]`` and have ids < ``limit[t]``, ordered by (distance,
    id) into ``out_ids``/``out_dist`` (k columns; -1 / +inf padding).  A point is re-checked exactly
    only when its upper bound on |rho| reaches the k-th largest lower bound (ties kept); ``evals[t]``
    counts the re-checks.  ``ip``/``se``/``wn``: 1 / sqrt(p), sqrt(e), |W| of the halo (``_h``) and the
    queries (``_q``); ``heap``: room for k numbers, ``lower``/``upper``: for a halo's bounds."""
    k = out_ids.shape[1]
    for t in range(q_rows.shape[0]):
        size = prefix[t]
        ex, lim = exclude[t], limit[t]
        valid = _bounds(prod[t], halo, ip_h, se_h, wn_h, ip_q[t], se_q[t], wn_q[t], ex, lim, gamma32, scalar, size,
                        lower, upper)
        # the k-th largest lower bound (lower bounds are >= 0); fewer than k candidates: every one
        kth = 0.0
        if valid >= k:
            filled = 0
            for j in range(size):
                if filled < k or lower[j] > heap[0]:
                    filled = _heap_offer(heap, filled, k, lower[j])
            kth = heap[0]
        for j in range(k):
            out_ids[t, j] = -1
            out_dist[t, j] = np.inf
        count = 0
        for j in range(size):
            if upper[j] >= kth:
                y = halo[j]
                offer(out_dist[t], out_ids[t], point_distance(residual, fq, q_rows[t], fx, y), y)
                count += 1
        evals[t] = count
    return 0
