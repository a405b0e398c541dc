"""`decide(report, policy) -> Decision`: the most open level per component the evidence allows.

How a decision is reached (docs/policy-format.md has the long form):

1. Each indicator reads its metric under each of its conditions. Several matching items: the worst
   counts. A 95% CI that straddles a cutoff is read at its worse bound. No evidence: the reading is
   missing, and a missing capability reading counts as `critical` (it cannot be ruled out).
2. A domain's tier under a condition is its capability tier, lowered to its safeguard tier when
   every safeguard indicator of that condition has evidence (safeguards limit what gets through).
   `post_mitigation` has the capability of `pre_mitigation` unless measured itself.
3. The open-weights rule: the `weights` view of a domain is the worse of `pre_mitigation` and
   `post_tamper`; the `api` view is `post_mitigation`.
4. Rules run in order; every rule is traced with the values it read. Caps only ever lower a level.
5. Precaution: missing required evidence or a failed evaluation steps the policy's precaution
   components down at least one more level. Evidence whose judge agrees with people less than
   the policy's `min_judge_kappa` is read as missing (`_judges.py`).

Every step is monotone: worse evidence, or less of it, never opens anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from releasegate.errors import InputError, Problem
from releasegate.evidence import ConfidenceInterval, EvidenceItem, RiskReport
from releasegate.policy._alternatives import choose_alternatives
from releasegate.policy._canonical import decision_content_sha256, model_sha256
from releasegate.policy._decision import (
    Decision,
    DomainAssessment,
    IndicatorReading,
    ReassessmentTrigger,
    RuleTrace,
    SignoffRequirement,
)
from releasegate.policy._judges import screen_judged
from releasegate.policy._model import (
    AllWhen,
    AnyWhen,
    Indicator,
    MetricSpec,
    MetricWhen,
    ReleasePolicy,
    Rule,
    TierWhen,
    When,
)
from releasegate.vocab import AccessLevel, Component, Condition, Tier

_SMALL_N = 30  # below this many samples a 95% CI is wide enough to note


def _tier_of(value: float, cutoffs: dict[Tier, float], direction: str) -> Tier:
    tier = Tier.LOW
    for t in sorted(cutoffs, key=lambda t: t.rank):
        crossed = value >= cutoffs[t] if direction == "higher_is_worse" else value <= cutoffs[t]
        if crossed:
            tier = t
    return tier


def _worst(tiers: list[Tier]) -> Tier:
    return max(tiers, key=lambda t: t.rank)


def _item_matches(
    item: EvidenceItem, metric: str, condition: Condition, domain: str | None
) -> bool:
    # Evidence without a domain (e.g. an overall refusal rate) bears on every domain.
    return (
        item.metric == metric
        and item.condition == condition
        and (domain is None or item.domain is None or item.domain == domain)
    )


def _measured(item: EvidenceItem, measure: str) -> tuple[float, ConfidenceInterval | None] | None:
    """The value an indicator reads from an item and its CI; None if the item lacks it."""
    if measure == "uplift":
        if item.baseline is None:
            return None
        return item.baseline.uplift, item.baseline.uplift_ci95
    if item.ci95 is not None:
        return item.value, item.ci95
    if item.stderr is not None:
        half = 1.96 * item.stderr
        return item.value, ConfidenceInterval(low=item.value - half, high=item.value + half)
    return item.value, None


def _worse_value(value: float, ci: ConfidenceInterval | None, direction: str) -> float:
    if ci is None:
        return value
    if direction == "higher_is_worse":
        return max(value, ci.high)
    return min(value, ci.low)


@dataclass
class _Reading:
    domain: str
    indicator: Indicator
    condition: Condition
    reading: IndicatorReading

    @property
    def missing(self) -> bool:
        return self.reading.tier is None


def _read(
    report: RiskReport, domain: str, ind: Indicator, spec: MetricSpec, condition: Condition
) -> _Reading:
    best: tuple[int, float, EvidenceItem, float, ConfidenceInterval | None, Tier, bool] | None = (
        None
    )
    items = [i for i in report.evidence if _item_matches(i, ind.metric, condition, domain)]
    for item in items:
        measured = _measured(item, ind.measure)
        if measured is None:
            # An item without a baseline hides its uplift; reading the others alone could
            # miss the worst one, so the whole reading counts as missing (precaution).
            best = None
            break
        value, ci = measured
        point = _tier_of(value, ind.cutoffs, spec.direction)
        tier, straddles = point, False
        if ci is not None:
            low_t = _tier_of(ci.low, ind.cutoffs, spec.direction)
            high_t = _tier_of(ci.high, ind.cutoffs, spec.direction)
            straddles = low_t != high_t
            tier = _worst([point, low_t, high_t])
        badness = value if spec.direction == "higher_is_worse" else -value
        key = (tier.rank, badness)
        if best is None or key > (best[0], best[1]):
            best = (tier.rank, badness, item, value, ci, tier, straddles)
    if best is None:
        note: str | None = "no evidence"
        if items and ind.measure == "uplift":
            lacking = [i.id for i in items if i.baseline is None]
            note = (
                f"no baseline comparison for {', '.join(lacking)}, so no uplift "
                "(marginal risk unknown)"
            )
        reading = IndicatorReading(
            indicator=ind.id,
            metric=ind.metric,
            condition=condition,
            value=None,
            tier=None,
            note=note,
            role=ind.role,
        )
        return _Reading(domain, ind, condition, reading)
    _, _, item, value, ci, tier, straddles = best
    note = None
    if straddles and ci is not None:
        note = f"95% CI [{ci.low:g}, {ci.high:g}] straddles a cutoff: read at its worse bound"
    reading = IndicatorReading(
        indicator=ind.id,
        metric=ind.metric,
        condition=condition,
        value=item.value,
        ci95=(ci.low, ci.high) if ci is not None else None,
        uplift=item.baseline.uplift if item.baseline is not None else None,
        tier=tier,
        straddles_cutoff=straddles,
        note=note,
        role=ind.role,
        evidence=sorted(i.id for i in items),
    )
    return _Reading(domain, ind, condition, reading)


def _assess_domain(
    report: RiskReport, policy: ReleasePolicy, domain: str
) -> tuple[DomainAssessment, list[_Reading]]:
    readings = [
        _read(report, domain, ind, policy.metrics[ind.metric], cond)
        for ind in policy.domains[domain].indicators
        for cond in ind.conditions
    ]
    tiers: dict[Condition, Tier | None] = {}
    capability: dict[Condition, Tier | None] = {}
    for cond in Condition:
        caps = [r for r in readings if r.condition == cond and r.indicator.role == "capability"]
        cap: Tier | None = None
        if caps:
            # A capability that was not measured cannot be ruled out.
            cap = _worst([r.reading.tier or Tier.CRITICAL for r in caps])
        elif cond == Condition.POST_MITIGATION:
            cap = capability.get(Condition.PRE_MITIGATION)
        capability[cond] = cap
        guards = [r for r in readings if r.condition == cond and r.indicator.role == "safeguard"]
        # Safeguard credit needs all of its evidence: partial evidence could hide the weak spot.
        credit: Tier | None = None
        if guards and not any(r.missing for r in guards):
            credit = _worst([r.reading.tier for r in guards if r.reading.tier is not None])
        if cap is None:
            # Only safeguards speak for this condition: without their evidence, the worst case.
            tiers[cond] = (credit or Tier.CRITICAL) if guards else None
        elif credit is None:
            tiers[cond] = cap
        else:
            tiers[cond] = min(cap, credit, key=lambda t: t.rank)
    weights_view = [
        t for t in (tiers[Condition.PRE_MITIGATION], tiers[Condition.POST_TAMPER]) if t is not None
    ]
    assessment = DomainAssessment(
        domain=domain,
        tiers=tiers,
        effective_tier_api=tiers[Condition.POST_MITIGATION],
        effective_tier_weights=_worst(weights_view) if weights_view else None,
        readings=[r.reading for r in readings],
        cutoffs={ind.id: dict(ind.cutoffs) for ind in policy.domains[domain].indicators},
    )
    return assessment, readings


# --- rules ------------------------------------------------------------------------------------


@dataclass
class _Context:
    report: RiskReport
    policy: ReleasePolicy
    domains: dict[str, DomainAssessment]
    reads: dict[str, object] = field(default_factory=dict)


def _domain_view(assessment: DomainAssessment, when: TierWhen) -> tuple[str, Tier | None]:
    if when.effective == "api":
        return "effective_api", assessment.effective_tier_api
    if when.effective == "weights":
        return "effective_weights", assessment.effective_tier_weights
    assert when.condition is not None
    return when.condition.value, assessment.tiers.get(when.condition)


def _eval_tier(when: TierWhen, ctx: _Context) -> bool:
    names = sorted(ctx.domains) if when.domain == "any" else [when.domain]
    matched = False
    for name in names:
        view, tier = _domain_view(ctx.domains[name], when)
        ctx.reads[f"{name}.{view}"] = tier.value if tier is not None else "missing"
        # An unassessed view counts as critical (precaution).
        if (tier or Tier.CRITICAL) >= when.tier_at_least:
            matched = True
    return matched


def _eval_metric(when: MetricWhen, ctx: _Context) -> bool:
    spec = ctx.policy.metrics[when.metric]
    values: list[float] = []
    unmeasured = False
    for item in ctx.report.evidence:
        if not _item_matches(item, when.metric, when.condition, when.domain):
            continue
        measured = _measured(item, when.measure)
        if measured is None:
            unmeasured = True  # no baseline: this item's uplift is unknown
        else:
            values.append(_worse_value(measured[0], measured[1], spec.direction))
    if unmeasured:
        values = []
    scope = f"{when.domain}." if when.domain else ""
    key = f"{scope}{when.metric}[{when.condition.value}]"
    if when.measure == "uplift":
        key += ".uplift"
    if not values:
        ctx.reads[key] = "missing"
        return True  # no evidence cannot clear a concern
    if spec.direction == "higher_is_worse":
        worst = max(values)
        ctx.reads[key] = worst
        assert when.at_least is not None
        return worst >= when.at_least
    worst = min(values)
    ctx.reads[key] = worst
    assert when.at_most is not None
    return worst <= when.at_most


def _eval(when: When, ctx: _Context) -> bool:
    # Every branch is evaluated (no short-circuit) so the trace shows every value read.
    if isinstance(when, AnyWhen):
        results = [_eval(w, ctx) for w in when.any]
        return any(results)
    if isinstance(when, AllWhen):
        results = [_eval(w, ctx) for w in when.all]
        return all(results)
    if isinstance(when, TierWhen):
        return _eval_tier(when, ctx)
    return _eval_metric(when, ctx)


def _describe_effect(rule: Rule) -> str:
    parts = []
    if rule.then.halt is not None:
        parts.append(f"halt: {rule.then.halt}")
    if rule.then.cap:
        caps = ", ".join(f"{c.value} <= {lvl.value}" for c, lvl in sorted(rule.then.cap.items()))
        parts.append(f"cap {caps}")
    if rule.then.require_safeguards:
        req = "; ".join(
            f"{c.value}: {', '.join(names)}"
            for c, names in sorted(rule.then.require_safeguards.items())
        )
        parts.append(f"require {req}")
    return "; ".join(parts)


def _lower(levels: dict[Component, AccessLevel], component: Component, cap: AccessLevel) -> None:
    if cap < levels[component]:
        levels[component] = cap


# --- report checks ----------------------------------------------------------------------------


def check_report(report: RiskReport, policy: ReleasePolicy) -> list[Problem]:
    """Evidence values outside the range of the policy's metric (e.g. a refusal rate of 1.3).

    Returns:
        One problem per bad value, with its field path in the report (`evidence[3].value`).
    """
    problems: list[Problem] = []
    for i, item in enumerate(report.evidence):
        spec = policy.metrics.get(item.metric)
        if spec is None:
            continue
        lo, hi = spec.range
        checks: list[tuple[str, float, float, float]] = [("value", item.value, lo, hi)]
        if item.ci95 is not None:
            checks += [("ci95.low", item.ci95.low, lo, hi), ("ci95.high", item.ci95.high, lo, hi)]
        if item.baseline is not None:
            checks.append(("baseline.value", item.baseline.value, lo, hi))
            span = hi - lo
            checks.append(("baseline.uplift", item.baseline.uplift, -span, span))
        for path, value, low, high in checks:
            if not low <= value <= high:
                problems.append(
                    Problem(
                        f"{value} is outside the range [{low}, {high}] of metric {item.metric!r}",
                        path=f"evidence[{i}].{path}",
                    )
                )
    return problems


# --- decide -----------------------------------------------------------------------------------


def _uncertainty(report: RiskReport, policy: ReleasePolicy, readings: list[_Reading]) -> list[str]:
    notes = []
    for r in readings:
        where = f"{r.domain}/{r.indicator.id} under {r.condition.value}"
        if r.missing:
            read_as = (
                "read as critical" if r.indicator.role == "capability" else "no safeguard credit"
            )
            notes.append(f"Missing evidence: {where} ({r.reading.note}); {read_as} (precaution).")
        elif r.reading.straddles_cutoff and r.reading.ci95 is not None:
            low, high = r.reading.ci95
            notes.append(
                f"Uncertain: {where}: 95% CI [{low:g}, {high:g}] straddles a cutoff; read at its "
                f"worse bound, tier {r.reading.tier.value if r.reading.tier else '?'}."
            )
    for failed in report.coverage.failed:
        notes.append(f"Failed evaluation: {failed.evaluation} ({failed.reason}).")
    proxies: dict[str, list[str]] = {}
    for item in report.evidence:
        if item.dataset is not None and item.dataset.demonstration_proxy:
            proxies.setdefault(item.dataset.name, []).append(item.id)
        if item.metric not in policy.metrics:
            notes.append(f"Evidence {item.id} (metric {item.metric}) is not read by this policy.")
        elif item.domain is not None and item.domain not in policy.domains:
            notes.append(f"Evidence {item.id} is about domain {item.domain}, not in this policy.")
        if 0 < item.n < _SMALL_N:
            notes.append(f"Evidence {item.id} rests on only {item.n} samples.")
    for name, ids in proxies.items():
        notes.append(
            f"Benign proxy set {name} ({', '.join(ids)}) demonstrates the method; it does not "
            "measure hazardous capability."
        )
    return notes


def decide(report: RiskReport, policy: ReleasePolicy) -> Decision:
    """Decide the most open level per component that the evidence allows under the policy.

    Args:
        report: the risk report (the output of `releasegate assess`).
        policy: a validated release policy.

    Returns:
        The decision, status `pending` (or `halted`), with its content hash filled in. The same
        inputs always give the same decision, byte for byte (`decision_json_bytes`).

    Raises:
        InputError: an evidence value lies outside the range of its metric.
    """
    problems = check_report(report, policy)
    if problems:
        raise InputError("<report>", problems)
    # What the decision reads: the report less evidence judged below `min_judge_kappa`.
    measured, judge_trace, judge_notes = screen_judged(report, policy)

    domains: dict[str, DomainAssessment] = {}
    readings: list[_Reading] = []
    for name in policy.domains:
        assessment, domain_readings = _assess_domain(measured, policy, name)
        domains[name] = assessment
        readings += domain_readings

    levels = {c: policy.ceilings.get(c, AccessLevel.FULLY_OPEN) for c in Component}
    extra_safeguards: dict[Component, list[str]] = {}
    trace: list[RuleTrace] = []
    halted_reason: str | None = None
    # Components every matched halting rule names in its `cap`; the others close. An
    # intersection, so that one more halting rule can only close more.
    halt_keep: set[Component] | None = None
    halted = False
    for rule in policy.rules:
        ctx = _Context(measured, policy, domains)
        matched = _eval(rule.when, ctx)
        trace.append(
            RuleTrace(
                rule=rule.id,
                source=rule.source,
                matched=matched,
                reads=dict(sorted(ctx.reads.items())),
                effect=_describe_effect(rule) if matched else None,
            )
        )
        if not matched:
            continue
        for component, cap in rule.then.cap.items():
            _lower(levels, component, cap)
        for component, names in rule.then.require_safeguards.items():
            extra_safeguards.setdefault(component, []).extend(names)
        if rule.then.halt is not None:
            halted = True
            halted_reason = halted_reason or f"{rule.id}: {rule.then.halt}"
            named = set(rule.then.cap)
            halt_keep = named if halt_keep is None else halt_keep & named
    if halted:
        for component in Component:
            if component not in (halt_keep or set()):
                levels[component] = AccessLevel.CLOSED

    if judge_trace is not None:
        trace.append(judge_trace)

    # Precaution: at least one level below what the evidence alone allows.
    missing = [f"{r.domain}/{r.indicator.id}/{r.condition.value}" for r in readings if r.missing]
    failed = [f.evaluation for f in report.coverage.failed]
    step = policy.precaution.step
    before = {c: levels[c] for c in policy.precaution.components}
    if missing or failed:
        # One step for any mix of causes: each cause alone already costs a level.
        for component in policy.precaution.components:
            levels[component] = AccessLevel.from_rank(levels[component].rank - step)
    trace.append(
        RuleTrace(
            rule="precaution.missing_or_failed",
            source="releasegate precaution (MISSION.md); Anthropic RSP; NIST AI 800-1",
            matched=bool(missing or failed),
            reads={"missing_evidence": missing, "failed_evaluations": failed},
            effect=(
                "step down "
                + ", ".join(
                    f"{c.value} {before[c].value} -> {levels[c].value}"
                    for c in policy.precaution.components
                )
                if missing or failed
                else None
            ),
        )
    )
    straddling = [
        f"{r.domain}/{r.indicator.id}/{r.condition.value}"
        for r in readings
        if r.reading.straddles_cutoff
    ]
    trace.append(
        RuleTrace(
            rule="precaution.straddling_ci",
            source="releasegate precaution (MISSION.md)",
            matched=bool(straddling),
            reads={"straddling": straddling},
            effect=(
                "tiers read at the worse CI bound, so every component whose level depends on "
                "that cutoff is at least one level lower"
                if straddling
                else None
            ),
        )
    )

    required: dict[Component, list[str]] = {}
    for component in Component:
        names = list(policy.required_safeguards.get(component, {}).get(levels[component], []))
        if levels[component] > AccessLevel.CLOSED:
            names += extra_safeguards.get(component, [])
        if names:
            required[component] = list(dict.fromkeys(names))

    triggers = [
        ReassessmentTrigger(id=t.id, description=t.description)
        for t in policy.reassessment_triggers
    ]
    if missing:
        triggers.append(
            ReassessmentTrigger(
                id="missing-evidence",
                description="Reassess when the missing evidence is available: "
                + ", ".join(missing),
            )
        )
    if straddling:
        triggers.append(
            ReassessmentTrigger(
                id="straddling-ci",
                description="Reassess with more samples; these CIs straddle a cutoff: "
                + ", ".join(straddling),
            )
        )

    decision = Decision(
        model=report.model,
        report_sha256=model_sha256(report),
        policy_name=policy.name,
        policy_version=policy.version,
        policy_sha256=model_sha256(policy),
        status="halted" if halted else "pending",
        levels=levels,
        domains=list(domains.values()),
        required_safeguards=required,
        alternatives=choose_alternatives(levels, policy.access_tiers),
        trace=trace,
        uncertainty=_uncertainty(measured, policy, readings) + judge_notes,
        reassessment_triggers=triggers,
        signoff=SignoffRequirement(roles=policy.signoff.roles, required=policy.signoff.required),
        halted_reason=halted_reason,
        missing_evidence=missing,
        failed_evaluations=failed,
    )
    return decision.model_copy(update={"content_sha256": decision_content_sha256(decision)})


__all__ = ["check_report", "decide"]
