"""Which access tiers a decision's `weights` level allows (the tier part of `open_now`).

The gateway is a programmatic API, so it serves nothing unless the decision allows the `weights`
component at least at `api` — or at `hosted` (a hosted interface for named users), where it serves
only tiers whose keys go to named, agreement-bound people (`TierSpec.named_users`); `closed`
keeps the model internal. Each tier must then fit under that level
(`TierSpec.required_weights_level()`: logprobs, logit bias, research endpoints and fine-tuning
need `research_api`), and carry the safeguards the decision requires at that level. A halted
decision serves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from releasegate.access._tiers import TierSpec
from releasegate.policy._decision import Decision
from releasegate.vocab import AccessLevel, Component


@dataclass(frozen=True)
class TierViolation:
    """One reason the decision forbids serving: the tier at fault (None: all) and the rule."""

    tier: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"tier {self.tier!r}" if self.tier else "the gateway"
        return f"{where}: {self.message} [rule: {self.rule}]"


class DecisionForbidsServing(Exception):
    """The decision allows none of the tiers; the server must not start."""

    def __init__(self, violations: list[TierViolation]) -> None:
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        super().__init__(f"the decision allows none of the tiers offered:\n{lines}")


def _why_research(tier: TierSpec) -> str:
    needs = [
        name
        for name, on in (
            ("logprobs", tier.logprobs),
            ("logit_bias", tier.logit_bias),
            ("research endpoints", tier.research),
            ("fine-tuning", tier.fine_tuning),
        )
        if on
    ]
    return ", ".join(needs)


def check_tiers(decision: Decision, tiers: Mapping[str, TierSpec]) -> list[TierViolation]:
    """Every way in which `tiers` are more open than `decision` allows (empty: serve).

    Args:
        decision: the release decision being enforced.
        tiers: the access tiers the gateway would offer.

    Returns:
        The violations, each naming the tier and the rule; empty when serving is allowed.
    """
    out: list[TierViolation] = []
    if decision.status == "halted":
        out.append(
            TierViolation(
                None,
                "halted-decision",
                f"the decision is halted ({decision.halted_reason or 'no reason given'}); "
                "nothing may be served",
            )
        )
        return out
    allowed = decision.levels.get(Component.WEIGHTS, AccessLevel.CLOSED)
    if allowed.rank < AccessLevel.HOSTED.rank:
        out.append(
            TierViolation(
                None,
                "weights-below-api",
                f"the decision allows weights only at {allowed.value!r}; the gateway's "
                "programmatic API needs at least 'api' ('hosted' for named users only)",
            )
        )
        return out
    required = set(decision.required_safeguards.get(Component.WEIGHTS, []))
    for name, tier in tiers.items():
        need = tier.required_weights_level()
        if allowed is AccessLevel.HOSTED and need.rank > allowed.rank:
            out.append(
                TierViolation(
                    name,
                    "weights-below-api",
                    "the decision allows weights only at 'hosted': only tiers of named users "
                    "(named_users: true) may be served, and this tier is not one",
                )
            )
            continue
        if "named_users" in required and not tier.named_users:
            out.append(
                TierViolation(
                    name,
                    "safeguard:named_users",
                    "is open to any key holder but the decision requires named users",
                )
            )
        if need.rank > allowed.rank:
            out.append(
                TierViolation(
                    name,
                    "tier-above-decision",
                    f"needs weights level {need.value!r} ({_why_research(tier)}) but the decision "
                    f"allows {allowed.value!r}",
                )
            )
        if required & {"input_guard", "output_guard"} and not tier.guards:
            out.append(
                TierViolation(
                    name,
                    "safeguard:input_guard/output_guard",
                    "has no guards but the decision requires input and output guards",
                )
            )
        if "rate_limits" in required and (tier.rpm is None or tier.tpm is None):
            out.append(
                TierViolation(
                    name,
                    "safeguard:rate_limits",
                    "has no rpm or tpm limit but the decision requires rate limits",
                )
            )
        if "extraction_budgets" in required and tier.research and tier.extraction_budget is None:
            out.append(
                TierViolation(
                    name,
                    "safeguard:extraction_budgets",
                    "offers research endpoints without an extraction budget but the decision "
                    "requires extraction budgets",
                )
            )
    return out


def enforce_decision(decision: Decision, tiers: Mapping[str, TierSpec]) -> None:
    """Raise `DecisionForbidsServing` unless `decision` allows every tier in `tiers`.

    The gateway itself withholds the tiers a decision does not allow and serves the others
    (`open_now`); this strict form is for callers that want all or nothing.
    """
    violations = check_tiers(decision, tiers)
    if violations:
        raise DecisionForbidsServing(violations)


__all__ = ["DecisionForbidsServing", "TierViolation", "check_tiers", "enforce_decision"]
