"""`releasegate decide|policy check|schema|demo` end to end, bad input included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from releasegate.policy import schema_text
from releasegate.reports import DECISION_FILES
from tests.helpers.cli import ROOT, run_main

EXAMPLES = ROOT / "examples" / "reports"
GOOD = EXAMPLES / "high-cyber-strong-safeguards.json"
DEFAULT_POLICY = (ROOT / "policies" / "default.yaml").read_text(encoding="utf-8")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return lambda *args: run_main([str(a) for a in args], capsys, monkeypatch)


def test_decide_writes_every_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    result = cli("decide", GOOD, "--policy", ROOT / "policies" / "default.yaml", "--out", out)
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == sorted(DECISION_FILES)
    decision = json.loads((out / "decision.json").read_text())
    assert decision["levels"]["weights"] == "research_api"
    assert decision["status"] == "pending"
    assert len(decision["trace"]) >= 10
    assert len(decision["content_sha256"]) == 64
    assert "research_api" in result.out and decision["content_sha256"] in result.out
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary directory left behind


def test_two_runs_are_byte_identical(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("a", "b"):
        assert cli("decide", GOOD, "--out", tmp_path / name).code == 0
    for file in DECISION_FILES:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_bundled_policy_by_name(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "decide",
        EXAMPLES / "critical-bio-proxy.json",
        "-p",
        "conservative",
        "--out",
        tmp_path / "o",
    )
    assert result.code == 0
    assert (
        json.loads((tmp_path / "o" / "decision.json").read_text())["policy_name"] == "conservative"
    )


def test_non_empty_dir_is_refused_unless_forced(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = cli("decide", GOOD, "--out", out)
    assert result.code == 2
    assert "not empty" in result.err and str(out) in result.err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert cli("decide", GOOD, "--out", out, "--force").code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(DECISION_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _bad_report(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    text = GOOD.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    path = tmp_path / "report.json"
    path.write_text(text, encoding="utf-8")
    return path, text


def _bad_policy(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    assert DEFAULT_POLICY.count(old) == 1, old
    text = DEFAULT_POLICY.replace(old, new)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


# name -> (which file, old, new, expected field path or None, text on the expected line, words)
BAD_INPUTS = {
    "malformed JSON report": (
        "report",
        '"schema_version": "1",',
        '"schema_version": "1",,',
        None,
        '"schema_version": "1",,',
        "malformed JSON",
    ),
    "NaN in report": (
        "report",
        '"domain": "cbrn",\n      "metric": "mcq_accuracy",\n      "condition": '
        '"pre_mitigation",\n      "value": 0.4,',
        '"domain": "cbrn",\n      "metric": "mcq_accuracy",\n      "condition": '
        '"pre_mitigation",\n      "value": NaN,',
        "evidence[0].value",
        '"value": NaN',
        "finite",
    ),
    "out-of-range report value": (
        "report",
        '"value": 0.985,',
        '"value": 1.3,',
        "evidence[9].value",
        '"value": 1.3',
        "outside the range",
    ),
    "unknown condition in report": (
        "report",
        '"condition": "post_mitigation",\n      "value": 0.985',
        '"condition": "post_mitgation",\n      "value": 0.985',
        "evidence[9].condition",
        '"condition": "post_mitgation"',
        "post_mitigation",
    ),
    "malformed YAML policy": (
        "policy",
        "signoff:\n  roles: [release_lead, safety_lead, security_lead]",
        "signoff:\n  roles: [release_lead, safety_lead, security_lead",
        None,
        "  required: 2",
        "malformed YAML",
    ),
    "unknown level in policy": (
        "policy",
        "cap: {weights: gated_weights, training_data: gated_weights}",
        "cap: {weights: gated, training_data: gated_weights}",
        "rules[4].then.cap.weights",
        "cap: {weights: gated,",
        "unknown name 'gated'",
    ),
    "unknown domain in policy": (
        "policy",
        "when: {domain: autonomy, effective: api, tier_at_least: medium}",
        "when: {domain: agency, effective: api, tier_at_least: medium}",
        "rules[8].when.domain",
        "domain: agency",
        "unknown domain 'agency'",
    ),
    "unknown metric in policy": (
        "policy",
        "        metric: jailbreak_asr\n        role: safeguard\n        conditions: "
        "[post_mitigation]\n        cutoffs: {medium: 0.03",
        "        metric: jailbreak_rate\n        role: safeguard\n        conditions: "
        "[post_mitigation]\n        cutoffs: {medium: 0.03",
        "domains.cbrn.indicators[2].metric",
        "metric: jailbreak_rate",
        "unknown metric",
    ),
    "cutoffs out of order": (
        "policy",
        "cutoffs: {medium: 0.45, high: 0.60, critical: 0.80}",
        "cutoffs: {medium: 0.65, high: 0.60, critical: 0.80}",
        "domains.autonomy.indicators[0].cutoffs.high",
        "medium: 0.65",
        "out of order",
    ),
    "rule reads an undefined metric": (
        "policy",
        "- {metric: refusal_rate, condition: post_tamper, at_most: 0.5}",
        "- {metric: tamper_cost, condition: post_tamper, at_most: 0.5}",
        "rules[6].when.all[0].metric",
        "metric: tamper_cost",
        "no indicator defines",
    ),
    "NaN in policy": (
        "policy",
        "when: {metric: jailbreak_asr, condition: post_mitigation, at_least: 0.2}",
        "when: {metric: jailbreak_asr, condition: post_mitigation, at_least: .nan}",
        "rules[7].when.at_least",
        "at_least: .nan",
        "finite",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_names_the_spot_and_writes_nothing(
    cli, tmp_path: Path, case: str
) -> None:  # type: ignore[no-untyped-def]
    which, old, new, field_path, line_text, words = BAD_INPUTS[case]
    report, policy = GOOD, ROOT / "policies" / "default.yaml"
    if which == "report":
        report, text = _bad_report(tmp_path, old, new)
        bad = report
    else:
        policy, text = _bad_policy(tmp_path, old, new)
        bad = policy
    out = tmp_path / "out"
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("decide", report, "--policy", policy, "--out", out)
    assert result.code == 2, (result.out, result.err)
    err = " ".join(result.err.split())
    line = _line_of(text, line_text)
    where = f"{bad}:{line}" + (f": {field_path}:" if field_path else ":")
    assert where in err, err
    assert words in err, err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # not even a temporary directory


def test_missing_report_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("decide", tmp_path / "nope.json", "--out", tmp_path / "out")
    assert result.code == 2 and "file not found" in result.err
    assert not (tmp_path / "out").exists()


def test_policy_check(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("default", "conservative", "open-leaning"):
        result = cli("policy", "check", ROOT / "policies" / f"{name}.yaml")
        assert result.code == 0 and "ok" in result.out
    bad, text = _bad_policy(tmp_path, "  required: 2\n", "  required: 0\n")
    result = cli("policy", "check", bad)
    assert result.code == 2
    assert f"{bad}:{_line_of(text, '  required: 0')}: signoff.required" in result.err


@pytest.mark.parametrize("kind", ["risk-report", "decision", "policy", "stage-plan"])
def test_schema_matches_docs(cli, kind: str) -> None:  # type: ignore[no-untyped-def]
    from releasegate.stages import plan_schema_text

    result = cli("schema", kind)
    assert result.code == 0
    assert result.out == (plan_schema_text() if kind == "stage-plan" else schema_text(kind))
    assert (ROOT / "docs" / "schemas" / f"{kind}.schema.json").read_text() == result.out, (
        f"docs/schemas/{kind}.schema.json is stale: releasegate schema {kind} > it"
    )
    json.loads(result.out)


def test_out_under_a_file_exits_2_and_leaves_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("x")
    result = cli("decide", GOOD, "--out", tmp_path / "file" / "sub" / "out")
    assert result.code == 2 and "cannot write" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    result = cli("decide", GOOD, "--out", tmp_path / "file")
    assert result.code == 2 and "not a directory" in result.err
