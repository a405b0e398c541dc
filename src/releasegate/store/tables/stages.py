"""Staged release: adopted plans, stage transitions, promotion sign-offs and gate evidence
(migration 0007_stages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from releasegate.store._base import Base
from releasegate.store._types import UTCDateTime


class StagePlanRow(Base):
    """A stage plan as adopted, once per content hash (its canonical JSON's SHA-256)."""

    __tablename__ = "stage_plans"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    plan_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StageTransitionRow(Base):
    """One move of a decision's release into a stage: `start`, `promote` or `rollback`.

    `seq` counts a decision's transitions from 1; the latest is the stage in force. Unique per
    decision, so two processes that both find a rollback due cannot both record it.
    """

    __tablename__ = "stage_transitions"
    __table_args__ = (UniqueConstraint("decision_id", "seq", name="uq_stage_transitions_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    plan_sha256: Mapped[str] = mapped_column(String(64), ForeignKey("stage_plans.sha256"))
    kind: Mapped[str] = mapped_column(String(16))
    from_stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    to_stage: Mapped[str] = mapped_column(String(64))
    trigger_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    audit_seq: Mapped[int] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class StageSignoffRow(Base):
    """A signed sign-off of one promotion: from the stage entered by transition `entry_seq`
    to `to_stage`. The columns are the signed statement's fields."""

    __tablename__ = "stage_signoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    entry_seq: Mapped[int] = mapped_column(Integer)
    to_stage: Mapped[str] = mapped_column(String(64))
    statement_json: Mapped[str] = mapped_column(Text)
    signer: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StageEvidenceRow(Base):
    """A reassessment of the deployed system recorded as a gate's evidence."""

    __tablename__ = "stage_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    report_sha256: Mapped[str] = mapped_column(String(64))
    report_json: Mapped[str] = mapped_column(Text)
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    through: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(200))
    audit_seq: Mapped[int] = mapped_column(BigInteger)
