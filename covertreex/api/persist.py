"""Saving a fitted Euclidean ``CoverTree`` to one ``.npz`` file and loading it back.

The file holds every flat array of the tree and its Runtime as JSON; loading re-validates the
Runtime and runs cheap consistency checks (sizes, dtype, id permutation), so a truncated or
foreign file fails with a clear error instead of giving wrong answers.
Residual trees are not saved yet (their fitted factors need a format of their own).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from covertreex.api.tree import CoverTree
from covertreex.core.tree import PCCTree
from covertreex.runtime.config import Runtime

FORMAT = "covertreex.tree"
FORMAT_VERSION = 1
_FIELDS = [f.name for f in dataclasses.fields(PCCTree)]


def save_tree(tree: CoverTree, path: str | Path) -> Path:
    """Write a fitted Euclidean tree to one ``.npz`` file (also ``covertreex.save_tree``).

    Parameters
    ----------
    tree : CoverTree
        A fitted tree with ``metric="euclidean"``.
    path : str or Path
        Where to write; must end in ``.npz``.

    Returns
    -------
    Path
        The file written.
    """
    if not isinstance(tree, CoverTree):
        raise TypeError(f"tree must be a CoverTree, got {type(tree).__name__}")
    if tree.runtime.metric != "euclidean":
        raise ValueError("save_tree supports metric='euclidean' trees only (residual factors are not saved yet)")
    arrays = tree.arrays
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {str(path)!r}")
    header = {"format": FORMAT, "version": FORMAT_VERSION, "runtime": tree.runtime.describe()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, header=np.array(json.dumps(header)), **{f: getattr(arrays, f) for f in _FIELDS})
    return path


def load_tree(path: str | Path) -> CoverTree:
    """Read a tree written by ``save_tree`` (also ``covertreex.load_tree``); never unpickles.

    Parameters
    ----------
    path : str or Path
        A ``.npz`` file written by ``save_tree``.

    Returns
    -------
    CoverTree
        The fitted tree, with the Runtime it was built with.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no tree file at {str(path)!r}")
    with np.load(path, allow_pickle=False) as data:
        if "header" not in data.files:
            raise ValueError(f"{path}: not a covertreex tree file (no header)")
        header = json.loads(str(data["header"]))
        if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: expected {FORMAT} version {FORMAT_VERSION}, got "
                             f"{header.get('format')!r} version {header.get('version')!r}")
        missing = [f for f in _FIELDS if f not in data.files]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing}")
        arrays = {f: np.ascontiguousarray(data[f]) for f in _FIELDS}
    runtime = Runtime(**{k: v for k, v in header["runtime"].items() if k != "residual"})
    n = arrays["ids"].shape[0]
    if n < 1 or arrays["points"].shape[0] != n or arrays["child_ptr"].shape != (n + 1,) or \
            not np.array_equal(np.sort(arrays["ids"]), np.arange(n)) or \
            not np.array_equal(arrays["position_of"][arrays["ids"]], np.arange(n)):
        raise ValueError(f"{path}: inconsistent tree arrays (sizes or id permutation)")
    if arrays["points"].dtype != np.dtype(runtime.precision):
        raise ValueError(f"{path}: points are {arrays['points'].dtype}, runtime says {runtime.precision}")
    for a in arrays.values():
        a.setflags(write=False)
    return CoverTree(runtime, _tree=PCCTree(**arrays))
