"""Evidence: the `RiskReport` written by `assess` and read by `decide`."""

from importlib import resources
from pathlib import Path

from releasegate._util.load import load_model
from releasegate.evidence._intervals import (
    scaled_samples_to_decide,
    wilson_interval,
    wilson_samples_to_decide,
    worst_case_interval,
)
from releasegate.evidence._report import (
    SCHEMA_VERSION,
    BaselineComparison,
    CiMethod,
    ConfidenceInterval,
    Coverage,
    DatasetRef,
    EvidenceItem,
    EvidenceKind,
    FailedEvaluation,
    JudgeAgreement,
    ModelIdentity,
    RiskReport,
    SafeguardMetrics,
    SamplingRecord,
    TamperAttack,
    TamperStrength,
)


def load_report(path: str | Path) -> RiskReport:
    """Read a `RiskReport` from a JSON (or YAML) file; raises `InputError` naming file and field."""
    return load_model(RiskReport, path)


EXAMPLE_REPORTS = (
    "low-risk",
    "high-cyber-strong-safeguards",
    "critical-bio-proxy",
    "missing-tamper",
)


def example_report_path(name: str = "high-cyber-strong-safeguards") -> Path:
    """Path of an example report shipped in the package (copies of `examples/reports/*.json`)."""
    if name not in EXAMPLE_REPORTS:
        raise ValueError(f"no example report {name!r}; choose from {', '.join(EXAMPLE_REPORTS)}")
    return Path(str(resources.files("releasegate.evidence") / "_examples" / f"{name}.json"))


__all__ = [
    "EXAMPLE_REPORTS",
    "SCHEMA_VERSION",
    "BaselineComparison",
    "CiMethod",
    "ConfidenceInterval",
    "Coverage",
    "DatasetRef",
    "EvidenceItem",
    "EvidenceKind",
    "FailedEvaluation",
    "JudgeAgreement",
    "ModelIdentity",
    "RiskReport",
    "SafeguardMetrics",
    "SamplingRecord",
    "TamperAttack",
    "TamperStrength",
    "example_report_path",
    "load_report",
    "scaled_samples_to_decide",
    "wilson_interval",
    "wilson_samples_to_decide",
    "worst_case_interval",
]
