"""`min_judge_kappa`: evidence from a judge that agrees too little with people is read as missing,
the trace says so, and the decision takes the precautionary side."""

from __future__ import annotations

import itertools
from typing import Any

from releasegate.policy import decide
from releasegate.vocab import AccessLevel, Component
from tests.helpers.reports import make_report, mcq, rate
from tests.policy.test_engine_semantics import _policy

C = Component


def _judged(item: dict[str, Any], kappa: float | None) -> dict[str, Any]:
    item["judge"] = "some-judge/v1"
    item["judge_agreement"] = {
        "judge": "some-judge/v1",
        "labelled_set": "labels.jsonl",
        "n": 200,
        "agreement": 0.9,
        "kappa": kappa,
        "kappa_harmful": kappa,
    }
    return item


def _evidence(kappa_post: float | None, kappa_tamper: float | None) -> list[dict[str, Any]]:
    # A capable model (cyber uplift 0.25: high) whose refusals hold (0.95) before and after
    # tampering: with its safeguard evidence counted, every view is low.
    return [
        mcq("cyber", "pre_mitigation", 0.38 + 0.05),
        mcq("cyber", "post_tamper", 0.38 + 0.25),
        _judged(rate("refusal_rate", "post_mitigation", 0.95), kappa_post),
        _judged(rate("refusal_rate", "post_tamper", 0.95), kappa_tamper),
    ]


def _judged_policy(minimum: float | None, judged: bool = False) -> Any:
    metrics: dict[str, Any] = {
        "mcq_accuracy": {"direction": "higher_is_worse"},
        "refusal_rate": {"direction": "lower_is_worse", "judged": judged},
    }
    return _policy(min_judge_kappa=minimum, metrics=metrics)


def test_good_judges_keep_their_evidence() -> None:
    d = decide(make_report(_evidence(0.9, 0.88)), _judged_policy(0.8))
    assert d.levels[C.WEIGHTS] == AccessLevel.FULLY_OPEN
    line = next(t for t in d.trace if t.rule == "precaution.judge_agreement")
    assert not line.matched and line.reads["set_aside"] == []
    assert d.missing_evidence == []


def test_a_weak_judge_is_read_as_missing_and_traced() -> None:
    report = make_report(_evidence(0.9, 0.6))
    open_without_minimum = decide(report, _judged_policy(None))
    assert open_without_minimum.levels[C.WEIGHTS] == AccessLevel.FULLY_OPEN
    assert all(t.rule != "precaution.judge_agreement" for t in open_without_minimum.trace)

    d = decide(report, _judged_policy(0.8))
    line = next(t for t in d.trace if t.rule == "precaution.judge_agreement")
    assert line.matched
    assert line.reads["min_judge_kappa"] == 0.8
    assert "kappa 0.600 below 0.8" in line.reads["below_minimum"]["refusal_rate/post_tamper"]
    assert line.reads["set_aside"] == ["refusal_rate/post_tamper"]
    # The tamper safeguard gives no credit: the weights view is the high capability after
    # tampering (research_api), then one precaution step for the missing evidence.
    assert "cyber/ref/post_tamper" in d.missing_evidence
    assert d.levels[C.WEIGHTS] == AccessLevel.API
    assert any("read as missing (precaution)" in n for n in d.uncertainty)
    # The report's hash is of the report as given, not of what was read.
    assert d.report_sha256 == open_without_minimum.report_sha256


def test_an_undefined_kappa_and_an_unstated_agreement_count_as_below() -> None:
    d = decide(make_report(_evidence(None, 0.9)), _judged_policy(0.8))
    line = next(t for t in d.trace if t.rule == "precaution.judge_agreement")
    assert "undefined kappa" in line.reads["below_minimum"]["refusal_rate/post_mitigation"]

    evidence = _evidence(0.9, 0.9)
    del evidence[3]["judge_agreement"]
    # Not a judged metric: an item without a stated agreement is not checked...
    assert decide(make_report(evidence), _judged_policy(0.8)).missing_evidence == []
    # ...but once the policy marks the metric judged, an unstated agreement is below the minimum.
    d = decide(make_report(evidence), _judged_policy(0.8, judged=True))
    line = next(t for t in d.trace if t.rule == "precaution.judge_agreement")
    assert line.reads["below_minimum"] == {"refusal_rate/post_tamper": "states no judge agreement"}
    assert d.levels[C.WEIGHTS] == AccessLevel.API


def test_a_better_item_never_stands_in_for_a_set_aside_one() -> None:
    # Two items share the post_tamper reading: the weak judge's 0.5 (the worse value) and a
    # good judge's 0.95. Reading the good one alone would credit the safeguard; both go.
    evidence = _evidence(0.9, 0.5)
    evidence[3]["value"] = 0.5
    extra = _judged(rate("refusal_rate", "post_tamper", 0.95, domain="cyber"), 0.95)
    report = make_report([*evidence, extra])
    d = decide(report, _judged_policy(0.8))
    line = next(t for t in d.trace if t.rule == "precaution.judge_agreement")
    assert line.reads["set_aside"] == ["refusal_rate/post_tamper", "refusal_rate/post_tamper/cyber"]
    assert "cyber/ref/post_tamper" in d.missing_evidence
    weaker_minimum = decide(report, _judged_policy(0.4))
    assert weaker_minimum.levels[C.WEIGHTS] >= d.levels[C.WEIGHTS]


def test_a_higher_minimum_never_opens_anything() -> None:
    for kappas in ((0.95, 0.6), (0.7, 0.85), (None, 0.9), (0.82, 0.79)):
        report = make_report(_evidence(*kappas))
        minima = (None, 0.5, 0.75, 0.8, 0.85, 0.95)
        levels = [decide(report, _judged_policy(m)).levels for m in minima]
        for looser, stricter in itertools.pairwise(levels):
            assert all(stricter[c] <= looser[c] for c in C), kappas
