"""Input checks shared by the public API: raise before any work, naming the argument."""

from __future__ import annotations

import numbers

import numpy as np

_EXACT_INT_LIMIT = {np.dtype(np.float64): 2**53, np.dtype(np.float32): 2**24}


def as_points(value, name: str, dtype: np.dtype, dim: int | None = None, allow_empty: bool = False) -> np.ndarray:
    """Validate a (n, d) array of finite real numbers and return it as C-contiguous ``dtype``.

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
        raise ValueError(f"{name} has {arr.shape[1]} columns but the tree has dimension {dim}")
    target = np.dtype(dtype)
    if np.issubdtype(arr.dtype, np.integer):
        limit = _EXACT_INT_LIMIT[target]
        if arr.size and int(np.abs(arr).max()) > limit:
            raise ValueError(f"{name} has integers beyond {limit}, which {target} cannot represent exactly")
    elif not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or infinity (first at row {bad[0]}, column {bad[1]})")
    if target == np.float32 and arr.dtype == np.float64 and arr.size and np.abs(arr).max() > np.finfo(np.float32).max:
        raise ValueError(f"{name} has values beyond the float32 range")
    out = np.ascontiguousarray(arr, dtype=target)
    return out


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
