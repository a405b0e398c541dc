"""Property tests: worse evidence, or less of it, never opens any component further.

"Worse" follows each metric's direction in the policy: more capability (or uplift), less refusal,
a larger tamper drop, a higher jailbreak success rate. CIs move with their values.

Generated reports have one evidence item per reading (per domain, or one item without a domain
that bears on every domain), as `releasegate assess` writes them. Where a report carries several
items for one reading, the worst counts, and removing that worst item leaves the others as the
evidence: that can open a component, by design (docs/design/0003-decision-rule-language.md).
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from releasegate.policy import (
    BUNDLED_POLICIES,
    ReleasePolicy,
    bundled_policy_path,
    decide,
    load_policy,
)
from releasegate.vocab import Component
from tests.helpers.reports import DOMAINS, make_report

POLICIES = {name: load_policy(bundled_policy_path(name)) for name in BUNDLED_POLICIES}
RATES = [
    ("refusal_rate", "pre_mitigation"),
    ("refusal_rate", "post_mitigation"),
    ("refusal_rate", "post_tamper"),
    ("over_refusal_rate", "post_mitigation"),
    ("jailbreak_asr", "post_mitigation"),
]

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
half = st.one_of(st.just(0.0), st.floats(min_value=0.001, max_value=0.12, allow_nan=False))


@st.composite
def evidence_item(
    draw: st.DrawFn, metric: str, condition: str, domain: str | None
) -> dict[str, Any]:
    value = draw(unit)
    h = draw(half)
    item: dict[str, Any] = {
        "id": f"{metric}/{condition}/{domain}",
        "task": "t",
        "domain": domain,
        "metric": metric,
        "condition": condition,
        "value": value,
        "n": 500,
    }
    if h:
        item["ci95"] = {"low": max(0.0, value - h), "high": min(1.0, value + h)}
    if metric == "mcq_accuracy" and draw(st.integers(0, 5)):  # sometimes no baseline
        base = draw(unit)
        up = value - base
        item["baseline"] = {"model": "b", "value": base, "uplift": up}
        if h:
            item["baseline"]["uplift_ci95"] = {"low": up - h, "high": up + h}
    return item


@st.composite
def reports(draw: st.DrawFn) -> list[dict[str, Any]]:
    items = []
    for cond in ("pre_mitigation", "post_tamper"):
        if not draw(st.integers(0, 5)):  # sometimes one item that bears on every domain
            items.append(draw(evidence_item("mcq_accuracy", cond, None)))
            continue
        for domain in DOMAINS:
            if draw(st.integers(0, 9)):  # mostly present
                items.append(draw(evidence_item("mcq_accuracy", cond, domain)))
    for metric, cond in RATES:
        # Rates either report once for every domain, or per domain.
        if draw(st.booleans()):
            items.append(draw(evidence_item(metric, cond, None)))
        else:
            for domain in draw(st.lists(st.sampled_from(DOMAINS), unique=True, max_size=4)):
                items.append(draw(evidence_item(metric, cond, domain)))
    return items


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


def _worsen(item: dict[str, Any], policy: ReleasePolicy, delta: float) -> dict[str, Any]:
    out = copy.deepcopy(item)
    spec = policy.metrics.get(item["metric"])
    if spec is None:
        return out
    sign = 1.0 if spec.direction == "higher_is_worse" else -1.0
    new = _clamp(item["value"] + sign * delta)
    moved = new - item["value"]
    out["value"] = new
    if "ci95" in item:
        out["ci95"] = {
            "low": _clamp(item["ci95"]["low"] + moved),
            "high": _clamp(item["ci95"]["high"] + moved),
        }
    if "baseline" in item:
        b = out["baseline"]
        b["uplift"] = item["baseline"]["uplift"] + moved
        if "uplift_ci95" in b:
            b["uplift_ci95"] = {
                "low": b["uplift_ci95"]["low"] + moved,
                "high": b["uplift_ci95"]["high"] + moved,
            }
    return out


def _no_more_open(before: Any, after: Any) -> None:
    for component in Component:
        assert after.levels[component] <= before.levels[component], (
            component,
            before.levels[component],
            after.levels[component],
            [t.rule for t in before.trace if t.matched],
            [t.rule for t in after.trace if t.matched],
        )


PROFILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROFILE
@given(
    evidence=reports(),
    policy_name=st.sampled_from(BUNDLED_POLICIES),
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    delta=st.floats(min_value=0.0, max_value=0.6, allow_nan=False),
)
def test_worse_evidence_never_opens(
    evidence: list[dict[str, Any]], policy_name: str, picks: list[int], delta: float
) -> None:
    policy = POLICIES[policy_name]
    if not evidence:
        return
    chosen = {p % len(evidence) for p in picks}
    worse = [_worsen(e, policy, delta) if i in chosen else e for i, e in enumerate(evidence)]
    _no_more_open(decide(make_report(evidence), policy), decide(make_report(worse), policy))


@PROFILE
@given(
    evidence=reports(),
    policy_name=st.sampled_from(BUNDLED_POLICIES),
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
)
def test_removing_evidence_never_opens(
    evidence: list[dict[str, Any]], policy_name: str, picks: list[int]
) -> None:
    policy = POLICIES[policy_name]
    if not evidence:
        return
    chosen = {p % len(evidence) for p in picks}
    fewer = [e for i, e in enumerate(evidence) if i not in chosen]
    _no_more_open(decide(make_report(evidence), policy), decide(make_report(fewer), policy))


@PROFILE
@given(
    evidence=reports(),
    policy_name=st.sampled_from(BUNDLED_POLICIES),
    failed=st.lists(st.sampled_from(["tamper_sweep", "jailbreak", "cbrn-mcq"]), max_size=2),
)
def test_failed_evaluations_never_open(
    evidence: list[dict[str, Any]], policy_name: str, failed: list[str]
) -> None:
    policy = POLICIES[policy_name]
    _no_more_open(
        decide(make_report(evidence), policy), decide(make_report(evidence, failed=failed), policy)
    )


@PROFILE
@given(
    evidence=reports(),
    policy_name=st.sampled_from(BUNDLED_POLICIES),
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=4),
)
def test_removing_a_baseline_never_opens(
    evidence: list[dict[str, Any]], policy_name: str, picks: list[int]
) -> None:
    policy = POLICIES[policy_name]
    if not evidence:
        return
    chosen = {p % len(evidence) for p in picks}
    stripped = [
        {k: v for k, v in e.items() if k != "baseline"} if i in chosen else e
        for i, e in enumerate(evidence)
    ]
    _no_more_open(decide(make_report(evidence), policy), decide(make_report(stripped), policy))
