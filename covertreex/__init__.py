"""covertreex: an exact, parallel compressed cover tree for k-nearest-neighbour search."""

from covertreex.api.persist import load_tree, save_tree
from covertreex.api.tree import CoverTree
from covertreex.gates import Gate, GateProfile
from covertreex.metrics.residual import Residual
from covertreex.runtime.config import Runtime

__all__ = ["CoverTree", "Gate", "GateProfile", "Residual", "Runtime", "__version__", "load_tree", "save_tree"]
__version__ = "0.1.0"
