"""The alternatives catalogue of MISSION.md: how each benefit of openness survives closed weights.

Seger et al. (2023) §4: where open weights are too risky, structured access, research access,
audits, staged release and oversight can deliver much of what openness offers.
"""

from __future__ import annotations

from dataclasses import dataclass

from releasegate.access._tiers import TierSpec
from releasegate.policy._decision import Alternative
from releasegate.vocab import AccessLevel, Benefit, Component


@dataclass(frozen=True)
class _Entry:
    benefit: Benefit
    mechanism: str
    feature: str
    requires_level: AccessLevel  # least open `weights` level at which the mechanism works
    why: str


CATALOGUE: tuple[_Entry, ...] = (
    _Entry(
        Benefit.EXTERNAL_EVALUATION,
        "research access for vetted researchers",
        "research tier: logprobs, hidden states, logit lens, steering, with extraction budgets",
        AccessLevel.RESEARCH_API,
        "vetted researchers study internals without the weights leaving",
    ),
    _Entry(
        Benefit.EXTERNAL_EVALUATION,
        "third-party audits and red-teaming",
        "auditor / red-team tiers; Inspect runs through the gateway; flaw reports",
        AccessLevel.API,
        "external evaluators test the deployed system, safeguards included",
    ),
    _Entry(
        Benefit.EXTERNAL_EVALUATION,
        "flaw / bug bounties",
        "flaw-report intake, triage, disclosure timeline",
        AccessLevel.HOSTED,
        "anyone who can use the model can report what they find",
    ),
    _Entry(
        Benefit.ACCELERATE_PROGRESS,
        "API access",
        "OpenAI-compatible API",
        AccessLevel.API,
        "builders use the model in applications without holding the weights",
    ),
    _Entry(
        Benefit.ACCELERATE_PROGRESS,
        "fine-tuning through the API",
        "fine-tuning jobs with training-data screening and a post-tune safety gate",
        AccessLevel.RESEARCH_API,
        "downstream customisation, with each tuned model checked before use",
    ),
    _Entry(
        Benefit.ACCELERATE_PROGRESS,
        "staged release",
        "stage plans with gates, widening tiers over time, rollback",
        AccessLevel.HOSTED,
        "access widens step by step as evidence of safe use accumulates",
    ),
    _Entry(
        Benefit.ACCELERATE_PROGRESS,
        "release of safe components",
        "per-component levels (docs, evals, safeguards open while weights stay closed)",
        AccessLevel.CLOSED,
        "the components that carry little risk are opened on their own",
    ),
    _Entry(
        Benefit.DISTRIBUTE_CONTROL,
        "oversight and participation",
        "N-of-M sign-off, public decision records, comment intake, transparency reports",
        AccessLevel.CLOSED,
        "outsiders see and challenge how the decision was made",
    ),
)


def _tiers_at(tiers: dict[str, TierSpec], weights: AccessLevel, research: bool) -> list[str]:
    return sorted(
        name
        for name, spec in tiers.items()
        if spec.required_weights_level() <= weights and (spec.research or not research)
    )


def choose_alternatives(
    levels: dict[Component, AccessLevel], tiers: dict[str, TierSpec]
) -> dict[Benefit, list[Alternative]]:
    """Alternatives that fit the allowed levels, per benefit.

    Args:
        levels: the decided level of every component.
        tiers: the policy's access tiers, named in the reasons where they deliver a mechanism.

    Returns:
        For each benefit, the catalogue entries whose required `weights` level is allowed.
        Open weights deliver every benefit directly; the alternatives are then listed as
        complements.
    """
    weights = levels.get(Component.WEIGHTS, AccessLevel.CLOSED)
    out: dict[Benefit, list[Alternative]] = {b: [] for b in Benefit}
    for entry in CATALOGUE:
        if weights < entry.requires_level:
            continue
        reason = f"{entry.why}; needs weights at {entry.requires_level.value} or more open"
        if entry.mechanism == "research access for vetted researchers":
            names = _tiers_at(tiers, weights, research=True)
            if not names:
                continue  # no tier of this policy offers research access
            reason += f"; tiers: {', '.join(names)}"
        elif entry.mechanism == "release of safe components":
            opened = sorted(
                c.value
                for c, lvl in levels.items()
                if c != Component.WEIGHTS and lvl >= AccessLevel.OPEN_WEIGHTS
            )
            if not opened:
                continue  # nothing is open on its own
            reason += f"; public: {', '.join(opened)}"
        out[entry.benefit].append(
            Alternative(
                mechanism=entry.mechanism,
                feature=entry.feature,
                requires_level=entry.requires_level,
                reason=reason,
            )
        )
    return out


__all__ = ["CATALOGUE", "choose_alternatives"]
