"""covertreex: an exact, parallel compressed cover tree for k-nearest-neighbour search."""

from covertreex.api.tree import CoverTree
from covertreex.runtime.config import Runtime

__all__ = ["CoverTree", "Runtime", "__version__"]
__version__ = "0.1.0"
