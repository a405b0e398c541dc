"""Principals: the people and service accounts who act on releasegate, with their roles.

A principal authenticates with a bearer token (`rgp-` + 43 URL-safe characters, 256 random
bits), shown once and stored as a SHA-256 like API keys (a slow password hash buys nothing for
a secret of that entropy). The first admin is made by `bootstrap`, which works only while no
active admin exists; after that, admins make principals through the admin API.

Every change is written to the audit log in the change's own transaction, naming the principal
who made it.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access._audit import TransactionalAudit, record
from releasegate.errors import ReleasegateError
from releasegate.store._locks import get_for_update
from releasegate.store._types import utcnow
from releasegate.store.tables.access import ApiKeyRow, PrincipalRow, PrincipalTokenRow

TOKEN_PREFIX = "rgp-"


class Role(StrEnum):
    """What a principal may do. `auditor` reads and changes nothing; `applicant` holds keys
    issued through the access programme and no staff role."""

    ADMIN = "admin"
    REVIEWER = "reviewer"
    RELEASE_LEAD = "release_lead"
    SAFETY_LEAD = "safety_lead"
    AUDITOR = "auditor"
    APPLICANT = "applicant"


STAFF_ROLES = frozenset(r for r in Role if r is not Role.APPLICANT)


class PrincipalNotFoundError(ReleasegateError):
    """No principal has this id or name."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"no principal {ref!r}")
        self.ref = ref


class PrincipalExistsError(ReleasegateError):
    """A principal of this name exists already (names are unique, case-insensitively)."""


class LastAdminError(ReleasegateError):
    """The change would leave no active admin (only the store's operator could then repair it)."""


class BootstrapRefusedError(ReleasegateError):
    """`bootstrap` once an active admin exists: admins make principals through the API."""


@dataclass(frozen=True)
class PrincipalRecord:
    """What is stored about a principal (never a token)."""

    id: str
    name: str
    kind: str
    email: str | None
    roles: tuple[Role, ...]
    created_at: datetime
    created_by: str
    suspended_at: datetime | None = None
    suspended_by: str | None = None
    suspended_reason: str | None = None

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None

    def has_any(self, roles: Iterable[Role | str]) -> bool:
        """True if the principal holds one of `roles`."""
        return any(Role(r) in self.roles for r in roles)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "email": self.email,
            "roles": [r.value for r in self.roles],
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "suspended_at": self.suspended_at.isoformat() if self.suspended_at else None,
            "suspended_by": self.suspended_by,
            "suspended_reason": self.suspended_reason,
        }


@dataclass(frozen=True)
class IssuedToken:
    """A new token: `plaintext` is shown once and never stored."""

    plaintext: str
    token_id: str
    principal: PrincipalRecord


def hash_token(plaintext: str) -> str:
    """The SHA-256 (hex) under which a principal's token is stored."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_roles(roles: Iterable[str]) -> tuple[Role, ...]:
    """Roles from their names, deduplicated, in `Role` order.

    Raises:
        ValueError: an unknown role name.
    """
    out: set[Role] = set()
    for name in roles:
        try:
            out.add(Role(name))
        except ValueError:
            raise ValueError(
                f"unknown role {name!r} (roles: {', '.join(r.value for r in Role)})"
            ) from None
    return tuple(r for r in Role if r in out)


class PrincipalStore:
    """Create, authenticate, list and suspend principals.

    Args:
        session_factory: the store.
        audit: the audit log; each change appends to it in the change's transaction.
    """

    def __init__(self, session_factory: sessionmaker[Session], audit: TransactionalAudit) -> None:
        self._sessions = session_factory
        self._audit = audit

    # -- reading -------------------------------------------------------------------------------

    def get(self, ref: str) -> PrincipalRecord:
        """A principal by id (`prn_...`) or name.

        Raises:
            PrincipalNotFoundError: none matches.
        """
        with self._sessions() as session:
            return to_record(_find(session, ref))

    def list(self) -> list[PrincipalRecord]:
        """Every principal, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(select(PrincipalRow).order_by(PrincipalRow.created_at))
            return [to_record(r) for r in rows]

    def authenticate(self, plaintext: str) -> PrincipalRecord | None:
        """The active principal holding this token, or None (unknown, revoked, suspended)."""
        return authenticate_token(self._sessions, plaintext)

    # -- changing ------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        roles: Iterable[str],
        *,
        actor: str,
        kind: str = "person",
        email: str | None = None,
        token: bool = True,
    ) -> tuple[PrincipalRecord, str | None]:
        """Make a principal (and, by default, its first token).

        Returns:
            The record and the token's plaintext (None when `token` is False).

        Raises:
            PrincipalExistsError: the name is taken.
            ValueError: an empty name, an unknown role or kind.
        """
        with self._sessions() as session, session.begin():
            row = self._new(session, name, parse_roles(roles), kind, email, actor)
            plaintext = _add_token(session, row.id)[0] if token else None
            record(
                session,
                self._audit,
                actor,
                {
                    "action": "principals.create",
                    "principal_id": row.id,
                    "name": row.name,
                    "kind": row.kind,
                    "roles": list(row.roles),
                },
            )
            return to_record(row), plaintext

    def bootstrap(self, name: str, *, actor: str, email: str | None = None) -> IssuedToken:
        """Make the first admin and its token; refused once an active admin exists.

        Raises:
            BootstrapRefusedError: an active admin exists.
        """
        with self._sessions() as session, session.begin():
            for row in session.scalars(
                select(PrincipalRow).where(PrincipalRow.suspended_at.is_(None))
            ):
                if Role.ADMIN.value in row.roles:
                    raise BootstrapRefusedError(
                        f"an admin exists already ({row.name}); ask an admin to create "
                        "principals through the admin API (releasegate principals create)"
                    )
            new = self._new(session, name, (Role.ADMIN,), "person", email, actor)
            plaintext, token_id = _add_token(session, new.id)
            record(
                session,
                self._audit,
                actor,
                {"action": "principals.bootstrap", "principal_id": new.id, "name": new.name},
            )
            return IssuedToken(plaintext, token_id, to_record(new))

    def issue_token(self, ref: str, *, actor: str) -> IssuedToken:
        """A new token for a principal (its other tokens stay valid).

        Raises:
            PrincipalNotFoundError: no such principal.
        """
        with self._sessions() as session, session.begin():
            row = _find(session, ref)
            plaintext, token_id = _add_token(session, row.id)
            record(
                session,
                self._audit,
                actor,
                {"action": "principals.token", "principal_id": row.id, "token_id": token_id},
            )
            return IssuedToken(plaintext, token_id, to_record(row))

    def tokens(self, ref: str) -> builtins.list[dict[str, object]]:
        """A principal's tokens (id, prefix, dates; never the token), oldest first.

        Raises:
            PrincipalNotFoundError: no such principal.
        """
        with self._sessions() as session:
            row = _find(session, ref)
            found = session.scalars(
                select(PrincipalTokenRow)
                .where(PrincipalTokenRow.principal_id == row.id)
                .order_by(PrincipalTokenRow.created_at)
            )
            return [_token_json(t) for t in found]

    def revoke_token(self, ref: str, token_id: str, *, actor: str) -> dict[str, object]:
        """Revoke one of a principal's tokens for good (its other tokens stay valid).

        Raises:
            PrincipalNotFoundError: no such principal, or the token is not theirs.
        """
        with self._sessions() as session, session.begin():
            row = _find(session, ref)
            token = get_for_update(session, PrincipalTokenRow, token_id)
            if token is None or token.principal_id != row.id:
                raise PrincipalNotFoundError(f"{ref}/{token_id}")
            if token.revoked_at is None:
                token.revoked_at = utcnow()
            record(
                session,
                self._audit,
                actor,
                {"action": "principals.revoke_token", "principal_id": row.id, "token_id": token_id},
            )
            return _token_json(token)

    def suspend(self, ref: str, reason: str, *, actor: str) -> PrincipalRecord:
        """Suspend a principal: its tokens and every key issued to it are refused.

        Raises:
            PrincipalNotFoundError: no such principal.
            ValueError: an empty reason.
        """
        reason = reason.strip()
        if not reason:
            raise ValueError("reason: a suspension needs a reason")
        with self._sessions() as session, session.begin():
            row = _locked(session, ref)
            _keep_an_admin(session, row, Role.ADMIN.value not in row.roles)
            row.suspended_at = utcnow()
            row.suspended_by = actor
            row.suspended_reason = reason
            keys = session.scalars(
                select(ApiKeyRow.id).where(ApiKeyRow.principal_id == row.id)
            ).all()
            record(
                session,
                self._audit,
                actor,
                {
                    "action": "principals.suspend",
                    "principal_id": row.id,
                    "reason": reason,
                    "key_ids": list(keys),
                },
            )
            return to_record(row)

    def set_roles(self, ref: str, roles: Iterable[str], *, actor: str) -> PrincipalRecord:
        """Replace a principal's roles.

        Raises:
            PrincipalNotFoundError: no such principal.
            LastAdminError: it would leave no active admin.
            ValueError: no role, or an unknown one.
        """
        parsed = parse_roles(roles)
        if not parsed:
            raise ValueError("roles: a principal needs at least one role")
        with self._sessions() as session, session.begin():
            row = _locked(session, ref)
            _keep_an_admin(session, row, Role.ADMIN in parsed)
            before = list(row.roles)
            row.roles = [r.value for r in parsed]
            record(
                session,
                self._audit,
                actor,
                {"action": "principals.roles", "principal_id": row.id, "before": before,
                 "after": list(row.roles)},
            )  # fmt: skip
            return to_record(row)

    def unsuspend(self, ref: str, *, actor: str) -> PrincipalRecord:
        """Lift a principal's suspension.

        Raises:
            PrincipalNotFoundError: no such principal.
        """
        with self._sessions() as session, session.begin():
            row = _locked(session, ref)
            row.suspended_at = row.suspended_by = row.suspended_reason = None
            record(
                session,
                self._audit,
                actor,
                {"action": "principals.unsuspend", "principal_id": row.id},
            )
            return to_record(row)

    @staticmethod
    def _new(
        session: Session,
        name: str,
        roles: tuple[Role, ...],
        kind: str,
        email: str | None,
        actor: str,
    ) -> PrincipalRow:
        name = name.strip()
        if not name or len(name) > 200:
            raise ValueError("name: 1 to 200 characters")
        if kind not in ("person", "service"):
            raise ValueError(f"kind: 'person' or 'service', not {kind!r}")
        if not roles:
            raise ValueError("roles: a principal needs at least one role")
        key = name.casefold()
        if session.scalars(select(PrincipalRow.id).where(PrincipalRow.name_key == key)).first():
            raise PrincipalExistsError(f"a principal named {name!r} exists already")
        row = PrincipalRow(
            id="prn_" + secrets.token_hex(8),
            name=name,
            name_key=key,
            kind=kind,
            email=email,
            roles=[r.value for r in roles],
            created_at=utcnow(),
            created_by=actor,
        )
        session.add(row)
        session.flush()
        return row


def authenticate_token(
    session_factory: sessionmaker[Session], plaintext: str
) -> PrincipalRecord | None:
    """The active principal holding this token, or None (unknown, revoked, suspended); reads
    only, so it needs no audit log."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    with session_factory() as session:
        token = session.scalars(
            select(PrincipalTokenRow).where(PrincipalTokenRow.token_hash == hash_token(plaintext))
        ).one_or_none()
        if token is None or token.revoked_at is not None:
            return None
        row = session.get(PrincipalRow, token.principal_id)
        if row is None or row.suspended_at is not None:
            return None
        return to_record(row)


def _add_token(session: Session, principal_id: str) -> tuple[str, str]:
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = "tok_" + secrets.token_hex(8)
    session.add(
        PrincipalTokenRow(
            id=token_id,
            principal_id=principal_id,
            token_hash=hash_token(plaintext),
            prefix=plaintext[:10],
            created_at=utcnow(),
            revoked_at=None,
        )
    )
    return plaintext, token_id


def _keep_an_admin(session: Session, row: PrincipalRow, stays_admin: bool) -> None:
    """Refuse a change that takes the last active admin away (suspension or demotion)."""
    if stays_admin or row.suspended_at is not None or Role.ADMIN.value not in row.roles:
        return
    others = session.scalars(
        select(PrincipalRow).where(PrincipalRow.suspended_at.is_(None), PrincipalRow.id != row.id)
    )
    if not any(Role.ADMIN.value in other.roles for other in others):
        raise LastAdminError(f"{row.name} is the last active admin; make another admin first")


def _token_json(token: PrincipalTokenRow) -> dict[str, object]:
    return {
        "id": token.id,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _find(session: Session, ref: str) -> PrincipalRow:
    row = session.get(PrincipalRow, ref) if ref.startswith("prn_") else None
    if row is None:
        row = session.scalars(
            select(PrincipalRow).where(PrincipalRow.name_key == ref.strip().casefold())
        ).first()
    if row is None:
        raise PrincipalNotFoundError(ref)
    return row


def _locked(session: Session, ref: str) -> PrincipalRow:
    row = get_for_update(session, PrincipalRow, _find(session, ref).id)
    if row is None:
        raise PrincipalNotFoundError(ref)
    return row


def to_record(row: PrincipalRow) -> PrincipalRecord:
    return PrincipalRecord(
        id=row.id,
        name=row.name,
        kind=row.kind,
        email=row.email,
        roles=parse_roles(row.roles),
        created_at=row.created_at,
        created_by=row.created_by,
        suspended_at=row.suspended_at,
        suspended_by=row.suspended_by,
        suspended_reason=row.suspended_reason,
    )


__all__ = [
    "STAFF_ROLES",
    "TOKEN_PREFIX",
    "BootstrapRefusedError",
    "IssuedToken",
    "LastAdminError",
    "PrincipalExistsError",
    "PrincipalNotFoundError",
    "PrincipalRecord",
    "PrincipalStore",
    "Role",
    "hash_token",
    "parse_roles",
]
