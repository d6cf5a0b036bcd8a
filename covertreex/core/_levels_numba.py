"""Integer level arithmetic of the compressed cover tree (exact, via frexp/ldexp).

Invariants: a child ``q`` of ``p`` has ``level(q) < level(p)`` and ``d(p, q) <= 2**(level(q) + 1)``;
points of level ``>= i`` are pairwise more than ``2**i`` apart.  A new point may hang under any node
``p`` with ``d <= 2**level(p)``; taking the *nearest* such node and the level ``level_score(d) - 1``
keeps both invariants (the builder relies on this).  Exact duplicates of a stored point cannot be separated at any level; they get the sentinel
level ``DUP_LEVEL`` and hang, at distance zero, under a node of finite level.
"""

from __future__ import annotations

import math

import numba as nb

NEG_SCORE = -(1 << 20)
DUP_LEVEL = NEG_SCORE - 1


@nb.njit(cache=True)
def level_score(d):
    """Smallest integer ``s`` with ``d <= 2**s`` (``NEG_SCORE`` for ``d == 0``)."""
    if d <= 0.0:
        return NEG_SCORE
    m, e = math.frexp(d)
    if m == 0.5:
        return e - 1
    return e


@nb.njit(cache=True)
def level_scale(level):
    """``2**level`` as a float (0 for the duplicate sentinel)."""
    if level <= DUP_LEVEL:
        return 0.0
    return math.ldexp(1.0, level)


@nb.njit(cache=True)
def can_parent(level, d):
    """True when a node of ``level`` at distance ``d`` may be the parent of a new point."""
    return level > DUP_LEVEL and d <= level_scale(level)
