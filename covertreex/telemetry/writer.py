"""``TelemetryWriter``: validated JSONL events, one per line, flushed as they are written."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from covertreex.telemetry.artifacts import new_run_id
from covertreex.telemetry.schema import SCHEMAS, validate


def runtime_hash(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()[:16]


class TelemetryWriter:
    """Append events to ``path`` (JSON Lines).  Pass it to ``CoverTree.fit/insert/knn(telemetry=...)``.

    ``runtime`` is the Runtime of the trees it observes (its hash and seed go into every event).
    """

    def __init__(self, path: str | Path, runtime, run_id: str | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        description = runtime.describe()
        self.run_id = run_id or new_run_id(description)
        self._common = {"run_id": self.run_id, "runtime_hash": runtime_hash(description), "seed": runtime.seed}
        self._file = self.path.open("a", encoding="utf-8")

    def emit(self, schema_id: str, **fields) -> dict:
        """Validate and write one event; returns it."""
        if schema_id not in SCHEMAS:
            raise ValueError(f"unknown schema_id {schema_id!r}; known: {', '.join(SCHEMAS)}")
        event = {
            "schema_id": schema_id,
            "schema_version": SCHEMAS[schema_id][0],
            **self._common,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            **{k: _plain(v) for k, v in fields.items()},
        }
        validate(event)
        self._file.write(json.dumps(event) + "\n")
        self._file.flush()
        return event

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TelemetryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _plain(value):
    """NumPy scalars -> Python numbers (JSON)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
