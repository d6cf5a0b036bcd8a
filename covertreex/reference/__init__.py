"""Reference implementations: the brute-force oracle, a readable sequential cover tree, and the exact
KL divergence of a Vecchia approximation."""

from covertreex.reference.brute_force import brute_force_knn
from covertreex.reference.sequential import SequentialCoverTree
from covertreex.reference.vecchia import residual_covariance, vecchia_kl

__all__ = ["SequentialCoverTree", "brute_force_knn", "residual_covariance", "vecchia_kl"]
