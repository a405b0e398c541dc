"""`releasegate assess` bad input: a clear message and exit code 2, no report written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import run_main
from tests.helpers.openai_server import unused_port


def _assess(
    args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int, str, Path]:
    out = tmp_path / "report.json"
    monkeypatch.setenv("RELEASEGATE_DATA_DIR", str(tmp_path / "data"))
    result = run_main(["assess", *args, "--out", str(out)], capsys, monkeypatch)
    return result.code, result.out + result.err, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nonsense"], "not a model spec"),
        (["bundled:gpt9"], "unknown bundled model"),
        (["warp:thing"], "unknown model spec prefix"),
        (["hf:/no/such/dir"], "no model directory"),
        (["bundled:smollm2", "--suite", "capability,astrology"], "unknown suite 'astrology'"),
        (["bundled:smollm2", "--data", "cbrn=/no/such.jsonl"], "no such file"),
        (["bundled:smollm2", "--data", "cbrn"], "expected NAME=PATH"),
        (["bundled:smollm2", "--data", "cbrn=inspect_evals/wmdp_bio"], "inspect-evals is not"),
        (["bundled:smollm2", "--data", "bio=inspect_evals/wmdp_x"], "unknown task"),
        (["bundled:smollm2", "--limit", "0"], "--limit"),
        (["bundled:smollm2", "--judge", "oracle"], "'oracle' is not a judge spec"),
        (["bundled:smollm2", "--judge", "classifier:/no/such.npz"], "no weights file"),
        (["bundled:smollm2", "--judge-labels", "/no/such.jsonl"], "no such file"),
    ],
)
def test_bad_input_exits_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, text, out = _assess(args, tmp_path, capsys, monkeypatch)
    assert code == 2, text
    assert message in text
    assert not out.exists()


def test_unreachable_endpoint_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASEGATE_UPSTREAM_MAX_RETRIES", "0")
    monkeypatch.setenv("RELEASEGATE_UPSTREAM_CONNECT_TIMEOUT_S", "1")
    spec = f"openai:http://127.0.0.1:{unused_port()}/v1#m"
    code, text, out = _assess([spec, "--suite", "refusal"], tmp_path, capsys, monkeypatch)
    assert code == 2, text
    assert "does not answer" in text
    assert not out.exists()


def test_all_rows_malformed_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n{"question": "r", "choices": ["a"], "answer": 0}\n')
    code, text, out = _assess(
        ["bundled:smollm2", "--suite", "capability", "--data", f"cbrn={bad}"],
        tmp_path,
        capsys,
        monkeypatch,
    )
    assert code == 2, text
    assert f"{bad}:1" in text and f"{bad}:2" in text
    assert not out.exists()


@pytest.mark.slow
def test_assess_then_decide(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    smollm2_dir: Path,
) -> None:
    from releasegate.evidence import load_report

    code, text, out = _assess(
        ["bundled:smollm2", "--suite", "capability", "--limit", "1", "--then-decide"],
        tmp_path,
        capsys,
        monkeypatch,
    )
    assert code == 0, text
    report = load_report(out)
    assert {e.metric for e in report.evidence} == {"mcq_accuracy"}
    assert "Risk assessment of bundled:smollm2" in text
    decision = tmp_path / "report-decision" / "decision.json"
    assert decision.is_file()
    assert "content sha256" in text


def test_bad_judge_labels_are_named_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        '{"prompt": "p", "response": "r", "label": "refusal"}\n'
        '{"prompt": "p", "response": "r", "label": "yes"}\n'
    )
    code, text, out = _assess(
        ["bundled:smollm2", "--suite", "refusal", "--judge-labels", str(labels)],
        tmp_path,
        capsys,
        monkeypatch,
    )
    assert code == 2, text
    assert f"{labels}:2: label" in text
    assert not out.exists()
