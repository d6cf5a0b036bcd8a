"""One-point and all-duplicate inputs, through the API (both metrics) and the command line."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cli_text
from typer.testing import CliRunner

from covertreex import CoverTree, Residual, Runtime
from covertreex.cli.main import app
from covertreex.kernels import Matern32
from covertreex.reference import brute_force_knn

RUNTIMES = [Runtime(), Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.5), inducing=1))]


@pytest.mark.parametrize("runtime", RUNTIMES, ids=["euclidean", "residual"])
def test_one_point(runtime):
    tree = CoverTree(runtime).fit(np.zeros((1, 3)))
    assert len(tree) == 1
    with pytest.raises(ValueError, match="k=1 exceeds the number of other points in the tree"):
        tree.knn(k=1)
    with pytest.raises(ValueError, match="k=1 exceeds"):
        tree.knn(k=1, predecessor=True)
    assert tree.knn(np.ones((2, 3)), k=1).tolist() == [[0], [0]]
    assert tree.radius(r=1.0).counts().tolist() == [0]
    assert tree.radius(np.ones((1, 3)), r=10.0).ids.tolist() == [0]
    grown = tree.insert(np.ones((1, 3)))
    assert grown.knn(k=1).tolist() == [[1], [0]]


@pytest.mark.parametrize("runtime", RUNTIMES, ids=["euclidean", "residual"])
def test_all_duplicates(runtime):
    X = np.full((40, 2), 3.0)
    tree = CoverTree(runtime).fit(X)
    kw = {"metric": "residual", "residual": tree.metric} if runtime.metric == "residual" else {}
    ids, dist = tree.knn(k=5, return_distances=True)
    o_ids, o_dist = brute_force_knn(X, k=5, **kw)
    np.testing.assert_array_equal(ids, o_ids)
    np.testing.assert_array_equal(dist, o_dist)
    assert np.all(dist == 0.0)
    pred = tree.knn(k=5, predecessor=True)
    np.testing.assert_array_equal(pred, brute_force_knn(X, k=5, predecessor=True, return_distances=False, **kw))
    assert tree.radius(r=0.0).counts().tolist() == [39] * 40


def test_one_point_and_duplicate_files_on_the_command_line(tmp_path):
    runner = CliRunner()
    np.save(tmp_path / "one.npy", np.zeros((1, 3)))
    np.save(tmp_path / "dups.npy", np.ones((40, 3)))
    r = runner.invoke(app, ["query", str(tmp_path / "one.npy"), "--k", "1", "--out", str(tmp_path / "a.npy")])
    assert r.exit_code == 2 and "exceeds the number of other points" in cli_text(r.output)
    r = runner.invoke(app, ["build", str(tmp_path / "one.npy"), "--out", str(tmp_path / "one.npz")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["query", str(tmp_path / "one.npz"), "--k", "1", "--queries", str(tmp_path / "dups.npy"),
                            "--out", str(tmp_path / "b.npy")])
    assert r.exit_code == 0, r.output
    assert np.load(tmp_path / "b.npy").tolist() == [[0]] * 40
    r = runner.invoke(app, ["query", str(tmp_path / "dups.npy"), "--k", "3", "--out", str(tmp_path / "c.npy"),
                            "--verify-rows", "40"])
    assert r.exit_code == 0 and "1.0000" in r.output, r.output
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), brute_force_knn(np.ones((40, 3)), k=3)[0])
