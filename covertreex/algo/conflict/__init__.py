"""Conflict-graph strategies, one module each, chosen by name from the Runtime.

Each finds, for every point x of an insertion round, the other batch points y with d(x, y) < R(x)
(R = distance to x's tree parent), returning CSR arrays ``(ptr, idx, dist)`` over batch-local
indices.  The sets are identical across strategies (tests check that the trees are identical too);
strategies differ in how candidate pairs are enumerated.  Every strategy offers
``neighbours(metric, pts, lo, hi, reach, root, slack)`` where ``metric`` is the kernels' ``MetricSlots``.
"""

from __future__ import annotations

from covertreex.algo.conflict.dense import DenseConflictGraph
from covertreex.algo.conflict.grid import GridConflictGraph
from covertreex.algo.conflict.kdtree import BLOCK_LEAF_SIZE, KdTreeConflictGraph
from covertreex.algo.conflict.screened import ScreenedConflictGraph
from covertreex.algo.conflict.segmented import SegmentedConflictGraph
from covertreex.runtime.config import check_choice

_STRATEGIES = {s.name: s for s in (GridConflictGraph(), KdTreeConflictGraph(),
                                   KdTreeConflictGraph("block", BLOCK_LEAF_SIZE, wide=True), SegmentedConflictGraph(),
                                   DenseConflictGraph(), ScreenedConflictGraph())}

__all__ = ["DenseConflictGraph", "GridConflictGraph", "KdTreeConflictGraph",
           "ScreenedConflictGraph", "SegmentedConflictGraph", "conflict_graph_strategy"]


def conflict_graph_strategy(name: str):
    """The strategy named ``name`` (a resolved ``Runtime.conflict_graph``: not "auto")."""
    if check_choice("conflict_graph", name) == "auto":
        raise ValueError("conflict_graph 'auto' must be resolved first (Runtime.resolved_conflict_graph)")
    return _STRATEGIES[name]
