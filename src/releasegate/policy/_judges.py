"""`min_judge_kappa`: evidence is only as good as the judge that scored it.

A refusal rate is a judge's verdicts counted. When a policy sets `min_judge_kappa`, an evidence
item whose judge agrees with human labels less than that (Cohen's κ), whose κ is undefined, or
which belongs to a `judged` metric and states no agreement at all, is set aside and its reading
is missing — the precautionary side. So that setting an item aside can never leave a *better*
item to be read in its place, every item that shares a reading with it (same metric and
condition, and a domain the reading covers) is set aside too.
"""

from __future__ import annotations

from releasegate.evidence import EvidenceItem, RiskReport
from releasegate.policy._decision import RuleTrace
from releasegate.policy._model import ReleasePolicy


def _why_weak(item: EvidenceItem, policy: ReleasePolicy, minimum: float) -> str | None:
    agreement = item.judge_agreement
    if agreement is None:
        spec = policy.metrics.get(item.metric)
        return "states no judge agreement" if spec is not None and spec.judged else None
    if agreement.kappa is None:
        return f"judge {agreement.judge} has an undefined kappa"
    if agreement.kappa < minimum:
        return f"judge {agreement.judge} has kappa {agreement.kappa:.3f} below {minimum:g}"
    return None


def _shares_reading(a: EvidenceItem, b: EvidenceItem) -> bool:
    return (
        a.metric == b.metric
        and a.condition == b.condition
        and (a.domain is None or b.domain is None or a.domain == b.domain)
    )


def screen_judged(
    report: RiskReport, policy: ReleasePolicy
) -> tuple[RiskReport, RuleTrace | None, list[str]]:
    """Set aside evidence judged below the policy's `min_judge_kappa`.

    Args:
        report: the risk report.
        policy: the policy (nothing is set aside when it has no `min_judge_kappa`).

    Returns:
        The report the decision reads (without the items set aside), the trace line (None when
        the policy sets no minimum) and one uncertainty note per item set aside.
    """
    minimum = policy.min_judge_kappa
    if minimum is None:
        return report, None, []
    weak = {
        item.id: why
        for item in report.evidence
        if (why := _why_weak(item, policy, minimum)) is not None
    }
    aside = {
        item.id
        for item in report.evidence
        for other in report.evidence
        if other.id in weak and _shares_reading(item, other)
    }
    notes = [f"Evidence {i}: {why}; read as missing (precaution)." for i, why in weak.items()]
    notes += [
        f"Evidence {i} shares a reading with evidence judged below min_judge_kappa; set aside "
        "with it, so the worse value is never replaced by a better one."
        for i in sorted(aside - set(weak))
    ]
    trace = RuleTrace(
        rule="precaution.judge_agreement",
        source="releasegate precaution: evidence is measured, not assumed (ARCHITECTURE.md)",
        matched=bool(aside),
        reads={
            "min_judge_kappa": minimum,
            "below_minimum": dict(sorted(weak.items())),
            "set_aside": sorted(aside),
        },
        effect=(
            "evidence set aside and read as missing: " + ", ".join(sorted(aside)) if aside else None
        ),
    )
    kept = [item for item in report.evidence if item.id not in aside]
    return report.model_copy(update={"evidence": kept}), trace, notes


__all__ = ["screen_judged"]
