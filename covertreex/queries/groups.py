"""All-points k-NN in groups of nearby queries that share one tree walk (``_groups_numba``)."""

from __future__ import annotations

import numba
import numpy as np

from covertreex.core.tree import PCCTree, readonly_view
from covertreex.core.walk import walk_workspace
from covertreex.queries._groups_numba import group_chunk, query_groups
from covertreex.queries._knn_numba import COUNTERS
from covertreex.queries.types import KnnResult
from covertreex.threads import chunk_ranges, each_in_threads

# Shapes of the groups, measured on all-points 10-NN at n=131,072 (N(0, I) and clusters at d=3, uniform at
# d=2; 2 cores, medians of 3, against per-query walks in the same run): groups of at most 32 queries
# (16 on average) in super-groups of at most 128; 16 seed positions on each side of a group's range
# (8: looser seeds, more candidates); subtrees of at most 32 points taken whole by the walk; children
# joining a group at most 3 levels above its lowest one (a small, far-off cluster stays out).
GROUP_CAP = 32
SUPER_CAP = 128
SEED_WINDOW = 16
WHOLE_SUBTREE = 32
LEVEL_SPAN = 3
# A super-group whose walk collects more than this many points per member is spread out (outliers,
# sparse clusters): its members walk on their own instead.  Clustered data at d=3: 0.73 s with no such
# limit, 0.41-0.42 s at 200-400, 0.48 s at 50 (per-query walks: 0.69 s); N(0, I): 0.37-0.40 s at 100-400.
CROWD = 256
CHUNKS_PER_THREAD = 16


def partition(tree: PCCTree, small: int, big: int, span: int):
    """``_groups_numba.query_groups`` of the tree: (members, ptr, sptr) and the lone nodes, trimmed."""
    n = tree.num_points
    members, singles = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    ptr, sptr = np.empty(n + 1, dtype=np.int64), np.empty(n + 1, dtype=np.int64)
    groups, supers, lone = query_groups(tree.child_ptr, tree.child_idx, tree.subtree_end, tree.level, small, big, span,
                                        members, ptr, sptr, singles, np.empty(n, dtype=np.int64),
                                        np.empty(n, dtype=np.int64))
    return (members[: ptr[groups]], ptr[: groups + 1], sptr[: supers + 1]), singles[:lone]


def _coords(dim: int, count: int) -> np.ndarray:
    """Float64 coordinates of ``count`` points as columns (``_groups_numba._gather``)."""
    return np.empty((dim, count), dtype=np.float64)


def knn_all_grouped(tree: PCCTree, metric, k: int, small: int = GROUP_CAP, big: int = SUPER_CAP,
                    window: int = SEED_WINDOW, whole: int = WHOLE_SUBTREE, span: int = LEVEL_SPAN,
                    crowd: int = CROWD) -> tuple[KnnResult, np.ndarray]:
    """The k nearest other tree points of the tree points in groups (rows by id, exact): groups of at
    most ``small`` queries share the candidates of one walk per super-group of at most ``big``.
    Returns the result and the positions whose rows are still to be filled by walks of their own: lone
    nodes (``partition``) and the members of super-groups spread wider than ``crowd`` hits per member."""
    n, dim = tree.points.shape
    groups, singles = partition(tree, small, big, span)
    groups = tuple(map(readonly_view, groups))
    ptr, sptr = groups[1], groups[2]
    ids = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float64)
    evals = np.zeros(n, dtype=np.int64)
    counters = np.zeros((n, len(COUNTERS)), dtype=np.int64)
    slack = metric.prune_slack(tree.points)
    out, view, stack = (ids, dist, evals, counters), tree.view, tree.stack_size

    # A super-group with more hits than ``crowd`` per member is handed back, so storing
    # crowd * big + 1 hits is enough (the walk counts the rest): buffers stay small for any n.
    room = min(n, crowd * big + 1)
    seed_rows = small + 2 * window + 1

    def chunk(bounds):
        per_hit = (np.empty(room, dtype=np.int64), np.zeros(1, dtype=np.int64), _coords(dim, room))
        per_candidate = (np.empty(room, dtype=np.int64), np.empty(room, dtype=np.int64), _coords(dim, room),
                         np.empty(max(room, seed_rows), dtype=np.float64), np.empty(room, dtype=np.int64))
        per_member = (np.empty(big, dtype=np.float64), np.empty(big, dtype=np.float64))
        per_seed = (np.empty(seed_rows, dtype=np.int64), _coords(dim, seed_rows))
        best_d, best_i = np.empty(k, dtype=np.float64), np.empty(k, dtype=np.int64)
        members = ptr[sptr[bounds[1]]] - ptr[sptr[bounds[0]]]  # the most this chunk can hand back
        deferred, count = np.empty(members, dtype=np.int64), np.zeros(1, dtype=np.int64)
        group_chunk(*walk_workspace(stack), per_hit + per_candidate + per_member + per_seed, best_d, best_i, metric.slots, slack,
                    view, groups, window, whole, crowd, out, deferred, count, *bounds)
        walkers.append(deferred[: count[0]])

    walkers = [singles]
    each_in_threads(chunk, chunk_ranges(sptr.shape[0] - 1, CHUNKS_PER_THREAD * numba.get_num_threads()))
    return KnnResult(ids=ids, distances=dist, distance_evaluations=evals, traversal=counters), np.concatenate(walkers)
