"""Telemetry: versioned JSONL events of builds and queries, artifact paths, and loading helpers."""

from covertreex.telemetry.load import load, summarize
from covertreex.telemetry.schema import SCHEMAS, validate
from covertreex.telemetry.writer import TelemetryWriter

__all__ = ["SCHEMAS", "TelemetryWriter", "load", "summarize", "validate"]
