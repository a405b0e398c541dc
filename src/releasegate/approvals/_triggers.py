"""Reassessment triggers: when one fires, the decision needs reassessing and, until a new
decision is signed, the model's access falls back to the trigger's level.

Firing is durable and happens once per trigger and decision: one transaction records the
firing, opens an incident (kind "reassessment") for the admins, appends the audit record and
bumps the change counter, so every gateway steps its tiers down on its next poll. Triggers of
kind `incidents` and `expiry` are checked by the gateways themselves (`due_triggers`, on every
poll); `flaw_report` and `model_fingerprint` are fired by whoever learns of them through
`fire_trigger` (the flaw-report triage when a report is confirmed, the weights registry when a
new fingerprint appears); any trigger can be fired by hand with its id.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from releasegate.approvals._changes import audit_in, bump_version
from releasegate.approvals._registry import DecisionNotFoundError, _resolve
from releasegate.audit import AuditLog
from releasegate.errors import ReleasegateError
from releasegate.policy._decision import Decision, ReassessmentTrigger
from releasegate.store._locks import get_for_update
from releasegate.store._types import utcnow
from releasegate.store.tables.approvals import FiredTriggerRow
from releasegate.store.tables.decisions import DecisionRow
from releasegate.store.tables.monitoring import IncidentRow
from releasegate.vocab import AccessLevel, Tier

# Incidents that reassessment triggers count: every kind but their own, so a firing never
# counts toward another.
REASSESSMENT_INCIDENT = "reassessment"


class TriggerError(ReleasegateError):
    """A trigger that cannot be fired (unknown id, or a reminder with no fallback)."""


@dataclass(frozen=True)
class FiredTrigger:
    """A trigger that fired for a decision; `recorded` is False for one seen by the clock
    (expiry) that no process has stored yet."""

    trigger_id: str
    kind: str | None
    fallback: AccessLevel
    reason: str
    fired_at: datetime
    incident_id: str | None = None
    recorded: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger_id,
            "kind": self.kind,
            "fallback": self.fallback.value,
            "reason": self.reason,
            "fired_at": self.fired_at.isoformat(),
            "incident_id": self.incident_id,
            "recorded": self.recorded,
        }


def fired_triggers(session: Session, decision_id: str) -> tuple[FiredTrigger, ...]:
    """The triggers recorded as fired for a decision, oldest first."""
    rows = session.scalars(
        select(FiredTriggerRow)
        .where(FiredTriggerRow.decision_id == decision_id)
        .order_by(FiredTriggerRow.id)
    )
    return tuple(_to_fired(r) for r in rows)


def expiry_due(decision: Decision, now: datetime) -> FiredTrigger | None:
    """The expiry trigger, if the decision has one and its `valid_until` has passed (a
    decision whose report had no date has no `valid_until` and counts as expired)."""
    spec = next((t for t in decision.reassessment_triggers if t.kind == "expiry"), None)
    if spec is None:
        return None
    if decision.valid_until is not None and now < decision.valid_until:
        return None
    reason = (
        f"valid until {decision.valid_until.isoformat()}"
        if decision.valid_until is not None
        else "the report has no assessment date, so its validity cannot be checked"
    )
    return FiredTrigger(
        trigger_id=spec.id,
        kind="expiry",
        fallback=spec.fallback or AccessLevel.CLOSED,
        reason=reason,
        fired_at=decision.valid_until or now,
        recorded=False,
    )


def due_triggers(
    session: Session, decision_id: str, decision: Decision, now: datetime
) -> list[tuple[ReassessmentTrigger, str, dict[str, Any]]]:
    """Triggers that fire by themselves (incidents, expiry) and are due but not yet recorded.

    Returns:
        (trigger, reason, details) for each.
    """
    recorded = {f.trigger_id for f in fired_triggers(session, decision_id)}
    due: list[tuple[ReassessmentTrigger, str, dict[str, Any]]] = []
    expired = expiry_due(decision, now)
    for spec in decision.reassessment_triggers:
        if spec.id in recorded:
            continue
        if spec.kind == "expiry" and expired is not None:
            due.append((spec, expired.reason, {}))
        elif spec.kind == "incidents":
            hit = _incidents_due(session, decision_id, spec, now)
            if hit is not None:
                due.append((spec, *hit))
    return due


def _incidents_due(
    session: Session, decision_id: str, spec: ReassessmentTrigger, now: datetime
) -> tuple[str, dict[str, Any]] | None:
    assert spec.min_severity is not None and spec.window_days is not None
    decided = session.scalar(select(DecisionRow.created_at).where(DecisionRow.id == decision_id))
    since = now - timedelta(days=spec.window_days)
    if decided is not None:
        since = max(since, decided)  # incidents before this decision were reckoned with by it
    rows = session.execute(
        select(IncidentRow.id, IncidentRow.severity).where(
            IncidentRow.created_at >= since, IncidentRow.kind != REASSESSMENT_INCIDENT
        )
    ).all()
    floor = spec.min_severity.rank
    hits = sorted(str(r.id) for r in rows if _severity_rank(r.severity) >= floor)
    if len(hits) < spec.count:
        return None
    reason = (
        f"{len(hits)} incident(s) of severity {spec.min_severity.value} or above within "
        f"{spec.window_days:g} days (threshold {spec.count})"
    )
    return reason, {"incidents": hits}


def _severity_rank(severity: str) -> int:
    try:
        return Tier(severity).rank
    except ValueError:
        return Tier.CRITICAL.rank  # an unknown severity counts as the worst (precaution)


def fire_trigger(
    sessions: sessionmaker[Session],
    audit: AuditLog,
    decision_id: str,
    *,
    trigger_id: str | None = None,
    kind: str | None = None,
    reason: str,
    actor: str,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[FiredTrigger]:
    """Fire a decision's reassessment trigger(s): by id, or every trigger of a kind.

    The public entry for whoever learns that a trigger's event happened, e.g. the flaw-report
    triage (`kind="flaw_report"` when a report is confirmed) or a weights registry
    (`kind="model_fingerprint"`). Firing is idempotent: a trigger that already fired is
    returned as it was recorded.

    Args:
        sessions: the store.
        audit: the audit log (the firing's record is written in the same transaction).
        decision_id: the decision (id or unique prefix).
        trigger_id: fire this trigger of the decision.
        kind: fire every trigger of this kind (when `trigger_id` is None).
        reason: what happened, for the audit record, the incident and `decision status`.
        actor: who fired it ("flaws:triage", "cli:alice", "gateway"...).
        details: extra JSON for the audit record (a flaw report's id...).
        now: the firing time (default: now).

    Returns:
        The fired triggers; empty when the decision defines none of that kind (the policy did
        not ask for this event to matter).

    Raises:
        DecisionNotFoundError: no such decision.
        TriggerError: `trigger_id` is not one of the decision's triggers, or neither
            `trigger_id` nor `kind` was given.
    """
    if trigger_id is None and kind is None:
        raise TriggerError("fire a trigger by its id or by its kind")
    if not reason.strip():
        raise TriggerError("firing a trigger needs the reason")
    moment = now or utcnow()
    with sessions() as session, session.begin():
        decision_key = _resolve(session, decision_id).id
        row = get_for_update(session, DecisionRow, decision_key)  # one firing at a time
        if row is None:
            raise DecisionNotFoundError(f"no decision with id {decision_id!r}")
        decision = Decision.model_validate_json(row.decision_json)
        specs = _select(decision, trigger_id, kind)
        done = {f.trigger_id: f for f in fired_triggers(session, decision_key)}
        out: list[FiredTrigger] = []
        for spec in specs:
            if spec.id in done:
                out.append(done[spec.id])
                continue
            out.append(
                _record(session, audit, decision_key, spec, reason, actor, details or {}, moment)
            )
        return out


def _select(
    decision: Decision, trigger_id: str | None, kind: str | None
) -> Sequence[ReassessmentTrigger]:
    if trigger_id is not None:
        for spec in decision.reassessment_triggers:
            if spec.id == trigger_id:
                return [spec]
        known = ", ".join(t.id for t in decision.reassessment_triggers) or "none"
        raise TriggerError(f"the decision has no trigger {trigger_id!r} (its triggers: {known})")
    return [t for t in decision.reassessment_triggers if t.kind == kind]


def _record(
    session: Session,
    audit: AuditLog,
    decision_id: str,
    spec: ReassessmentTrigger,
    reason: str,
    actor: str,
    details: dict[str, Any],
    now: datetime,
) -> FiredTrigger:
    fallback = spec.fallback or AccessLevel.CLOSED
    incident_id = "inc_" + secrets.token_hex(8)
    summary = (
        f"reassessment required for decision {decision_id}: trigger {spec.id} fired ({reason}); "
        f"model access falls back to {fallback.value} until a new decision is signed"
    )
    seq = audit_in(
        session,
        audit,
        actor,
        {
            "action": "decision.reassessment_required",
            "decision_id": decision_id,
            "trigger": spec.id,
            "kind": spec.kind,
            "reason": reason,
            "fallback": fallback.value,
            "incident_id": incident_id,
            "details": details,
        },
    )
    session.add(
        IncidentRow(
            id=incident_id,
            key_id=None,
            tier="",
            window_start=now,
            window_end=now,
            flag_count=0,
            categories=[],
            audit_seqs=[seq],
            trigger_seq=seq,
            status="open",
            created_at=now,
            kind=REASSESSMENT_INCIDENT,
            severity="high",
            decision_id=decision_id,
            summary=summary,
        )
    )
    row = FiredTriggerRow(
        decision_id=decision_id,
        trigger_id=spec.id,
        kind=spec.kind or "manual",
        fallback=fallback.value,
        reason=reason,
        details=details,
        fired_at=now,
        fired_by=actor,
        incident_id=incident_id,
    )
    session.add(row)
    bump_version(session)
    session.flush()
    return _to_fired(row)


def _to_fired(row: FiredTriggerRow) -> FiredTrigger:
    return FiredTrigger(
        trigger_id=row.trigger_id,
        kind=row.kind,
        fallback=AccessLevel(row.fallback),
        reason=row.reason,
        fired_at=row.fired_at,
        incident_id=row.incident_id,
        details=dict(row.details or {}),
    )


__all__ = [
    "REASSESSMENT_INCIDENT",
    "FiredTrigger",
    "TriggerError",
    "due_triggers",
    "expiry_due",
    "fire_trigger",
    "fired_triggers",
]
