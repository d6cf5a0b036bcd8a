"""Parallel batch insertion (Gu, Napier, Sun & Wang, SPAA 2022) into a compressed cover tree.

Points enter in prefix rounds.  In each round, in parallel, every new point finds its nearest tree node
that may be its parent; a conflict-graph strategy finds the new points near each other; levels are then
assigned top-down with a seeded Luby MIS per level (``_placement_numba``); finally parents, levels and
subtree radii are written.  The input tree is never modified: the result is a new ``PCCTree``.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numba
import numpy as np

from covertreex.algo._insert_numba import children_csr, link_batch, parents_chunk, root_score_needed
from covertreex.algo._mis_numba import priorities
from covertreex.algo.nets import net_tree
from covertreex.algo._placement_numba import place_batch
from covertreex.algo.conflict import conflict_graph_strategy
from covertreex.algo.order import batch_order
from covertreex.algo.parents_block import block_parents_pay, block_tree_parents, pilot_picks_blocks
from covertreex.algo.schedule import prefix_schedule
from covertreex.algo.types import LevelScope, RoundStats
from covertreex.core._levels_numba import DUP_LEVEL, NEG_SCORE
from covertreex.core._stack_numba import stack_bound
from covertreex.core.tree import PCCTree, readonly_view
from covertreex.core.walk import walk_workspace
from covertreex.threads import chunk_ranges, each_in_threads


# The round's points are split into this many chunks per thread for the parent search: points in dense
# regions cost more, so several chunks per thread balance the load.
CHUNKS_PER_THREAD = 8
MIN_CHUNK = 64  # points: a smaller chunk is not worth starting a thread for (~0.13 ms)
PILOT_RUNS, PILOT_RUN = 4, 16  # the block-search pilot: runs of consecutive batch points, spread over the round


def find_tree_parents(metric, slack, pts, level, parent, view, root: int, lo: int, hi: int):
    """For each batch point ``lo .. hi-1``, the nearest node of the growing tree (``view``, a ``BuildView``)
    that may be its parent, that distance, and the distances computed: ``parents_chunk`` over chunks of
    the batch on Numba's thread count.  In big rounds of Euclidean points in 4 to 47 coordinates a pilot
    of walks first measures the share of the tree they evaluate, and where it is large the block search
    answers instead (``algo.parents_block``; the same answers)."""
    b = hi - lo
    out = (np.empty(b, dtype=np.int64), np.empty(b, dtype=np.float64), np.empty(b, dtype=np.int64))
    # read-only views: the signature PCCTree.stack_size compiles (a writable one would compile another)
    stack = stack_bound(readonly_view(view.child_ptr), readonly_view(view.child_idx), root)

    def chunk(bounds):
        best = np.empty(1, dtype=np.int64)
        parents_chunk(*walk_workspace(stack), best, metric, slack, pts, level, parent, view, root, lo, *bounds, *out)

    if block_parents_pay(metric.kind, pts.shape[1], lo, b):  # Euclidean, 4 to 47 coordinates, big rounds
        pilot = [(int(t), int(t) + PILOT_RUN) for t in np.linspace(0, b - PILOT_RUN, PILOT_RUNS)]
        for bounds in pilot:
            chunk(bounds)
        if pilot_picks_blocks(float(np.mean([out[2][t0:t1] for t0, t1 in pilot])), lo):
            return block_tree_parents(pts, level, lo, hi)
    each_in_threads(chunk, chunk_ranges(b, CHUNKS_PER_THREAD * numba.get_num_threads(), MIN_CHUNK))
    return out


def _empty_arrays(capacity: int, dim: int, dtype) -> tuple:
    return (
        np.empty((capacity, dim), dtype=dtype),
        np.empty(capacity, dtype=np.int64),
        np.empty(capacity, dtype=np.int64),
        np.full(capacity, -1, dtype=np.int64),
        np.zeros(capacity, dtype=np.float64),
        np.zeros(capacity, dtype=np.float64),
    )


class BuildView(NamedTuple):
    """The growing tree as the parent search's walk reads it (``core._walk_numba``): children CSR and,
    per child in CSR order, copies that make a node's children contiguous in memory (the query side's
    ``TreeView`` counterpart)."""

    radius: np.ndarray  # per node
    child_ptr: np.ndarray
    child_idx: np.ndarray
    edge_points: np.ndarray
    edge_reach: np.ndarray  # 2**level: how far the child may be from a point it parents (-1: a duplicate, never)
    edge_radius: np.ndarray
    edge_parent_dist: np.ndarray
    edge_internal: np.ndarray  # the child has children of its own
    edge_subtree_reach: np.ndarray  # 2**(level-1): the farthest any point of the child's subtree may parent


def build_view(pts, level, parent, radius, dparent, n) -> BuildView:
    """``BuildView`` of the first ``n`` nodes."""
    child_ptr, child_idx = children_csr(parent, n)
    kids = child_idx[: child_ptr[n]]
    lv = level[kids]
    finite = lv > DUP_LEVEL
    scale = np.where(finite, np.ldexp(1.0, np.where(finite, lv, 0)), -1.0)
    return BuildView(radius, child_ptr, child_idx, np.ascontiguousarray(pts[kids]), scale, radius[kids],
                     dparent[kids], child_ptr[kids + 1] > child_ptr[kids], np.where(finite, 0.5 * scale, -1.0))


def _level_scopes(new_level: np.ndarray, degree: np.ndarray) -> tuple[LevelScope, ...]:
    """Per level the round placed points at (highest first): how many, and their conflict-graph degrees."""
    levels, inverse, counts = np.unique(new_level, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=degree, minlength=levels.size)
    maxima = np.zeros(levels.size, dtype=np.int64)
    np.maximum.at(maxima, inverse, degree)
    return tuple(LevelScope(int(lv), int(c), float(s / c), int(mx))
                 for lv, c, s, mx in zip(levels[::-1], counts[::-1], sums[::-1], maxima[::-1]))


def insert_points(tree: PCCTree | None, new_points: np.ndarray, runtime, metric,
                  progress=None) -> tuple[PCCTree, list[RoundStats]]:
    """Return a new tree holding ``tree``'s points and ``new_points`` (ids continue from ``tree``).

    ``new_points`` must already be validated and stored in the runtime's precision; ``progress``, when
    given, is called after every prefix round with (new points placed so far, new points in all).
    A fresh tree the runtime builds by nets (``Runtime.build``) comes from ``algo.nets`` in one step,
    with no rounds; the rounds take over where the nets cannot separate the points.
    """
    if tree is None and runtime.builds_by_nets(*new_points.shape):
        built = net_tree(metric, new_points)
        if built is not None:
            if progress is not None:
                progress(new_points.shape[0], new_points.shape[0])
            return built, []
    slots = metric.slots
    strategy = conflict_graph_strategy(runtime.resolved_conflict_graph(new_points.shape[1]))
    order = batch_order(runtime.batch_order)
    schedule = prefix_schedule(runtime.prefix_schedule, runtime.batch_size)
    n_old = 0 if tree is None else tree.num_points
    m = new_points.shape[0]
    n = n_old + m
    pts, ids, level, parent, dparent, radius = _empty_arrays(n, new_points.shape[1], new_points.dtype)
    if tree is not None:
        for dst, src in zip((pts, ids, level, parent, dparent, radius), tree.build_arrays()):
            dst[:n_old] = src
    sequence = order.membership(m, runtime.seed + n_old)
    pts[n_old:] = new_points[sequence]
    ids[n_old:] = n_old + sequence
    keys = order.round_keys(pts[n_old:, : metric.order_dims])
    cur = n_old
    if tree is None:
        level[0] = NEG_SCORE  # a lone root; raised as soon as a point needs it
        cur = 1
    stats: list[RoundStats] = []
    prev_size, prev_degree = 0, 0.0
    while cur < n:
        size = schedule.next_size(cur, n - cur, prev_size, prev_degree)
        lo, hi = cur, cur + size
        t0 = time.perf_counter()
        local = order.within_round(keys, lo - n_old, hi - n_old)
        if local is not None:
            pts[lo:hi] = pts[lo:hi][local]
            ids[lo:hi] = ids[lo:hi][local]
        t1 = time.perf_counter()
        level[0] = max(level[0], root_score_needed(slots, pts, 0, lo, hi))
        view = build_view(pts, level, parent, radius, dparent, cur)
        slack = metric.prune_slack(pts[:hi])
        best_p, best_d, search_evals = find_tree_parents(slots, slack, pts, level, parent, view, 0, lo, hi)
        t2 = time.perf_counter()
        nbr_ptr, nbr_idx, nbr_dist = strategy.neighbours(slots, pts, lo, hi, best_d, 0, slack)
        t3 = time.perf_counter()
        prio = priorities(runtime.seed, lo, size)
        new_level, new_parent, new_dist, place_stats = place_batch(lo, best_p, best_d, nbr_ptr, nbr_idx, nbr_dist, prio)
        t4 = time.perf_counter()
        link_batch(slots, pts, level, parent, dparent, radius, lo, hi, new_level, new_parent, new_dist)
        t5 = time.perf_counter()
        edges = int(nbr_ptr[-1])
        prev_size, prev_degree = size, edges / size
        degree = np.diff(nbr_ptr)
        p50, p95 = np.percentile(degree, [50, 95])
        stats.append(
            RoundStats(
                round=len(stats),
                tree_size=cur,
                batch_size=size,
                neighbour_edges=edges,
                parent_search_distances=int(search_evals.sum()),
                levels_processed=int(place_stats[0]),
                mis_total=int(place_stats[1]),
                luby_rounds=int(place_stats[2]),
                max_candidates=int(place_stats[3]),
                scope_mean=edges / size,
                scope_p50=float(p50),
                scope_p95=float(p95),
                scope_max=int(degree.max()),
                seconds_order=t1 - t0,
                seconds_traversal=t2 - t1,
                seconds_conflict_graph=t3 - t2,
                seconds_mis=t4 - t3,
                seconds_link=t5 - t4,
                levels=_level_scopes(new_level, degree),
            )
        )
        cur = hi
        if progress is not None:
            progress(cur - n_old, m)
    return PCCTree.from_build_arrays(pts, ids, level, parent, dparent, radius), stats
