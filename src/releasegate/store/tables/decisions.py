"""Stored release decisions (migration 0001_decisions; 0004_approvals adds what re-rendering
needs). Their signed sign-offs live in `store.tables.approvals`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from releasegate.store._base import Base
from releasegate.store._types import UTCDateTime


class DecisionRow(Base):
    """One decision, stored once per content hash.

    `status` (pending, approved, rejected, halted) is what the verified signatures said at the
    last sign-off, kept for listing; every consumer that acts on it verifies them again.
    """

    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    model_name: Mapped[str] = mapped_column(String(300))
    policy_name: Mapped[str] = mapped_column(String(200))
    policy_version: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    levels_json: Mapped[str] = mapped_column(Text)
    decision_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Where `decide` wrote the decision's documents, and the report and policy they were made
    # from, so every sign-off can render them again with the decision's current status.
    output_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    policy_json: Mapped[str | None] = mapped_column(Text, nullable=True)
