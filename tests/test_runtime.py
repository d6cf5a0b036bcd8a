"""Runtime: validated frozen value, from_env, describe, with_updates."""

from __future__ import annotations

import dataclasses

import pytest

from covertreex import Runtime


def test_defaults_and_describe_round_trip():
    rt = Runtime()
    d = rt.describe()
    assert d["metric"] == "euclidean" and d["conflict_graph"] == "auto" and d["residual"] is None
    assert Runtime(**d) == rt


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("metric", "manhattan", "Runtime.metric must be one of 'euclidean'"),
        ("precision", "float16", "Runtime.precision must be one of 'float64', 'float32'"),
        ("conflict_graph", "sparse", "Runtime.conflict_graph must be one of"),
        ("batch_order", "sorted", "Runtime.batch_order must be one of"),
        ("prefix_schedule", "tripling", "Runtime.prefix_schedule must be one of"),
        ("batch_size", 0, "Runtime.batch_size must be >= 1"),
        ("seed", -1, "Runtime.seed must be >= 0"),
        ("threads", 0, "Runtime.threads must be >= 1"),
    ],
)
def test_invalid_values_name_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        Runtime(**{field: value})


@pytest.mark.parametrize("field, value", [("seed", 1.5), ("batch_size", "10"), ("diagnostics", "yes"), ("seed", True)])
def test_wrong_types(field, value):
    with pytest.raises(TypeError, match=f"Runtime.{field}"):
        Runtime(**{field: value})


def test_frozen_and_with_updates():
    rt = Runtime()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rt.seed = 3
    rt2 = rt.with_updates(seed=3, conflict_graph="dense")
    assert rt2.seed == 3 and rt2.conflict_graph == "dense" and rt.seed == 0
    with pytest.raises(TypeError, match="no field"):
        rt.with_updates(colour="red")
    with pytest.raises(ValueError, match="Runtime.precision"):
        rt.with_updates(precision="half")


def test_from_env_reads_only_prefixed_variables():
    env = {
        "COVERTREEX_CONFLICT_GRAPH": "Dense",
        "COVERTREEX_BATCH_SIZE": "512",
        "COVERTREEX_THREADS": "none",
        "COVERTREEX_DIAGNOSTICS": "true",
        "COVERTREEX_SEED": "7",
        "UNRELATED": "x",
    }
    rt = Runtime.from_env(env)
    assert rt == Runtime(conflict_graph="dense", batch_size=512, threads=None, diagnostics=True, seed=7)
    assert Runtime.from_env({}) == Runtime()


@pytest.mark.parametrize(
    "env, match",
    [
        ({"COVERTREEX_COLOUR": "red"}, "COVERTREEX_COLOUR: unknown setting"),
        ({"COVERTREEX_SEED": "seven"}, "COVERTREEX_SEED: expected an integer"),
        ({"COVERTREEX_DIAGNOSTICS": "maybe"}, "COVERTREEX_DIAGNOSTICS: expected a boolean"),
        ({"COVERTREEX_METRIC": "cosine"}, "Runtime.metric must be one of"),
    ],
)
def test_from_env_errors(env, match):
    with pytest.raises(ValueError, match=match):
        Runtime.from_env(env)


def test_diagnostics_flag_times_builds_and_queries():
    import numpy as np

    from covertreex import CoverTree

    X = np.random.default_rng(0).standard_normal((500, 2))
    quiet = CoverTree().fit(X)
    assert quiet.build_operation is None and quiet.knn_result(k=2).operation is None
    loud = CoverTree(Runtime(diagnostics=True)).fit(X)
    op = loud.build_operation
    assert op.name == "build" and op.wall_s > 0 and op.cpu_s >= 0 and op.threads >= 1
    assert op.rss_peak_bytes >= op.rss_start_bytes > 0
    res = loud.knn_result(k=3)
    assert res.operation.name == "knn"
    np.testing.assert_array_equal(res.ids, quiet.knn(k=3))
    assert sum(r.batch_size for r in loud.build_stats) == 499  # every point but the root
    assert all(r.parent_search_distances >= r.batch_size for r in loud.build_stats)
