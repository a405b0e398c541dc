"""API keys: created once, shown once, stored only as a SHA-256 hash.

A key is `rg-` + 43 URL-safe characters (32 random bytes, `secrets.token_urlsafe`). 256 bits
of entropy make a plain (unsalted) SHA-256 safe to store and let `authenticate` find the key by
one indexed lookup; slow password hashes exist for low-entropy secrets, which these are not.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access._tiers import TierSpec
from releasegate.errors import InputError, Problem, ReleasegateError
from releasegate.store._locks import get_for_update
from releasegate.store._types import utcnow
from releasegate.store.tables.access import (
    ApiKeyRow,
    PrincipalRow,
    TermsAcceptanceRow,
    TierTermsRow,
)

KEY_PREFIX = "rg-"
DISPLAY_PREFIX_LEN = 10  # "rg-" + 7 characters: enough to tell keys apart in a list
_LIMIT_NAMES = ("rpm", "tpm", "daily_tokens")


class KeyNotFoundError(ReleasegateError):
    """No key has this id."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no API key with id {key_id!r}")
        self.key_id = key_id


class KeyLimitsError(InputError):
    """Per-key limits that are invalid or more generous than the key's tier allows."""


@dataclass(frozen=True)
class KeyLimits:
    """Per-key overrides of the tier's quotas; None means "the tier's value"."""

    rpm: int | None = None
    tpm: int | None = None
    daily_tokens: int | None = None

    def resolve(self, tier: TierSpec) -> KeyLimits:
        """The limits in force for this key: each override, or the tier's value."""
        return KeyLimits(
            rpm=self.rpm if self.rpm is not None else tier.rpm,
            tpm=self.tpm if self.tpm is not None else tier.tpm,
            daily_tokens=self.daily_tokens if self.daily_tokens is not None else tier.daily_tokens,
        )


@dataclass(frozen=True)
class KeyRecord:
    """What is stored about a key (never the key itself). Times are timezone-aware UTC."""

    id: str
    prefix: str
    tier: str
    owner: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    suspended: bool
    limits: KeyLimits = field(default_factory=KeyLimits)
    suspended_reason: str | None = None
    rotated_from: str | None = None
    principal_id: str | None = None  # issued through the access programme to this principal
    # (version, url) of its tier's terms when the holder has not accepted the current version.
    terms_due: tuple[str, str] | None = None

    def status(self, now: datetime | None = None) -> str:
        """'active', 'revoked', 'suspended' or 'expired'."""
        now = now or utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if self.suspended:
            return "suspended"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def is_active(self, now: datetime | None = None) -> bool:
        """True if the key may be used now."""
        return self.status(now) == "active"


@dataclass(frozen=True)
class CreatedKey:
    """A new key: `plaintext` is shown to its owner once and never stored."""

    plaintext: str
    record: KeyRecord


def hash_key(plaintext: str) -> str:
    """The SHA-256 (hex) under which a key is stored."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def check_limits(tier: TierSpec, limits: KeyLimits | Mapping[str, int | None] | None) -> KeyLimits:
    """Validate per-key limits against the tier.

    Raises:
        KeyLimitsError: an unknown limit name, a value below 1, or a value above the tier's.
    """
    if limits is None:
        return KeyLimits()
    if isinstance(limits, KeyLimits):
        values: dict[str, int | None] = {n: getattr(limits, n) for n in _LIMIT_NAMES}
    else:
        values = dict(limits)
    problems: list[Problem] = []
    for name in values:
        if name not in _LIMIT_NAMES:
            problems.append(Problem(f"unknown limit (known: {', '.join(_LIMIT_NAMES)})", name))
    for name in _LIMIT_NAMES:
        value = values.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(Problem(f"must be a whole number of at least 1, not {value!r}", name))
            continue
        cap: int | None = getattr(tier, name)
        if cap is not None and value > cap:
            problems.append(
                Problem(f"{value} exceeds the {name} of tier {tier.name!r} ({cap})", name)
            )
    if problems:
        raise KeyLimitsError("key limits", problems)
    return KeyLimits(**{n: values.get(n) for n in _LIMIT_NAMES})


class KeyStore:
    """Create, authenticate, list, revoke, rotate and suspend API keys.

    Every method is one short transaction, so it is safe to call from several processes on one
    PostgreSQL database: a key revoked by one process is refused by the next `authenticate` of
    every other.

    Args:
        session_factory: from `releasegate.store.open_store`.
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def create(
        self,
        tier: TierSpec,
        owner: str,
        expires_at: datetime | None = None,
        limits: KeyLimits | Mapping[str, int | None] | None = None,
    ) -> CreatedKey:
        """Create a key for `owner` in `tier`.

        Args:
            tier: the tier (its quotas cap `limits`).
            owner: who the key belongs to (a person, team or organisation).
            expires_at: timezone-aware expiry; None for a key that does not expire.
            limits: per-key rpm / tpm / daily_tokens, each at most the tier's.

        Returns:
            The plaintext key (show it once) and its record.

        Raises:
            KeyLimitsError: limits above the tier's, or invalid.
            ValueError: an empty owner, or a naive / past expiry.
        """
        checked = check_limits(tier, limits)
        owner = _check_owner(owner)
        now = utcnow()
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise ValueError("expires_at must be timezone-aware")
            if expires_at <= now:
                raise ValueError(f"expires_at {expires_at.isoformat()} is in the past")
        with self._sessions() as session, session.begin():
            plaintext, row = _new_row(tier.name, owner, now, expires_at, checked, None)
            session.add(row)
        return CreatedKey(plaintext, _to_record(row))

    def authenticate(self, plaintext: str) -> KeyRecord | None:
        """The record of an active key, or None (unknown, revoked, suspended or expired, or
        issued to a principal who is suspended).

        One indexed lookup by hash (plus, for a key issued through the access programme, its
        principal and its tier's current terms). Malformed input is simply not a key (None).
        A record whose holder has not accepted the tier's current terms carries `terms_due`.
        """
        if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > 200:
            return None
        with self._sessions() as session:
            row = session.scalars(
                select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(plaintext))
            ).one_or_none()
            if row is None:
                return None
            record = _to_record(row)
            if not record.is_active():
                return None
            if row.principal_id is not None:
                standing = _holder_standing(session, row.tier, row.principal_id)
                if standing is None:
                    return None  # suspending a principal suspends every key issued to it
                if len(standing) == 2:
                    record = replace(record, terms_due=standing)
        return record

    def get(self, key_id: str) -> KeyRecord:
        """The record of a key, whatever its status.

        Raises:
            KeyNotFoundError: no key has this id.
        """
        with self._sessions() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise KeyNotFoundError(key_id)
            return _to_record(row)

    def list(self, owner: str | None = None, include_revoked: bool = True) -> list[KeyRecord]:
        """Every key (optionally of one owner), oldest first."""
        stmt = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if owner is not None:
            stmt = stmt.where(ApiKeyRow.owner == owner)
        if not include_revoked:
            stmt = stmt.where(ApiKeyRow.revoked_at.is_(None))
        with self._sessions() as session:
            return [_to_record(row) for row in session.scalars(stmt)]

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key for good (revoking twice keeps the first time).

        Raises:
            KeyNotFoundError: no key has this id.
        """
        with self._sessions() as session, session.begin():
            row = _locked(session, key_id)
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return _to_record(row)

    def rotate(self, key_id: str) -> CreatedKey:
        """Revoke a key and issue its replacement (same tier, owner, expiry and limits).

        Both happen in one transaction. Rotating a revoked key is refused.

        Raises:
            KeyNotFoundError: no key has this id.
            ValueError: the key is already revoked.
        """
        with self._sessions() as session, session.begin():
            old = _locked(session, key_id)
            if old.revoked_at is not None:
                raise ValueError(f"key {key_id} is revoked; create a new key instead")
            now = utcnow()
            old.revoked_at = now
            limits = KeyLimits(rpm=old.rpm, tpm=old.tpm, daily_tokens=old.daily_tokens)
            plaintext, row = _new_row(old.tier, old.owner, now, old.expires_at, limits, old.id)
            row.suspended = old.suspended  # rotation is no way out of a suspension
            row.principal_id = old.principal_id
            row.suspended_reason = old.suspended_reason
            session.add(row)
        return CreatedKey(plaintext, _to_record(row))

    def suspend(self, key_id: str, reason: str) -> KeyRecord:
        """Block a key until `unsuspend` (e.g. misuse monitoring flagged it).

        Raises:
            KeyNotFoundError: no key has this id.
        """
        with self._sessions() as session, session.begin():
            row = _locked(session, key_id)
            row.suspended = True
            row.suspended_reason = reason or "suspended"
            return _to_record(row)

    def unsuspend(self, key_id: str) -> KeyRecord:
        """Lift a suspension (a revoked key stays revoked).

        Raises:
            KeyNotFoundError: no key has this id.
        """
        with self._sessions() as session, session.begin():
            row = _locked(session, key_id)
            row.suspended = False
            row.suspended_reason = None
            return _to_record(row)


def _holder_standing(
    session: Session, tier: str, principal_id: str
) -> tuple[str, str] | tuple[()] | None:
    """One round trip: None for a missing or suspended holder; the (version, url) of the tier's
    current terms when the holder has not accepted them; () when all is well."""
    current_id = (
        select(func.max(TierTermsRow.id)).where(TierTermsRow.tier == tier).scalar_subquery()
    )
    stmt = (
        select(
            PrincipalRow.suspended_at,
            TierTermsRow.version,
            TierTermsRow.url,
            TermsAcceptanceRow.id,
        )
        .select_from(PrincipalRow)
        .outerjoin(TierTermsRow, TierTermsRow.id == current_id)
        .outerjoin(
            TermsAcceptanceRow,
            and_(
                TermsAcceptanceRow.principal_id == PrincipalRow.id,
                TermsAcceptanceRow.tier == tier,
                TermsAcceptanceRow.version == TierTermsRow.version,
            ),
        )
        .where(PrincipalRow.id == principal_id)
    )
    found = session.execute(stmt).first()
    if found is None or found[0] is not None:
        return None
    _, version, url, accepted = found
    if version is None or accepted is not None:
        return ()
    return (version, url)


def _check_owner(owner: str) -> str:
    owner = owner.strip()
    if not owner:
        raise ValueError("a key needs an owner")
    if len(owner) > 200:
        raise ValueError("owner is longer than 200 characters")
    return owner


def _new_row(
    tier: str,
    owner: str,
    now: datetime,
    expires_at: datetime | None,
    limits: KeyLimits,
    rotated_from: str | None,
) -> tuple[str, ApiKeyRow]:
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKeyRow(
        id="key_" + secrets.token_hex(8),
        key_hash=hash_key(plaintext),
        prefix=plaintext[:DISPLAY_PREFIX_LEN],
        tier=tier,
        owner=owner,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
        suspended=False,
        suspended_reason=None,
        rpm=limits.rpm,
        tpm=limits.tpm,
        daily_tokens=limits.daily_tokens,
        rotated_from=rotated_from,
    )
    return plaintext, row


def _locked(session: Session, key_id: str) -> ApiKeyRow:
    row = get_for_update(session, ApiKeyRow, key_id)
    if row is None:
        raise KeyNotFoundError(key_id)
    return row


def _to_record(row: ApiKeyRow) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        prefix=row.prefix,
        tier=row.tier,
        owner=row.owner,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        suspended=bool(row.suspended),
        limits=KeyLimits(rpm=row.rpm, tpm=row.tpm, daily_tokens=row.daily_tokens),
        suspended_reason=row.suspended_reason,
        rotated_from=row.rotated_from,
        principal_id=row.principal_id,
    )


__all__ = [
    "CreatedKey",
    "KeyLimits",
    "KeyLimitsError",
    "KeyNotFoundError",
    "KeyRecord",
    "KeyStore",
    "check_limits",
    "hash_key",
]
