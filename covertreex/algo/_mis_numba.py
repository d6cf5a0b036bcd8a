"""Luby's maximal independent set with fixed, seeded priorities.

A candidate joins in a round when its priority beats every undecided neighbour's; joined vertices
knock their neighbours out; repeat.  With fixed priorities the result does not depend on the order in
which vertices or edges are stored (it equals the greedy MIS in priority order), so a seed fixes it.
"""

from __future__ import annotations

import numba as nb
import numpy as np

UNDECIDED = 0
IN_SET = 1
OUT = 2


@nb.njit(cache=True)
def splitmix64(x):
    z = (np.uint64(x) + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True)
def priorities(seed, first_node, count):
    """Seeded priorities for nodes ``first_node .. first_node+count-1`` (a function of node index)."""
    out = np.empty(count, dtype=np.uint64)
    s = splitmix64(np.uint64(seed))
    for t in range(count):
        out[t] = splitmix64(s ^ splitmix64(np.uint64(first_node + t)))
    return out


@nb.njit(cache=True)
def _beats(prio, a, b):
    return prio[a] > prio[b] or (prio[a] == prio[b] and a < b)


@nb.njit(cache=True)
def luby_mis(members, member_stamp, stamp, nbr_ptr, nbr_idx, nbr_dist, scale, prio, status):
    """MIS of ``members`` under edges ``d <= scale`` of the neighbour CSR restricted to members.

    ``member_stamp[v] == stamp`` marks membership; ``status`` is a work array indexed like the batch.
    Returns the number of Luby rounds; vertices with ``status == IN_SET`` form the set.
    """
    for v in members:
        status[v] = UNDECIDED
    winners = np.empty(members.shape[0], dtype=np.int64)
    rounds = 0
    remaining = members.shape[0]
    while remaining > 0:
        rounds += 1
        nwin = 0
        for v in members:
            if status[v] != UNDECIDED:
                continue
            wins = True
            for e in range(nbr_ptr[v], nbr_ptr[v + 1]):
                u = nbr_idx[e]
                if member_stamp[u] == stamp and status[u] == UNDECIDED and nbr_dist[e] <= scale:
                    if _beats(prio, u, v):
                        wins = False
                        break
            if wins:
                winners[nwin] = v
                nwin += 1
        for w in range(nwin):
            status[winners[w]] = IN_SET
            remaining -= 1
        for w in range(nwin):
            v = winners[w]
            for e in range(nbr_ptr[v], nbr_ptr[v + 1]):
                u = nbr_idx[e]
                if member_stamp[u] == stamp and status[u] == UNDECIDED and nbr_dist[e] <= scale:
                    status[u] = OUT
                    remaining -= 1
    return rounds
