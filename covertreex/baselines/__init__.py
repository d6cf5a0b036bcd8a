"""Reference implementations: the brute-force oracle and a readable sequential cover tree."""

from covertreex.baselines.brute_force import brute_force_knn
from covertreex.baselines.sequential import SequentialCoverTree

__all__ = ["SequentialCoverTree", "brute_force_knn"]
