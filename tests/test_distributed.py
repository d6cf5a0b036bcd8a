"""ShardedTree on a LocalCluster (worker processes): the same ids and distances as one CoverTree in
every mode, on several shard counts, uneven shards, a one-point shard, all-tied data, both metrics,
insert and delete; a lost worker is rebuilt, a restarted cluster is a clear error."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import make_data

from covertreex import CoverTree, Residual, Runtime
from covertreex.kernels import Matern32

distributed = pytest.importorskip("distributed")  # extra "dask"

from covertreex.distributed import ShardedTree, ShardLostError  # noqa: E402


def _cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed.Client(cluster) as c:
        yield c


def assert_same(sharded, one, **query):
    """Every mode the query allows, k over the sharded tree and one tree."""
    for k in query.pop("ks", (1, 7)):
        got = sharded.knn(k=k, return_distances=True, **query)
        want = one.knn(k=k, return_distances=True, **query)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def assert_all_modes(sharded, one, Q, ids):
    assert_same(sharded, one)
    assert_same(sharded, one, predecessor=True)
    assert_same(sharded, one, query_ids=ids)
    assert_same(sharded, one, Q=Q)


@pytest.mark.parametrize("shape, d, shards", [("gaussian", 3, 1), ("gaussian", 3, 3), ("duplicates", 2, 2),
                                              ("grid", 2, 5), ("clusters", 3, 3), ("collinear", 1, 4),
                                              ("uniform", 8, 3)])
def test_euclidean_sharded_answers_equal_one_tree(client, shape, d, shards):
    X = make_data(shape, 900, d, seed=d + shards)
    Q = np.concatenate([make_data(shape, 80, d, seed=99), X[:20]])
    sharded = ShardedTree(client, shards=shards).fit(X)
    assert sharded.shard_sizes == [len(g) for g in np.array_split(np.arange(900), shards)] or sum(
        sharded.shard_sizes) == 900
    assert_all_modes(sharded, CoverTree().fit(X), Q, np.arange(3, 900, 11))


def test_float32_and_the_bound_skips_shards(client):
    X = make_data("uniform", 2000, 2, seed=3).astype(np.float32)
    rt = Runtime(precision="float32")
    sharded = ShardedTree(client, rt, shards=4).fit(X)
    assert_all_modes(sharded, CoverTree(rt).fit(X), X[:50] + 0.01, np.arange(0, 2000, 13))
    # the boxes of a k-d split keep most rows on one or two shards (a wrong bound would still be exact
    # but ask every shard: this says the bound works)
    assert sharded.knn_result(k=5).shards_per_row < 2.0


def test_uneven_partition_one_point_shard_and_k_past_a_shard(client):
    X = make_data("gaussian", 400, 3, seed=5)
    labels = np.zeros(400, dtype=int)
    labels[17] = 1  # a shard of one point
    labels[200:230] = 2
    sharded = ShardedTree(client).fit(X, partition=labels)
    assert sharded.shard_sizes == [369, 1, 30]
    one = CoverTree().fit(X)
    assert_all_modes(sharded, one, X[::40] * 1.5, np.array([0, 17, 205, 399]))
    assert_same(sharded, one, ks=(45, 399))  # more neighbours than two of the shards hold


def test_all_points_tied(client):
    X = np.zeros((300, 2))
    sharded = ShardedTree(client, shards=3).fit(X)
    assert_all_modes(sharded, CoverTree().fit(X), np.ones((4, 2)), np.arange(0, 300, 7))


@pytest.mark.parametrize("shards", [1, 3])
def test_residual_sharded_answers_equal_one_tree(client, shards):
    X = make_data("uniform", 700, 2, seed=shards)
    rt = Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.4), inducing=32, seed=2))
    sharded = ShardedTree(client, rt, shards=shards).fit(X)
    one = CoverTree(rt).fit(X)
    assert_all_modes(sharded, one, make_data("uniform", 30, 2, seed=7), np.arange(1, 700, 9))
    # predecessor rows ask only their own shard and the shards of smaller ids (contiguous id ranges)
    sizes = np.array(sharded.shard_sizes)
    assert sharded.knn_result(k=4, predecessor=True).shards_per_row == pytest.approx(
        (sizes * np.arange(1, shards + 1)).sum() / 700)


def test_residual_uneven_shards_and_dense_engine(client):
    X = make_data("duplicates", 500, 2, seed=1)
    rt = Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.6), inducing=16), query_engine="dense")
    labels = np.repeat([0, 1, 2], [10, 1, 489])
    sharded = ShardedTree(client, rt).fit(X, partition=labels)
    assert_all_modes(sharded, CoverTree(rt).fit(X), X[:9] + 0.05, np.array([0, 9, 10, 11, 499]))


@pytest.mark.parametrize("metric", ["euclidean", "residual"])
def test_insert_and_delete_route_to_shards_and_keep_old_versions(client, metric):
    rt = Runtime() if metric == "euclidean" else Runtime(
        metric="residual", residual=Residual(Matern32(1.0, 0.5), inducing=24))
    X = make_data("gaussian", 600, 3, seed=4)
    Y = make_data("gaussian", 150, 3, seed=6) * 1.3
    sharded = ShardedTree(client, rt, shards=3).fit(X)
    one = CoverTree(rt).fit(X)
    grown, grown_one = sharded.insert(Y), one.insert(Y)
    assert grown.num_points == 750 and grown.next_id == 750 and sharded.num_points == 600
    assert_all_modes(grown, grown_one, Y[:10] + 0.1, np.arange(590, 750, 7))
    gone = np.concatenate([np.arange(0, 750, 4), [601, 602]])
    cut, cut_one = grown.delete(gone), grown_one.delete(gone)
    np.testing.assert_array_equal(cut.ids, cut_one.ids)
    alive = cut.ids
    assert_all_modes(cut, cut_one, Y[:10], alive[::9])
    more, more_one = cut.insert(Y[:20] - 0.2), cut_one.insert(Y[:20] - 0.2)
    assert more.next_id == 770
    assert_all_modes(more, more_one, X[:5], more.ids[-30:])
    assert_all_modes(sharded, one, Y[:10], np.arange(0, 600, 50))  # the first version is unchanged


def test_deleting_a_whole_shard_drops_it(client):
    X = make_data("gaussian", 300, 2, seed=8)
    labels = np.repeat([0, 1, 2], [100, 100, 100])
    sharded = ShardedTree(client).fit(X, partition=labels)
    cut = sharded.delete(np.arange(100, 200))
    assert cut.shard_sizes == [100, 100]
    one = CoverTree().fit(X).delete(np.arange(100, 200))
    assert_all_modes(cut, one, X[:5] + 0.3, cut.ids[::13])
    assert_all_modes(cut.insert(X[100:110]), one.insert(X[100:110]), X[:5], np.arange(300, 310))


def test_bad_input_is_refused_in_the_users_words(client):
    X = make_data("gaussian", 50, 2, seed=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        ShardedTree(client).knn(k=1)
    with pytest.raises(ValueError, match="shards must be an int >= 1"):
        ShardedTree(client, shards=0)
    with pytest.raises(ValueError, match="shards=60 exceeds the 50 points of X"):
        ShardedTree(client, shards=60).fit(X)
    with pytest.raises(ValueError, match="partition leaves shard 1 empty"):
        ShardedTree(client).fit(X, partition=np.where(np.arange(50) < 25, 0, 2))
    with pytest.raises(ValueError, match=r"partition must hold one shard number per point \(50\)"):
        ShardedTree(client).fit(X, partition=[0, 1])
    tree = ShardedTree(client, shards=2).fit(X).delete([3])
    with pytest.raises(ValueError, match="query_ids has id 3, which was deleted from this tree"):
        tree.knn(k=2, query_ids=[3])
    with pytest.raises(ValueError, match=r"ids has id 50 outside \[0, 50\)"):
        tree.delete([50])
    with pytest.raises(ValueError, match="every point"):
        tree.delete(tree.ids)
    with pytest.raises(ValueError, match=r"the queries \(Q\) have 3 columns, the tree has 2"):
        tree.knn(np.zeros((2, 3)), k=1)
    assert tree.knn(np.zeros((0, 2)), k=2).shape == (0, 2)  # no rows: no work, like one tree
    assert tree.insert(np.zeros((0, 2))) is tree


def test_a_lost_worker_is_rebuilt_and_a_restarted_cluster_is_a_clear_error():
    X = make_data("gaussian", 800, 3, seed=2)
    one = CoverTree().fit(X)
    with _cluster() as cluster, distributed.Client(cluster) as c:
        sharded = ShardedTree(c, shards=4).fit(X).insert(X[:40] + 0.5)
        grown = one.insert(X[:40] + 0.5)
        victim = sorted(c.scheduler_info()["workers"])[0]
        c.run(os._exit, 1, workers=[victim], on_error="ignore")  # the nanny starts a fresh, empty worker
        c.wait_for_workers(2, timeout=60)
        assert_same(sharded, grown, predecessor=True)  # its shards were rebuilt from their tasks
        c.restart()  # cancels every future: nothing left to rebuild from
        with pytest.raises(ShardLostError, match="fit the ShardedTree again"):
            sharded.knn(k=3)


def test_residual_feature_rows_are_the_same_bits_on_one_thread_workers(client):
    """Workers run BLAS on one thread, this process on all cores: OpenBLAS splits a product by thread
    count, so V (m=256 here, large enough to be split) must be formed by single-threaded BLAS calls
    everywhere, or distances differ in the last bit (4,390 of 6,000 rows did before)."""
    X = make_data("gaussian", 3000, 3, seed=9)
    rt = Runtime(metric="residual", residual=Residual(Matern32(1.0, 0.3), inducing=256), query_engine="dense")
    sharded = ShardedTree(client, rt, shards=2).fit(X)
    assert_same(sharded, CoverTree(rt).fit(X), predecessor=True, ks=(30,))


def test_bench_sharded_command_reports_identical_answers(tmp_path):
    import json

    from typer.testing import CliRunner

    from covertreex.cli.main import app

    out = tmp_path / "sharded.json"
    result = CliRunner().invoke(app, ["bench", "sharded", "--n", "3000", "--json", str(out)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "ShardedTree" in result.output and max(len(line) for line in result.output.splitlines()) <= 80
    data = json.loads(out.read_text())
    assert data["sharded"]["identical_to_single"] is True and data["sharded"]["shards"] == [1500, 1500]
    assert data["sharded"]["query_bytes_received"] > 0 and len(data["sharded"]["worker_peak_mb"]) == 2


def test_describe_names_each_shards_worker(client):
    sharded = ShardedTree(client, shards=3).fit(make_data("gaussian", 300, 2, seed=1))
    shards = sharded.describe()["shards"]
    workers = set(client.scheduler_info()["workers"])
    assert [s["points"] for s in shards] == sharded.shard_sizes and all(set(s["workers"]) <= workers for s in shards)
    assert all(s["workers"] for s in shards)


def test_tasks_submitted_while_no_worker_is_known_are_left_to_the_scheduler(client, monkeypatch):
    """A cluster between a worker's death and its replacement lists no workers: tasks then go to the
    scheduler unplaced (placing them divided by zero)."""
    X = make_data("gaussian", 400, 3, seed=3)
    sharded = ShardedTree(client, shards=3).fit(X)
    monkeypatch.setattr(ShardedTree, "_workers", lambda self: [])
    assert_same(sharded, CoverTree().fit(X), predecessor=True)
    assert_same(sharded.insert(X[:10] + 0.1), CoverTree().fit(X).insert(X[:10] + 0.1))
