"""Evidence kind, the precaution trace (levels before and after each step, the last after is
what is applied), validity and the triggers a decision carries."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from releasegate.errors import InputError
from releasegate.evidence import RiskReport
from releasegate.policy import (
    BUNDLED_POLICIES,
    bundled_policy_path,
    decide,
    load_policy,
)
from releasegate.vocab import AccessLevel, Component
from tests.helpers.reports import full_evidence, make_report, mcq

PRECAUTION = (
    "precaution.judge_agreement",
    "precaution.straddling_ci",
    "precaution.missing_or_failed",
    "precaution.proxy_only_evidence",
    "precaution.noisy_evidence",
)


def _proxy(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The capability items measured on a bundled benign proxy set."""
    return [
        {**i, "dataset": {"name": "bundled-proxy", "demonstration_proxy": True}}
        if i["metric"] == "mcq_accuracy"
        else i
        for i in items
    ]


def _dated(report: RiskReport, days_ago: float = 0) -> RiskReport:
    return report.model_copy(update={"created_at": datetime.now(UTC) - timedelta(days=days_ago)})


@pytest.mark.parametrize("name", BUNDLED_POLICIES)
def test_shipped_policies_never_open_weights_on_proxy_only_evidence(name: str) -> None:
    policy = load_policy(bundled_policy_path(name))
    assert policy.proxy_only_weights_cap is AccessLevel.GATED_WEIGHTS
    measured = decide(make_report(full_evidence()), policy)
    proxied = decide(make_report(_proxy(full_evidence())), policy)
    assert proxied.levels[Component.WEIGHTS] <= AccessLevel.GATED_WEIGHTS
    line = next(t for t in proxied.trace if t.rule == "precaution.proxy_only_evidence")
    assert line.matched and "demonstration_proxy only for" in (line.effect or "")
    assert all(d in (line.effect or "") for d in ("cbrn", "cyber", "persuasion", "autonomy"))
    assert line.reads["cbrn.evidence_kinds"] == ["demonstration_proxy"]
    if measured.levels[Component.WEIGHTS] > AccessLevel.GATED_WEIGHTS:
        assert line.before is not None and line.after is not None
        assert line.before[Component.WEIGHTS] == measured.levels[Component.WEIGHTS]
        assert line.after[Component.WEIGHTS] is AccessLevel.GATED_WEIGHTS
    # Every capability reading says what kind of evidence it read.
    reading = proxied.domains[0].readings[0]
    assert reading.evidence_kinds == ["demonstration_proxy"]


def test_a_proxy_dataset_is_always_proxy_evidence() -> None:
    item = {
        **mcq("cbrn", "pre_mitigation", 0.4),
        "dataset": {"name": "x", "demonstration_proxy": True},
    }
    report = make_report([{**item, "evidence_kind": "benchmark"}])
    assert report.evidence[0].evidence_kind == "demonstration_proxy"
    assert make_report([mcq("cbrn", "pre_mitigation", 0.4)]).evidence[0].evidence_kind == "external"
    with pytest.raises(ValueError, match="evidence_kind"):
        make_report([{**mcq("cbrn", "pre_mitigation", 0.4), "evidence_kind": "rumour"}])


def test_precaution_lines_chain_before_and_after_to_the_applied_levels() -> None:
    policy = load_policy(bundled_policy_path("default"))
    # cbrn uplift 0.04 with a CI [0.02, 0.06] straddling 0.05 (read at 0.06: medium), no
    # post_tamper evidence at all (missing), and proxy-only capability evidence.
    evidence = [
        *[e for e in _proxy(full_evidence()) if e["condition"] != "post_tamper"],
    ]
    evidence = [
        mcq(
            "cbrn",
            "pre_mitigation",
            0.44,
            half=0.02,
            dataset={"name": "p", "demonstration_proxy": True},
        )
        if e["id"] == "cbrn-mcq/pre_mitigation"
        else e
        for e in evidence
    ]
    decision = decide(make_report(evidence), policy)
    lines = [t for t in decision.trace if t.rule.startswith("precaution.")]
    assert [t.rule for t in lines] == list(PRECAUTION)
    for earlier, later in itertools.pairwise(lines):
        assert earlier.after == later.before  # each step starts where the last one ended
    assert lines[-1].after == decision.levels  # the last after is what is applied
    judge, straddling, missing, _, noisy = lines
    assert not noisy.matched and noisy.reads == {"noisy": {}}
    assert not judge.matched  # the helpers' evidence states a judge agreement above the minimum
    assert (
        straddling.matched
        and "cbrn/cbrn_knowledge_uplift/pre_mitigation" in straddling.reads["straddling"]
    )
    assert missing.matched and missing.before is not None and missing.after is not None
    assert missing.after[Component.WEIGHTS].rank == missing.before[Component.WEIGHTS].rank - 1
    assert "step down: weights" in (missing.effect or "")


def test_straddling_shows_what_reading_the_worse_bound_cost() -> None:
    policy = load_policy(bundled_policy_path("default"))
    evidence = [
        *[e for e in full_evidence() if e["domain"] != "cbrn"],
        mcq("cbrn", "pre_mitigation", 0.44, half=0.02),
        mcq("cbrn", "post_tamper", 0.44, half=0.02),
    ]
    decision = decide(make_report(evidence), policy)
    line = next(t for t in decision.trace if t.rule == "precaution.straddling_ci")
    assert line.matched and line.before is not None and line.after is not None
    # At the point estimate (0.04: low) weights would be fully open; at the worse bound
    # (0.06: medium) they are gated, and that is what is applied.
    assert line.before[Component.WEIGHTS] is AccessLevel.FULLY_OPEN
    assert line.after[Component.WEIGHTS] is AccessLevel.GATED_WEIGHTS
    assert decision.levels[Component.WEIGHTS] is AccessLevel.GATED_WEIGHTS
    assert "weights fully_open -> gated_weights" in (line.effect or "")


def test_validity_and_triggers_are_carried_into_the_decision() -> None:
    policy = load_policy(bundled_policy_path("default"))
    assert policy.max_validity_days == 182 and policy.reassessment_fallback is AccessLevel.API
    report = _dated(make_report(full_evidence()), days_ago=10)
    decision = decide(report, policy)
    assert report.created_at is not None
    assert decision.valid_until == report.created_at + timedelta(days=182)
    kinds = {t.id: (t.kind, t.fallback) for t in decision.reassessment_triggers}
    assert kinds["incident-high"] == ("incidents", AccessLevel.API)
    assert kinds["confirmed-flaw"] == ("flaw_report", AccessLevel.API)
    assert kinds["new-model-fingerprint"][0] == "model_fingerprint"
    assert kinds["expiry"] == ("expiry", AccessLevel.API)
    incident = next(t for t in decision.reassessment_triggers if t.kind == "incidents")
    assert (incident.min_severity, incident.count, incident.window_days) == ("high", 1, 30)
    # The same report decides the same bytes (validity counts from the assessment, not today).
    assert decide(report, policy) == decision
    undated = decide(make_report(full_evidence()), policy)
    assert undated.valid_until is None
    assert any("no assessment date" in note for note in undated.uncertainty)


def test_trigger_definitions_are_checked(tmp_path: Path) -> None:
    text = (bundled_policy_path("default")).read_text()
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("    min_severity: high\n", "", 1))
    with pytest.raises(InputError, match="min_severity and window_days"):
        load_policy(path)
    path.write_text(
        text.replace("    kind: flaw_report\n", "    kind: flaw_report\n    window_days: 3\n", 1)
    )
    with pytest.raises(InputError, match="belong to incidents triggers"):
        load_policy(path)
