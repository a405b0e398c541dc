"""A staged release in a real store (SQLite and PostgreSQL): start, gates refused item by item
then met, signed sign-offs bound to one promotion, rollback by hand and by trigger, the stage
`open_now` enforces, and every transition an audit record."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access import DEFAULT_TIERS, KeyStore
from releasegate.approvals import load_release_state, open_now
from releasegate.errors import InputError
from releasegate.monitoring import IncidentStore
from releasegate.stages import (
    PromotionRefused,
    StageError,
    current_stage,
    due_rollbacks,
    fire_rollback,
    parse_plan,
)
from releasegate.store._types import utcnow
from releasegate.vocab import AccessLevel, Tier
from tests.helpers.signing import audit_log
from tests.helpers.stages import release, signed_decision, signoff, through_report

PLAN = {
    "name": "t",
    "stages": [
        {"name": "one", "tiers": ["public"]},
        {
            "name": "two",
            "tiers": ["public", "developer"],
            "gate": {
                "min_days_in_previous": 1.5 / 86400,  # 1.5 seconds
                "max_incidents": {"high": 0},
                "evidence": {
                    "max_age_days": 1,
                    "indicators": [{"metric": "refusal_rate", "at_least": 0.8}],
                },
                "signoffs": {
                    "roles": ["release_lead", "safety_lead", "security_lead"],
                    "required": 2,
                },
            },
        },
        {"name": "three", "tiers": ["public", "developer", "researcher"]},
    ],
    "rollback_triggers": [
        {"id": "misuse", "kind": "incident", "min_severity": "high", "to": "one"},
        {"id": "flaw", "kind": "flaw_report", "min_severity": "high", "to": "one"},
    ],
}


def _plan() -> object:
    return parse_plan(PLAN, "plan")


def _incident(sessions: sessionmaker[Session], categories: list[str]) -> str:
    created = KeyStore(sessions).create(DEFAULT_TIERS["public"], owner="x")
    now = utcnow()
    incident, _ = IncidentStore(sessions).open(
        key_id=created.record.id,
        tier="public",
        window_start=now,
        window_end=now,
        audit_seqs=[1],
        categories=categories,
        trigger_seq=int(time.time_ns() % 10**12),
        reason="test",
    )
    return incident.id


def test_a_promotion_is_refused_for_each_unmet_item_then_allowed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    record, people = signed_decision(sessions, tmp_path / "keys", AccessLevel.RESEARCH_API)
    r = release(sessions, record.id)
    stages = PLAN["stages"]
    plan = parse_plan({**PLAN, "stages": [{"name": "zero", "tiers": ["public"]}, *stages]}, "p")  # type: ignore[list-item]
    started = r.start(plan, actor="t")
    assert (started.kind, started.to_stage, started.seq) == ("start", "zero", 1)
    r.promote("one", actor="t")

    with pytest.raises(StageError, match="not the next stage"):
        r.promote("three", actor="t")
    # Everything unmet at once: time, evidence, sign-offs (no incident yet).
    with pytest.raises(PromotionRefused) as refused:
        r.promote("two", actor="t")
    unmet = {i.item for i in refused.value.status.unmet}
    assert unmet == {"min_time", "evidence", "signoffs"}, refused.value.status.items

    time.sleep(1.6)
    # Evidence too weak (refusal 0.7 read at its lower bound 0.65 < 0.8).
    r.record_evidence(through_report(0.7), actor="t")
    alice, bob = people["release_lead"], people["safety_lead"]
    with pytest.raises(PromotionRefused) as refused:
        r.promote("two", actor="alice", signoffs=[signoff(r, "two", alice)])
    assert {i.item for i in refused.value.status.unmet} == {"evidence", "signoffs"}
    ev = next(i for i in refused.value.status.items if i.item == "evidence")
    assert "refusal_rate = 0.650 (worse CI bound)" in ev.evidence
    sig = next(i for i in refused.value.status.items if i.item == "signoffs")
    assert "1 of 2 counted: Alice (release_lead)" in sig.evidence

    # Good evidence and two sign-offs, but a critical incident opened in the stage.
    r.record_evidence(through_report(0.95), actor="t")
    _incident(sessions, ["S9"])
    with pytest.raises(PromotionRefused) as refused:
        r.promote("two", actor="bob", signoffs=[signoff(r, "two", bob)])
    assert {i.item for i in refused.value.status.unmet} == {"incidents"}

    # Back to zero and up again: a new visit of stage one, the incident before it. The old
    # sign-offs bound the earlier visit and no longer count; the time counts afresh.
    r.rollback("zero", reason="incident under review", actor="t")
    r.promote("one", actor="t")
    with pytest.raises(PromotionRefused) as refused:
        r.promote("two", actor="t")
    assert {i.item for i in refused.value.status.unmet} == {"min_time", "signoffs"}
    time.sleep(1.6)
    moved = r.promote("two", actor="t", signoffs=[signoff(r, "two", alice), signoff(r, "two", bob)])
    assert (moved.kind, moved.from_stage, moved.to_stage) == ("promote", "one", "two")
    assert all(item["met"] for item in moved.details["gate"])
    assert [t.kind for t in r.timeline()] == ["start", "promote", "rollback", "promote", "promote"]


def test_promotion_then_rollback_and_the_stage_in_force(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    record, people = signed_decision(sessions, tmp_path / "keys", AccessLevel.RESEARCH_API)
    r = release(sessions, record.id)
    plan = parse_plan(
        {
            **PLAN,
            "stages": [
                PLAN["stages"][0],
                {
                    "name": "two",
                    "tiers": ["public", "developer"],
                    "gate": {"signoffs": {"roles": ["release_lead", "safety_lead"], "required": 2}},
                },
                PLAN["stages"][2],
            ],
        },
        "p",
    )  # type: ignore[index]
    r.start(plan, actor="t")
    alice, bob, carol = people["release_lead"], people["safety_lead"], people["security_lead"]
    # A sign-off for another stage, or by a role outside the gate, does not count.
    with pytest.raises(StageError, match="signs to_stage 'three'"):
        r.record_signoffs([signoff(r, "three", alice)], actor="t", to="two")
    r.record_signoffs([signoff(r, "two", carol)], actor="t", to="two")
    with pytest.raises(PromotionRefused) as refused:
        r.promote("two", actor="t", signoffs=[signoff(r, "two", alice)])
    notes = refused.value.status.unmet[0].details["not_counted"]
    assert any("security_lead" in n and "not one of this gate's roles" in n for n in notes)
    moved = r.promote("two", actor="t", signoffs=[signoff(r, "two", bob)])
    assert (moved.kind, moved.from_stage, moved.to_stage) == ("promote", "one", "two")
    assert {i["item"] for i in moved.details["gate"]} == {"decision", "signoffs"}

    with sessions() as session:
        state = load_release_state(session, record.id)
        cur = current_stage(session, record.id)
    assert cur is not None
    from dataclasses import replace

    openness = open_now(replace(state, stage=cur.limit(DEFAULT_TIERS)), DEFAULT_TIERS, utcnow())
    assert openness.stage == "two"
    assert set(openness.open_tiers) == {"public", "developer"}
    closed = openness.tier("researcher")
    assert closed.code == "stage_closed" and "stage 'two'" in (closed.reason or "")
    # Stage two opens API tiers only: weights in force drop to api, whatever the decision.
    assert openness.weights is AccessLevel.API

    back = r.rollback("one", reason="bad week", actor="t")
    assert back is not None and back.kind == "rollback"
    with pytest.raises(StageError, match="not before the current stage"):
        r.rollback("two", reason="x", actor="t")
    kinds = [t.kind for t in r.timeline()]
    assert kinds == ["start", "promote", "rollback"]
    # Every transition is an audit record, chained and verified.
    log = audit_log(sessions)
    assert log.verify().ok
    actions = [json.loads(rec.payload)["action"] for rec in _records(sessions)]
    for action in ("stage.start", "stage.signoff", "stage.promote", "stage.rollback"):
        assert action in actions


def _records(sessions: sessionmaker[Session]) -> list[object]:
    from sqlalchemy import select

    from releasegate.store.tables.audit import AuditRecordRow

    with sessions() as session:
        return list(session.scalars(select(AuditRecordRow).order_by(AuditRecordRow.seq)))


def test_rollback_triggers(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    record, _people = signed_decision(sessions, tmp_path / "keys", AccessLevel.RESEARCH_API)
    r = release(sessions, record.id)
    plan = parse_plan(
        {
            **PLAN,
            "stages": [
                PLAN["stages"][0],
                {"name": "two", "tiers": ["public", "developer"]},
                PLAN["stages"][2],
            ],
        },
        "p",
    )  # type: ignore[index]
    r.start(plan, actor="t")
    r.promote("two", actor="t")
    with sessions() as session:
        cur = current_stage(session, record.id)
        assert cur is not None and due_rollbacks(session, cur) == []
    _incident(sessions, ["S10"])  # medium: below the trigger's high
    with sessions() as session:
        assert due_rollbacks(session, cur) == []
    _incident(sessions, ["S1"])  # high
    with sessions() as session:
        due = due_rollbacks(session, cur)
    assert [d.trigger.id for d in due] == ["misuse"]
    # A confirmed flaw report below the trigger's severity does nothing; at it, steps back.
    audit = audit_log(sessions)
    assert (
        fire_rollback(
            sessions,
            audit,
            record.id,
            kind="flaw_report",
            reason="FR-1",
            actor="flaws",
            severity=Tier.MEDIUM,
        )
        is None
    )
    moved = fire_rollback(
        sessions,
        audit,
        record.id,
        kind="flaw_report",
        reason="FR-2 confirmed",
        actor="flaws",
        severity=Tier.HIGH,
    )
    assert moved is not None and moved.to_stage == "one" and moved.trigger_id == "flaw"
    # Already there: firing again records nothing.
    assert (
        fire_rollback(
            sessions,
            audit,
            record.id,
            kind="flaw_report",
            reason="FR-2",
            actor="flaws",
            severity=Tier.HIGH,
        )
        is None
    )


def test_start_checks_the_plan_against_the_decision(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    record, _ = signed_decision(sessions, tmp_path / "keys", AccessLevel.API)
    r = release(sessions, record.id)
    with pytest.raises(InputError, match="stage 'three' opens tier 'researcher'"):
        r.start(_plan(), actor="t")  # type: ignore[arg-type]
    assert r.current() is None and r.timeline() == []


def test_evidence_must_come_through_a_gateway(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    record, _ = signed_decision(sessions, tmp_path / "keys", AccessLevel.RESEARCH_API)
    r = release(sessions, record.id)
    report = through_report(0.9).model_copy(update={"notes": []})
    with pytest.raises(StageError, match="not measured through the deployed gateway"):
        r.record_evidence(report, actor="t")
    old = through_report(0.9, when=datetime.now(UTC) - timedelta(days=3))
    r.start(_plan(), actor="t")  # type: ignore[arg-type]
    r.record_evidence(old, actor="t")
    status = r.status()
    ev = next(i for i in status.items if i.item == "evidence")
    assert not ev.met and "too old" in ev.evidence


def test_status_reads_no_audit_record(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    """`stage status` costs the same whatever the audit log's size: it never reads it."""
    from sqlalchemy import event

    record, _ = signed_decision(sessions, tmp_path / "keys", AccessLevel.RESEARCH_API)
    r = release(sessions, record.id)
    r.start(_plan(), actor="t")  # type: ignore[arg-type]
    engine = sessions.kw["bind"]
    seen: list[str] = []

    def log(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", log)
    try:
        status = r.status()
    finally:
        event.remove(engine, "before_cursor_execute", log)
    assert status.next_stage == "two" and seen
    assert not [s for s in seen if "audit_records" in s], seen
