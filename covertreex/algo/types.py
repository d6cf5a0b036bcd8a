"""Result records of the build algorithms (plain data, no behaviour)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PHASES = ("order", "traversal", "conflict_graph", "mis", "link")  # RoundStats.seconds_<phase>


@dataclass(frozen=True)
class LevelScope:
    """Conflict-graph scopes of the round's points that were placed at one level."""

    level: int  # cover-tree level (DUP_LEVEL for exact duplicates)
    points: int
    scope_mean: float
    scope_max: int


@dataclass(frozen=True)
class RoundStats:
    """What one prefix round of a batch insertion did."""

    round: int
    tree_size: int
    batch_size: int
    neighbour_edges: int
    parent_search_distances: int
    levels_processed: int
    mis_total: int
    luby_rounds: int
    max_candidates: int
    scope_mean: float  # conflict-graph degree (batch points within reach) per point of the round
    scope_p50: float
    scope_p95: float
    scope_max: int
    seconds_order: float
    seconds_traversal: float
    seconds_conflict_graph: float
    seconds_mis: float
    seconds_link: float
    levels: tuple[LevelScope, ...] = field(default=())  # one entry per level the round placed points at

    def as_dict(self) -> dict:
        return asdict(self)
