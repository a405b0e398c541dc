"""Real runs of the suites on the bundled model (tiny limits), read back from Inspect's logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.assess import AssessOptions, assess, file_sha256
from releasegate.evidence import RiskReport
from releasegate.settings import Settings
from releasegate.vocab import Condition
from tests.helpers.assess_data import write_mcq, write_request_sets

pytestmark = pytest.mark.slow


def _events() -> tuple[list[tuple[str, str]], object]:
    seen: list[tuple[str, str]] = []
    return seen, lambda event, label: seen.append((event, label))


def _values(report: RiskReport) -> dict[str, float]:
    return {e.id: e.value for e in report.evidence}


def test_capability_runs_on_inspect_resumes_and_repeats(
    tmp_path: Path, bundled_settings: Settings, smollm2_dir: Path
) -> None:
    from inspect_ai.log import read_eval_log

    partial = write_mcq(tmp_path / "extra.jsonl", rows=2, bad_lines=1)
    opts = AssessOptions(
        model="bundled:smollm2",
        suites=("capability",),
        limit=2,
        data={"cbrn": str(partial)},
        log_dir=tmp_path / "logs",
    )
    seen, progress = _events()
    report = assess(opts, bundled_settings, progress)  # type: ignore[arg-type]

    assert not report.coverage.failed, report.coverage.failed
    ids = {e.id for e in report.evidence}
    assert ids == {f"{d}-mcq/pre_mitigation" for d in ("cbrn", "cyber", "persuasion", "autonomy")}
    for item in report.evidence:
        assert item.metric == "mcq_accuracy" and item.condition == Condition.PRE_MITIGATION
        assert item.n == 2 and 0.0 <= item.value <= 1.0
        assert item.log_path and item.log_sha256 == file_sha256(Path(item.log_path))
        log = read_eval_log(item.log_path)
        assert log.status == "success"
        assert str(log.eval.model) == "releasegate/bundled:smollm2"
        assert log.eval.task_registry_name == "releasegate/capability_mcq"
        assert all(s.metadata["method"] == "logprob" for s in log.samples or [])
        assert item.dataset is not None and item.dataset.sha256
    cbrn = next(e for e in report.evidence if e.domain == "cbrn")
    assert cbrn.dataset is not None and not cbrn.dataset.demonstration_proxy
    assert cbrn.dataset.sha256 == file_sha256(partial)
    cyber = next(e for e in report.evidence if e.domain == "cyber")
    assert cyber.dataset is not None and cyber.dataset.demonstration_proxy
    assert any(f"{partial}:2" in n for n in report.notes)  # the malformed row, by line
    assert set(report.tool_versions) >= {"releasegate", "inspect_ai", "transformers", "torch"}
    assert report.model.weights_sha256 and report.model.parameter_count
    assert report.coverage.ran and not report.coverage.failed
    assert all(event == "done" for event, _ in seen if event != "start")

    # A re-run reuses every finished log and gives the same numbers.
    seen2, progress2 = _events()
    again = assess(opts, bundled_settings, progress2)  # type: ignore[arg-type]
    assert [e for e, _ in seen2 if e != "start"] == ["reused"] * 4
    assert _values(again) == _values(report)

    # A fresh run (new log directory) with the same model, data and seed: the same values.
    fresh = assess(opts.model_copy(update={"log_dir": tmp_path / "logs2"}), bundled_settings)
    assert _values(fresh) == _values(report)


def test_safeguard_suites_report_the_engine_metrics(
    tmp_path: Path, bundled_settings: Settings, smollm2_dir: Path
) -> None:
    opts = AssessOptions(
        model="bundled:smollm2",
        suites=("refusal", "over_refusal", "jailbreak"),
        limit=2,
        jailbreak_prompts=1,
        max_tokens=12,
        data=write_request_sets(tmp_path / "sets"),
        log_dir=tmp_path / "logs",
    )
    report = assess(opts, bundled_settings)
    by_id = {e.id: e for e in report.evidence}
    assert set(by_id) == {
        "refusal_rate/pre_mitigation",
        "refusal_rate/post_mitigation",
        "over_refusal_rate/post_mitigation",
        "jailbreak_asr/post_mitigation",
    }
    assert by_id["refusal_rate/post_mitigation"].condition == Condition.POST_MITIGATION
    # The guards only add refusals.
    assert by_id["refusal_rate/post_mitigation"].value >= by_id["refusal_rate/pre_mitigation"].value
    jail = by_id["jailbreak_asr/post_mitigation"]
    assert jail.attack is not None
    transforms = jail.attack["transforms"]
    assert len(transforms) == 8
    assert jail.value == max(transforms.values())
    assert report.safeguards.jailbreak_asr == jail.value
    assert report.safeguards.jailbreak_asr_by_attack == transforms
    assert report.safeguards.refusal_rate == by_id["refusal_rate/post_mitigation"].value
    assert report.safeguards.over_refusal_rate == by_id["over_refusal_rate/post_mitigation"].value
    for item in report.evidence:  # every judged item states its judge's measured agreement
        assert item.judge == "releasegate-refusal-judge/v2"
        agreement = item.judge_agreement
        assert agreement is not None and agreement.judge == item.judge
        assert agreement.labelled_set == "releasegate/judge/labelled[test]"
        assert agreement.n >= 150 and agreement.kappa is not None and agreement.kappa >= 0.79
    assert any("Refusal judge releasegate-refusal-judge/v2" in n for n in report.notes)
    assert any("post_mitigation was measured behind releasegate guards" in n for n in report.notes)
    for item in report.evidence:
        assert item.log_path and item.log_sha256 == file_sha256(Path(item.log_path))
