"""Input checks shared by the public API: raise before any work, naming the argument."""

from __future__ import annotations

import math
import numbers

import numpy as np

_EXACT_INT_LIMIT = {np.dtype(np.float64): 2**53, np.dtype(np.float32): 2**24}
_F64 = np.finfo(np.float64)
# Points spread over less than this (largest max - min over the columns), but not all equal, cannot be
# told apart by float64 squared distances: their differences square below the smallest normal number.
SMALLEST_SPREAD = math.sqrt(_F64.tiny) / _F64.eps


def coordinate_limit(dim: int) -> float:
    """Largest |coordinate| the engine accepts in ``dim`` columns: any two such points have a squared
    distance d (2 M)^2 <= DBL_MAX / 4, so no distance or pruning sum overflows."""
    return math.sqrt(_F64.max / (16.0 * dim))


def spread_underflows(arr: np.ndarray) -> bool:
    """True when the points are not all equal but spread over less than ``SMALLEST_SPREAD``."""
    if not arr.size:
        return False
    spread = float((arr.max(axis=0).astype(np.float64) - arr.min(axis=0)).max())
    return 0.0 < spread < SMALLEST_SPREAD


def check_scale(arr: np.ndarray, name: str, what: str = "coordinates", underflow: bool = False) -> None:
    """Reject coordinates whose squared distances would overflow; with ``underflow`` (data that sets
    the scale: a fit's points) also points spread too little for squared distances to tell them apart."""
    if not arr.size:
        return
    top = max(float(arr.max()), -float(arr.min()))  # |x| at most: no temporary the size of the data
    limit = coordinate_limit(arr.shape[1])
    if top > limit:
        raise ValueError(f"{name} has {what} up to {top:.3g} in magnitude; with {arr.shape[1]} columns the "
                         f"supported range is |x| <= {limit:.3g} (squared distances would overflow): rescale the data")
    if underflow and spread_underflows(arr):
        raise ValueError(f"{name}'s points differ by less than {SMALLEST_SPREAD:.3g} in every column but are not "
                         "all equal; squared distances at that scale underflow to zero: rescale the data")


def as_points(value, name: str, dtype: np.dtype, dim: int | None = None, allow_empty: bool = False,
              defines_scale: bool = False) -> np.ndarray:
    """Validate a (n, d) array of finite real numbers and return it as C-contiguous ``dtype``.

    Coordinates must lie within ``coordinate_limit(d)``; ``defines_scale`` (the points a tree or an
    oracle is built on) also refuses points that differ but spread over less than ``SMALLEST_SPREAD``.

    Integers are accepted only when ``dtype`` represents them exactly; float64 data stored at
    ``float32`` precision is rounded, which is what ``Runtime(precision="float32")`` asks for.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a 2-D array of real numbers, got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers (float or int dtype), got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n_points, n_dims), got {arr.ndim}-D shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one column, got shape {arr.shape}")
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {arr.shape}); at least one point is required")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{_plural(name)} {arr.shape[1]} columns, the tree has {dim}")
    target = np.dtype(dtype)
    if np.issubdtype(arr.dtype, np.integer):
        limit = _EXACT_INT_LIMIT[target]
        if arr.size and int(np.abs(arr).max()) > limit:
            raise ValueError(f"{name} has integers beyond {limit}, which {target} cannot represent exactly")
    elif arr.size and not (np.isfinite(arr.max()) and np.isfinite(arr.min())):  # NaN propagates, inf is an end
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or infinity (first at {name}[{bad[0]}, {bad[1]}])")
    if target == np.float32 and arr.dtype == np.float64 and arr.size and np.abs(arr).max() > np.finfo(np.float32).max:
        raise ValueError(f"{name} has values beyond the float32 range")
    out = np.ascontiguousarray(arr, dtype=target)
    check_scale(out, name, underflow=defines_scale)
    return out


# what the API's point arguments are, in the users' words (messages still name the argument)
_ARGUMENT_WORDS = {"X": "the points (X)", "Q": "the queries (Q)", "Y": "the new points (Y)"}


def _plural(name: str) -> str:
    """``"the queries (Q) have"`` for the API's point arguments, ``"<name> has"`` for any other."""
    return f"{_ARGUMENT_WORDS[name]} have" if name in _ARGUMENT_WORDS else f"{name} has"


def check_k(k, upper: int, what: str) -> int:
    """``k`` must be an int in [1, upper]; ``what`` says what bounds it (for the message)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int, got {k!r} ({type(k).__name__})")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > upper:
        raise ValueError(f"k={k} exceeds {what} ({upper})")
    return k


def as_ids(value, name: str, n: int) -> np.ndarray:
    """A 1-D array of point ids in [0, n) (int64); anything else raises, naming ``name``."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of point ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer point ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = arr[(arr < 0) | (arr >= n)][0]
        raise ValueError(f"{name} has id {bad} outside [0, {n})")
    return arr


def check_radius(r, rows: int) -> np.ndarray:
    """A query radius: one finite number >= 0, or one per query row; returned as float64 per row."""
    if r is None:
        raise ValueError("r is required: the radius within which to return points")
    if isinstance(r, bool) or (np.ndim(r) == 0 and not isinstance(r, (int, float, np.integer, np.floating))):
        raise TypeError(f"r must be a number or one number per query row, got {r!r}")
    arr = np.asarray(r)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"r must hold numbers, got dtype {arr.dtype}")
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != rows):
        raise ValueError(f"r must be one number or one per query row ({rows}), got shape {arr.shape}")
    arr = np.broadcast_to(arr.astype(np.float64), (rows,)).copy()
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("r must be finite and >= 0")
    return arr
