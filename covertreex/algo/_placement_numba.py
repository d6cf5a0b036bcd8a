"""Top-down level placement of one round's points (Gu et al.'s per-level conflict graph + MIS).

Every batch point x starts with its nearest admissible tree parent (distance ``best_d``), which fixes
its highest possible level ``level_score(best_d) - 1``.  Levels are processed from the top: the points
whose current best allows level k form the candidates U_k; two candidates closer than ``2**k`` conflict;
a seeded Luby MIS of U_k is placed at level k; every placed point y then becomes an admissible parent
for the unplaced points x with ``d(x, y) <= 2**k``, which can only lower their level.  Whatever is
left with ``best_d == 0`` is an exact duplicate and hangs under its twin at the sentinel level.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from covertreex.algo._mis_numba import IN_SET, luby_mis
from covertreex.core._levels_numba import DUP_LEVEL, NEG_SCORE, level_scale, level_score


@nb.njit(cache=True)
def transpose_csr(ptr, idx, dist, b):
    counts = np.zeros(b + 1, dtype=np.int64)
    for e in range(ptr[b]):
        counts[idx[e] + 1] += 1
    for v in range(b):
        counts[v + 1] += counts[v]
    fill = counts[:b].copy()
    ridx = np.empty(ptr[b], dtype=np.int64)
    rdist = np.empty(ptr[b], dtype=np.float64)
    for v in range(b):
        for e in range(ptr[v], ptr[v + 1]):
            u = idx[e]
            ridx[fill[u]] = v
            rdist[fill[u]] = dist[e]
            fill[u] += 1
    return counts, ridx, rdist


@nb.njit(cache=True)
def place_batch(lo, best_p, best_d, nbr_ptr, nbr_idx, nbr_dist, prio):
    """Return (levels, parents, parent distances, stats) for the round's points.

    ``best_p``/``best_d`` hold the tree parents on entry and are updated in place.
    ``stats`` = [levels processed, total MIS size, total Luby rounds, max candidate-set size].
    """
    b = best_p.shape[0]
    rptr, ridx, rdist = transpose_csr(nbr_ptr, nbr_idx, nbr_dist, b)
    score = np.empty(b, dtype=np.int64)
    for v in range(b):
        score[v] = level_score(best_d[v])
    levels = np.full(b, DUP_LEVEL, dtype=np.int64)
    placed = np.zeros(b, dtype=np.bool_)
    stamp_of = np.full(b, -1, dtype=np.int64)
    status = np.zeros(b, dtype=np.int64)
    members = np.empty(b, dtype=np.int64)
    stats = np.zeros(4, dtype=np.int64)
    stamp = np.int64(0)  # int64, not a literal: one compiled luby_mis (see _distance_numba)
    while True:
        top = NEG_SCORE
        for v in range(b):
            if not placed[v] and score[v] > top:
                top = score[v]
        if top == NEG_SCORE:
            break
        k = top - 1
        scale = level_scale(k)
        nm = 0
        for v in range(b):
            if not placed[v] and score[v] == top:
                members[nm] = v
                stamp_of[v] = stamp
                nm += 1
        cand = members[:nm]
        stats[2] += luby_mis(cand, stamp_of, stamp, nbr_ptr, nbr_idx, nbr_dist, scale, prio, status)
        stats[0] += 1
        stats[3] = max(stats[3], nm)
        for v in cand:
            if status[v] == IN_SET:
                placed[v] = True
                levels[v] = k
                stats[1] += 1
        for y in cand:
            if status[y] != IN_SET:
                continue
            node = lo + y
            for e in range(rptr[y], rptr[y + 1]):
                x = ridx[e]
                d = rdist[e]
                if placed[x] or d > scale:
                    continue
                if d < best_d[x] or (d == best_d[x] and node < best_p[x]):
                    best_d[x] = d
                    best_p[x] = node
                    score[x] = level_score(d)
        stamp += 1
    return levels, best_p, best_d, stats
