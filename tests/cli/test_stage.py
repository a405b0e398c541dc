"""`releasegate stage ...` end to end through the real entry point, on SQLite: a plan that
opens more than the decision is refused at load naming the stage; start, status, a refused
promotion (exit 1, the unmet items), signed promotion, rollback; the timeline in the decision
record (Markdown, HTML) and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import ROOT, run_main
from tests.helpers.stages import plan_file

LADDER = ROOT / "policies" / "stages" / "ladder.yaml"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return lambda *args: run_main([str(a) for a in args], capsys, monkeypatch)


def _dated(name: str, tmp_path: Path) -> Path:
    from datetime import UTC, datetime

    data = json.loads((ROOT / "examples" / "reports" / name).read_text())
    data["created_at"] = datetime.now(UTC).isoformat()
    copy = tmp_path / name
    copy.write_text(json.dumps(data))
    return copy


def _decided(cli, tmp_path: Path, report: str, out: Path) -> str:  # type: ignore[no-untyped-def]
    assert cli("decide", _dated(report, tmp_path), "--out", out).code == 0
    return str(json.loads((out / "decision.json").read_text())["content_sha256"][:16])


def _signers(cli, tmp_path: Path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    keys = {}
    for name, role in (
        ("Alice", "release_lead"),
        ("Bob", "safety_lead"),
        ("Carol", "security_lead"),
    ):
        key = tmp_path / "keys" / f"{name.lower()}.pem"
        assert cli("signers", "create", name, "--role", role, "--key-out", key).code == 0
        keys[role] = key
    return keys


def _approve(cli, decision: str, keys: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    for role, by in (("release_lead", "Alice"), ("safety_lead", "Bob")):
        result = cli(
            "decision", "approve", decision, "--role", role, "--by", by, "--key", keys[role]
        )
        assert result.code == 0, result.err


def test_a_plan_that_opens_more_than_the_decision_is_refused_naming_the_stage(
    cli,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    keys = _signers(cli, tmp_path)
    api = _decided(cli, tmp_path, "missing-tamper.json", tmp_path / "api")  # weights: api
    _approve(cli, api, keys)
    assert cli("stage", "plan", "check", LADDER).code == 0  # sound on its own
    checked = cli("stage", "plan", "check", LADDER, "--decision", api)
    assert checked.code == 2
    line = next(
        i for i, t in enumerate(LADDER.read_text().splitlines(), 1) if "tiers: [auditor]" in t
    )
    assert (
        f"{LADDER}:{line}: stages[0].tiers[0]: stage 'red_team' opens tier 'auditor'" in checked.err
    )
    assert "stage 'gated_weights' opens weights at 'gated_weights'" in checked.err
    started = cli("stage", "start", "--plan", LADDER, "--decision", api)
    assert started.code == 2 and "stage 'red_team'" in started.err
    status = cli("stage", "status", "--decision", api)
    assert status.code == 0 and "no staged release" in status.out


def test_start_status_promote_rollback_and_the_record(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keys = _signers(cli, tmp_path)
    out = tmp_path / "gated"
    decision = _decided(cli, tmp_path, "low-risk.json", out)  # weights: gated_weights
    plan = plan_file(
        tmp_path / "plan.yaml",
        {
            "name": "cli",
            "version": "2",
            "stages": [
                {"name": "red_team", "tiers": ["auditor"]},
                {
                    "name": "researchers",
                    "tiers": ["auditor", "researcher"],
                    "gate": {
                        "max_incidents": {"high": 0},
                        "signoffs": {"roles": ["release_lead", "safety_lead"], "required": 2},
                    },
                },
            ],
        },
    )
    # A pending decision opens nothing: the release cannot start.
    pending = cli("stage", "start", "--plan", plan, "--decision", decision)
    assert pending.code == 2 and "not approved yet" in pending.err
    _approve(cli, decision, keys)
    started = cli("stage", "start", "--plan", plan)  # the newest approved decision
    assert started.code == 0, started.err
    assert "stage red_team" in started.out and "gate to enter researchers" in started.out
    md = (out / "decision.md").read_text()
    assert "## Staged release" in md and "current stage **red_team**" in md
    # What is open now follows the stage: `decision status` agrees with the gateway.
    shown = json.loads(cli("decision", "status", decision, "--json").out)
    assert shown["stage"] == "red_team" and shown["tiers_open"] == ["auditor"]
    assert shown["tiers_withheld"]["researcher"].startswith("tier 'researcher' is not open")

    refused = cli("stage", "promote", "--to", "researchers")
    assert refused.code == 1
    assert "signoffs: 2 of release_lead, safety_lead" in refused.err
    assert "incidents" not in refused.err.split("unmet gate items:")[1]
    alice = ["--by", "Alice", "--role", "release_lead", "--key", keys["release_lead"]]
    assert cli("stage", "promote", "--to", "researchers", *alice).code == 1
    status = json.loads(cli("stage", "status", "--json").out)
    signoffs = next(i for i in status["gate"] if i["item"] == "signoffs")
    assert signoffs["met"] is False and signoffs["details"]["counted"] == [
        {"signer": "Alice", "role": "release_lead"}
    ]
    bob = ["--by", "Bob", "--role", "safety_lead", "--key", keys["safety_lead"]]
    promoted = cli("stage", "promote", "--to", "researchers", *bob, "--reason", "week one clean")
    assert promoted.code == 0, promoted.err
    assert "this is the last stage" in promoted.out

    bad = cli("stage", "rollback", "--to", "nowhere", "--reason", "x")
    assert bad.code == 2 and "no stage 'nowhere'" in bad.err
    back = cli("stage", "rollback", "--to", "red_team", "--reason", "a confirmed flaw")
    assert back.code == 0, back.err
    timeline = json.loads(cli("stage", "timeline", "--json").out)["timeline"]
    assert [(t["kind"], t["to"]) for t in timeline] == [
        ("start", "red_team"),
        ("promote", "researchers"),
        ("rollback", "red_team"),
    ]
    assert timeline[1]["reason"] == "week one clean"
    html = (out / "decision.html").read_text()
    assert "<h2>Staged release</h2>" in html and "a confirmed flaw" in html
    assert "rollback: researchers → red_team" in (out / "decision.md").read_text()
    assert cli("audit", "verify").code == 0
    # Every line of the export but its closing signed checkpoint is a record.
    lines = [json.loads(line) for line in cli("audit", "export").out.splitlines()]
    actions = [item["payload"]["action"] for item in lines if "payload" in item]
    assert actions.count("stage.signoff") == 2
    assert [a for a in actions if a.startswith("stage.") and a != "stage.signoff"] == [
        "stage.start",
        "stage.promote",
        "stage.rollback",
    ]


def test_bad_input(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = cli("stage", "plan", "check", tmp_path / "nope.yaml")
    assert missing.code == 2 and "file not found" in missing.err
    half = cli("stage", "promote", "--to", "x", "--by", "Alice")
    assert half.code == 2 and "--by, --role and --key together" in half.err
    empty = cli("stage", "status")
    assert empty.code == 2 and "no staged release and no approved decision" in empty.err
