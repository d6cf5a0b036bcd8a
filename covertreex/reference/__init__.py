"""Reference implementations: the brute-force oracle and a readable sequential cover tree."""

from covertreex.reference.brute_force import brute_force_knn
from covertreex.reference.sequential import SequentialCoverTree

__all__ = ["SequentialCoverTree", "brute_force_knn"]
