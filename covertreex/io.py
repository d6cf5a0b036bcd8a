"""Reading point files (.npy, .csv, .parquet) and writing neighbour files (.npy, .parquet).

The CLI and the widgets share it.

Points come back as they are stored (validation is the tree's job, which names the argument);
a CSV may have one header row; parquet columns must all be numeric.  Neighbours are written as
an (n, k) id array to ``.npy`` (distances beside it as ``<stem>.distances.npy``) or as a long table
(query, rank, neighbour, distance) to ``.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

POINT_SUFFIXES = (".npy", ".csv", ".parquet")
NEIGHBOUR_SUFFIXES = (".npy", ".parquet")


def _pandas(what: str):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - the telemetry extra is installed in CI
        raise ValueError(f"{what} needs pandas and pyarrow: pip install 'covertreex[telemetry]'") from None
    return pd


def read_points(path: str | Path, name: str = "data") -> np.ndarray:
    """A 2-D array from ``path``; raises ``ValueError`` naming ``name`` and the problem."""
    path = Path(path)
    if path.suffix not in POINT_SUFFIXES:
        raise ValueError(f"{name}: file must end in {', '.join(POINT_SUFFIXES)}, got {str(path)!r}")
    if not path.is_file():
        raise ValueError(f"{name}: no such file {str(path)!r}")
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
    elif path.suffix == ".csv":
        arr = _read_csv(path, name)
    else:
        frame = _pandas("reading parquet").read_parquet(path)
        bad = [c for c in frame.columns if not np.issubdtype(frame[c].dtype, np.number)]
        if bad:
            raise ValueError(f"{name}: parquet columns must be numeric, not {bad}")
        arr = frame.to_numpy()
    if arr.ndim == 1:
        arr = arr[:, None]
    return arr


def _read_csv(path: Path, name: str) -> np.ndarray:
    """Comma-separated numbers, one point per line, one header line allowed.  What cannot be read is
    reported by line and value number as an editor and a spreadsheet count them (from 1)."""
    with path.open(encoding="utf-8") as fh:
        first = fh.readline()
    if "," not in first:
        other = next((d for d in (";", "\t", "|") if d in first), None)
        if other is not None:
            raise ValueError(f"{name}: {path.name} seems to separate values with {other!r}; covertreex reads "
                             "comma-separated files (with '.' as the decimal point): convert it, e.g. with pandas")
    try:
        [float(v) for v in first.strip().split(",")]
        skip = 0
    except ValueError:
        skip = 1  # a header row
    try:
        return np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, dtype=np.float64)
    except ValueError:
        raise ValueError(f"{name}: {_first_bad_cell(path, skip)}") from None


def _first_bad_cell(path: Path, skip: int) -> str:
    """Where a CSV file stops being a table of numbers: line and value numbers counted from 1."""
    width = None
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if number <= skip or not line.strip():
                continue
            cells = line.rstrip("\n").split(",")
            if width is None:
                width = len(cells)
            elif len(cells) != width:
                return f"{path.name}, line {number}: {len(cells)} values where the lines above have {width}"
            for column, cell in enumerate(cells, start=1):
                try:
                    float(cell)
                except ValueError:
                    return f"{path.name}, line {number}, value {column}: {cell.strip()!r} is not a number"
    return f"cannot read {path.name} as comma-separated numbers"


def check_output(path: str | Path, name: str = "--out") -> Path:
    path = Path(path)
    if path.suffix not in NEIGHBOUR_SUFFIXES:
        raise ValueError(f"{name}: file must end in {', '.join(NEIGHBOUR_SUFFIXES)}, got {str(path)!r}")
    return path


def write_neighbours(path: Path, ids: np.ndarray, distances: np.ndarray, rows: np.ndarray | None = None) -> list[Path]:
    """Write the (n, k) answer; ``rows`` are the query labels (default 0..n-1).  Returns the files written."""
    path = check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        side = path.with_name(path.stem + ".distances.npy")
        np.save(path, ids)
        np.save(side, distances)
        return [path, side]
    pd = _pandas("writing parquet")
    n, k = ids.shape
    labels = np.arange(n) if rows is None else np.asarray(rows)
    frame = pd.DataFrame({"query": np.repeat(labels, k), "rank": np.tile(np.arange(k), n),
                          "neighbour": ids.ravel(), "distance": distances.ravel()})
    frame.to_parquet(path, index=False)
    return [path]
