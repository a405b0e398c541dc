"""Signers: named people, each with an Ed25519 key and the roles they sign in.

The private key is made here and written once, 0600, to a file only its holder keeps; the
store holds the public key. A signer's key id is the first 16 hex digits of the SHA-256 of the
public key (`_util.ed25519.key_id`). Revoking a signer stops every approval their key made from
counting (a stolen key could sign with any time it likes, so no "before the revocation" is
trusted); halts and rejections it made stand, since they only close.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from releasegate._util import ed25519
from releasegate.approvals._changes import audit_in, bump_version
from releasegate.approvals._keys import Signer, SignerError, _to_signer, name_key
from releasegate.approvals._registry import load_record
from releasegate.audit import AuditLog
from releasegate.store._types import utcnow
from releasegate.store.tables.approvals import SignatureRow, SignerRow
from releasegate.store.tables.decisions import DecisionRow

_ROLE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def _check_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise SignerError("a signer needs a name")
    if len(clean) > 200:
        raise SignerError("a signer's name is longer than 200 characters")
    return clean


def _check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(r.strip() for r in roles))
    if not out or not all(out):
        raise SignerError("a signer needs at least one role (--role)")
    for role in out:
        if not _ROLE.match(role):
            raise SignerError(
                f"role {role!r}: letters, digits, '_', '.' and '-' only, up to 100 characters"
            )
    return out


class SignerRegistry:
    """Create, list, find and revoke signers.

    Args:
        session_factory: from `releasegate.store.open_store`.
        audit: where each change is recorded, in the change's own transaction.
    """

    def __init__(self, session_factory: sessionmaker[Session], audit: AuditLog) -> None:
        self._sessions = session_factory
        self._audit = audit

    def create(self, name: str, roles: Sequence[str], key_out: str | Path, *, actor: str) -> Signer:
        """Make a key pair, write the private key (0600) to `key_out`, register the public key.

        Raises:
            SignerError: a bad name or role, or an active signer of that name exists.
            InputError: `key_out` exists or cannot be written (nothing is registered).
        """
        clean, checked = _check_name(name), _check_roles(roles)
        self._refuse_taken(clean)  # before a key file is written for nothing
        key = ed25519.generate_private_key()
        path = ed25519.write_private_key(key, key_out)
        try:
            return self.register(clean, checked, ed25519.public_key_b64(key), actor=actor)
        except BaseException:
            path.unlink(missing_ok=True)  # a key that was never registered signs nothing
            raise

    def register(self, name: str, roles: Sequence[str], public_key: str, *, actor: str) -> Signer:
        """Register a public key (base64 of its 32 bytes) made elsewhere.

        Raises:
            SignerError: a bad name, role or key; an active signer of that name; a key that is
                already registered.
        """
        clean, checked = _check_name(name), _check_roles(roles)
        try:
            kid = ed25519.key_id(public_key)
        except ValueError as exc:
            raise SignerError(f"not an Ed25519 public key: {exc}") from None
        row = SignerRow(
            key_id=kid,
            name=clean,
            name_key=name_key(clean),
            roles=list(checked),
            public_key=public_key,
            created_at=utcnow(),
            created_by=actor,
        )
        try:
            with self._sessions() as session, session.begin():
                if session.get(SignerRow, kid) is not None:
                    raise SignerError(f"the key {kid} is already registered")
                session.add(row)
                session.flush()
                audit_in(
                    session,
                    self._audit,
                    actor,
                    {
                        "action": "signers.create",
                        "signer": clean,
                        "roles": list(checked),
                        "key_id": kid,
                        "public_key": public_key,
                    },
                )
        except IntegrityError:
            raise SignerError(f"{clean} is already a signer; revoke them first") from None
        return _to_signer(row)

    def list(self, *, include_revoked: bool = True) -> list[Signer]:
        """Every signer key, by name then creation time."""
        stmt = select(SignerRow).order_by(SignerRow.name_key, SignerRow.created_at)
        if not include_revoked:
            stmt = stmt.where(SignerRow.revoked_at.is_(None))
        with self._sessions() as session:
            return [_to_signer(r) for r in session.scalars(stmt)]

    def active(self, name: str) -> Signer:
        """The active key of the signer called `name`.

        Raises:
            SignerError: no active signer has that name.
        """
        with self._sessions() as session:
            row = _active_row(session, name)
            if row is None:
                raise SignerError(f"no active signer named {name.strip()!r}")
            return _to_signer(row)

    def revoke(self, name: str, *, actor: str, reason: str | None = None) -> Signer:
        """Revoke the active key of `name`; their approvals stop counting at once.

        Raises:
            SignerError: no active signer has that name.
        """
        with self._sessions() as session, session.begin():
            row = _active_row(session, name, lock=True)
            if row is None:
                raise SignerError(f"no active signer named {name.strip()!r}")
            row.revoked_at = utcnow()
            row.revoked_by = actor
            row.revoked_reason = reason
            session.flush()
            bump_version(session)
            audit_in(
                session,
                self._audit,
                actor,
                {
                    "action": "signers.revoke",
                    "signer": row.name,
                    "key_id": row.key_id,
                    "reason": reason,
                    # Decisions whose status the revocation changed (approved -> pending).
                    "decisions": _restatus(session, row.key_id),
                },
            )
            session.flush()
            return _to_signer(row)

    def _refuse_taken(self, name: str) -> None:
        with self._sessions() as session:
            if _active_row(session, name) is not None:
                raise SignerError(f"{name} is already a signer; revoke them first")


def _restatus(session: Session, key_id: str) -> dict[str, str]:
    """Recompute the cached status of every decision the key signed; the changes made."""
    ids = set(
        session.scalars(select(SignatureRow.decision_id).where(SignatureRow.key_id == key_id))
    )
    changes = {}
    for decision_id in sorted(ids):
        record = load_record(session, decision_id)
        row = session.get(DecisionRow, decision_id)
        assert row is not None and record.verification is not None
        if row.status != record.verification.status:
            changes[decision_id] = f"{row.status} -> {record.verification.status}"
            row.status = record.verification.status
            row.approved_at = record.verification.approved_at
    return changes


def _active_row(session: Session, name: str, *, lock: bool = False) -> SignerRow | None:
    stmt = select(SignerRow).where(
        SignerRow.name_key == name_key(name), SignerRow.revoked_at.is_(None)
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


__all__ = ["SignerRegistry"]
