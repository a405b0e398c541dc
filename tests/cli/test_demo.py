"""`releasegate demo`: the whole loop on the bundled model, end to end, at the smallest size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from releasegate._cli.demo import demo_tiers
from releasegate.evidence import example_report_path, load_report
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.vocab import AccessLevel, Component
from tests.helpers.cli import run_subprocess

DECISION_FILES = {
    "decision.json",
    "decision.md",
    "decision.html",
    "model-card.md",
    "eu-ai-act-checklist.md",
}


@pytest.mark.slow
def test_demo_assesses_and_decides_on_the_bundled_model(
    tmp_path: Path, smollm2_dir: Path, guarded_dir: Path
) -> None:
    # The model fixtures convert the bundled model once per session and export its cache
    # directory, so the child process reuses it.
    result = run_subprocess(
        ["demo", "--no-serve", "--limit", "1", "--capability-limit", "1"], cwd=tmp_path, timeout=900
    )
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "demo-out" / "report.json").read_text())
    assert report["model"]["name"] == "bundled:smollm2-guarded"
    assert report["baselines"][0]["name"] == "bundled:smollm2"
    metrics = {(e["metric"], e["condition"]) for e in report["evidence"]}
    assert ("refusal_rate", "post_tamper") in metrics
    assert ("mcq_accuracy", "pre_mitigation") in metrics
    decision_dir = tmp_path / "demo-out" / "decision"
    assert {p.name for p in decision_dir.iterdir()} == DECISION_FILES
    decision = json.loads((decision_dir / "decision.json").read_text())
    assert decision["model"]["name"] == "bundled:smollm2-guarded"
    assert "most open level" in result.out


def _decision_for(example: str):  # type: ignore[no-untyped-def]
    policy = load_policy(bundled_policy_path("default"))
    return decide(load_report(example_report_path(example)), policy)


def test_demo_serves_the_default_tiers_the_decision_allows() -> None:
    decision = _decision_for("missing-tamper")
    assert decision.levels[Component.WEIGHTS] is AccessLevel.API
    assert set(demo_tiers(decision)) == {"public", "developer"}


def test_demo_serves_named_users_only_at_hosted() -> None:
    decision = _decision_for("missing-tamper")
    hosted = decision.model_copy(
        update={"levels": {**decision.levels, Component.WEIGHTS: AccessLevel.HOSTED}}
    )
    tiers = demo_tiers(hosted)
    assert list(tiers) == ["named"] and tiers["named"].named_users


def test_demo_serves_nothing_for_a_halted_decision() -> None:
    decision = _decision_for("critical-bio-proxy")
    assert decision.status == "halted"
    assert demo_tiers(decision) == {}
