"""Selecting events from a telemetry frame (shared by the views)."""

from __future__ import annotations


def events(frame, schema_id: str, run_id: str | None = None, operation: str | None = None):
    """The rows of one schema (optionally one run and one operation); ``ValueError`` when there are none."""
    if "schema_id" not in getattr(frame, "columns", ()):
        raise TypeError("frame must be a telemetry DataFrame (covertreex.telemetry.load)")
    part = frame[frame["schema_id"] == schema_id]
    if run_id is not None:
        part = part[part["run_id"] == run_id]
    if operation is not None and "operation" in part:
        part = part[part["operation"] == operation]
    if part.empty:
        where = "".join(f", {k}={v!r}" for k, v in (("run_id", run_id), ("operation", operation)) if v is not None)
        raise ValueError(f"frame has no {schema_id!r} events{where}")
    return part.dropna(axis=1, how="all")


def first_run(frame, schema_id: str) -> str:
    """The run id of the first event of a schema (the default run a view shows)."""
    return str(events(frame, schema_id)["run_id"].iloc[0])
