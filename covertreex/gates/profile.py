"""``GateProfile``: a calibrated gate — budgets, what they were calibrated on, and their audit — and its file.

A profile is only valid for the data and metric it was calibrated on: it carries a stamp (kernel,
a hash of the inducing set and Cholesky factor or of the user's V and p, a hash of the coordinates,
the number of points, k and the query mode), and using it anywhere else is refused.  Profiles are
JSON files (``covertreex.gate-profile`` version 1); loading treats the file as untrusted and checks
every field before anything uses it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from covertreex.gates.policy import Gate

FORMAT = "covertreex.gate-profile"
FORMAT_VERSION = 1


def fingerprints(metric, rows: np.ndarray, coords: np.ndarray) -> tuple[str, str]:
    """(inducing hash, data hash) of a fitted residual tree: the inducing points and Cholesky factor (or,
    for user-supplied factors, V and p: they are the inducing set's whole effect), and the coordinates."""
    inducing = _sha(metric.inducing, metric.chol) if metric.computes_features else _sha(rows[:, metric.dim:])
    return inducing, _sha(coords)


def _sha(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class Stamp:
    """What a profile was calibrated on."""

    kernel: dict
    inducing: str  # hash of the inducing points and Cholesky factor (or of a user's V and p)
    data: str  # hash of the coordinates
    points: int
    k: int
    predecessor: bool

    @staticmethod
    def of(tree, k: int, predecessor: bool) -> Stamp:
        inducing, data = tree._gate_fingerprints()
        return Stamp(tree.metric.kernel.describe(), inducing, data, tree.num_points, int(k), bool(predecessor))

    def mismatch(self, other: Stamp) -> str | None:
        """Why ``other`` (a tree and query) cannot use a profile stamped ``self``; None when it can."""
        if self.kernel != other.kernel:
            return f"the profile was calibrated for kernel {self.kernel}, this tree's kernel is {other.kernel}"
        if self.inducing != other.inducing:
            return "the profile was calibrated with a different inducing set (or different V and p)"
        if self.points != other.points or self.data != other.data:
            return (f"the profile was calibrated on other data ({self.points} points, coordinates hash "
                    f"{self.data[:12]}), this tree has {other.points} points, hash {other.data[:12]}")
        if self.k != other.k:
            return f"the profile was calibrated for k={self.k}, the query asks for k={other.k}"
        if self.predecessor != other.predecessor:
            mode = "predecessor" if self.predecessor else "k-NN (not predecessor)"
            return f"the profile was calibrated for {mode} queries"
        return None


@dataclass(frozen=True)
class GateAudit:
    """Recall of gated answers against the exact engine on held-out queries.

    ``recall`` = true neighbours returned / true neighbours (the ids both give, per query), with an exact
    Clopper–Pearson interval; ``served`` = queries answered with all their true neighbours, with its
    interval (queries are independent draws, neighbours of one query are not: ``served`` is the
    figure the calibration guarantees, at least 1 - delta)."""

    queries: int
    found: int
    true: int
    recall: float
    recall_low: float
    recall_high: float
    served: int
    served_fraction: float
    served_low: float
    served_high: float
    confidence: float
    seconds_gated: float
    seconds_exact: float

    def describe(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class GateProfile:
    """Budgets calibrated for one tree, k and mode.  ``band_edges``: the p values that split the bands
    (``bands - 1`` of them, increasing); ``budgets[b]``: candidates a query of band b re-ranks.
    ``calibration``: per calibration query its ``ids``, ``scores`` (the smallest budget that serves it),
    ``p`` and ``kth_distance`` (exact residual k-th distance), for views."""

    gate: Gate
    stamp: Stamp
    band_edges: tuple[float, ...]
    budgets: tuple[int, ...]
    calibration: dict = field(repr=False)
    seconds: float = 0.0
    audit: GateAudit | None = None

    @property
    def k(self) -> int:
        return self.stamp.k

    @property
    def predecessor(self) -> bool:
        return self.stamp.predecessor

    def band_of(self, p: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.band_edges, dtype=np.float64), p, side="right")

    def budget_of(self, p: np.ndarray) -> np.ndarray:
        """The budget of queries with residual variances ``p``."""
        return np.asarray(self.budgets, dtype=np.int64)[self.band_of(p)]

    def check(self, stamp: Stamp) -> None:
        why = self.stamp.mismatch(stamp)
        if why is not None:
            raise ValueError(f"this gate profile does not fit: {why}; recalibrate (CoverTree.calibrate_gate)")

    def describe(self) -> dict:
        return {"format": FORMAT, "version": FORMAT_VERSION, "gate": self.gate.describe(),
                "stamp": asdict(self.stamp), "band_edges": list(self.band_edges), "budgets": list(self.budgets),
                "seconds": self.seconds, "audit": None if self.audit is None else self.audit.describe(),
                "calibration": {key: np.asarray(v).tolist() for key, v in self.calibration.items()}}

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON (``.json``); parents are created."""
        path = Path(path)
        if path.suffix != ".json":
            raise ValueError(f"path must end in .json, got {str(path)!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.describe(), allow_nan=False))
        return path

    @staticmethod
    def load(path: str | Path) -> GateProfile:
        """Read a profile written by ``save``, checking every field (the file is untrusted)."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable gate profile ({exc})") from None
        return _from_doc(doc, str(path))


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise ValueError(f"{where}: not a valid gate profile: {what}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _from_doc(doc, where: str) -> GateProfile:
    _need(isinstance(doc, dict) and doc.get("format") == FORMAT, where, f"the format must be {FORMAT!r}")
    _need(doc.get("version") == FORMAT_VERSION, where, f"version {doc.get('version')!r} is not {FORMAT_VERSION}")
    keys = {"format", "version", "gate", "stamp", "band_edges", "budgets", "seconds", "audit", "calibration"}
    _need(set(doc) == keys, where, f"fields must be {sorted(keys)}, got {sorted(doc)}")
    _need(isinstance(doc["gate"], dict), where, "gate must be an object")
    try:
        gate = Gate(**doc["gate"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: not a valid gate profile: gate: {exc}") from None
    _need(gate.search != "auto", where, "gate search must be the one calibrated ('walk' or 'cells'), not 'auto'")
    st = doc["stamp"]
    _need(isinstance(st, dict) and set(st) == {"kernel", "inducing", "data", "points", "k", "predecessor"},
          where, "stamp must hold kernel, inducing, data, points, k, predecessor")
    _need(isinstance(st["kernel"], dict) and isinstance(st["inducing"], str) and isinstance(st["data"], str),
          where, "stamp kernel/inducing/data have the wrong types")
    _need(_is_int(st["points"]) and st["points"] >= 2 and _is_int(st["k"]) and 1 <= st["k"] < st["points"],
          where, "stamp points/k must be integers with 1 <= k < points")
    _need(isinstance(st["predecessor"], bool), where, "stamp predecessor must be true or false")
    stamp = Stamp(**st)
    edges, budgets = doc["band_edges"], doc["budgets"]
    _need(isinstance(budgets, list) and len(budgets) == gate.bands and all(
        _is_int(b) and stamp.k <= b <= stamp.points for b in budgets), where,
        f"budgets must be {gate.bands} integers in [k, points]")
    _need(isinstance(edges, list) and len(edges) == gate.bands - 1 and all(_is_num(e) for e in edges)
          and edges == sorted(edges), where, f"band_edges must be {gate.bands - 1} increasing numbers")
    _need(_is_num(doc["seconds"]) and doc["seconds"] >= 0, where, "seconds must be a number >= 0")
    cal = doc["calibration"]
    _need(isinstance(cal, dict) and set(cal) == {"ids", "scores", "p", "kth_distance"}, where,
          "calibration must hold ids, scores, p, kth_distance")
    cal = {key: np.asarray(v) for key, v in cal.items()}
    size = cal["ids"].shape
    _need(len(size) == 1 and all(v.shape == size for v in cal.values()), where, "calibration arrays differ in length")
    _need(cal["ids"].size == 0 or (cal["ids"].dtype.kind == "i" and cal["scores"].dtype.kind == "i"), where,
          "calibration ids and scores must be integers")
    audit = doc["audit"]
    if audit is not None:
        names = set(GateAudit.__dataclass_fields__)
        _need(isinstance(audit, dict) and set(audit) == names and all(_is_num(v) for v in audit.values()), where,
              f"audit must hold the numbers {sorted(names)}")
        audit = GateAudit(**audit)
    return GateProfile(gate, stamp, tuple(float(e) for e in edges), tuple(budgets), cal, float(doc["seconds"]), audit)
