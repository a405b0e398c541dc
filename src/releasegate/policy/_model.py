"""`ReleasePolicy`: the YAML a release team writes, as pydantic types.

The policy is data, never code. Rules are written in a small declarative condition language
(tier and metric atoms combined with `any`/`all`); there is no negation, so every condition can only
become true as evidence gets worse, which is what makes `decide` monotone (docs/design/).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

# The tier types only: importing the `access` package would pull in its store-backed parts.
from releasegate.access._tiers import DEFAULT_TIERS, TierSpec
from releasegate.vocab import AccessLevel, Component, Condition, Tier

Direction = Literal["higher_is_worse", "lower_is_worse"]
Measure = Literal["absolute", "uplift"]
Role = Literal["capability", "safeguard"]
Effective = Literal["api", "weights"]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number (NaN and infinity are not allowed)")
    return value


Finite = Annotated[float, AfterValidator(_finite)]
Identifier = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:/-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricSpec(_Strict):
    """A metric the assessment emits, with the direction in which it signals risk."""

    description: str = ""
    direction: Direction = Field(
        description="higher_is_worse (e.g. capability accuracy) or lower_is_worse (refusal rate)"
    )
    range: tuple[Finite, Finite] = Field(
        default=(0.0, 1.0), description="[min, max] of valid values; evidence outside is an error"
    )
    judged: bool = Field(
        default=False,
        description="values come from a judge's verdicts (refusal, attack success): with "
        "`min_judge_kappa`, an item of this metric must state its judge's agreement",
    )

    @model_validator(mode="after")
    def _ordered(self) -> MetricSpec:
        if self.range[0] >= self.range[1]:
            raise ValueError(f"range min ({self.range[0]}) must be below max ({self.range[1]})")
        return self


class Indicator(_Strict):
    """Binds one evidence metric, under some conditions, to tier cutoffs."""

    id: Identifier = Field(description="unique within the policy")
    metric: str = Field(description="a metric defined under `metrics:`")
    role: Role = Field(
        default="capability",
        description="capability: what the model can do; safeguard: how much of it gets through. "
        "A domain's tier under a condition is its capability tier, lowered to the safeguard tier "
        "when every safeguard indicator of that condition has evidence.",
    )
    conditions: list[Condition] = Field(min_length=1)
    measure: Measure = Field(
        default="absolute",
        description="absolute: the evidence value; uplift: value minus the baseline's "
        "(marginal risk, Kapoor et al. 2024)",
    )
    cutoffs: dict[Tier, Finite] = Field(
        min_length=1,
        description="value at which each tier (medium, high, critical) begins; below the first "
        "cutoff the tier is low. Increasing for higher_is_worse metrics, decreasing otherwise.",
    )
    description: str = ""
    source: str | None = None


class Domain(_Strict):
    description: str = ""
    indicators: list[Indicator] = Field(min_length=1)


# --- the condition language -------------------------------------------------------------------


class TierWhen(_Strict):
    """True when a domain's tier (under a condition, or an effective view) is at least a tier.

    A missing tier counts as `critical` (precaution).
    """

    domain: str = Field(description="a domain of the policy, or 'any'")
    effective: Effective | None = Field(
        default=None,
        description="api: the post_mitigation tier; weights: worse of pre_mitigation and "
        "post_tamper (the open-weights rule)",
    )
    condition: Condition | None = None
    tier_at_least: Tier

    @model_validator(mode="after")
    def _one_view(self) -> TierWhen:
        if (self.effective is None) == (self.condition is None):
            raise ValueError("give exactly one of `effective` and `condition`")
        return self


class MetricWhen(_Strict):
    """True when the worst value of a metric crosses a threshold in its worse direction.

    Missing evidence makes the atom true (precaution).
    """

    metric: str
    condition: Condition
    domain: str | None = Field(default=None, description="restrict to evidence of this domain")
    measure: Measure = "absolute"
    at_least: Finite | None = Field(default=None, description="for higher_is_worse metrics")
    at_most: Finite | None = Field(default=None, description="for lower_is_worse metrics")

    @model_validator(mode="after")
    def _one_bound(self) -> MetricWhen:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of `at_least` and `at_most`")
        return self


class AnyWhen(_Strict):
    any: list[When] = Field(min_length=1)


class AllWhen(_Strict):
    all: list[When] = Field(min_length=1)


# Tags never appear in the YAML; the loader strips them from error paths.
WHEN_TAGS = frozenset({"TierWhen", "MetricWhen", "AnyWhen", "AllWhen"})


def _when_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if not isinstance(value, dict):
        return None
    if "any" in value:
        return "AnyWhen"
    if "all" in value:
        return "AllWhen"
    if "metric" in value:
        return "MetricWhen"
    if "tier_at_least" in value or "domain" in value:
        return "TierWhen"
    return None


When = Annotated[
    Annotated[TierWhen, Tag("TierWhen")]
    | Annotated[MetricWhen, Tag("MetricWhen")]
    | Annotated[AnyWhen, Tag("AnyWhen")]
    | Annotated[AllWhen, Tag("AllWhen")],
    Discriminator(
        _when_tag,
        custom_error_type="invalid_condition",
        custom_error_message="a condition needs `domain`+`tier_at_least`, `metric`, `any` or `all`",
    ),
]

AnyWhen.model_rebuild()
AllWhen.model_rebuild()


class Then(_Strict):
    """What a matched rule does."""

    cap: dict[Component, AccessLevel] = Field(
        default_factory=dict, description="most open level allowed per component"
    )
    require_safeguards: dict[Component, list[str]] = Field(
        default_factory=dict, description="extra safeguards (names from `safeguards:`)"
    )
    halt: str | None = Field(
        default=None,
        description="halt the release with this reason: status 'halted', and every component "
        "the rule's `cap` does not name is closed",
    )

    @model_validator(mode="after")
    def _does_something(self) -> Then:
        if not self.cap and not self.require_safeguards and self.halt is None:
            raise ValueError("a rule must cap, require safeguards or halt")
        return self


class Rule(_Strict):
    id: Identifier
    description: str = ""
    source: str | None = Field(default=None, description="where the rule comes from")
    when: When
    then: Then


class Precaution(_Strict):
    """How missing evidence and failed evaluations close a release further."""

    components: list[Component] = Field(
        default_factory=lambda: [Component.WEIGHTS, Component.TRAINING_DATA],
        description="components capped lower when evidence is missing or an evaluation failed",
    )
    step: int = Field(default=1, ge=1, le=6, description="levels to step down (at least 1)")


TriggerKind = Literal["incidents", "flaw_report", "model_fingerprint", "expiry"]


class Trigger(_Strict):
    """When the decision must be reassessed, and how far access falls back meanwhile.

    A trigger without a `kind` is a reminder for the release team (fired by hand with
    `releasegate.approvals.fire_trigger`); one with a `kind` fires by itself: `incidents` when
    `count` incidents of `min_severity` or worse are opened within `window_days`;
    `flaw_report` when a flaw report is confirmed; `model_fingerprint` when the model's
    fingerprint changes; `expiry` when the decision's `valid_until` passes.
    """

    id: Identifier
    description: str
    kind: TriggerKind | None = None
    min_severity: Tier | None = Field(
        default=None, description="incidents: the least severe incident that counts"
    )
    count: int = Field(default=1, ge=1, description="incidents: how many within the window")
    window_days: float | None = Field(
        default=None, gt=0, description="incidents: the sliding window, in days"
    )
    fallback: AccessLevel | None = Field(
        default=None,
        description="most open level the model's access (the weights component) keeps once the "
        "trigger fired, until a new decision; default: the policy's reassessment_fallback",
    )

    @model_validator(mode="after")
    def _complete(self) -> Trigger:
        if self.kind == "incidents" and (self.min_severity is None or self.window_days is None):
            raise ValueError("an incidents trigger needs min_severity and window_days")
        if self.kind != "incidents" and (
            self.min_severity is not None or self.window_days is not None or self.count != 1
        ):
            raise ValueError("min_severity, count and window_days belong to incidents triggers")
        return self


class Signoff(_Strict):
    roles: list[str] = Field(min_length=1)
    required: int = Field(ge=1, description="how many of the roles must sign (N of M)")

    @model_validator(mode="after")
    def _n_of_m(self) -> Signoff:
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("roles must be distinct")
        if self.required > len(self.roles):
            raise ValueError(f"required ({self.required}) exceeds the {len(self.roles)} roles")
        return self


class ReleasePolicy(_Strict):
    """A versioned release policy (`policies/default.yaml` is the annotated reference)."""

    name: Identifier
    version: str = Field(min_length=1)
    description: str = ""
    metrics: dict[str, MetricSpec] = Field(min_length=1)
    domains: dict[str, Domain] = Field(min_length=1)
    ceilings: dict[Component, AccessLevel] = Field(
        default_factory=dict, description="most open level per component before any rule"
    )
    rules: list[Rule] = Field(default_factory=list)
    safeguards: dict[str, str] = Field(
        default_factory=dict, description="safeguard catalogue: name -> what it is"
    )
    required_safeguards: dict[Component, dict[AccessLevel, list[str]]] = Field(
        default_factory=dict, description="per component and level, the safeguards it needs"
    )
    precaution: Precaution = Field(default_factory=Precaution)
    min_judge_kappa: Finite | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="lowest Cohen's kappa of a judge (against human labels) whose verdicts count "
        "as evidence; an item judged below it, or of a `judged` metric stating no agreement, is "
        "read as missing (precaution)",
    )
    reassessment_triggers: list[Trigger] = Field(default_factory=list)
    max_validity_days: int | None = Field(
        default=None,
        ge=1,
        description="a decision is valid this many days from the date of its report's "
        "assessment (`valid_until`); then the `expiry` trigger fires",
    )
    reassessment_fallback: AccessLevel = Field(
        default=AccessLevel.API,
        description="most open weights level a fired trigger leaves, unless the trigger names "
        "its own fallback",
    )
    proxy_only_weights_cap: AccessLevel | None = Field(
        default=None,
        description="most open weights level while any domain's capability evidence is all "
        "demonstration_proxy (benign proxies show the method; they do not measure hazard)",
    )
    signoff: Signoff
    access_tiers: dict[str, TierSpec] = Field(
        default_factory=lambda: dict(DEFAULT_TIERS),
        description="access tiers the gateway offers (default: releasegate.access.DEFAULT_TIERS)",
    )

    def indicators(self) -> list[tuple[str, Indicator]]:
        """Every (domain, indicator) pair, in policy order."""
        return [(name, ind) for name, dom in self.domains.items() for ind in dom.indicators]


__all__ = [
    "AllWhen",
    "AnyWhen",
    "Domain",
    "Indicator",
    "MetricSpec",
    "MetricWhen",
    "Precaution",
    "ReleasePolicy",
    "Rule",
    "Signoff",
    "Then",
    "TierWhen",
    "Trigger",
    "TriggerKind",
    "When",
]
