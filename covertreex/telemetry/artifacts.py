"""Where runs write their outputs: ``artifacts/{benchmarks,profiles,logs}/<kind>-<run id>.<ext>``."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timezone
from pathlib import Path

SUBDIRS = ("benchmarks", "profiles", "logs")


def new_run_id(config: dict | None = None) -> str:
    """UTC timestamp, a short hash of ``config`` (what was run) and a random suffix (which run)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(json.dumps(config or {}, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{stamp}-{digest}-{secrets.token_hex(2)}"


def artifact_path(root: str | Path, subdir: str, kind: str, run_id: str, ext: str) -> Path:
    if subdir not in SUBDIRS:
        raise ValueError(f"subdir must be one of {SUBDIRS}, got {subdir!r}")
    path = Path(root) / subdir / f"{kind}-{run_id}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
