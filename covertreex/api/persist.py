"""Saving a fitted Euclidean ``CoverTree`` to one ``.npz`` file and loading it back.

The file (format version 2) holds the tree's build arrays in position order — points, ids, levels,
parent positions, parent distances, radii — a SHA-256 checksum of them, and the Runtime as JSON.  A
file is untrusted input: loading never unpickles, checks the header, the checksum (a truncated or
altered file is refused), every array's dtype and shape, that the coordinates are finite and in the
supported range, and then rebuilds every derived array (children, subtree bounds, per-edge copies) from
the build arrays instead of reading them, and verifies the tree's structure, its cover invariant and
that every stored radius and parent distance is the recomputed one — so no file can make a search
read out of bounds or prune a true neighbour.  Version 1 files (all arrays, no checksum) still load:
their build arrays go through the same checks and the rest is rebuilt.
Residual trees also store their coordinates and fitted factors (``persist_residual``), checked the same way.
A tree that lost points to ``delete`` also stores its points' ids (``point_ids``, ascending, under the
checksum) and the next id to issue (header ``next_id``); without them the ids are 0..n-1.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from covertreex.algo.insert import insert_points
from covertreex.api.persist_residual import RESIDUAL_FIELDS, load_residual, residual_payload
from covertreex.api.tree import CoverTree
from covertreex.core.invariants import check_loaded, rooted_problem
from covertreex.core.tree import PCCTree
from covertreex.runtime.config import Runtime
from covertreex.validation import check_scale

FORMAT = "covertreex.tree"
FORMAT_VERSION = 2
BUILD_FIELDS = ("points", "ids", "level", "parent", "parent_dist", "radius")
_INT_FIELDS = ("ids", "level", "parent")
_FLOAT_FIELDS = ("parent_dist", "radius")


def checksum(arrays: dict) -> str:
    """SHA-256 over the stored arrays' dtypes, shapes and bytes (build arrays, then the residual
    metric's where present), in a fixed order."""
    h = hashlib.sha256()
    for name in BUILD_FIELDS + tuple(f for f in RESIDUAL_FIELDS + ("point_ids",) if f in arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_tree(tree: CoverTree, path: str | Path) -> Path:
    """Write a fitted tree to one ``.npz`` file (also ``covertreex.save_tree`` and ``CoverTree.save``).

    Parameters
    ----------
    tree : CoverTree
        A fitted tree (Euclidean, or residual with its coordinates and factors).
    path : str or Path
        Where to write; must end in ``.npz``.

    Returns
    -------
    Path
        The file written.
    """
    if not isinstance(tree, CoverTree):
        raise TypeError(f"tree must be a CoverTree, got {type(tree).__name__}")
    arrays = tree.arrays
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {str(path)!r}")
    build = dict(zip(BUILD_FIELDS, arrays.build_arrays()))
    header = {"format": FORMAT, "version": FORMAT_VERSION, "runtime": tree.runtime.describe()}
    if tree.runtime.metric == "residual":
        header["residual"], extra = residual_payload(tree)
        build.update(extra)
    if tree.next_id != tree.num_points:  # points were deleted: their ids are not the row numbers
        build["point_ids"] = np.ascontiguousarray(tree.ids)
        header["next_id"] = int(tree.next_id)
    header["sha256"] = checksum(build)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, header=np.array(json.dumps(header)), **build)
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
    try:
        with np.load(path, allow_pickle=False) as data:
            if "header" not in data.files:
                raise ValueError(f"{path}: not a covertreex tree file (no header)")
            header = _header(data["header"], path)
            residual = header["runtime"].get("metric") == "residual"
            fields = BUILD_FIELDS + (RESIDUAL_FIELDS if residual else ())
            missing = [f for f in fields if f not in data.files]
            if missing:
                raise ValueError(f"{path}: missing arrays {missing}")
            arrays = {f: data[f] for f in fields + (("point_ids",) if "point_ids" in data.files else ())}
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a readable tree file ({exc})") from None
    if header["version"] >= 2 and checksum(arrays) != header.get("sha256"):
        raise ValueError(f"{path}: checksum mismatch: the file was truncated or altered after it was saved")
    if residual and header["version"] < 2:
        raise ValueError(f"{path}: version 1 files hold Euclidean trees only")
    settings = {k: v for k, v in header["runtime"].items() if k != "residual"}
    precision = settings.get("precision", "float64")
    if precision not in ("float32", "float64"):
        raise ValueError(f"{path}: the saved Runtime's precision must be 'float32' or 'float64', got {precision!r}")
    _check_arrays(arrays, precision, path)
    labels, next_id = _point_ids(arrays, header, path)
    metric = coords = policy = fresh = None
    if residual:
        rows_by_id = np.empty_like(arrays["points"])
        rows_by_id[arrays["ids"]] = arrays["points"]
        policy, metric, coords, fresh = load_residual({**header.get("residual", {}), "runtime": header["runtime"]},
                                                      arrays, rows_by_id, path)
    try:
        runtime = Runtime(**settings, residual=policy)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the saved Runtime is not valid: {exc}") from None
    if fresh is not None:  # rows recomputed from the factors (another machine's rounding): a tree over them
        tree, _ = insert_points(None, fresh, runtime, metric)
        return CoverTree(runtime, _tree=tree, _metric=metric, _coords=coords, _labels=labels, _next_id=next_id)
    tree = PCCTree.from_build_arrays(*(arrays[f] for f in BUILD_FIELDS))
    try:
        check_loaded(tree, metric or runtime.metric_policy())
    except AssertionError as exc:
        raise ValueError(f"{path}: not a valid cover tree: {exc}") from None
    return CoverTree(runtime, _tree=tree, _metric=metric, _coords=coords, _labels=labels, _next_id=next_id)


def _point_ids(arrays: dict, header: dict, path: Path) -> tuple[np.ndarray | None, int]:
    """(the points' ids or None for 0..n-1, the next id to issue), checked."""
    n = arrays["points"].shape[0]
    next_id = header.get("next_id", n)
    if "point_ids" not in arrays:
        if next_id != n:
            raise ValueError(f"{path}: the header's next_id says points were deleted but the file holds no point_ids")
        return None, n
    ids = arrays["point_ids"]
    if ids.dtype != np.int64 or ids.shape != (n,):
        raise ValueError(f"{path}: point_ids must be int64 of shape ({n},), got {ids.dtype} {ids.shape}")
    if isinstance(next_id, bool) or not isinstance(next_id, int) or next_id < n:
        raise ValueError(f"{path}: the header's next_id must be an integer >= the {n} points, got {next_id!r}")
    if ids[0] < 0 or ids[-1] >= next_id or np.any(np.diff(ids) <= 0):
        raise ValueError(f"{path}: point_ids must be strictly increasing ids in [0, next_id = {next_id})")
    ids = ids.copy()
    ids.setflags(write=False)
    return ids, next_id


def _header(raw, path: Path) -> dict:
    try:
        header = json.loads(str(raw))
    except (json.JSONDecodeError, ValueError):
        raise ValueError(f"{path}: the header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") not in (1, 2):
        got = (header.get("format"), header.get("version")) if isinstance(header, dict) else (None, None)
        raise ValueError(f"{path}: expected {FORMAT} version 1 or {FORMAT_VERSION}, got {got[0]!r} version {got[1]!r}")
    if not isinstance(header.get("runtime"), dict):
        raise ValueError(f"{path}: the header holds no Runtime")
    return header


def _check_arrays(arrays: dict, precision: str, path: Path) -> None:
    """dtypes, shapes, finiteness and range of the build arrays, before anything reads them."""
    pts = arrays["points"]
    if pts.ndim != 2 or pts.shape[0] < 1 or pts.shape[1] < 1:
        raise ValueError(f"{path}: points must be a non-empty 2-D array, got shape {pts.shape}")
    if pts.dtype != np.dtype(precision):
        raise ValueError(f"{path}: points are {pts.dtype}, runtime says {precision}")
    n = pts.shape[0]
    for name in _INT_FIELDS + _FLOAT_FIELDS:
        a = arrays[name]
        want = np.int64 if name in _INT_FIELDS else np.float64
        if a.dtype != want or a.shape != (n,):
            raise ValueError(f"{path}: {name} must be {np.dtype(want)} of shape ({n},), got {a.dtype} {a.shape}")
    for name in ("points",) + _FLOAT_FIELDS:
        if not np.all(np.isfinite(arrays[name])):
            raise ValueError(f"{path}: {name} holds NaN or infinity")
    for name in _FLOAT_FIELDS:  # distances and radii (a negative leaf radius would cut true neighbours)
        if np.any(arrays[name] < 0):
            raise ValueError(f"{path}: {name} holds negative values")
    check_scale(pts, f"{path}: points", "coordinates")
    problem = rooted_problem(arrays["ids"], arrays["parent"])
    if problem:
        raise ValueError(f"{path}: not a tree rooted at position 0 in depth-first order: {problem}")
