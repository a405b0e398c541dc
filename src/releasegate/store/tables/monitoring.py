"""Misuse-monitoring incidents (migration 0003_monitoring)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from releasegate.store._base import Base
from releasegate.store._types import UTCDateTime


class IncidentRow(Base):
    """A key that crossed its tier's flag threshold: suspended, waiting for an admin.

    `trigger_seq` is the audit seq of the flagged request that made the count cross the
    threshold; unique, so one crossing can never be recorded twice (two processes, a retry).
    """

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    tier: Mapped[str] = mapped_column(String(100))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    flag_count: Mapped[int] = mapped_column(Integer)
    categories: Mapped[list[Any]] = mapped_column(JSON)
    audit_seqs: Mapped[list[Any]] = mapped_column(JSON)
    trigger_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
