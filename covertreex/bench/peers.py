"""Adapters to the libraries people would otherwise use, behind one interface.

Each peer answers the all-points query "every point's k nearest other points" on the same data:
``build(X)`` returns an opaque index, ``query_all(index, k)`` returns ``(ids, distances)`` of shape
(n, k).  GPBoost, which answers the Vecchia neighbour question only inside model construction, has
its own adapters in ``gp_peers``.  Peers are optional (the ``bench`` extra); ``available()`` says whether one can run here.
The benchmark verifies every peer's answer against the brute-force oracle in the same run.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from covertreex.reference.brute_force import brute_force_knn


def _package_version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def drop_self(ids: np.ndarray, dist: np.ndarray, k: int, owners: np.ndarray | None = None):
    """From k+1 neighbours of each point (itself usually among them) keep the k others.

    Row r belongs to point ``owners[r]`` (default: row r is point r)."""
    n = ids.shape[0]
    is_self = ids == (np.arange(n) if owners is None else owners)[:, None]
    # where the point itself is missing (k+1 duplicates at distance 0), drop the last column
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    return ids[keep].reshape(n, k), dist[keep].reshape(n, k)


@dataclass(frozen=True)
class Peer:
    name: str
    distribution: str  # the PyPI name whose version is reported
    exact: bool = True
    note: str = ""
    precision: str = "float64"  # what it computes in: float32 peers are exact up to float32 rounding

    def available(self) -> bool:
        return _package_version(self.distribution) is not None

    @property
    def version(self) -> str | None:
        return _package_version(self.distribution)


class ScipyCKDTree(Peer):
    def __init__(self):
        super().__init__("scipy-cKDTree", "scipy", note="cKDTree(leafsize=16), query(workers=-1)")

    def build(self, X):
        return importlib.import_module("scipy.spatial").cKDTree(X)

    def query_all(self, index, k):
        dist, ids = index.query(index.data, k=k + 1, workers=-1)
        return drop_self(ids.reshape(-1, k + 1), dist.reshape(-1, k + 1), k)


class SklearnKDTree(Peer):
    def __init__(self, algorithm: str = "kd_tree"):
        label = {"kd_tree": "KDTree", "ball_tree": "BallTree"}[algorithm]
        super().__init__(f"sklearn-{label}", "scikit-learn", note=f"NearestNeighbors({algorithm}, n_jobs=-1)")
        object.__setattr__(self, "algorithm", algorithm)

    def build(self, X):
        nn = importlib.import_module("sklearn.neighbors")
        return nn.NearestNeighbors(algorithm=self.algorithm, n_jobs=-1).fit(X)

    def query_all(self, index, k):
        dist, ids = index.kneighbors(n_neighbors=k)
        return ids, dist


class MlpackCoverTree(Peer):
    def __init__(self, tree_type: str = "cover"):
        super().__init__(f"mlpack-{tree_type}", "mlpack", note=f"mlpack.knn(tree_type={tree_type!r}), 1 thread")
        object.__setattr__(self, "tree_type", tree_type)

    def build(self, X):
        mlpack = importlib.import_module("mlpack")
        # mlpack's knn always searches; a tiny query set makes the call (almost) build-only
        # mlpack's model keeps using the reference matrix's memory without holding a reference to it,
        # and its kd-tree reorders that matrix in place: hand it a private copy and keep it alive.
        reference = np.array(X, copy=True)
        out = mlpack.knn(reference=reference, query=np.array(X[:8]), k=1, tree_type=self.tree_type)
        return out["output_model"], reference

    def query_all(self, index, k):
        model, _reference = index
        out = importlib.import_module("mlpack").knn(input_model=model, k=k)
        return out["neighbors"].astype(np.int64), out["distances"]


class FaissFlat(Peer):
    """FAISS exact flat index: brute force in float32 with BLAS (FAISS computes in float32 only)."""

    def __init__(self):
        super().__init__("faiss-flat", "faiss-cpu", note="IndexFlatL2, float32 (FAISS's only precision), OpenMP",
                         precision="float32")

    def build(self, X):
        faiss = importlib.import_module("faiss")
        data = np.ascontiguousarray(X, dtype=np.float32)
        index = faiss.IndexFlatL2(data.shape[1])
        index.add(data)
        return index, data

    def query_all(self, index, k):
        flat, data = index
        sq, ids = flat.search(data, k + 1)
        return drop_self(ids.astype(np.int64), np.sqrt(np.maximum(sq, 0.0)).astype(np.float64), k)


class Hnswlib(Peer):
    """hnswlib's HNSW graph (approximate: recall is measured, never assumed)."""

    M, EF_CONSTRUCTION, EF_MIN = 16, 200, 64

    def __init__(self):
        super().__init__("hnswlib", "chroma-hnswlib", exact=False,
                         note=f"HNSW M={self.M} ef_construction={self.EF_CONSTRUCTION} ef=max(2(k+1), "
                              f"{self.EF_MIN}), float32; approximate", precision="float32")

    def available(self) -> bool:
        return super().available() or _package_version("hnswlib") is not None

    @property
    def version(self) -> str | None:
        return _package_version(self.distribution) or _package_version("hnswlib")

    def build(self, X):
        hnswlib = importlib.import_module("hnswlib")
        data = np.ascontiguousarray(X, dtype=np.float32)
        index = hnswlib.Index(space="l2", dim=data.shape[1])
        index.init_index(max_elements=data.shape[0], ef_construction=self.EF_CONSTRUCTION, M=self.M,
                         random_seed=100)
        index.add_items(data, np.arange(data.shape[0]), num_threads=-1)
        return index, data

    def query_all(self, index, k):
        graph, data = index
        graph.set_ef(max(2 * (k + 1), self.EF_MIN))
        ids, sq = graph.knn_query(data, k=k + 1, num_threads=-1)  # hnswlib reports squared L2
        return drop_self(ids.astype(np.int64), np.sqrt(np.maximum(sq, 0.0)).astype(np.float64), k)


class BruteForce(Peer):
    def __init__(self):
        super().__init__("brute-force", "numpy", note="covertreex.reference.brute_force_knn (NumPy, blocked)")

    def build(self, X):
        return X

    def query_all(self, index, k, rows=None):
        return brute_force_knn(index, k=k, rows=rows)


def all_peers() -> dict[str, Peer]:
    peers = [ScipyCKDTree(), SklearnKDTree("kd_tree"), SklearnKDTree("ball_tree"), MlpackCoverTree("cover"),
             MlpackCoverTree("kd"), FaissFlat(), Hnswlib(), BruteForce()]
    return {p.name: p for p in peers}
