"""Reading telemetry back: JSONL -> pandas DataFrame, and per-run summaries (pandas: extra ``telemetry``)."""

from __future__ import annotations

import json
from pathlib import Path

from covertreex.telemetry.schema import validate


def _pandas():
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ImportError("covertreex.telemetry.load needs pandas: pip install 'covertreex[telemetry]'") from exc
    return pd


def load(path: str | Path, validate_events: bool = True):
    """All events of a JSONL file as a DataFrame (floats stay floats: ``dtype=False``)."""
    pd = _pandas()
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        if not any(line.strip() for line in fh):
            raise ValueError(f"{path}: no telemetry events in the file (it is empty)")
    if validate_events:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        validate(json.loads(line))
                    except ValueError as exc:
                        raise ValueError(f"{path}:{number}: {exc}") from None
    return pd.read_json(path, lines=True, dtype=False)


def summarize(frame):
    """One row per (run, schema): event count, total seconds, and build/query headline figures."""
    pd = _pandas()
    rows = []
    for (run_id, schema_id), part in frame.groupby(["run_id", "schema_id"], sort=True):
        row = {"run_id": run_id, "schema_id": schema_id, "events": len(part)}
        for col in ("seconds", "batch_size", "queries", "neighbour_edges", "parent_search_distances"):
            if col in part and part[col].notna().any():
                row[f"total_{col}"] = float(part[col].sum())
        if "evals_mean" in part and part["evals_mean"].notna().any():
            row["evals_mean"] = float((part["evals_mean"] * part["queries"]).sum() / part["queries"].sum())
        if "recall" in part and part["recall"].notna().any():
            row["recall_min"] = float(part["recall"].min())
        rows.append(row)
    return pd.DataFrame(rows)
