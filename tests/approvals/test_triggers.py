"""Reassessment triggers in the store (SQLite and PostgreSQL): fired by hand (as the flaw
triage will), by incidents and by the clock; each firing is recorded once, with an audit
record and an incident, and `decision status` says "reassessment required"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access import DEFAULT_TIERS, KeyStore
from releasegate.approvals import (
    TriggerError,
    due_triggers,
    fire_trigger,
    fired_triggers,
    load_release_state,
    open_now,
    read_version,
)
from releasegate.monitoring import IncidentStore
from releasegate.vocab import AccessLevel
from tests.helpers.cli import run_main
from tests.helpers.decisions import example_decision
from tests.helpers.gateway import AUDIT_KEY
from tests.helpers.signing import approve, at_level, audit_log, signers

NOW = datetime.now(UTC)


def _approved(sessions: sessionmaker[Session], tmp_path: Path) -> str:
    decision = at_level(example_decision("low-risk"), AccessLevel.RESEARCH_API)
    return approve(sessions, decision, signers(sessions, tmp_path)).id


def _state(sessions: sessionmaker[Session], decision_id: str):  # type: ignore[no-untyped-def]
    with sessions() as session:
        return load_release_state(session, decision_id)


def test_a_confirmed_flaw_fires_once_with_an_audit_record_and_an_incident(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    decision_id = _approved(sessions, tmp_path)
    audit = audit_log(sessions)
    with sessions() as session:
        before = read_version(session)
    # What the flaw-report triage calls when a report is confirmed.
    [fired] = fire_trigger(
        sessions,
        audit,
        decision_id,
        kind="flaw_report",
        reason="flaw report FR-7 confirmed: a jailbreak that bypasses the input guard",
        actor="flaws:triage",
        details={"flaw": "FR-7"},
    )
    assert fired.trigger_id == "confirmed-flaw" and fired.fallback is AccessLevel.API
    with sessions() as session:
        assert read_version(session) == before + 1
    record = next(
        r for r in audit.records() if r.payload["action"] == "decision.reassessment_required"
    )
    assert record.actor == "flaws:triage" and record.payload["details"] == {"flaw": "FR-7"}
    incident = IncidentStore(sessions).get(fired.incident_id or "")
    assert incident.kind == "reassessment" and incident.key_id is None
    assert incident.decision_id == decision_id and incident.trigger_seq == record.seq
    assert "confirmed-flaw" in (incident.summary or "") and incident.status == "open"
    # Idempotent: firing again records nothing new.
    again = fire_trigger(sessions, audit, decision_id, kind="flaw_report", reason="x", actor="t")
    assert again == [fired] or again[0].incident_id == fired.incident_id
    assert len(IncidentStore(sessions).list()) == 1
    # The release now steps the research tiers down to the fallback.
    openness = open_now(_state(sessions, decision_id), DEFAULT_TIERS, NOW)
    assert openness.reassessment_required and openness.open_tiers == ["public", "developer"]
    assert openness.tier("researcher").code == "reassessment_required"
    # A kind the decision has no trigger for fires nothing; an unknown id is an error.
    assert fire_trigger(sessions, audit, decision_id, kind="nonesuch", reason="x", actor="t") == []
    with pytest.raises(TriggerError, match="no trigger 'nope'"):
        fire_trigger(sessions, audit, decision_id, trigger_id="nope", reason="x", actor="t")
    # Resolving the incident does not lift the reassessment: only a new decision does.
    IncidentStore(sessions).resolve(incident.id, "ops", "seen")
    assert open_now(_state(sessions, decision_id), DEFAULT_TIERS, NOW).reassessment_required


def test_incidents_of_the_policy_severity_make_the_trigger_due(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    decision_id = _approved(sessions, tmp_path)
    state = _state(sessions, decision_id)
    keys = KeyStore(sessions)
    incidents = IncidentStore(sessions)

    def incident(categories: list[str], seq: int) -> None:
        key = keys.create(DEFAULT_TIERS["public"], owner=f"user{seq}")
        incidents.open(
            key_id=key.record.id,
            tier="public",
            window_start=NOW - timedelta(minutes=5),
            window_end=NOW,
            audit_seqs=[seq],
            categories=categories,
            trigger_seq=seq,
            reason="test",
        )

    incident(["S5"], 1)  # defamation: medium, below the default policy's `high`
    assert incidents.list()[0].severity == "medium"
    with sessions() as session:
        assert due_triggers(session, decision_id, state.decision, NOW) == []
    incident(["S9"], 2)  # indiscriminate weapons: critical
    assert incidents.get(incidents.list(key_id=None)[0].id).severity == "critical"
    with sessions() as session:
        [(spec, reason, details)] = due_triggers(session, decision_id, state.decision, NOW)
    assert spec.id == "incident-high" and "1 incident(s) of severity high" in reason
    assert len(details["incidents"]) == 1


def test_expiry_is_due_once_valid_until_passed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    decision_id = _approved(sessions, tmp_path)
    decision = _state(sessions, decision_id).decision
    assert decision.valid_until is not None
    with sessions() as session:
        assert due_triggers(session, decision_id, decision, NOW) == []
        later = decision.valid_until + timedelta(seconds=1)
        [(spec, reason, _)] = due_triggers(session, decision_id, decision, later)
    assert spec.kind == "expiry" and "valid until" in reason
    fire_trigger(
        sessions, audit_log(sessions), decision_id, trigger_id=spec.id, reason=reason, actor="t"
    )
    with sessions() as session:
        assert [f.trigger_id for f in fired_triggers(session, decision_id)] == ["expiry"]
        assert due_triggers(session, decision_id, decision, later) == []  # recorded: not due again


def test_status_shows_reassessment_required(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.stores import migrated_store

    url = f"sqlite:///{tmp_path / 'rg.db'}"
    monkeypatch.setenv("RELEASEGATE_DATABASE_URL", url)
    monkeypatch.setenv("RELEASEGATE_AUDIT_HMAC_KEY", AUDIT_KEY)
    with migrated_store(url) as (_engine, sessions):
        decision_id = _approved(sessions, tmp_path)
        ok = run_main(["decision", "status", decision_id], capsys, monkeypatch)
        assert ok.code == 0 and "approved" in ok.out and "reassessment" not in ok.out
        fire_trigger(
            sessions, audit_log(sessions), decision_id, kind="flaw_report", reason="FR-9", actor="t"
        )
    result = run_main(["decision", "status", decision_id], capsys, monkeypatch)
    assert result.code == 0
    assert "reassessment required" in result.out
    assert "trigger confirmed-flaw (flaw_report)" in result.out and "FR-9" in result.out
    assert "withheld researcher" in result.out
    as_json = run_main(["decision", "status", decision_id, "--json"], capsys, monkeypatch)
    import json

    data = json.loads(as_json.out)
    assert data["reassessment_required"] is True
    assert data["reassessment"][0]["trigger"] == "confirmed-flaw"


def test_decision_trigger_fires_by_hand_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.stores import migrated_store

    url = f"sqlite:///{tmp_path / 'rg.db'}"
    monkeypatch.setenv("RELEASEGATE_DATABASE_URL", url)
    monkeypatch.setenv("RELEASEGATE_AUDIT_HMAC_KEY", AUDIT_KEY)
    with migrated_store(url) as (_engine, sessions):
        decision_id = _approved(sessions, tmp_path)
    both = run_main(
        ["decision", "trigger", decision_id, "--id", "expiry", "--kind", "expiry", "--reason", "x"],
        capsys,
        monkeypatch,
    )
    assert both.code == 2 and "exactly one of --id and --kind" in both.err
    unknown = run_main(
        ["decision", "trigger", decision_id, "--id", "nope", "--reason", "x"], capsys, monkeypatch
    )
    assert unknown.code == 2 and "no trigger 'nope'" in unknown.err
    fired = run_main(
        ["decision", "trigger", decision_id, "--kind", "flaw_report", "--reason", "FR-3 confirmed"],
        capsys,
        monkeypatch,
    )
    assert fired.code == 0, fired.err
    assert "confirmed-flaw" in fired.out and "fall back to api" in fired.out
    status = run_main(["decision", "status", decision_id], capsys, monkeypatch)
    assert "reassessment required" in status.out and "FR-3 confirmed" in status.out
    with migrated_store(url) as (_engine, sessions):
        records = [
            r
            for r in audit_log(sessions).records()
            if r.payload.get("action") == "decision.reassessment_required"
        ]
        incidents = IncidentStore(sessions).list()
    assert [r.payload["trigger"] for r in records] == ["confirmed-flaw"]
    assert records[0].actor.startswith("cli:")
    assert [i.kind for i in incidents] == ["reassessment"]
