"""Incidents: what an admin must look at until it is resolved.

Misuse monitoring opens one when it suspends a key (kind "misuse"); opening it and suspending
the key happen in ONE transaction (the key row locked), so there is never a suspension without
its incident nor an incident whose key still works. A fired reassessment trigger opens one of
kind "reassessment" (no key; `releasegate.approvals.fire_trigger`). Each has a severity, which
the decisions' incident triggers count (`low` < `medium` < `high` < `critical`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access._keys import KeyNotFoundError
from releasegate.errors import ReleasegateError
from releasegate.store._locks import get_for_update
from releasegate.store._types import utcnow
from releasegate.store.tables.access import ApiKeyRow
from releasegate.store.tables.monitoring import IncidentRow

IncidentStatus = Literal["open", "resolved"]

# Misuse severity from the hazard categories flagged (MLCommons/Llama Guard numbering): weapons
# of mass harm and child sexual exploitation are critical; violent, sexual and other crimes and
# code-interpreter abuse high; everything else medium.
_CRITICAL = frozenset({"S4", "S9"})
_HIGH = frozenset({"S1", "S2", "S3", "S14"})


def misuse_severity(categories: Sequence[str]) -> str:
    """The severity of a misuse incident whose flagged requests fell in `categories`."""
    found = set(categories)
    if found & _CRITICAL:
        return "critical"
    if found & _HIGH:
        return "high"
    return "medium"


class IncidentNotFoundError(ReleasegateError):
    """No incident has this id."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident with id {incident_id!r}")
        self.incident_id = incident_id


@dataclass(frozen=True)
class Incident:
    """One crossing of a key's flag threshold. Times are timezone-aware UTC."""

    id: str
    key_id: str | None  # None for a reassessment incident
    tier: str
    window_start: datetime
    window_end: datetime
    flag_count: int
    categories: list[str]
    audit_seqs: list[int]
    trigger_seq: int
    status: IncidentStatus
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None
    kind: str = "misuse"
    severity: str = "medium"
    decision_id: str | None = None
    summary: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The incident as the CLI (`--json`) and the admin API show it."""
        return {
            "id": self.id,
            "key_id": self.key_id,
            "tier": self.tier,
            "status": self.status,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "flag_count": self.flag_count,
            "categories": list(self.categories),
            "audit_seqs": list(self.audit_seqs),
            "trigger_seq": self.trigger_seq,
            "created_at": self.created_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolved_by": self.resolved_by,
            "resolution_note": self.resolution_note,
            "kind": self.kind,
            "severity": self.severity,
            "decision_id": self.decision_id,
            "summary": self.summary,
        }


class IncidentStore:
    """Open, list, read and resolve incidents.

    Args:
        session_factory: from `releasegate.store.open_store`.
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def open(
        self,
        *,
        key_id: str,
        tier: str,
        window_start: datetime,
        window_end: datetime,
        audit_seqs: Sequence[int],
        categories: Sequence[str],
        trigger_seq: int,
        reason: str,
    ) -> tuple[Incident, bool]:
        """Suspend the key and record the incident, in one transaction.

        Idempotent per crossing: a second call with the same `trigger_seq` records nothing
        and returns the first incident.

        Returns:
            `(incident, created)`.

        Raises:
            KeyNotFoundError: no key has this id.
        """
        try:
            with self._sessions() as session, session.begin():
                key = get_for_update(session, ApiKeyRow, key_id)
                if key is None:
                    raise KeyNotFoundError(key_id)
                key.suspended = True
                key.suspended_reason = reason
                row = IncidentRow(
                    id="inc_" + secrets.token_hex(8),
                    key_id=key_id,
                    tier=tier,
                    window_start=window_start,
                    window_end=window_end,
                    flag_count=len(audit_seqs),
                    categories=sorted(set(categories)),
                    audit_seqs=sorted(audit_seqs),
                    trigger_seq=trigger_seq,
                    status="open",
                    created_at=utcnow(),
                    kind="misuse",
                    severity=misuse_severity(categories),
                )
                session.add(row)
                session.flush()
                return _to_incident(row), True
        except IntegrityError:
            with self._sessions() as session:
                existing = session.scalars(
                    select(IncidentRow).where(IncidentRow.trigger_seq == trigger_seq)
                ).one_or_none()
                if existing is None:
                    raise
                return _to_incident(existing), False

    def get(self, incident_id: str) -> Incident:
        """Raises: IncidentNotFoundError."""
        with self._sessions() as session:
            row = session.get(IncidentRow, incident_id)
            if row is None:
                raise IncidentNotFoundError(incident_id)
            return _to_incident(row)

    def list(
        self, status: IncidentStatus | None = None, key_id: str | None = None
    ) -> list[Incident]:
        """Incidents, newest first, optionally of one status or one key."""
        stmt = select(IncidentRow).order_by(IncidentRow.created_at.desc(), IncidentRow.id)
        if status is not None:
            stmt = stmt.where(IncidentRow.status == status)
        if key_id is not None:
            stmt = stmt.where(IncidentRow.key_id == key_id)
        with self._sessions() as session:
            return [_to_incident(row) for row in session.scalars(stmt)]

    def resolve(
        self, incident_id: str, by: str, note: str | None = None, *, unsuspend: bool = False
    ) -> Incident:
        """Close an incident; with `unsuspend`, lift its key's suspension in the same
        transaction (a revoked key stays revoked).

        Raises:
            IncidentNotFoundError: no incident has this id.
            ValueError: an empty `by`, or the incident is already resolved.
        """
        by = by.strip()
        if not by:
            raise ValueError("resolving an incident needs the resolver's name (--by)")
        if len(by) > 200:
            raise ValueError("--by is longer than 200 characters")
        with self._sessions() as session, session.begin():
            row = get_for_update(session, IncidentRow, incident_id)
            if row is None:
                raise IncidentNotFoundError(incident_id)
            if row.status == "resolved":
                assert row.resolved_at is not None
                raise ValueError(
                    f"incident {incident_id} was already resolved by {row.resolved_by} at "
                    f"{row.resolved_at.isoformat()}"
                )
            row.status = "resolved"
            row.resolved_at = utcnow()
            row.resolved_by = by
            row.resolution_note = note
            if unsuspend and row.key_id is not None:
                key = get_for_update(session, ApiKeyRow, row.key_id)
                if key is not None:
                    key.suspended = False
                    key.suspended_reason = None
            session.flush()
            return _to_incident(row)


def _to_incident(row: IncidentRow) -> Incident:
    status: IncidentStatus = "resolved" if row.status == "resolved" else "open"
    return Incident(
        id=row.id,
        key_id=row.key_id,
        tier=row.tier,
        window_start=row.window_start,
        window_end=row.window_end,
        flag_count=row.flag_count,
        categories=[str(c) for c in row.categories],
        audit_seqs=[int(s) for s in row.audit_seqs],
        trigger_seq=row.trigger_seq,
        status=status,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_note=row.resolution_note,
        kind=row.kind,
        severity=row.severity,
        decision_id=row.decision_id,
        summary=row.summary,
    )


__all__ = [
    "Incident",
    "IncidentNotFoundError",
    "IncidentStatus",
    "IncidentStore",
    "misuse_severity",
]
