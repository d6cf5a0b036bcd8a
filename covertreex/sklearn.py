"""scikit-learn estimators over the exact cover tree (extra ``sklearn``).

- ``CoverTreeNeighbors``: a ``sklearn.neighbors.NearestNeighbors`` look-alike — ``fit`` returns the
  estimator, ``kneighbors`` / ``radius_neighbors`` return ``(distances, indices)`` in scikit-learn's
  order, and ``kneighbors_graph`` / ``radius_neighbors_graph`` give sparse CSR graphs.
- ``CoverTreeTransformer``: a ``sklearn.neighbors.KNeighborsTransformer`` look-alike for pipelines
  whose next step takes ``metric="precomputed"`` (Isomap, TSNE, DBSCAN, SpectralEmbedding, ...).

Both answer exactly (the tree's own searches), under the Euclidean metric or — with
``metric="residual"`` and a ``covertreex.Residual`` policy — the residual-correlation distance.  As in
scikit-learn, ``X=None`` means "the fitted points, each without itself"; indices are row numbers of the
fitted data.  Engine settings (threads, precision, seed, query engine) come from ``runtime``.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from covertreex.api.tree import CoverTree
from covertreex.metrics.residual import Residual
from covertreex.runtime.config import Runtime

__all__ = ["CoverTreeNeighbors", "CoverTreeTransformer"]


class _CoverTreeBase(BaseEstimator):
    def _runtime(self) -> Runtime:
        runtime = Runtime() if self.runtime is None else self.runtime
        if not isinstance(runtime, Runtime):
            raise TypeError(f"runtime must be a covertreex.Runtime, got {type(runtime).__name__}")
        if self.metric == "euclidean":
            if self.residual is not None:
                raise ValueError("residual is for metric='residual'; metric is 'euclidean'")
            return runtime.with_updates(metric="euclidean", residual=None)
        if self.metric == "residual":
            if not isinstance(self.residual, Residual):
                raise ValueError("metric='residual' needs residual=covertreex.Residual(kernel, inducing=...)")
            return runtime.with_updates(metric="residual", residual=self.residual)
        raise ValueError(f"metric must be 'euclidean' or 'residual', got {self.metric!r}")

    def _fit_tree(self, X):
        runtime = self._runtime()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=1)
        self.tree_ = CoverTree(runtime).fit(X)
        self.n_samples_fit_ = X.shape[0]
        return self

    def _queries(self, X):
        check_is_fitted(self, "tree_")
        return None if X is None else validate_data(self, X, dtype=np.float64, reset=False)

    def _k(self, n_neighbors, queries) -> int:
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {k!r}")
        available = self.n_samples_fit_ - (queries is None)
        if k > available:
            raise ValueError(f"n_neighbors={k} but only {available} fitted points can be neighbours"
                             + (" (X=None: each point's others)" if queries is None else ""))
        return int(k)

    def _radius(self, radius) -> float:
        r = self.radius if radius is None else radius
        if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) or not np.isfinite(r) \
                or r < 0:
            raise ValueError(f"radius must be a finite number >= 0, got {r!r}")
        return float(r)

    def _search(self, X, n_neighbors):
        queries = self._queries(X)
        k = self._k(n_neighbors, queries)
        ids, dist = self.tree_.knn(queries, k=k, return_distances=True)
        return dist, ids

    def _graph(self, dist, ids, mode: str):
        if mode not in ("connectivity", "distance"):
            raise ValueError(f"mode must be 'connectivity' or 'distance', got {mode!r}")
        rows, k = ids.shape
        data = np.ones(rows * k) if mode == "connectivity" else dist.ravel()
        indptr = np.arange(0, rows * k + 1, k)
        return csr_matrix((data, ids.ravel(), indptr), shape=(rows, self.n_samples_fit_))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class CoverTreeNeighbors(_CoverTreeBase):
    """Exact nearest neighbours and radius neighbours (``NearestNeighbors``'s interface).

    Parameters
    ----------
    n_neighbors : int
        Neighbours per query by default (``kneighbors``).
    radius : float
        Radius by default (``radius_neighbors``), inclusive.
    metric : {"euclidean", "residual"}
        The distance; ``"residual"`` needs ``residual``.
    residual : covertreex.Residual, optional
        Kernel, inducing points and jitter of the residual-correlation distance.
    runtime : covertreex.Runtime, optional
        Engine settings (threads, precision, seed, query engine); ``metric``/``residual`` override its own.
    """

    def __init__(self, n_neighbors=5, radius=1.0, metric="euclidean", residual=None, runtime=None):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.metric = metric
        self.residual = residual
        self.runtime = runtime

    def fit(self, X, y=None):
        """Build the tree over ``X`` (n_samples, n_features); returns the estimator."""
        return self._fit_tree(X)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """``(distances, indices)`` of each query's nearest fitted points, sorted by (distance, index);
        ``X=None``: every fitted point's nearest *other* points."""
        dist, ids = self._search(X, n_neighbors)
        return (dist, ids) if return_distance else ids

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """CSR matrix (n_queries, n_samples_fit) of the k nearest neighbours (1 or the distance)."""
        dist, ids = self._search(X, n_neighbors)
        return self._graph(dist, ids, mode)

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Per query, every fitted point within ``radius`` (object arrays of arrays, as scikit-learn);
        rows are always sorted by (distance, index), so ``sort_results`` changes nothing."""
        result = self._radius_result(X, radius)
        splits = result.indptr[1:-1]
        ids = np.empty(len(result), dtype=object)
        ids[:] = np.split(result.ids, splits)
        if not return_distance:
            return ids
        dist = np.empty(len(result), dtype=object)
        dist[:] = np.split(result.distances, splits)
        return dist, ids

    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity", sort_results=False):
        """CSR matrix (n_queries, n_samples_fit) of the neighbours within ``radius``."""
        if mode not in ("connectivity", "distance"):
            raise ValueError(f"mode must be 'connectivity' or 'distance', got {mode!r}")
        result = self._radius_result(X, radius)
        data = np.ones(result.ids.size) if mode == "connectivity" else result.distances
        return csr_matrix((data, result.ids, result.indptr), shape=(len(result), self.n_samples_fit_))

    def _radius_result(self, X, radius):
        queries = self._queries(X)
        return self.tree_.radius(queries, r=self._radius(radius))


class CoverTreeTransformer(TransformerMixin, _CoverTreeBase):
    """Sparse k-nearest-neighbour graph of the data (``KNeighborsTransformer``'s interface).

    As scikit-learn's, each sample counts as its own neighbour: with ``mode="distance"`` the graph holds
    ``n_neighbors + 1`` entries per row (the first at distance 0 for a fitted point).

    Parameters
    ----------
    mode : {"distance", "connectivity"}
        Graph entries: distances (for ``metric="precomputed"`` consumers) or ones.
    n_neighbors : int
        Neighbours per sample.
    metric, residual, runtime
        As in ``CoverTreeNeighbors``.
    """

    def __init__(self, mode="distance", n_neighbors=5, metric="euclidean", residual=None, runtime=None):
        self.mode = mode
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.residual = residual
        self.runtime = runtime

    def fit(self, X, y=None):
        """Build the tree over ``X``; returns the transformer."""
        if self.mode not in ("connectivity", "distance"):
            raise ValueError(f"mode must be 'connectivity' or 'distance', got {self.mode!r}")
        return self._fit_tree(X)

    def transform(self, X):
        """CSR matrix (n_queries, n_samples_fit): each row of ``X``'s nearest fitted points."""
        queries = self._queries(X)
        k = self._k(self.n_neighbors, queries) + (self.mode == "distance")
        k = min(k, self.n_samples_fit_)
        ids, dist = self.tree_.knn(queries, k=k, return_distances=True)
        return self._graph(dist, ids, self.mode)

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)
