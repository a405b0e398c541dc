"""`StagePlan`: a staged release as data (YAML), validated by pydantic.

A plan is an ordered list of stages, each opening a set of access tiers (and, for the last
stages, component levels such as `weights: gated_weights`), each behind a gate to enter it,
and the rollback triggers that step the release back on their own. See docs/stages.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from releasegate.policy._decision import SignoffRequirement
from releasegate.vocab import AccessLevel, Component, Condition, Tier

STAGE_NAME = r"^[a-z][a-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvidenceIndicator(_Strict):
    """One number the fresh reassessment must meet, read from its report at the worse bound of
    its 95% confidence interval (precaution: an uncertain reading never opens a stage)."""

    metric: str = Field(description="a report metric, e.g. refusal_rate")
    condition: Condition = Field(
        default=Condition.POST_MITIGATION, description="the condition it was measured under"
    )
    at_least: float | None = Field(default=None, description="the value must be at least this")
    at_most: float | None = Field(default=None, description="the value must be at most this")

    @model_validator(mode="after")
    def _one_bound(self) -> EvidenceIndicator:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least or at_most")
        return self

    def describe(self) -> str:
        bound = f">= {self.at_least}" if self.at_least is not None else f"<= {self.at_most}"
        return f"{self.metric} ({self.condition.value}) {bound}"


class EvidenceRequirement(_Strict):
    """A reassessment of the deployed system through the gateway (`assess --through`)."""

    max_age_days: float = Field(gt=0, description="the report is at most this many days old")
    indicators: list[EvidenceIndicator] = Field(
        default_factory=list, description="the numbers it must meet"
    )
    suites: list[str] = Field(
        default_factory=lambda: ["refusal", "over_refusal"],
        description="the suites `stage promote --reassess` runs through the gateway",
    )
    limit: int | None = Field(
        default=None, ge=1, description="samples per task for `stage promote --reassess`"
    )


class Gate(_Strict):
    """What must hold to enter a stage (every item; none means the stage opens on request)."""

    min_days_in_previous: float | None = Field(
        default=None, ge=0, description="time spent in the previous stage, in days"
    )
    max_incidents: dict[Tier, int] = Field(
        default_factory=dict,
        description="most incidents of at least each severity opened during the previous stage "
        "(e.g. {high: 0, medium: 2})",
    )
    evidence: EvidenceRequirement | None = None
    signoffs: SignoffRequirement | None = Field(
        default=None, description="N of M roles who sign the promotion (Ed25519, as decisions)"
    )


class Stage(_Strict):
    """One stage of the release."""

    name: str = Field(pattern=STAGE_NAME)
    description: str = ""
    tiers: list[str] = Field(default_factory=list, description="the access tiers it opens")
    levels: dict[Component, AccessLevel] = Field(
        default_factory=dict,
        description="component levels it opens (e.g. weights: gated_weights for a last stage); "
        "a component not named stays at the level the tiers need",
    )
    gate: Gate = Field(default_factory=Gate, description="what must hold to enter it")


class RollbackTrigger(_Strict):
    """An event that steps the release back to an earlier stage on its own.

    Kinds: `incident` (an incident opened while in the stage, e.g. by the misuse monitor, of at
    least `min_severity`, optionally only with hazard `categories` such as S1-S4),
    `guard_failure_rate` (the share of requests a gateway refused because a guard could not
    run, above `above` over `window_s`, once at least `min_requests` were seen), and
    `flaw_report` (a flaw report confirmed at `min_severity` or above, fired through
    `fire_rollback`).
    """

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    kind: Literal["incident", "guard_failure_rate", "flaw_report"]
    to: str = Field(description="the stage to step back to")
    description: str = ""
    min_severity: Tier = Tier.HIGH
    categories: list[str] = Field(
        default_factory=list,
        description="incident: only incidents that flagged one of these hazard categories "
        "(e.g. S1, S2, S3, S4); empty: any",
    )
    above: float | None = Field(
        default=None, ge=0, le=1, description="guard_failure_rate: the rate that fires it"
    )
    window_s: float = Field(default=300, gt=0, description="guard_failure_rate: the window")
    min_requests: int = Field(
        default=20, ge=1, description="guard_failure_rate: requests seen before a rate counts"
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> RollbackTrigger:
        if self.kind == "guard_failure_rate" and self.above is None:
            raise ValueError("a guard_failure_rate trigger needs `above` (a rate in [0, 1])")
        if self.kind != "guard_failure_rate" and self.above is not None:
            raise ValueError(f"`above` is for guard_failure_rate triggers, not {self.kind}")
        return self


class StagePlan(_Strict):
    """A staged release: ordered stages, each behind its gate, and rollback triggers."""

    schema_version: Literal["1"] = "1"
    name: str = Field(min_length=1, max_length=200)
    version: str = Field(default="1", min_length=1, max_length=50)
    description: str = ""
    stages: list[Stage] = Field(min_length=1)
    rollback_triggers: list[RollbackTrigger] = Field(default_factory=list)

    def stage(self, name: str) -> Stage:
        """The stage called `name`.

        Raises:
            KeyError: no such stage.
        """
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def index(self, name: str) -> int:
        """The position of stage `name` (0 for the first).

        Raises:
            KeyError: no such stage.
        """
        for i, stage in enumerate(self.stages):
            if stage.name == name:
                return i
        raise KeyError(name)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]


def plan_schema_text() -> str:
    """The JSON Schema of a stage plan, as stable, indented JSON (docs/schemas/ keeps a copy)."""
    import json

    schema = StagePlan.model_json_schema(mode="validation")
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


__all__ = [
    "EvidenceIndicator",
    "EvidenceRequirement",
    "Gate",
    "RollbackTrigger",
    "Stage",
    "StagePlan",
    "plan_schema_text",
]
