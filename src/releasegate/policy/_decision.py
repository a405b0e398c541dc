"""`Decision`: what `decide` concludes from a `RiskReport` under a `ReleasePolicy`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from releasegate.evidence import EvidenceKind, ModelIdentity
from releasegate.vocab import AccessLevel, Benefit, Component, Condition, Tier

DecisionStatus = Literal["pending", "approved", "halted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndicatorReading(_Strict):
    """What one indicator read from the report and which tier that put the domain in."""

    indicator: str
    metric: str
    condition: Condition
    value: float | None = Field(description="the value read; None when evidence is missing")
    ci95: tuple[float, float] | None = None
    uplift: float | None = None
    tier: Tier | None = Field(description="tier from the cutoffs; None when evidence is missing")
    straddles_cutoff: bool = False
    status: Literal["decided", "undecided", "missing"] | None = Field(
        default=None,
        description="undecided: the CI straddles a cutoff, so the tier is read at its worse bound "
        "(precaution); missing: no evidence. None in decisions made before it was stated",
    )
    samples_needed: int | None = Field(
        default=None,
        description="samples at which the CI would clear every cutoff, if the observed value "
        "held (Wilson inversion for Wilson intervals, the 1/sqrt(n) rule otherwise); None when "
        "no sample size can (the value sits on a cutoff) or nothing was measured",
    )
    note: str | None = None
    role: Literal["capability", "safeguard"] = "capability"
    evidence: list[str] = Field(default_factory=list, description="ids of the evidence items read")
    evidence_kinds: list[EvidenceKind] = Field(
        default_factory=list, description="the kinds of the evidence items read"
    )


class DomainAssessment(_Strict):
    """A risk domain's tier under each condition, and the effective tiers the rules use."""

    domain: str
    tiers: dict[Condition, Tier | None]
    effective_tier_api: Tier | None = Field(
        description="tier that counts for API levels (post_mitigation)"
    )
    effective_tier_weights: Tier | None = Field(
        description="tier that counts once weights leave: worse of pre_mitigation and post_tamper"
    )
    readings: list[IndicatorReading] = Field(default_factory=list)
    cutoffs: dict[str, dict[Tier, float]] = Field(
        default_factory=dict, description="per indicator, the value at which each tier begins"
    )


class RuleTrace(_Strict):
    """One rule of the policy, matched or not, with the evidence values it read."""

    rule: str
    source: str | None = Field(default=None, description="where the rule comes from")
    matched: bool
    reads: dict[str, Any] = Field(default_factory=dict)
    effect: str | None = Field(default=None, description="what the rule did, when it matched")
    before: dict[Component, AccessLevel] | None = Field(
        default=None, description="precaution rules: the levels before the rule"
    )
    after: dict[Component, AccessLevel] | None = Field(
        default=None, description="precaution rules: the levels after it (what is applied)"
    )


class Alternative(_Strict):
    """An alternative to open weights that still delivers a benefit of openness."""

    mechanism: str
    feature: str = Field(description="the releasegate feature that provides it")
    requires_level: AccessLevel | None = None
    reason: str


class ReassessmentTrigger(_Strict):
    """A trigger copied from the policy into the (signed) decision, with its fallback resolved."""

    id: str
    description: str
    kind: Literal["incidents", "flaw_report", "model_fingerprint", "expiry"] | None = None
    min_severity: Tier | None = None
    count: int = 1
    window_days: float | None = None
    fallback: AccessLevel | None = Field(
        default=None,
        description="most open weights level once the trigger fired (None in decisions made "
        "before triggers had fallbacks: closed)",
    )


class SignoffRequirement(_Strict):
    roles: list[str]
    required: int = Field(ge=1, description="how many of the roles must sign (N of M)")


class Decision(_Strict):
    """A release decision. `content_sha256` hashes the canonical JSON of every other field."""

    schema_version: Literal["1"] = "1"
    model: ModelIdentity
    report_sha256: str
    policy_name: str
    policy_version: str
    policy_sha256: str
    status: DecisionStatus
    levels: dict[Component, AccessLevel]
    domains: list[DomainAssessment] = Field(default_factory=list)
    required_safeguards: dict[Component, list[str]] = Field(default_factory=dict)
    alternatives: dict[Benefit, list[Alternative]] = Field(default_factory=dict)
    trace: list[RuleTrace] = Field(default_factory=list)
    uncertainty: list[str] = Field(default_factory=list)
    reassessment_triggers: list[ReassessmentTrigger] = Field(default_factory=list)
    valid_until: datetime | None = Field(
        default=None,
        description="the report's assessment date plus the policy's max_validity_days (UTC)",
    )
    signoff: SignoffRequirement
    halted_reason: str | None = None
    missing_evidence: list[str] = Field(
        default_factory=list, description="'domain/indicator/condition' read with no evidence"
    )
    failed_evaluations: list[str] = Field(default_factory=list)
    content_sha256: str = ""
