"""What a decision lets the gateway serve: the tier check lives with the decisions
(`releasegate.approvals`); the gateway re-exports it under its historical names."""

from releasegate.approvals._allowed import (
    DecisionForbidsServing,
    TierViolation,
    check_tiers,
    enforce_decision,
)

__all__ = ["DecisionForbidsServing", "TierViolation", "check_tiers", "enforce_decision"]
