"""Fuzzing tree files: every altered file either fails to load with a clear ``ValueError`` or answers exactly
(as the brute-force oracle on the points it holds) — never a crash, never a silently wrong answer."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from covertreex import CoverTree, Residual, Runtime, load_tree, save_tree
from covertreex.api.persist import BUILD_FIELDS, checksum
from covertreex.api.persist_residual import RESIDUAL_FIELDS
from covertreex.kernels import Matern32
from covertreex.reference import brute_force_knn

# CI: a fixed seed and a bounded count; COVERTREEX_FUZZ_FILES=N for a larger run
FILES = int(os.environ.get("COVERTREEX_FUZZ_FILES", "150"))


def _mutate(arrays: dict, rng: np.random.Generator) -> str:
    """Alter one stored array in one of several ways; returns what was done."""
    if rng.random() < 0.05:  # the header's next id (the tree lost points: ids are not the row numbers)
        header = json.loads(str(arrays["header"]))
        header["next_id"] = [-1, 0, header["next_id"] - 1, header["next_id"] + 5, 2**62, "7", None][rng.integers(7)]
        arrays["header"] = np.array(json.dumps(header))
        return f"next_id:{header['next_id']}"
    fields = BUILD_FIELDS + RESIDUAL_FIELDS + ("point_ids",)
    name = str(rng.choice([f for f in fields if f in arrays and arrays[f].size]))
    a = arrays[name]
    kind = str(rng.choice(["value", "swap", "truncate", "dtype", "nan", "shuffle", "nudge", "sign", "zero"]))
    a = a.copy()
    flat = a.reshape(-1)
    i, j = rng.integers(0, flat.size, 2)
    if kind == "value":
        flat[i] = rng.choice([-1, 0, flat.size, 2**40, -(2**40)]) if a.dtype.kind == "i" else rng.choice(
            [0.0, -1.0, 1e300, -1e-300, 7.5])
    elif kind == "swap":
        flat[i], flat[j] = flat[j], flat[i]
    elif kind == "truncate":
        a = a[:-1]
    elif kind == "dtype":
        a = a.astype(np.int32 if a.dtype.kind == "i" else np.float32)
    elif kind == "nan":
        if a.dtype.kind == "f":
            flat[i] = np.nan
        else:
            flat[i] = -(2**62)
    elif kind == "shuffle":
        a = rng.permutation(a)
    elif kind == "nudge":
        if a.dtype.kind == "f":
            flat[i] = flat[i] * (1 + 1e-12) + 1e-300
        else:
            flat[i] += 1
    elif kind == "sign":
        flat[i] = -flat[i]
    else:
        a = np.zeros_like(a)
    arrays[name] = a
    return f"{name}:{kind}"


def _oracle(loaded):
    """The oracle on the loaded points, its rows as the loaded tree's ids."""
    kw = {"metric": "residual", "residual": loaded.metric} if loaded.runtime.metric == "residual" else {}
    rows, dist = brute_force_knn(np.asarray(loaded.points), k=5, **kw)
    return np.where(rows >= 0, loaded.ids[np.maximum(rows, 0)], -1), dist


def fuzz(tmp_path, files: int, seed: int, metric: str = "euclidean") -> dict:
    rng = np.random.default_rng(seed)
    X = np.round(rng.standard_normal((300, 3)), 1)  # ties and duplicates too
    runtime = Runtime(seed=1) if metric == "euclidean" else Runtime(
        seed=1, metric="residual", residual=Residual(Matern32(1.0, 0.7), inducing=20), query_engine="tree")
    tree = CoverTree(runtime).fit(X).delete(np.arange(0, 300, 10))  # deleted points: ids stored too
    good = save_tree(tree, tmp_path / "good.npz")
    with np.load(good) as data:
        base = {f: data[f] for f in data.files}
    counts = {"files": 0, "errors": 0, "exact": 0, "unchanged": 0}
    for t in range(files):
        arrays = {key: v.copy() for key, v in base.items()}
        what = _mutate(arrays, rng)
        if t % 2:  # half the files crafted: the checksum re-stamped to match the altered arrays
            header = json.loads(str(arrays["header"]))
            header["sha256"] = checksum(arrays)
            arrays["header"] = np.array(json.dumps(header))
        path = tmp_path / f"f{t}.npz"
        np.savez(path, **arrays)
        counts["files"] += 1
        try:
            loaded = load_tree(path)
        except ValueError as exc:
            assert str(path) in str(exc), (what, exc)  # the error names the file
            counts["errors"] += 1
            continue
        ids, dist = loaded.knn(k=5, return_distances=True)
        o_ids, o_dist = _oracle(loaded)
        assert np.array_equal(ids, o_ids) and np.array_equal(dist, o_dist), what
        counts["exact"] += 1
        counts["unchanged"] += bool(np.array_equal(loaded.points, tree.points))
    return counts


@pytest.mark.parametrize("metric", ["euclidean", "residual"])
def test_altered_tree_files_load_exactly_or_fail_clearly(tmp_path, metric):
    counts = fuzz(tmp_path, FILES, seed=20261130, metric=metric)
    assert counts["files"] == FILES and counts["errors"] + counts["exact"] == FILES
    assert counts["errors"] > FILES // 2  # most alterations are caught (a swap of equal values is not one)


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_trees_round_trip(tmp_path, n):
    X = np.arange(3 * n, dtype=np.float64).reshape(n, 3)
    tree = CoverTree().fit(X)
    loaded = load_tree(save_tree(tree, tmp_path / "t.npz"))
    np.testing.assert_array_equal(loaded.points, X)
    if n > 1:
        np.testing.assert_array_equal(loaded.knn(k=1), tree.knn(k=1))
