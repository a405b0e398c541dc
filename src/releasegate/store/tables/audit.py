"""The hash-chained audit log and its chain head (migration 0002_access_audit)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from releasegate.store._base import Base


class AuditRecordRow(Base):
    """One audit record. `time` is the ISO 8601 string that was hashed, kept byte for byte."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    # Unique: two records can never claim the same predecessor, so the chain cannot fork.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    hmac: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The single row (id 1) naming the chain's last record; writers lock it to append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A signed checkpoint of the chain (migration 0005_hardening): `seq` records, the last one
    hashed `hash`, signed by the key `key_id` of the key directory."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(100))


class StoreMetaRow(Base):
    """Facts about the store every process must agree on (migration 0005_hardening), such as
    the id of the audit HMAC key the log is signed with."""

    __tablename__ = "store_meta"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class OpenRequestRow(Base):
    """A streamed request whose opening is audited and whose end is not yet (migration
    0005_hardening); a process that starts closes those of dead processes with `aborted`."""

    __tablename__ = "audit_open_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    route: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[float] = mapped_column(Float)


class GatewayInstanceRow(Base):
    """A running gateway process and when it last said so (its heartbeat)."""

    __tablename__ = "gateway_instances"

    instance: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_at: Mapped[float] = mapped_column(Float)
    seen_at: Mapped[float] = mapped_column(Float)
