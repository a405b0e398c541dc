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
5. Precaution, each step traced with the levels before and after it: a CI straddling a cutoff
   is read at its worse bound; missing required evidence or a failed evaluation steps the
   policy's precaution components down at least one more level; a domain whose capability
   evidence is all benign demonstration proxies caps the weights (`proxy_only_weights_cap`).
   Evidence whose judge agrees with people less than the policy's `min_judge_kappa` is read as
   missing (`_judges.py`). Evidence the report flags as noisy (a non-monotone tamper sweep) is
   listed in the trace and asks for a reassessment.

Every step is monotone: worse evidence, or less of it, never opens anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from releasegate.errors import InputError, Problem
from releasegate.evidence import (
    ConfidenceInterval,
    EvidenceItem,
    RiskReport,
    scaled_samples_to_decide,
    wilson_samples_to_decide,
)
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


def _samples_needed(
    item: EvidenceItem,
    value: float,
    ci: ConfidenceInterval | None,
    cutoffs: dict[Tier, float],
    direction: str,
    measure: str,
) -> int | None:
    """Samples at which the item's interval would clear every cutoff (the largest over them)."""
    if ci is None or item.n <= 0 or not cutoffs:
        return None
    binomial = measure != "uplift" and item.ci_method in ("wilson", "exact-bonferroni")
    needed = []
    for cutoff in cutoffs.values():
        if binomial:
            n = wilson_samples_to_decide(
                value,
                cutoff,
                direction,
                comparisons=item.ci_comparisons or 1,
                exact=item.ci_method == "exact-bonferroni",
            )
        else:
            n = scaled_samples_to_decide(value, ci.low, ci.high, item.n, cutoff)
        if n is None:
            return None
        needed.append(n)
    return max(needed)


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
    report: RiskReport,
    domain: str,
    ind: Indicator,
    spec: MetricSpec,
    condition: Condition,
    at_point: bool = False,
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
            # `at_point` reads the point estimate only: the counterfactual that shows what
            # reading at the worse CI bound cost (the straddling precaution's trace line).
            tier = point if at_point else _worst([point, low_t, high_t])
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
            status="missing",
            note=note,
            role=ind.role,
        )
        return _Reading(domain, ind, condition, reading)
    _, _, item, value, ci, tier, straddles = best
    note = None
    if straddles and ci is not None:
        note = (
            f"undecided: 95% CI [{ci.low:g}, {ci.high:g}] straddles a cutoff: read at its worse "
            "bound"
        )
    reading = IndicatorReading(
        indicator=ind.id,
        metric=ind.metric,
        condition=condition,
        value=item.value,
        ci95=(ci.low, ci.high) if ci is not None else None,
        uplift=item.baseline.uplift if item.baseline is not None else None,
        tier=tier,
        straddles_cutoff=straddles,
        status="undecided" if straddles else "decided",
        samples_needed=_samples_needed(item, value, ci, ind.cutoffs, spec.direction, ind.measure),
        note=note,
        role=ind.role,
        evidence=sorted(i.id for i in items),
        evidence_kinds=sorted({i.evidence_kind for i in items}),
    )
    return _Reading(domain, ind, condition, reading)


def _assess_domain(
    report: RiskReport, policy: ReleasePolicy, domain: str, at_point: bool = False
) -> tuple[DomainAssessment, list[_Reading]]:
    readings = [
        _read(report, domain, ind, policy.metrics[ind.metric], cond, at_point)
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
    at_point: bool = False  # read metric atoms at their point value (see `_read`)


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
        elif ctx.at_point:
            values.append(measured[0])
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
            needed = r.reading.samples_needed
            more = (
                f"; about {needed} samples would decide it at the observed value"
                if needed is not None
                else "; no sample size decides it at the observed value"
            )
            notes.append(
                f"Undecided: {where}: 95% CI [{low:g}, {high:g}] straddles a cutoff; read at its "
                f"worse bound, tier {r.reading.tier.value if r.reading.tier else '?'}{more}."
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


def _assess_all(
    report: RiskReport, policy: ReleasePolicy, at_point: bool = False
) -> tuple[dict[str, DomainAssessment], list[_Reading]]:
    domains: dict[str, DomainAssessment] = {}
    readings: list[_Reading] = []
    for name in policy.domains:
        assessment, domain_readings = _assess_domain(report, policy, name, at_point)
        domains[name] = assessment
        readings += domain_readings
    return domains, readings


@dataclass
class _RulesOutcome:
    levels: dict[Component, AccessLevel]
    extra_safeguards: dict[Component, list[str]]
    trace: list[RuleTrace]
    halted_reason: str | None


def _apply_rules(
    report: RiskReport,
    policy: ReleasePolicy,
    domains: dict[str, DomainAssessment],
    at_point: bool = False,
) -> _RulesOutcome:
    """Run the policy's rules in order from the ceilings; a halt closes what it does not name."""
    levels = {c: policy.ceilings.get(c, AccessLevel.FULLY_OPEN) for c in Component}
    extra: dict[Component, list[str]] = {}
    trace: list[RuleTrace] = []
    halted_reason: str | None = None
    # Components every matched halting rule names in its `cap`; the others close. An
    # intersection, so that one more halting rule can only close more.
    halt_keep: set[Component] | None = None
    for rule in policy.rules:
        ctx = _Context(report, policy, domains, at_point=at_point)
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
            extra.setdefault(component, []).extend(names)
        if rule.then.halt is not None:
            halted_reason = halted_reason or f"{rule.id}: {rule.then.halt}"
            named = set(rule.then.cap)
            halt_keep = named if halt_keep is None else halt_keep & named
    if halt_keep is not None:
        for component in Component:
            if component not in halt_keep:
                levels[component] = AccessLevel.CLOSED
    return _RulesOutcome(levels, extra, trace, halted_reason)


def _changes(
    before: dict[Component, AccessLevel], after: dict[Component, AccessLevel]
) -> str | None:
    moved = [
        f"{c.value} {before[c].value} -> {after[c].value}" for c in before if before[c] != after[c]
    ]
    return ", ".join(moved) if moved else None


def _precaution_line(
    rule: str,
    source: str,
    reads: dict[str, Any],
    before: dict[Component, AccessLevel],
    after: dict[Component, AccessLevel],
    why: str,
) -> RuleTrace:
    """A precaution rule's trace line: what it read, and the levels before and after it."""
    changed = _changes(before, after)
    return RuleTrace(
        rule=rule,
        source=source,
        matched=changed is not None,
        reads=reads,
        effect=f"{why}: {changed}" if changed else None,
        before=dict(before),
        after=dict(after),
    )


def _straddling(
    report: RiskReport,
    policy: ReleasePolicy,
    readings: list[_Reading],
    levels: dict[Component, AccessLevel],
) -> tuple[list[str], RuleTrace]:
    """Trace what reading straddling CIs at their worse bound cost: the levels the rules give
    at the point estimates (before) and at the worse bounds (after, already applied)."""
    straddling = [
        f"{r.domain}/{r.indicator.id}/{r.condition.value}"
        for r in readings
        if r.reading.straddles_cutoff
    ]
    before = dict(levels)
    if straddling:
        point_domains, _ = _assess_all(report, policy, at_point=True)
        before = _apply_rules(report, policy, point_domains, at_point=True).levels
        # The worse bound can only close more (monotone rules); never report an opening.
        before = {c: max(before[c], levels[c]) for c in Component}
    needed = {
        f"{r.domain}/{r.indicator.id}/{r.condition.value}": (
            r.reading.samples_needed if r.reading.samples_needed is not None else "unbounded"
        )
        for r in readings
        if r.reading.straddles_cutoff
    }
    line = _precaution_line(
        "precaution.straddling_ci",
        "releasegate precaution (MISSION.md)",
        {"straddling": straddling, "samples_needed": needed},
        before,
        levels,
        "undecided indicators read at the worse bound of CIs that straddle a cutoff",
    )
    if straddling and line.effect is None:
        line = line.model_copy(
            update={
                "matched": True,
                "effect": "undecided indicators read at the worse CI bound; no level changed by it",
            }
        )
    return straddling, line


def _missing_or_failed(
    report: RiskReport,
    policy: ReleasePolicy,
    readings: list[_Reading],
    levels: dict[Component, AccessLevel],
) -> tuple[list[str], list[str], RuleTrace]:
    """Precaution: missing required evidence or a failed evaluation steps the policy's
    precaution components at least one level below what the evidence alone allows."""
    missing = [f"{r.domain}/{r.indicator.id}/{r.condition.value}" for r in readings if r.missing]
    failed = [f.evaluation for f in report.coverage.failed]
    before = dict(levels)
    if missing or failed:
        # One step for any mix of causes: each cause alone already costs a level.
        for component in policy.precaution.components:
            levels[component] = AccessLevel.from_rank(
                levels[component].rank - policy.precaution.step
            )
    line = _precaution_line(
        "precaution.missing_or_failed",
        "releasegate precaution (MISSION.md); Anthropic RSP; NIST AI 800-1",
        {"missing_evidence": missing, "failed_evaluations": failed},
        before,
        levels,
        "step down",
    )
    if (missing or failed) and line.effect is None:
        line = line.model_copy(
            update={"matched": True, "effect": "step down: every component was already closed"}
        )
    return missing, failed, line


def _proxy_only(
    policy: ReleasePolicy, readings: list[_Reading], levels: dict[Component, AccessLevel]
) -> RuleTrace:
    """Precaution: a domain whose capability evidence is all benign demonstration proxies has
    not been measured for hazard; the policy's `proxy_only_weights_cap` bounds the weights."""
    kinds: dict[str, set[str]] = {}
    for r in readings:
        if r.indicator.role == "capability" and not r.missing:
            kinds.setdefault(r.domain, set()).update(r.reading.evidence_kinds)
    proxy_only = sorted(d for d, k in kinds.items() if k == {"demonstration_proxy"})
    before = dict(levels)
    cap = policy.proxy_only_weights_cap
    if cap is not None and proxy_only:
        _lower(levels, Component.WEIGHTS, cap)
    reads: dict[str, Any] = {f"{d}.evidence_kinds": sorted(k) for d, k in sorted(kinds.items())}
    reads["cap"] = cap.value if cap is not None else "none"
    line = _precaution_line(
        "precaution.proxy_only_evidence",
        "releasegate precaution: benign proxies demonstrate the method, not the hazard",
        reads,
        before,
        levels,
        "capability evidence is demonstration_proxy only for " + ", ".join(proxy_only),
    )
    if cap is not None and proxy_only and line.effect is None:
        line = line.model_copy(
            update={
                "matched": True,
                "effect": "capability evidence is demonstration_proxy only for "
                f"{', '.join(proxy_only)}; weights already at or below {cap.value}",
            }
        )
    return line


def _noisy(
    report: RiskReport, levels: dict[Component, AccessLevel]
) -> tuple[dict[str, str], RuleTrace]:
    """Flag evidence its report marks noisy (a tamper sweep that is not monotone over attack
    strength). No level moves here: the evidence is already read at the worse bound of its
    interval, and the flag asks for a reassessment with more seeds."""
    noisy = {item.id: item.noisy for item in report.evidence if item.noisy}
    line = _precaution_line(
        "precaution.noisy_evidence",
        "releasegate precaution: a sweep that is not monotone is noise, not a measurement",
        {"noisy": dict(sorted(noisy.items()))},
        levels,
        levels,
        "noisy evidence",
    )
    if noisy:
        line = line.model_copy(
            update={
                "matched": True,
                "effect": "noisy evidence, read at the worse bound of its interval; reassess "
                "with more seeds: " + ", ".join(sorted(noisy)),
            }
        )
    return noisy, line


def _required_safeguards(
    policy: ReleasePolicy,
    levels: dict[Component, AccessLevel],
    extra: dict[Component, list[str]],
) -> dict[Component, list[str]]:
    required: dict[Component, list[str]] = {}
    for component in Component:
        names = list(policy.required_safeguards.get(component, {}).get(levels[component], []))
        if levels[component] > AccessLevel.CLOSED:
            names += extra.get(component, [])
        if names:
            required[component] = list(dict.fromkeys(names))
    return required


def _triggers(
    policy: ReleasePolicy, missing: list[str], straddling: list[str], noisy: list[str]
) -> list[ReassessmentTrigger]:
    triggers = [
        ReassessmentTrigger(
            id=t.id,
            description=t.description,
            kind=t.kind,
            min_severity=t.min_severity,
            count=t.count,
            window_days=t.window_days,
            fallback=t.fallback or policy.reassessment_fallback,
        )
        for t in policy.reassessment_triggers
    ]
    if policy.max_validity_days and not any(t.kind == "expiry" for t in triggers):
        triggers.append(
            ReassessmentTrigger(
                id="expiry",
                description=f"{policy.max_validity_days} days after the assessment "
                "(max_validity_days)",
                kind="expiry",
                fallback=policy.reassessment_fallback,
            )
        )
    if missing:
        triggers.append(
            ReassessmentTrigger(
                id="missing-evidence",
                description="Reassess when the missing evidence is available: "
                + ", ".join(missing),
                fallback=policy.reassessment_fallback,
            )
        )
    if noisy:
        triggers.append(
            ReassessmentTrigger(
                id="noisy-evidence",
                description="Reassess with more seeds; this evidence is noisy: " + ", ".join(noisy),
                fallback=policy.reassessment_fallback,
            )
        )
    if straddling:
        triggers.append(
            ReassessmentTrigger(
                id="straddling-ci",
                description="Reassess with more samples; these CIs straddle a cutoff: "
                + ", ".join(straddling),
                fallback=policy.reassessment_fallback,
            )
        )
    return triggers


def _valid_until(report: RiskReport, policy: ReleasePolicy) -> datetime | None:
    # Counted from the assessment, not from `decide`: evidence ages whenever it is read, and
    # the same inputs must give the same decision.
    if policy.max_validity_days is None or report.created_at is None:
        return None
    created = report.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (created + timedelta(days=policy.max_validity_days)).astimezone(UTC)


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
    measured, judge_line, judge_notes = screen_judged(report, policy)
    domains, readings = _assess_all(measured, policy)
    outcome = _apply_rules(measured, policy, domains)
    levels = outcome.levels
    if judge_line is not None:
        # Setting weak evidence aside changes no level by itself: what it costs shows in the
        # missing-evidence step below, which reads the report without those items.
        judge_line = judge_line.model_copy(update={"before": dict(levels), "after": dict(levels)})
    # Precaution, in order; each line's `after` is the next one's `before`.
    straddling, straddling_line = _straddling(measured, policy, readings, levels)
    missing, failed, missing_line = _missing_or_failed(measured, policy, readings, levels)
    proxy_line = _proxy_only(policy, readings, levels)
    noisy, noisy_line = _noisy(measured, levels)
    uncertainty = _uncertainty(measured, policy, readings) + judge_notes
    uncertainty += [f"Noisy evidence {i}: {why}." for i, why in sorted(noisy.items())]
    valid_until = _valid_until(report, policy)
    if policy.max_validity_days and valid_until is None:
        uncertainty.append(
            "The report has no assessment date (created_at), so the decision's validity cannot "
            "be bounded; it is treated as expired until the model is assessed again."
        )
    decision = Decision(
        model=report.model,
        report_sha256=model_sha256(report),
        policy_name=policy.name,
        policy_version=policy.version,
        policy_sha256=model_sha256(policy),
        status="halted" if outcome.halted_reason else "pending",
        levels=levels,
        domains=list(domains.values()),
        required_safeguards=_required_safeguards(policy, levels, outcome.extra_safeguards),
        alternatives=choose_alternatives(levels, policy.access_tiers),
        trace=[
            *outcome.trace,
            *([judge_line] if judge_line is not None else []),
            straddling_line,
            missing_line,
            proxy_line,
            noisy_line,
        ],
        uncertainty=uncertainty,
        reassessment_triggers=_triggers(policy, missing, straddling, sorted(noisy)),
        valid_until=valid_until,
        signoff=SignoffRequirement(roles=policy.signoff.roles, required=policy.signoff.required),
        halted_reason=outcome.halted_reason,
        missing_evidence=missing,
        failed_evaluations=failed,
    )
    return decision.model_copy(update={"content_sha256": decision_content_sha256(decision)})


__all__ = ["check_report", "decide"]
