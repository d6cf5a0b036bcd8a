"""A small, readable sequential compressed cover tree (pure Python): the teaching baseline.

Points are inserted one at a time.  A new point x hangs under the *nearest* node p that may take it
(``d(x, p) <= 2**level(p)``) at level ``ceil(log2 d(x, p)) - 1``; this keeps both invariants:
a child q of p has ``d(p, q) <= 2**(level(q)+1)``, and nodes of level >= i are more than ``2**i``
apart.  Duplicates (d = 0) hang under their twin at level -inf.  Queries are exact best-first k-NN.
It is slow (Python loops) and exists to be read and to cross-check the Numba engine.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from covertreex.validation import as_points, check_k


def _level_for(d: float) -> float:
    """Smallest integer s with d <= 2**s, minus one (-inf for a duplicate)."""
    if d == 0.0:
        return -math.inf
    mantissa, exponent = math.frexp(d)
    return (exponent - 1 if mantissa == 0.5 else exponent) - 1


class SequentialCoverTree:
    def __init__(self, X):
        self.points = as_points(X, "X", np.float64, defines_scale=True)
        n = self.points.shape[0]
        self.level = [math.inf] + [0.0] * (n - 1)  # the root has no upper level
        self.parent = [-1] * n
        self.children: list[list[int]] = [[] for _ in range(n)]
        self.radius = [0.0] * n
        for i in range(1, n):
            self._insert(i)

    def _dist(self, i: int, q) -> float:
        # squares summed in coordinate order, as the oracle does: identical distances, identical ties
        return math.sqrt(sum((a - b) * (a - b) for a, b in zip(self.points[i].tolist(), q.tolist())))

    def _insert(self, i: int) -> None:
        x = self.points[i]
        best, best_d = -1, math.inf
        stack = [(0, self._dist(0, x))]
        while stack:
            p, d = stack.pop()
            allowed = d <= 2.0 ** self.level[p] if self.level[p] > -math.inf else False
            if allowed and d < best_d:
                best, best_d = p, d
            for c in self.children[p]:
                dc = self._dist(c, x)
                if dc - self.radius[c] <= best_d:  # something in c's subtree may still be nearer
                    stack.append((c, dc))
        self.parent[i] = best
        self.level[i] = _level_for(best_d)
        self.children[best].append(i)
        a = best
        while a >= 0:  # every ancestor's subtree now reaches x
            self.radius[a] = max(self.radius[a], self._dist(a, x))
            a = self.parent[a]

    def knn(self, Q, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact k nearest points of each row of ``Q``: (ids, distances), ordered by (distance, id)."""
        Q = as_points(Q, "Q", np.float64, dim=self.points.shape[1])
        k = check_k(k, self.points.shape[0], "the number of points")
        ids = np.empty((Q.shape[0], k), dtype=np.int64)
        dist = np.empty((Q.shape[0], k), dtype=np.float64)
        for r, q in enumerate(Q):
            found: list[tuple[float, int]] = []  # max-heap of the best k as (-d, -id)
            frontier = [(0.0, 0)]  # min-heap of (lower bound, node)
            while frontier:
                bound, p = heapq.heappop(frontier)
                if len(found) == k and bound > -found[0][0]:
                    break
                d = self._dist(p, q)
                if len(found) < k:
                    heapq.heappush(found, (-d, -p))
                elif (d, p) < (-found[0][0], -found[0][1]):
                    heapq.heapreplace(found, (-d, -p))
                for c in self.children[p]:
                    heapq.heappush(frontier, (max(0.0, d - self._dist(c, self.points[p]) - self.radius[c]), c))
            best = sorted((-nd, -ni) for nd, ni in found)
            ids[r] = [i for _, i in best]
            dist[r] = [d for d, _ in best]
        return ids, dist
