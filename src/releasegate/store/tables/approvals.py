"""Signers, signed sign-offs, fired reassessment triggers and the change counter
(migration 0004_approvals)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from releasegate.store._base import Base
from releasegate.store._types import UTCDateTime


class SignerRow(Base):
    """A named person's Ed25519 signing key and the roles they sign in.

    One row per key: a person who loses a key is revoked and registered again with a new one,
    so their old signatures stay attributable to the key that made them. At most one active
    (unrevoked) key per name.
    """

    __tablename__ = "signers"
    __table_args__ = (
        Index(
            "uq_signers_active_name",
            "name_key",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name as compared: case-folded and stripped, so "Alice" and " alice" are one person.
    name_key: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[Any]] = mapped_column(JSON)
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class SignatureRow(Base):
    """One signed sign-off (approve, reject or halt) of one decision.

    The columns are the fields of the signed statement; the statement's bytes are rebuilt from
    them (`approvals.Statement.to_bytes`) whenever the signature is checked.
    """

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    decision_sha256: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(100))
    signer: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[str] = mapped_column(String(40))  # the exact ISO string that was signed
    reason: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(100))


class FiredTriggerRow(Base):
    """A reassessment trigger that fired for a decision (once per trigger and decision)."""

    __tablename__ = "fired_triggers"
    __table_args__ = (
        UniqueConstraint("decision_id", "trigger_id", name="uq_fired_triggers_decision_trigger"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    trigger_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    fallback: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_by: Mapped[str] = mapped_column(String(200))
    incident_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ApprovalsStateRow(Base):
    """One row: a counter bumped in the transaction of every change that can alter what is
    open (a signature, a revoked signer, a fired trigger). Gateways poll it."""

    __tablename__ = "approvals_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
