"""Signer keys as the approvals package reads them: who a key belongs to, which roles they
sign in, whether it is revoked, and which keys to trust."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from releasegate._util import ed25519
from releasegate.errors import ReleasegateError
from releasegate.store.tables.approvals import SignerRow


class SignerError(ReleasegateError):
    """A signer that cannot be created, found or revoked as asked."""


@dataclass(frozen=True)
class Signer:
    """A signing key of a named person, with the roles they sign in."""

    key_id: str
    name: str
    roles: tuple[str, ...]
    public_key: str
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, Any]:
        """The public record of the signer, as `decision export` writes it (no secrets)."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "roles": list(self.roles),
            "public_key": self.public_key,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_reason": self.revoked_reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Signer:
        """Read a record written by `to_json`.

        Raises:
            ValueError, KeyError, TypeError: a malformed record.
        """
        revoked = data.get("revoked_at")
        return cls(
            key_id=str(data["key_id"]),
            name=str(data["name"]),
            roles=tuple(str(r) for r in data["roles"]),
            public_key=str(data["public_key"]),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            revoked_at=datetime.fromisoformat(str(revoked)) if revoked else None,
            revoked_reason=data.get("revoked_reason"),
        )


def name_key(name: str) -> str:
    """How names are compared: one person is one name, whatever its case and outer spaces."""
    return " ".join(name.split()).casefold()


def all_signers(session: Session, trusted: frozenset[str] | None = None) -> dict[str, Signer]:
    """Every registered key (revoked ones included), by key id.

    Args:
        session: the store.
        trusted: when given, only keys whose public key is in it (`trusted_keys`): a trust
            anchor outside the database, so a signer row written behind the CLI's back signs
            nothing.
    """
    rows = session.scalars(select(SignerRow))
    return {r.key_id: _to_signer(r) for r in rows if trusted is None or r.public_key in trusted}


def trusted_keys(text: str | None) -> frozenset[str] | None:
    """Parse `RELEASEGATE_TRUSTED_SIGNER_KEYS`: public keys (base64, as `signers list --keys`
    prints them) separated by commas or spaces; None when unset.

    Raises:
        ValueError: an entry that is not an Ed25519 public key.
    """
    if text is None or not text.strip():
        return None
    keys = frozenset(k for k in re.split(r"[\s,]+", text.strip()) if k)
    for key in keys:
        try:
            ed25519.public_key_from_b64(key)
        except ValueError:
            raise ValueError(
                f"RELEASEGATE_TRUSTED_SIGNER_KEYS: {key[:20]!r} is not an Ed25519 public key"
            ) from None
    return keys


def _to_signer(row: SignerRow) -> Signer:
    return Signer(
        key_id=row.key_id,
        name=row.name,
        roles=tuple(str(r) for r in row.roles),
        public_key=row.public_key,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        revoked_reason=row.revoked_reason,
    )


__all__ = ["Signer", "SignerError", "all_signers", "name_key", "trusted_keys"]
