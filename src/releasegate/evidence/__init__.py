"""Evidence: the `RiskReport` written by `assess` and read by `decide`."""

from pathlib import Path

from releasegate._util.load import load_model
from releasegate.evidence._report import (
    SCHEMA_VERSION,
    BaselineComparison,
    ConfidenceInterval,
    Coverage,
    DatasetRef,
    EvidenceItem,
    FailedEvaluation,
    ModelIdentity,
    RiskReport,
    SafeguardMetrics,
    TamperAttack,
)


def load_report(path: str | Path) -> RiskReport:
    """Read a `RiskReport` from a JSON (or YAML) file; raises `InputError` naming file and field."""
    return load_model(RiskReport, path)


__all__ = [
    "SCHEMA_VERSION",
    "BaselineComparison",
    "ConfidenceInterval",
    "Coverage",
    "DatasetRef",
    "EvidenceItem",
    "FailedEvaluation",
    "ModelIdentity",
    "RiskReport",
    "SafeguardMetrics",
    "TamperAttack",
    "load_report",
]
