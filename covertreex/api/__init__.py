"""Public API: ``CoverTree`` and ``Runtime``."""

from covertreex.api.tree import CoverTree
from covertreex.runtime.config import Runtime

__all__ = ["CoverTree", "Runtime"]
