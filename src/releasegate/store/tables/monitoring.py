"""Incidents: misuse monitoring (migration 0003_monitoring) and reassessment triggers
(0004_approvals adds `kind`, `severity`, `decision_id`, `summary`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from releasegate.store._base import Base
from releasegate.store._types import UTCDateTime


class IncidentRow(Base):
    """Something an admin must look at until it is resolved.

    `kind` "misuse": a key that crossed its tier's flag threshold, suspended; `trigger_seq` is
    the audit seq of the flagged request that made the count cross the threshold. `kind`
    "reassessment": a decision's reassessment trigger fired (no key); `trigger_seq` is the seq
    of the audit record of the firing. Unique either way, so one event is never recorded twice
    (two processes, a retry).
    """

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    tier: Mapped[str] = mapped_column(String(100))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    flag_count: Mapped[int] = mapped_column(Integer)
    categories: Mapped[list[Any]] = mapped_column(JSON)
    audit_seqs: Mapped[list[Any]] = mapped_column(JSON)
    trigger_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    kind: Mapped[str] = mapped_column(String(32), server_default="misuse")
    severity: Mapped[str] = mapped_column(String(16), server_default="medium")
    decision_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
