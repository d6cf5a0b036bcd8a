"""Exact k-NN queries on a ``PCCTree``: at new coordinates, or for the tree's own points."""

from __future__ import annotations

import numba
import numpy as np

from covertreex.core.tree import PCCTree, readonly_view
from covertreex.core.walk import walk_workspace
from covertreex.metrics._distance_numba import EUCLIDEAN
from covertreex.queries._knn_numba import COUNTERS, NO_LIMIT, knn_chunk
from covertreex.queries.blockscan import scan_points, scan_self
from covertreex.queries.dense import dense_all_points, dense_knn, rows_by_id
from covertreex.queries.groups import knn_all_grouped
from covertreex.queries.types import KnnResult
from covertreex.threads import chunk_ranges, each_in_threads


# Subtrees of at most this many points are scanned as one contiguous range instead of bounded node by
# node.  Measured (all-points 10-NN, cKDTree in the same run): 64 is best up to three coordinates, where
# bounds prune well and distances are cheap; at d=8 (n=32,768) 256 answered ~25% faster than 64.
LEAF_SCAN_LOW_DIM, LEAF_SCAN_HIGH_DIM, LOW_DIM = 64, 256, 3
# All-points Euclidean queries up to this dimension run in groups sharing one walk (``queries.groups``).
# Measured (all-points 10-NN, n=131,072, 2 cores, medians of 5, same run): d=1 0.13 vs 0.18 s, d=2 0.20 vs
# 0.35 s, d=3 0.42 vs 0.72 s per-query walks; at d=8 (n=32,768) groups lose (5.5 vs 2.6 s): a group's
# ball then holds most of the data.
GROUPED_MAX_DIM = 3
# ... and from this many points: below it the gain is milliseconds, while compiling the group kernels
# costs ~10 s once per installation (Numba's cache keeps them), so small data never pays for them.
GROUPED_MIN_POINTS = 16_384
# Euclidean queries above GROUPED_MAX_DIM (all points, tree points, predecessor rows, new points) run as a
# block scan (``queries.blockscan``) when a pilot of tree searches evaluates at least this share of their
# candidate points: there a tree distance costs ~14 ns (d=8, one row at a time) and a block scan's at
# most ~3.3 ns, so from a quarter of the points on the scan of every block is no dearer, and its bounding
# boxes skip blocks.  Measured at d=8, n=32,768 (2
# cores): tree search 2.76 s, ~37% of the points evaluated; block scan 0.96 s.
BLOCK_SCAN_SHARE = 0.25
BLOCK_SCAN_MIN_POINTS = 4_096  # below this the pilot costs more than any choice saves
BLOCK_SCAN_MIN_ROWS = 1_024  # fewer query rows do not pay for cutting the points into leaves (~50 ms at 32k)
# Queries are split into this many chunks per thread: query costs vary (dense regions, predecessor rows
# of different lengths), so many small chunks keep both threads busy to the end.
CHUNKS_PER_THREAD = 16


def leaf_scan(kind: int, dim: int) -> int:
    """Largest subtree the search scans whole (Euclidean by dimension; residual rows are long: 64)."""
    return LEAF_SCAN_HIGH_DIM if kind == EUCLIDEAN and dim > LOW_DIM else LEAF_SCAN_LOW_DIM


def _run(tree: PCCTree, metric, queries, query_order, out_row, exclude, id_limit, k: int, n_out: int,
         into: KnnResult | None = None) -> KnnResult:
    """Per-query walks of ``query_order``'s rows, written to rows ``out_row`` of a new result of ``n_out``
    rows or of ``into``."""
    batch = tuple(map(readonly_view, (queries, query_order, out_row, exclude, id_limit)))
    if into is None:
        ids = np.empty((n_out, k), dtype=np.int64)
        dist = np.empty((n_out, k), dtype=np.float64)
        evals = np.zeros(n_out, dtype=np.int64)
        counters = np.zeros((n_out, len(COUNTERS)), dtype=np.int64)
    else:
        ids, dist, evals, counters = into.ids, into.distances, into.distance_evaluations, into.traversal
    slack = metric.prune_slack(tree.points, queries)
    scan = leaf_scan(metric.slots.kind, tree.points.shape[1])
    out, view, stack = (ids, dist, evals, counters), tree.view, tree.stack_size

    def chunk(bounds):
        best_d, best_i = np.empty(k, dtype=np.float64), np.empty(k, dtype=np.int64)
        knn_chunk(*walk_workspace(stack), best_d, best_i, metric.slots, slack, view, batch, out, scan, *bounds)

    each_in_threads(chunk, chunk_ranges(batch[1].shape[0], CHUNKS_PER_THREAD * numba.get_num_threads()))
    return KnnResult(ids=ids, distances=dist, distance_evaluations=evals, traversal=counters)


PILOT_QUERIES = 16  # tree queries run to decide between the tree and the dense residual search
# Per-distance cost model (ns) measured on the 2-core development machine: a tree evaluation fetches one
# feature row (memory-bound, ~0.55 ns per float64); the dense search pays BLAS flops plus a fused pass.
TREE_NS, TREE_NS_PER_FEATURE = 20.0, 0.55
DENSE_NS, DENSE_NS_PER_FEATURE = 4.0, 0.022


def dense_is_cheaper(tree_evals: float, dense_columns: float, features: int) -> bool:
    """Cost model: tree evaluations x tree cost vs screened columns x dense cost per pair."""
    return tree_evals * (TREE_NS + TREE_NS_PER_FEATURE * features) > dense_columns * (
        DENSE_NS + DENSE_NS_PER_FEATURE * features)


def _pick(engine: str, tree: PCCTree, pilot) -> str:
    """"tree"/"dense" as asked; "auto": a pilot of tree queries, then the cheaper engine by the model."""
    if engine != "auto":
        return engine
    tree_evals, dense_columns = pilot()
    return "dense" if dense_is_cheaper(tree_evals, dense_columns, tree.points.shape[1]) else "tree"


def _pilot_rows(count: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(count, PILOT_QUERIES)).astype(np.int64))


def knn_points(tree: PCCTree, metric, queries: np.ndarray, k: int, engine: str = "tree",
               limit: np.ndarray | None = None) -> KnnResult:
    """k nearest tree points of every row of ``queries`` (validated rows in the tree's feature layout);
    with ``limit``, row r's candidates are the ids below ``limit[r]``."""
    m = queries.shape[0]
    rows = np.arange(m, dtype=np.int64)
    none, free = np.full(m, -1, dtype=np.int64), np.full(m, NO_LIMIT)
    bound = free if limit is None else limit.astype(np.int64)

    def pilot():
        p = _pilot_rows(m)
        evals = _run(tree, metric, queries, p, np.arange(p.shape[0]), none[p], free[p], k, p.shape[0]
                     ).distance_evaluations.mean()
        return evals, float(tree.num_points)

    if m and _pick(engine, tree, pilot) == "dense":
        return dense_points(rows_by_id(tree), metric, queries, k, limit)
    if block_scan_may_pay(metric.slots.kind, *tree.points.shape, m) and _scan_pays(pilot):
        return scan_points(rows_by_id(tree), queries, k, limit)
    return _run(tree, metric, queries, rows, rows, none, bound, k, m)


def dense_points(rows: np.ndarray, metric, queries: np.ndarray, k: int, limit: np.ndarray | None = None
                 ) -> KnnResult:
    """The dense engine's ``knn_points``: ``rows`` are the feature rows in id order."""
    m = queries.shape[0]
    return dense_knn(rows, metric, queries, np.arange(m, dtype=np.int64), np.full(m, -1, dtype=np.int64),
                     np.full(m, NO_LIMIT) if limit is None else limit.astype(np.int64), k)


def dense_self(rows: np.ndarray, metric, k: int, query_ids: np.ndarray | None = None,
               predecessor: bool = False) -> KnnResult:
    """The dense engine's ``knn_self``: ``rows`` are the feature rows in id order."""
    if query_ids is None and not predecessor:
        return dense_all_points(rows, metric, k)
    ids = np.arange(rows.shape[0], dtype=np.int64) if query_ids is None else query_ids.astype(np.int64)
    return dense_knn(rows, metric, rows, ids, ids, ids if predecessor else np.full(ids.shape[0], NO_LIMIT), k)


def knn_self(tree: PCCTree, metric, k: int, query_ids: np.ndarray | None = None,
             predecessor: bool = False, engine: str = "tree") -> KnnResult:
    """The k nearest *other* tree points of tree points; row r belongs to point id ``query_ids[r]``
    (all ids in order when None).  ``predecessor``: only points with a smaller id are candidates.

    Queries run in tree (depth-first) order, so consecutive queries touch the same memory.  All-points
    Euclidean queries in up to ``GROUPED_MAX_DIM`` dimensions on ``GROUPED_MIN_POINTS`` or more points run
    in groups that share one walk (``queries.groups``).  In more dimensions, where a pilot of tree searches
    evaluates at least ``BLOCK_SCAN_SHARE`` of the candidate points, queries of ``BLOCK_SCAN_MIN_ROWS`` or
    more rows run as a block scan (``queries.blockscan``).  The answers are the same, bit for bit.
    """
    if query_ids is None:
        positions = np.arange(tree.num_points, dtype=np.int64)
        rows = tree.ids
    else:
        by_position = np.argsort(tree.position_of[query_ids], kind="stable")
        positions = tree.position_of[query_ids][by_position]
        rows = by_position.astype(np.int64)
    limit = tree.ids[positions] if predecessor else np.full(positions.shape[0], NO_LIMIT)

    def pilot():
        p = _pilot_rows(positions.shape[0])
        evals = _run(tree, metric, tree.points, positions[p], np.arange(p.shape[0]), positions[p], limit[p], k,
                     p.shape[0]).distance_evaluations.mean()
        # the dense search screens every candidate column: all points, or the ids below a predecessor row's
        columns = np.minimum(limit, tree.num_points).mean() if predecessor else float(tree.num_points)
        return evals, float(columns)

    if positions.shape[0] and _pick(engine, tree, pilot) == "dense":
        return dense_self(rows_by_id(tree), metric, k, query_ids, predecessor)
    if query_ids is None and not predecessor and grouped(metric.slots.kind, *tree.points.shape):
        return grouped_self(tree, metric, k)[0]
    if block_scan_may_pay(metric.slots.kind, *tree.points.shape, positions.shape[0]) and _scan_pays(pilot):
        return scan_self(rows_by_id(tree), k, query_ids, predecessor)
    return _run(tree, metric, tree.points, positions, rows, positions, limit, k, rows.shape[0])


def block_scan_may_pay(kind: int, n: int, dim: int, rows: int) -> bool:
    """Whether a query of ``rows`` rows against ``n`` points in ``dim`` coordinates runs the pilot that may
    pick the block scan (Euclidean above ``GROUPED_MAX_DIM``, from ``BLOCK_SCAN_MIN_POINTS`` points and
    ``BLOCK_SCAN_MIN_ROWS`` rows)."""
    return kind == EUCLIDEAN and dim > GROUPED_MAX_DIM and n >= BLOCK_SCAN_MIN_POINTS and rows >= BLOCK_SCAN_MIN_ROWS


def _scan_pays(pilot) -> bool:
    """The pilot's tree searches evaluated at least ``BLOCK_SCAN_SHARE`` of their candidate points."""
    evals, columns = pilot()
    return evals >= BLOCK_SCAN_SHARE * columns


def grouped_self(tree: PCCTree, metric, k: int, **shape) -> tuple[KnnResult, int]:
    """All-points k-NN in shared-walk groups (``queries.groups.knn_all_grouped``, ``shape`` its group
    parameters), the rows it hands back answered by walks of their own; also returns how many were."""
    result, lone = knn_all_grouped(tree, metric, k, **shape)
    if lone.size:  # lone nodes and spread-out super-groups
        _run(tree, metric, tree.points, lone, tree.ids[lone], lone, np.full(lone.shape[0], NO_LIMIT), k, 0, result)
    return result, int(lone.size)


def grouped(kind: int, points: int, dim: int) -> bool:
    """Do all-points queries run in shared-walk groups (Euclidean, up to ``GROUPED_MAX_DIM`` coordinates,
    from ``GROUPED_MIN_POINTS`` points)?"""
    return kind == EUCLIDEAN and dim <= GROUPED_MAX_DIM and points >= GROUPED_MIN_POINTS
