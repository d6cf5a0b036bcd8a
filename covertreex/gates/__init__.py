"""Opt-in approximate residual searches with calibrated, audited recall (``Gate``, ``GateProfile``)."""

from covertreex.gates.policy import Gate
from covertreex.gates.profile import GateAudit, GateProfile

__all__ = ["Gate", "GateAudit", "GateProfile"]
