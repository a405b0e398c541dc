"""`assess --until-decidable`: the sample grows until the policy decides every indicator, the
cap is reached or the data runs out; what stays undecided is recorded in the report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from releasegate.assess import AssessOptions, assess_until_decidable, undecided_indicators
from releasegate.evidence import RiskReport, load_report
from releasegate.policy import ReleasePolicy, bundled_policy_path, load_policy
from releasegate.settings import Settings
from tests.helpers.assess_data import write_request_sets
from tests.helpers.cli import run_main

POLICY = load_policy(bundled_policy_path("default"))


def _run(
    opts: AssessOptions, settings: Settings, policy: ReleasePolicy, cap: int
) -> tuple[RiskReport, list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    report = asyncio.run(
        assess_until_decidable(
            opts,
            settings,
            policy,
            max_samples=cap,
            progress=lambda event, label: seen.append((event, label)),
        )
    )
    return report, seen


def test_the_sample_grows_to_the_cap_and_what_is_undecided_is_recorded(
    tmp_path: Path, bundled_settings: Settings
) -> None:
    opts = AssessOptions(
        model="echo:", suites=("refusal",), limit=4, max_tokens=8, log_dir=tmp_path / "logs"
    )
    report, _ = _run(opts, bundled_settings, POLICY, cap=8)
    sampling = report.sampling
    assert sampling is not None
    assert sampling.rounds == [4, 8] and sampling.limit == 8 and sampling.max_samples == 8
    assert sampling.policy == f"{POLICY.name} {POLICY.version}"
    # 8 samples cannot place a refusal rate against cutoffs of 0.98 and 0.93.
    assert sampling.undecided and sampling.undecided == undecided_indicators(report, POLICY)
    assert all(n is None or n > 8 for n in sampling.undecided.values())
    assert any("the cap --max-samples 8 was reached" in n for n in report.notes)
    assert all(e.n == 8 for e in report.evidence)


def test_it_stops_when_nothing_is_undecided(tmp_path: Path, bundled_settings: Settings) -> None:
    # A policy that reads capability only: a refusal assessment leaves nothing to decide.
    capability_only = POLICY.model_copy(
        update={
            "domains": {
                name: domain.model_copy(
                    update={"indicators": [i for i in domain.indicators if i.role == "capability"]}
                )
                for name, domain in POLICY.domains.items()
            }
        }
    )
    opts = AssessOptions(
        model="echo:", suites=("refusal",), limit=4, max_tokens=8, log_dir=tmp_path / "logs"
    )
    report, _ = _run(opts, bundled_settings, capability_only, cap=64)
    assert report.sampling is not None and report.sampling.rounds == [4]
    assert report.sampling.undecided == {}
    assert any("is decided after 1 round(s)" in n for n in report.notes)


def test_it_stops_when_the_data_runs_out(tmp_path: Path, bundled_settings: Settings) -> None:
    opts = AssessOptions(
        model="echo:",
        suites=("refusal",),
        limit=4,
        max_tokens=8,
        data=write_request_sets(tmp_path / "sets"),  # 6 harmful requests
        log_dir=tmp_path / "logs",
    )
    report, _ = _run(opts, bundled_settings, POLICY, cap=100)
    # The second round asks for what the undecided indicators need; the data has 6 rows.
    assert report.sampling is not None and len(report.sampling.rounds) == 2
    assert all(e.n == 6 for e in report.evidence)
    assert report.sampling.undecided
    assert any("the datasets have no more rows" in n for n in report.notes)
    # A limit beyond the data draws the same rows: the log is reused, nothing runs again.
    _, seen = _run(opts.model_copy(update={"limit": 50}), bundled_settings, POLICY, cap=50)
    assert [event for event, _ in seen if event != "start"][-2:] == ["reused", "reused"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-samples", "10"], "needs --until-decidable"),
        (["--until-decidable", "--limit", "50", "--max-samples", "10"], "above --max-samples"),
        (["--until-decidable", "--policy", "/no/such.yaml"], "policy file not found"),
    ],
)
def test_bad_flags_exit_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "r.json"
    result = run_main(["assess", "echo:", *args, "--out", str(out)], capsys, monkeypatch)
    assert result.code == 2, result.out + result.err
    assert message in result.out + result.err
    assert not out.exists()


def test_the_cli_prints_and_records_the_rounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.json"
    monkeypatch.setenv("RELEASEGATE_DATA_DIR", str(tmp_path / "data"))
    args = ["assess", "echo:", "--suite", "refusal", "--limit", "3", "--max-tokens", "8"]
    args += ["--until-decidable", "--max-samples", "6", "--out", str(out)]
    result = run_main(args, capsys, monkeypatch)
    assert result.code == 0, result.out + result.err
    report = load_report(out)
    assert report.sampling is not None and report.sampling.rounds == [3, 6]
    assert "rounds of 3, 6 samples per task (cap 6)" in result.out
    for indicator in report.sampling.undecided:
        assert f"undecided: {indicator}" in result.out
