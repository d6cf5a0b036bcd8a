"""The residual metric's part of a tree file: its policy, fitted factors and coordinates, checked on load.

Stored beside the build arrays (whose points are the feature rows ``[x / lengthscale, p, V]``): the
coordinates in id order, the inducing points U and the Cholesky factor L of K(U, U) + jitter I (absent
when the tree was fitted with the user's own V and p), and the policy's inducing points when it named an
array.  Loading rebuilds the kernel from its description and checks, before anything is searched: every
array's shape and finiteness, that L is lower triangular with L L^T = K(U, U) + jitter I (to rounding),
that the rows' coordinate columns are exactly the scaled coordinates, that p > 0, and — when the factors
are known — that the V and p columns are those the factors give for the coordinates (to rounding: BLAS
may sum in another order on another machine).  When the recomputed rows differ from the stored ones at
all, the recomputed rows are used and the tree is rebuilt over them: every answer is then exact for the
metric the file's factors define, the same one new coordinates are measured with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from covertreex.kernels import kernel_by_name
from covertreex.metrics.residual import Residual, ResidualFactors
from covertreex.validation import check_scale

RESIDUAL_FIELDS = ("coords", "inducing", "chol", "policy_inducing")
# rows recomputed from the stored factors must agree with the stored ones to this many kernel variances
ROW_TOLERANCE = 1e-8


def residual_payload(tree) -> tuple[dict, dict]:
    """(header entries, arrays) of a fitted residual tree."""
    metric, policy = tree.metric, tree.runtime.residual
    empty = np.zeros((0, tree.dimension))
    arrays = {
        "coords": np.ascontiguousarray(tree.points, dtype=np.float64),
        "inducing": metric.inducing if metric.computes_features else empty,
        "chol": metric.chol if metric.computes_features else np.zeros((0, 0)),
        "policy_inducing": empty if isinstance(policy.inducing, int) else policy.inducing,
    }
    header = {"precomputed_factors": not metric.computes_features, "m": metric.m}
    return header, arrays


def _fail(path: Path, what: str) -> None:
    raise ValueError(f"{path}: not a valid residual tree file: {what}")


def load_residual(header: dict, arrays: dict, rows_by_id: np.ndarray, path: Path):
    """(Residual policy, fitted ResidualFactors, coordinates, rows) from a file's header and arrays,
    checked; ``rows`` (id order) is None when the stored rows are exactly the factors' (else the
    recomputed rows, which the caller builds the tree over)."""
    desc = header["runtime"].get("residual")
    if not isinstance(desc, dict):
        _fail(path, "the Runtime holds no residual policy")
    try:
        kernel = kernel_by_name(desc["kernel"], variance=desc["variance"], lengthscale=desc["lengthscale"] if
                                not isinstance(desc["lengthscale"], list) else tuple(desc["lengthscale"]))
        policy_inducing = arrays["policy_inducing"]
        inducing = policy_inducing if policy_inducing.size else desc["inducing"]
        policy = Residual(kernel, inducing=inducing, seed=desc["seed"], jitter=desc["jitter"])
    except (KeyError, TypeError, ValueError) as exc:
        _fail(path, f"the residual policy: {exc}")
    coords, U, L = arrays["coords"], arrays["inducing"], arrays["chol"]
    n, cols = rows_by_id.shape
    if coords.dtype != np.float64 or coords.ndim != 2 or coords.shape[0] != n or not np.all(np.isfinite(coords)):
        _fail(path, f"coordinates must be finite float64 of shape ({n}, D)")
    dim = coords.shape[1]
    check_scale(coords, f"{path}: coordinates", "coordinates")
    kernel.lengthscales(dim)  # ARD length against the data
    m = header.get("m")
    if not isinstance(m, int) or isinstance(m, bool) or m < 1 or cols != dim + 1 + m:
        _fail(path, f"rows have {cols} columns, not D + 1 + m for D={dim}, m={m!r}")
    if not np.array_equal(rows_by_id[:, :dim], kernel.scale(coords)):
        _fail(path, "the rows' coordinate columns are not the scaled coordinates")
    if not np.all(rows_by_id[:, dim] > 0):
        _fail(path, "residual variances p must be > 0")
    precomputed = header.get("precomputed_factors")
    if not isinstance(precomputed, bool):
        _fail(path, "precomputed_factors must be true or false")
    if precomputed:
        return policy, ResidualFactors(kernel, dim, m, None, None), coords, None
    if U.dtype != np.float64 or U.shape != (m, dim) or L.dtype != np.float64 or L.shape != (m, m) or not (
            np.all(np.isfinite(U)) and np.all(np.isfinite(L))):
        _fail(path, f"inducing points must be finite float64 ({m}, {dim}) and the Cholesky factor ({m}, {m})")
    if np.any(np.triu(L, 1) != 0) or np.any(np.diag(L) <= 0):
        _fail(path, "the Cholesky factor is not lower triangular with a positive diagonal")
    Kmm = kernel(U) + policy.jitter * np.eye(m)
    with np.errstate(over="ignore", invalid="ignore"):  # an absurd factor overflows: refused below
        factors = L @ L.T
    if not np.allclose(factors, Kmm, rtol=0.0, atol=1e-10 * kernel.variance * m):
        _fail(path, "the Cholesky factor does not factor K(U, U) + jitter I")
    U, L = (np.array(a, copy=True) for a in (U, L))
    U.setflags(write=False)
    L.setflags(write=False)
    metric = ResidualFactors(kernel, dim, m, U, L)
    fresh = metric.rows(coords)
    if not np.allclose(fresh, rows_by_id, rtol=0.0, atol=ROW_TOLERANCE * kernel.variance):
        _fail(path, "the stored feature rows are not the ones the stored factors give for the coordinates")
    return policy, metric, coords, None if np.array_equal(fresh, rows_by_id) else fresh
