"""API keys of the gateway (migration 0002_access_audit); principals, applications, reviews
and terms of the access programme (0006_access, which also adds `api_keys.principal_id`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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


class ApiKeyRow(Base):
    """One API key. Only the SHA-256 of the key is stored, never the key itself."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    daily_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rotated_from: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The principal the key was issued to through the access programme (None: minted by hand).
    principal_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


# -- the access programme (migration 0006_access) ---------------------------------------------


class PrincipalRow(Base):
    """A person or service account with roles. `name_key` is the name case-folded (unique)."""

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # person | service
    email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    suspended_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    suspended_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class PrincipalTokenRow(Base):
    """A principal's bearer token; only its SHA-256 is stored."""

    __tablename__ = "principal_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApplicationRow(Base):
    """An application for a key of a tier. The claim token (status and claim) is stored hashed."""

    __tablename__ = "access_applications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tier: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    answers: Mapped[dict[str, object]] = mapped_column(JSON)
    terms_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    denial_category: Mapped[str | None] = mapped_column(String(40), nullable=True)
    denial_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    key_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    principal_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    renewal_of: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ApplicationReviewRow(Base):
    """One reviewer's comment, approval or denial of an application."""

    __tablename__ = "access_reviews"
    __table_args__ = (
        # One vote per reviewer per application (comments are not votes: verdict 'comment').
        Index(
            "uq_access_reviews_vote",
            "application_id",
            "reviewer_id",
            unique=True,
            sqlite_where=text("verdict != 'comment'"),
            postgresql_where=text("verdict != 'comment'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("access_applications.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[str] = mapped_column(String(32))
    reviewer: Mapped[str] = mapped_column(String(200))
    verdict: Mapped[str] = mapped_column(String(16))  # comment | approve | deny
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TierTermsRow(Base):
    """One published version of a tier's terms."""

    __tablename__ = "tier_terms"
    __table_args__ = (UniqueConstraint("tier", "version", name="uq_tier_terms_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tier: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    text_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str] = mapped_column(String(200))


class TermsAcceptanceRow(Base):
    """A principal's acceptance of a version of a tier's terms."""

    __tablename__ = "terms_acceptances"
    __table_args__ = (
        UniqueConstraint("principal_id", "tier", "version", name="uq_terms_acceptances"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    tier: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
