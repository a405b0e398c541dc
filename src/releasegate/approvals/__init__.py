"""Approvals: stored release decisions and their N-of-M sign-off."""

from releasegate.approvals._registry import (
    ApprovalError,
    DecisionNotFoundError,
    DecisionRecord,
    DecisionRegistry,
    SignoffRecord,
)
from releasegate.approvals._settings import record_decision

__all__ = [
    "ApprovalError",
    "DecisionNotFoundError",
    "DecisionRecord",
    "DecisionRegistry",
    "SignoffRecord",
    "record_decision",
]
