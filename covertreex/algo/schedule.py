"""Prefix schedules: how many points the next insertion round takes.

Gu et al.'s prefix doubling keeps every round no larger than the tree it is inserted into, which keeps
each new point's conflict neighbourhood small.  ``adaptive`` also watches the mean neighbour-list size
of the previous round and stops growing (or shrinks) when rounds get crowded.
"""

from __future__ import annotations

from dataclasses import dataclass

from covertreex.runtime.config import check_choice

ADAPTIVE_TARGET_DEGREE = 8.0


@dataclass(frozen=True)
class PrefixSchedule:
    name: str
    batch_size: int | None

    def next_size(self, tree_size: int, remaining: int, previous_size: int, previous_degree: float) -> int:
        cap = remaining if self.batch_size is None else min(remaining, self.batch_size)
        if self.name == "none":
            return cap
        size = min(cap, tree_size)
        if self.name == "adaptive" and previous_size > 0:
            if previous_degree > 4 * ADAPTIVE_TARGET_DEGREE:
                size = min(size, max(1, previous_size // 2))
            elif previous_degree > ADAPTIVE_TARGET_DEGREE:
                size = min(size, previous_size)
        return max(1, size)


def prefix_schedule(name: str, batch_size: int | None) -> PrefixSchedule:
    return PrefixSchedule(check_choice("prefix_schedule", name), batch_size)
