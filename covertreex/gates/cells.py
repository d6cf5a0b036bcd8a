"""The cell layout of the gated residual search (``Gate(search="cells")``).

The proxy coordinates are split into cells (k-d median splits, at most ``Gate.cell`` points each).  A
query in cell c is answered from c's *halo*: the first H points of all points ordered by (squared
distance from the proxy coordinates to c's bounding box, id).  Calibration scores a query by the
position of its worst true neighbour in its cell's order, so the split-conformal H serves a query whole
with probability at least 1 - delta, as the per-query candidate walk does.

Within a halo the search is exact.  Each cell holds a local Nystrom basis of the residual kernel
c(x, y) = k(x, y) - V_x . V_y over its halo: anchors chosen by blocked pivoted Cholesky (the points whose
residual variance the basis explains least, relative to p) until every halo point keeps at most
``RANK_TOLERANCE`` of its p.  With features W (rows of c(., A) L^-T) and what they leave, e = p - |W|^2,
the Schur complement is a positive semi-definite kernel, so |c(x, y) - W_x . W_y| <= sqrt(e_x e_y)
(Cauchy-Schwarz).  The screen multiplies the queries' W by the halo's (float32: r numbers per row instead
of the m of V), bounds every |rho| from both sides, and only the points whose upper bound reaches the k-th
largest lower bound are re-checked with the exact scalar distance.  The bound carries room for rounding
(``BOUND_ROOM`` of p in e, float32 products, the scalar kernel's own rounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from covertreex.metrics.blas import in_parallel
from covertreex.metrics.residual_dense import residual_cross, split_rows

RANK_TOLERANCE = 1e-1  # a basis stops growing when every halo point keeps at most this share of its p
MAX_RANK = 512  # and at the latest at this many anchors, or m (a longer W than V saves nothing): the bound
# stays valid, only looser
ANCHOR_BLOCK = 64  # anchor candidates per round (one GEMM of them against the halo)
FIRST_BLOCK = 128  # candidates of the first round, spread over the halo
SPREAD_QUANTILE = 0.5  # later rounds spread their candidates over the points worst explained (above this quantile)
BOUND_ROOM = 1e-3  # share of p added to e for the rounding of the basis (measured errors are far below)
# Halo rows (cells x halo size) per point an index may hold: 8-17 at N = 32,768 with cells of 512 points.
# Tiny cells with large halos would need memory without bound (cells x halo x rank x 4 bytes): refused.
MAX_HALO_ROWS_PER_POINT = 64


@dataclass(frozen=True)
class Partition:
    """Cells of the proxy coordinates: ``members[starts[c]:starts[c+1]]`` are cell c's point ids;
    ``lo``/``hi`` its bounding box; ``cell_of`` each point's cell."""

    members: np.ndarray
    starts: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cell_of: np.ndarray

    @property
    def cells(self) -> int:
        return self.starts.shape[0] - 1

    @cached_property
    def position(self) -> np.ndarray:
        """Each point's position in ``members`` (k-d order: neighbours are mostly close)."""
        position = np.empty(self.members.shape[0], dtype=np.int64)
        position[self.members] = np.arange(self.members.shape[0])
        return position

    def gaps(self, c: int, pts: np.ndarray) -> np.ndarray:
        """Squared distance from each row of ``pts`` to cell c's box (0 inside)."""
        g = np.maximum(self.lo[c] - pts, 0.0) + np.maximum(pts - self.hi[c], 0.0)
        return np.einsum("ij,ij->i", g, g)

    def nearest_cell(self, pts: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """The cell whose box is nearest each row of ``pts`` (the lowest such cell on ties)."""
        out = np.empty(pts.shape[0], dtype=np.int64)
        for s in range(0, pts.shape[0], chunk):
            q = pts[s: s + chunk, None]
            g = np.maximum(self.lo[None] - q, 0.0) + np.maximum(q - self.hi[None], 0.0)
            out[s: s + chunk] = np.argmin(np.einsum("qcd,qcd->qc", g, g), axis=1)
        return out

    def halo(self, c: int, pts: np.ndarray, size: int) -> np.ndarray:
        """The first ``size`` point ids in cell c's order (box gap, then id)."""
        g = self.gaps(c, pts)
        size = min(size, g.shape[0])
        cut = np.partition(g, size - 1)[size - 1]
        near = np.flatnonzero(g <= cut)  # ascending ids
        return near[np.argsort(g[near], kind="stable")[:size]]

    def positions(self, c: int, pts: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """1-based positions of the points ``ids`` in cell c's order."""
        g = self.gaps(c, pts)
        order = np.argsort(g, kind="stable")
        rank = np.empty(g.shape[0], dtype=np.int64)
        rank[order] = np.arange(1, g.shape[0] + 1)
        return rank[ids]


def partition(pts: np.ndarray, size: int) -> Partition:
    """k-d median splits of ``pts`` (along each part's widest side, lower half first) into cells of at
    most ``size`` points."""
    n = pts.shape[0]
    done: list[np.ndarray] = []
    todo = [np.arange(n, dtype=np.int64)]
    while todo:
        part = todo.pop()
        if part.shape[0] <= size:
            done.append(part)
            continue
        span = pts[part].max(axis=0) - pts[part].min(axis=0)
        ordered = part[np.argsort(pts[part, int(np.argmax(span))], kind="stable")]
        half = ordered.shape[0] // 2
        todo += [ordered[half:], ordered[:half]]
    starts = np.zeros(len(done) + 1, dtype=np.int64)
    starts[1:] = np.cumsum([d.shape[0] for d in done])
    members = np.concatenate(done)
    cell_of = np.empty(n, dtype=np.int64)
    cell_of[members] = np.repeat(np.arange(len(done)), np.diff(starts))
    lo = np.array([pts[d].min(axis=0) for d in done])
    hi = np.array([pts[d].max(axis=0) for d in done])
    return Partition(members, starts, lo, hi, cell_of)


def cell_scores(part: Partition, pts: np.ndarray, query_ids: np.ndarray, true_ids: np.ndarray) -> np.ndarray:
    """Calibration scores: the halo size that holds all of each query's true neighbours (``true_ids``
    rows, -1 ignored) — the position of its worst one in its cell's order; 0 without neighbours."""
    scores = np.zeros(query_ids.shape[0], dtype=np.int64)
    cells = part.cell_of[query_ids]
    for c in np.unique(cells):
        rows = np.flatnonzero(cells == c)
        want = true_ids[rows]
        pos = part.positions(int(c), pts, np.maximum(want, 0))
        scores[rows] = np.where(want >= 0, pos, 0).max(axis=1, initial=0)
    return scores


@dataclass(frozen=True)
class Basis:
    """One cell's halo and its local Nystrom basis: ``halo`` ids (in the cell's order); ``W`` (float32)
    their features; ``w_norm`` |W| of the stored float32 rows; ``sqrt_e`` the root of the residual
    variance each keeps beyond the basis (with room); ``inv_sqrt_p`` 1 / sqrt(p); ``anchors`` ids and ``inverse`` =
    L^-1 (lower), so that a query's features are L^-1 c(A, q)."""

    halo: np.ndarray
    W: np.ndarray
    w_norm: np.ndarray
    sqrt_e: np.ndarray
    inv_sqrt_p: np.ndarray
    anchors: np.ndarray
    inverse: np.ndarray

    @property
    def rank(self) -> int:
        return self.anchors.shape[0]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.halo, self.W, self.w_norm, self.sqrt_e, self.inv_sqrt_p, self.anchors,
                                      self.inverse))


def _norms(W32: np.ndarray) -> np.ndarray:
    """|W| of float32 feature rows, summed in float64."""
    W = W32.astype(np.float64)
    return np.sqrt(np.einsum("ij,ij->i", W, W))


def _sqdistances(x: np.ndarray, j: int) -> np.ndarray:
    """Squared distance from row j of ``x`` to every row."""
    step = x - x[j]
    return np.einsum("ij,ij->i", step, step)


def _pivots(K: np.ndarray, p: np.ndarray, tol: float) -> tuple[list[int], np.ndarray]:
    """Pivoted Cholesky of the conditional block ``K`` (greedy on diagonal / p), stopping below ``tol``:
    (pivots, their lower factor)."""
    b = K.shape[0]
    d = np.diag(K).copy()
    L = np.zeros((b, b))
    piv: list[int] = []
    for r in range(b):
        j = int(np.argmax(d / p))
        if not d[j] / p[j] >= tol:
            break
        col = (K[:, j] - L[:, :r] @ L[j, :r]) / np.sqrt(d[j])
        L[:, r] = col
        d -= col * col
        d[j] = 0.0
        piv.append(j)
    return piv, L[piv][:, : len(piv)]


def _spread(x: np.ndarray, count: int, d: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Up to ``count`` of the ``allowed`` rows of ``x`` by farthest-point sampling, starting from ``d``:
    each row's squared distance to the anchors so far (+inf when none; not changed here).
    The residual kernel decorrelates with distance: spread candidates are nearly independent, so the
    pivoted Cholesky of a round wastes few of them."""
    chosen = []
    far = np.where(allowed, d, -1.0)
    for _ in range(count):
        j = int(np.argmax(far))
        if far[j] < 0.0:
            break
        chosen.append(j)
        np.minimum(far, _sqdistances(x, j), out=far, where=far >= 0.0)
        far[j] = -1.0
    return np.asarray(chosen, dtype=np.int64)


def _note_anchors(x: np.ndarray, d: np.ndarray, anchors: np.ndarray) -> None:
    """Lower ``d`` (squared distance to the nearest anchor) for new ``anchors``."""
    for j in anchors:
        np.minimum(d, _sqdistances(x, j), out=d)


def basis(slots, F: np.ndarray, halo: np.ndarray, tol: float | None = None, max_rank: int = MAX_RANK) -> Basis:
    """The local Nystrom basis of the residual kernel over the feature rows ``F[halo]`` (anchors until
    every point keeps at most ``tol`` of its p; ``RANK_TOLERANCE`` by default)."""
    tol = RANK_TOLERANCE if tol is None else tol
    x, p, V = (np.ascontiguousarray(a) for a in split_rows(F[halo], slots.dim))
    h = halo.shape[0]
    cap = min(max_rank, h, slots.m)
    Wt = np.empty((cap, h))  # basis functions by rows: rows [0, r) are filled
    e = p.copy()
    anchors: list[int] = []
    near = np.full(h, np.inf)  # squared proxy distance to the nearest anchor
    while len(anchors) < cap:
        r = len(anchors)
        rel = e / p
        over = rel[rel >= tol]
        floor = max(tol, float(np.quantile(over, SPREAD_QUANTILE))) if over.size > ANCHOR_BLOCK else tol
        top = _spread(x, min(ANCHOR_BLOCK if r else FIRST_BLOCK, cap - r), near, rel >= floor)
        if top.size == 0:
            break
        cond = residual_cross(slots, x[top], V[top], x, V)[1] - Wt[:r, top].T @ Wt[:r]
        piv, Lp = _pivots(cond[:, top], p[top], tol)
        piv = piv[: cap - r]
        if not piv:
            break
        new = np.linalg.solve(Lp[: len(piv), : len(piv)], cond[piv])
        Wt[r: r + len(piv)] = new
        e -= np.einsum("ij,ij->j", new, new)
        anchors += [int(t) for t in top[piv]]
        _note_anchors(x, near, top[piv])
    r = len(anchors)
    L = np.tril(Wt[:r, anchors].T) if r else np.zeros((0, 0))
    inverse = np.linalg.solve(L, np.eye(r)) if r else L
    W32 = np.ascontiguousarray(Wt[:r].T, dtype=np.float32)
    e = np.maximum(e, 0.0) + BOUND_ROOM * p
    return Basis(halo, W32, _norms(W32), np.sqrt(e), 1.0 / np.sqrt(p), halo[np.asarray(anchors, dtype=np.int64)], inverse)


@dataclass(frozen=True)
class CellIndex:
    """A partition and, per cell, the basis over its halo of ``size`` points."""

    part: Partition
    size: int
    bases: tuple[Basis, ...]

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.bases)


def build_index(slots, F: np.ndarray, pts: np.ndarray, part: Partition, size: int) -> CellIndex:
    """Every cell's halo of ``size`` points and its basis, cells in parallel (single-threaded BLAS each)."""
    n = pts.shape[0]
    if part.cells * min(size, n) > MAX_HALO_ROWS_PER_POINT * n:
        raise ValueError(f"{part.cells} cells with halos of {min(size, n)} points would hold "
                         f"{part.cells * min(size, n):,} rows of bases, over {MAX_HALO_ROWS_PER_POINT} per point: "
                         f"use larger cells (Gate.cell) or a larger delta")
    bases: list[Basis | None] = [None] * part.cells

    def one(c: int) -> None:
        bases[c] = basis(slots, F, part.halo(c, pts, size))

    in_parallel(one, range(part.cells))
    return CellIndex(part, size, tuple(bases))


def query_features(slots, F: np.ndarray, b: Basis, Fq: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(W as float32, |W| of those float32 rows, sqrt(e) with room, 1 / sqrt(p)) of query feature rows
    ``Fq`` in basis ``b``."""
    xq, pq, Vq = split_rows(Fq, slots.dim)
    xa, _, Va = split_rows(F[b.anchors], slots.dim)
    W64 = (b.inverse @ residual_cross(slots, xa, Va, xq, Vq)[1]).T if b.rank else np.zeros((Fq.shape[0], 0))
    e = np.maximum(pq - np.einsum("ij,ij->i", W64, W64), 0.0) + BOUND_ROOM * pq
    W = np.ascontiguousarray(W64, dtype=np.float32)
    return W, _norms(W), np.sqrt(e), 1.0 / np.sqrt(pq)
