"""Approximate rows of the residual benchmark: covertreex's gated tier and pynndescent, recall measured.

A gated row: ``CoverTree.calibrate_gate`` for the task's mode at one ``delta`` (timed: the calibration
is part of what the user pays, added to the fit as the row's build time), then the gated queries,
checked against the oracle on the benchmark's rows, with an exact Clopper–Pearson interval for the
recall; the profile's own audit on held-out points is kept beside it.

The pynndescent peer: an NN-descent graph over packed rows ``[x / lengthscale, p, V]`` with a Numba
custom metric (the residual distance in float64), queried for the benchmark's query ids (its own
point excluded).  Building the graph evaluates the expensive metric many times, so it runs once.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from covertreex.bench.harness import EngineRow, check_rows, timed
from covertreex.gates.calibration import clopper_pearson
from covertreex.gates.policy import Gate
from covertreex.gates.search import neighbour_counts
from covertreex.kernels._kernels_numba import kernel_value

NNDESCENT_NEIGHBOURS = 30  # graph degree (pynndescent's default)
NNDESCENT_EPSILON = 0.1  # search breadth (pynndescent's default)


def recall_interval(ids: np.ndarray, oracle_ids: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of recall@k: true neighbours returned out of true neighbours (per row,
    the ids both give; -1 padding is not a neighbour)."""
    found, true, _ = neighbour_counts(ids, oracle_ids)
    return clopper_pearson(found, true, confidence) if true else (1.0, 1.0)


def gated_rows(tree, fit_runs: list[float], oracles: dict, qids: np.ndarray, deltas: tuple[float, ...],
               calibration: int, audit: int, k: int, n: int, true_distances, step, search: str = "walk"
               ) -> list[EngineRow]:
    """One row per (delta, task) of ``oracles`` (task -> (checked rows, oracle run, predecessor)), gated
    by ``search`` (``Gate.search``)."""
    rows = []
    for delta in deltas:
        for task, (check, oracle, pred) in oracles.items():
            step(f"covertreex gated {search} delta={delta:g}: {task}")
            gate = Gate(delta=delta, calibration=calibration, audit=audit, search=search)
            tree._drop_gate_structures()  # each calibration pays for the structure it builds
            cal = timed(lambda: tree.calibrate_gate(gate, k, predecessor=pred), 1)
            profile = cal.out
            if task == "knn query ids":
                run = timed(lambda: tree.knn_result(k=k, query_ids=qids, gate=profile), 3)
                ids, owners, answered = run.out.ids, qids, len(qids)
            else:
                run = timed(lambda: tree.knn_result(k=k, predecessor=pred, gate=profile), 1)
                ids, owners, answered = run.out.ids[check], check, n
            recall, exact = check_rows(ids, true_distances(tree, owners, ids), oracle.out, owners=owners,
                                       predecessor=pred)
            low, high = recall_interval(ids, oracle.out[0])
            a = profile.audit
            answered_by = "gated" if run.out.engine == "gated" else "the exact dense engine (cheaper than the budget)"
            note = (f"delta={delta:g}: budget {'/'.join(map(str, profile.budgets))} of {n}, answered by {answered_by}; "
                    f"calibration "
                    f"{cal.runs[0]:.2f} s ({calibration} exact queries + {audit} audited) in the build column; "
                    f"recall 95% CI [{low:.4f}, {high:.4f}]")
            if a is not None:
                note += f"; held-out audit recall {a.recall:.4f} [{a.recall_low:.4f}, {a.recall_high:.4f}]"
            if search == "auto":
                note += f"; auto chose {profile.gate.search}"
            if profile.gate.search == "cells":
                index = tree._gate_structure(profile)
                ranks = [b.rank for b in index.bases]
                note += (f"; {index.part.cells} cells, halo {index.size}, basis rank median "
                         f"{int(np.median(ranks))} (max {max(ranks)}), {index.nbytes / 2**20:,.0f} MB")
            label = "gated" if search == "walk" else f"gated {search}"
            rows.append(EngineRow(task, f"covertreex {label} (delta={delta:g})", None, False, note,
                                  [f + cal.runs[0] for f in fit_runs], run.runs, answered, recall, exact, len(check),
                                  max(cal.peak_mb, run.peak_mb),
                                  evals_per_query=float(run.out.distance_evaluations.mean()), recall_low=low,
                                  recall_high=high, calibration_s=cal.runs[0]))
    return rows


def residual_metric(kernel: int, variance: float, dim: int, m: int):
    """The residual distance between packed rows ``[x / lengthscale (dim), p, V (m)]`` as a Numba
    function of two 1-D rows (what pynndescent's custom metrics are)."""

    @nb.njit(fastmath=False)
    def distance(x, y):
        s = 0.0
        for i in range(dim):
            d = x[i] - y[i]
            s += d * d
        dot = 0.0
        for i in range(dim + 1, dim + 1 + m):
            dot += x[i] * y[i]
        rho = abs((kernel_value(kernel, variance, s) - dot) / math.sqrt(x[dim] * y[dim]))
        return math.sqrt(1.0 - min(rho, 1.0))

    return distance


def nndescent_row(tree, qids: np.ndarray, k: int, oracle, true_distances, seed: int) -> EngineRow:
    """pynndescent on the tree's feature rows: index build, then the query ids (self excluded)."""
    from pynndescent import NNDescent, __version__

    rows = np.ascontiguousarray(tree._fitted())
    slots = tree.metric.slots
    metric = residual_metric(slots.kernel, slots.variance, slots.dim, slots.m)
    NNDescent(rows[:512], metric=metric, n_neighbors=NNDESCENT_NEIGHBOURS, random_state=seed).prepare()  # compiles
    def built():
        index = NNDescent(rows, metric=metric, n_neighbors=NNDESCENT_NEIGHBOURS, random_state=seed, n_jobs=-1)
        index.prepare()  # the search graph too: queries then only search
        return index

    build = timed(built, 1)
    index = build.out
    run = timed(lambda: index.query(rows[qids], k=k + 1, epsilon=NNDESCENT_EPSILON), 3)
    got = run.out[0].astype(np.int64)
    ids = np.stack([[j for j in row if j != q][:k] for row, q in zip(got, qids)])
    recall, exact = check_rows(ids, true_distances(tree, qids, ids), oracle.out, owners=qids)
    low, high = recall_interval(ids, oracle.out[0])
    return EngineRow("knn query ids", "pynndescent (residual metric)", __version__, False,
                     f"NN-descent graph, n_neighbors={NNDESCENT_NEIGHBOURS}, epsilon={NNDESCENT_EPSILON}, custom "
                     f"Numba residual metric over [x/l, p, V]; recall 95% CI [{low:.4f}, {high:.4f}]",
                     build.runs, run.runs, len(qids), recall, exact, len(qids), max(build.peak_mb, run.peak_mb),
                     recall_low=low, recall_high=high)
