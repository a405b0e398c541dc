"""The vocabulary of release decisions, as types.

Names follow MISSION.md: access levels after Solaiman's "gradient of release" (2023), the
components of a release, the benefits of openness (Seger et al. 2023), risk domains, risk tiers and
the three conditions under which a risk is measured.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any


class _Ranked(StrEnum):
    """A string enum whose members are ordered by their declaration order."""

    @property
    def rank(self) -> int:
        return list(type(self)).index(self)

    # str would otherwise compare members alphabetically; every comparison goes by rank.
    def __lt__(self, other: Any) -> bool:
        return self.rank < _rank_of(self, other)

    def __le__(self, other: Any) -> bool:
        return self.rank <= _rank_of(self, other)

    def __gt__(self, other: Any) -> bool:
        return self.rank > _rank_of(self, other)

    def __ge__(self, other: Any) -> bool:
        return self.rank >= _rank_of(self, other)

    __hash__ = Enum.__hash__

    @classmethod
    def from_rank(cls, rank: int) -> Any:
        members = list(cls)
        return members[max(0, min(rank, len(members) - 1))]


def _rank_of(self: _Ranked, other: Any) -> int:
    if not isinstance(other, type(self)):
        raise TypeError(f"cannot compare {type(self).__name__} with {type(other).__name__}")
    return other.rank


class AccessLevel(_Ranked):
    """How far a component is opened, from `closed` (rank 0) to `fully_open` (rank 6)."""

    CLOSED = "closed"
    HOSTED = "hosted"
    API = "api"
    RESEARCH_API = "research_api"
    GATED_WEIGHTS = "gated_weights"
    OPEN_WEIGHTS = "open_weights"
    FULLY_OPEN = "fully_open"

    @property
    def weights_leave_developer(self) -> bool:
        """Whether weights leave the developer's hands (so safeguards can be removed)."""
        return self >= AccessLevel.GATED_WEIGHTS


class Component(StrEnum):
    """A part of a release that can be opened to its own level."""

    WEIGHTS = "weights"
    INFERENCE_CODE = "inference_code"
    TRAINING_CODE = "training_code"
    TRAINING_DATA = "training_data"
    EVALUATIONS = "evaluations"
    SAFEGUARDS = "safeguards"
    DOCUMENTATION = "documentation"


class Benefit(StrEnum):
    """A benefit of openness that alternatives to open weights must still deliver."""

    EXTERNAL_EVALUATION = "external_evaluation"
    ACCELERATE_PROGRESS = "accelerate_progress"
    DISTRIBUTE_CONTROL = "distribute_control"


class RiskDomain(StrEnum):
    """The built-in risk domains. Policies may define more domains by name."""

    CBRN = "cbrn"
    CYBER = "cyber"
    PERSUASION = "persuasion"
    AUTONOMY = "autonomy"


class Tier(_Ranked):
    """A risk tier, ordered low < medium < high < critical."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Condition(StrEnum):
    """The condition under which a risk is measured."""

    PRE_MITIGATION = "pre_mitigation"  # the bare model
    POST_MITIGATION = "post_mitigation"  # the model behind its safeguards
    POST_TAMPER = "post_tamper"  # worst case after a sweep of fine-tuning attacks


__all__ = ["AccessLevel", "Benefit", "Component", "Condition", "RiskDomain", "Tier"]
