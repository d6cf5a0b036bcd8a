"""Screen and exact re-check of the blocked dense residual search (see ``queries.dense``).

Per query row r and column c the screen forms, from the BLAS block G ~ V_r . V_c and an approximate
kernel value, a = |k - G| and the column's upper bound ``up = (a + E) / sqrt(p_c)`` on
|rho| sqrt(p_r), where E bounds |a - the scalar path's |k - V_r . V_c|| for every pair.  It keeps the
k largest lower bounds ``(a - E) / sqrt(p_c)`` in a min-heap; their smallest gives the row's threshold
(in rho units, relaxed by ``RHO_REL`` and ``RHO_ABS`` for the scalar path's own roundings and capped at
1 where the distance clamps to 0).  A column whose upper bound reaches the threshold is a candidate;
every true top-k column is one, because k columns already have |rho| at least the threshold.  The
re-check computes candidates with ``point_distance``, the kernel every search and the oracle use, and
keeps the top k by (distance, id): the result is exactly the tree search's.

The per-pair work is straight-line loops the compiler vectorises (squared distance, approximate
kernel, bound); only columns that pass the threshold, a few per row once the heap is full, branch.
The kernels run serially and release the GIL: ``queries.dense`` runs one row block per thread.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.kernels._approx_numba import fill_kernel
from covertreex.metrics._distance_numba import point_distance
from covertreex.queries._knn_numba import offer

RHO_REL = 1e-13  # relative rounding of |rho| = |num| / sqrt(p_r p_c) against (a +- E) u_r u_c
RHO_ABS = 1e-14  # |rho| values this close map to the same rounded distance: never cut between them
CHUNK = 512  # columns per vectorised pass (three arrays of this length stay in L1)
GROUP = 32  # a chunk with a candidate is searched group by group: only groups holding one are scanned


@nb.njit(inline="always", cache=True)
def _threshold(hmin, ur):
    """A column's upper bound (units of ``up``) must reach this to hold a top-k candidate."""
    t = hmin * ur * (1.0 - RHO_REL)
    if t > 1.0:
        t = 1.0  # |rho| >= 1 clamps to distance 0: every such column ties there
    return (t - RHO_ABS) / (ur * (1.0 + RHO_REL))


@nb.njit(inline="always", cache=True)
def _heap_offer(heap, size, k, value):
    """Keep the k largest values in the min-heap ``heap[:size]``; returns the new size."""
    if size < k:
        pos = size
        size += 1
        while pos > 0:
            parent = (pos - 1) // 2
            if heap[parent] <= value:
                break
            heap[pos] = heap[parent]
            pos = parent
        heap[pos] = value
        return size
    if value <= heap[0]:
        return size
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= value:
            break
        heap[pos] = heap[child]
        pos = child
    heap[pos] = value
    return size


@nb.njit(inline="always", cache=True)
def _squared_distances(Xt, lo, hi, point, dim, r2):
    """r2[c] = |point - column lo + c|^2 over the scaled coordinates, in the scalar kernel's order
    (0 + x * x is exact); 1-D slices of ``Xt`` (D, n) let the loops vectorise."""
    xs, xd = Xt[0, lo:hi], point[0]
    for c in range(hi - lo):
        diff = xd - xs[c]
        r2[c] = diff * diff
    for d in range(1, dim):
        xs, xd = Xt[d, lo:hi], point[d]
        for c in range(hi - lo):
            diff = xd - xs[c]
            r2[c] += diff * diff


@nb.njit(cache=True)
def _flush(metric, Fq, qi, Fx, cand_id, cand_up, count, thr, best_d, best_i):
    """Candidate buffer full: drop the ones below the threshold; if still half full, re-check them all
    exactly into the row's best list.  Returns the candidates kept."""
    kept = 0
    for j in range(count):
        if cand_up[j] >= thr:
            cand_id[kept] = cand_id[j]
            cand_up[kept] = cand_up[j]
            kept += 1
    if 2 * kept <= cand_id.shape[0]:
        return kept
    for j in range(kept):
        offer(best_d, best_i, point_distance(metric, Fq, qi, Fx, cand_id[j]), cand_id[j])
    return 0


@nb.njit(inline="always", cache=True)
def _take(metric, Fq, qi, Fx, r, col, up, low, ur, k, heap, heap_n, thr, cand_id, cand_up, cand_n, best_d, best_i):
    """Column ``col`` reached the threshold of state row ``r`` (query ``qi`` of Fq, 1/sqrt(p) ``ur``):
    buffer it with its upper bound ``up`` (flushing a full buffer) and offer its lower bound ``low``
    to the row's heap, tightening the threshold once the heap holds k."""
    cn = cand_n[r]
    if cn == cand_id.shape[1]:
        cn = _flush(metric, Fq, qi, Fx, cand_id[r], cand_up[r], cn, thr[r], best_d[r], best_i[r])
    cand_id[r, cn] = col
    cand_up[r, cn] = up
    cand_n[r] = cn + 1
    hn = _heap_offer(heap[r], heap_n[r], k, low)
    heap_n[r] = hn
    if hn == k:
        thr[r] = _threshold(heap[r, 0], ur)


@nb.njit(nogil=True, cache=True)
def screen_block(metric, E, Fq, q_rows, Cq, uq, Fx, Xt, ux, c0, col_stop, exclude, G, k,
                 heap, heap_n, thr, cand_id, cand_up, cand_n, best_d, best_i):
    """Screen rows r (query ``q_rows[r]`` of Fq) against columns ``c0 .. c0 + col_stop[r] - 1``.

    ``Cq`` (rows, D): the rows' scaled coordinates, ``uq``: their 1/sqrt(p); ``Xt`` (D, n): all
    columns' scaled coordinates transposed, ``ux``: their 1/sqrt(p); ``G[r, c]`` ~ V_q . V_(c0 + c);
    ``exclude[r]``: an id never reported (the query itself, or -1).  The per-row state (heap, threshold,
    candidate buffer, exact best list) carries over from block to block.
    """
    code, variance, dim = metric.kernel, metric.variance, metric.dim
    two_e = 2.0 * E
    for r in range(q_rows.shape[0]):
        stop = col_stop[r]
        if stop <= 0:
            continue
        qi = q_rows[r]
        ur = uq[r]
        ex = exclude[r] - c0
        r2 = np.empty(CHUNK, dtype=np.float64)
        val = np.empty(CHUNK, dtype=np.float64)
        t = thr[r]
        for s in range(0, stop, CHUNK):
            n = min(CHUNK, stop - s)
            lo, hi = c0 + s, c0 + s + n
            _squared_distances(Xt, lo, hi, Cq[r], dim, r2)
            fill_kernel(code, variance, r2, val, n)
            g, u = G[r, s:s + n], ux[lo:hi]
            hit = False
            for c in range(n):
                up = (abs(val[c] - g[c]) + E) * u[c]
                val[c] = up
                hit |= up >= t
            if not hit:  # the common case once the heap is full: no branch per column
                continue
            for g0 in range(0, n, GROUP):  # find the groups holding a candidate, scan only those
                g1 = min(n, g0 + GROUP)
                hit = False
                for c in range(g0, g1):
                    hit |= val[c] >= t
                if not hit:
                    continue
                for c in range(g0, g1):
                    up = val[c]
                    if up < t or s + c == ex:
                        continue
                    col = c0 + s + c
                    _take(metric, Fq, qi, Fx, r, col, up, up - two_e * ux[col], ur, k, heap, heap_n, thr,
                          cand_id, cand_up, cand_n, best_d, best_i)
                    t = thr[r]
    return 0


@nb.njit(nogil=True, cache=True)
def finish_rows(metric, Fq, q_rows, Fx, thr, cand_id, cand_up, cand_n, best_d, best_i):
    """Exact re-check of each row's candidates that still reach its final threshold into ``best_d/best_i``
    (filled with +inf / -1 before the first block): rows end sorted by (distance, id), padded with
    +inf / -1."""
    for r in range(q_rows.shape[0]):
        qi = q_rows[r]
        for j in range(cand_n[r]):
            if cand_up[r, j] >= thr[r]:
                col = cand_id[r, j]
                offer(best_d[r], best_i[r], point_distance(metric, Fq, qi, Fx, col), col)
    return 0


@nb.njit(nogil=True, cache=True)
def screen_pair(metric, E, F, Xt, ux, i0, j0, G, k, heap, heap_n, thr, cand_id, cand_up, cand_n, best_d, best_i):
    """Both directions of an off-diagonal block pair of the all-points search: rows ``i0 .. i0 + G.shape[0]
    - 1`` against columns ``j0 .. j0 + G.shape[1] - 1`` and those columns, as rows, against the first
    rows (the blocks do not overlap, so no id meets itself).  ``G[i - i0, j - j0]`` ~ V_i . V_j; each
    entry's kernel value and |k - G| are computed once and bound both rows.  The state arrays are
    indexed by row id (all rows of ``F``, which holds the feature rows in id order)."""
    code, variance, dim = metric.kernel, metric.variance, metric.dim
    two_e = 2.0 * E
    ni, nj = G.shape
    r2 = np.empty(CHUNK, dtype=np.float64)
    val = np.empty(CHUNK, dtype=np.float64)
    for r in range(ni):
        i = i0 + r
        ui = ux[i]
        for s in range(0, nj, CHUNK):
            n = min(CHUNK, nj - s)
            lo, hi = j0 + s, j0 + s + n
            _squared_distances(Xt, lo, hi, Xt[:, i], dim, r2)
            fill_kernel(code, variance, r2, val, n)
            g, u, tj = G[r, s:s + n], ux[lo:hi], thr[lo:hi]
            ti = thr[i]
            hit_i = False
            hit_j = False
            for c in range(n):
                a = abs(val[c] - g[c]) + E
                val[c] = a
                hit_i |= a * u[c] >= ti
                hit_j |= a * ui >= tj[c]
            if hit_i:  # row i: the columns whose bound reaches its threshold (which may tighten)
                for c in range(n):
                    up = val[c] * u[c]
                    if up >= thr[i]:
                        _take(metric, F, i, F, i, lo + c, up, up - two_e * u[c], ui, k, heap, heap_n, thr,
                              cand_id, cand_up, cand_n, best_d, best_i)
            if hit_j:  # rows j: column i, for the rows it reaches
                for c in range(n):
                    up = val[c] * ui
                    if up >= thr[lo + c]:
                        _take(metric, F, lo + c, F, lo + c, i, up, up - two_e * ui, u[c], k, heap, heap_n, thr,
                              cand_id, cand_up, cand_n, best_d, best_i)
    return 0
