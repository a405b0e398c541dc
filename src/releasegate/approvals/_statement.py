"""What a signer signs: a small statement that binds one action to one decision's exact bytes.

The statement names the decision by the SHA-256 of its canonical bytes (`decision.json` exactly
as `decide` writes it, `content_sha256` included), the action (approve, reject or halt), the
signer, the role they sign in, their key and the time. Binding each of these is what stops a
signature from being reused: an approval cannot be replayed as someone else's, for another
role, for another decision, or turned into a halt (docs/design/0011-signed-decisions.md).

Its bytes are JSON with sorted keys, no spaces and ASCII only, over string values only, so any
JSON library (the outsider's `verify_decision.py` uses the standard library's) rebuilds exactly
the bytes that were signed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

from releasegate.policy._canonical import decision_json_bytes
from releasegate.policy._decision import Decision

Action = Literal["approve", "reject", "halt"]
ACTIONS: tuple[Action, ...] = ("approve", "reject", "halt")
STATEMENT_TYPE = "releasegate.signoff/v1"


def decision_sha256(decision: Decision) -> str:
    """SHA-256 of the decision's canonical bytes (what `decision.json` holds, byte for byte)."""
    return hashlib.sha256(decision_json_bytes(decision)).hexdigest()


def signing_time(now: datetime | None = None) -> str:
    """A signing time as the exact string that is signed: UTC, microseconds, `Z`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_signing_time(text: str) -> datetime:
    """The datetime of a string written by `signing_time`.

    Raises:
        ValueError: not in that form.
    """
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Statement:
    """One sign-off, as signed."""

    action: Action
    decision_id: str
    decision_sha256: str
    role: str
    signer: str
    key_id: str
    signed_at: str
    reason: str = ""

    def to_json(self) -> dict[str, str]:
        """The statement's fields, with its type, as they are signed."""
        return {"type": STATEMENT_TYPE, **asdict(self)}

    def to_bytes(self) -> bytes:
        """The exact bytes that are signed."""
        return json.dumps(
            self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode("ascii")

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Statement:
        """Read a statement written by `to_json`.

        Raises:
            ValueError: a missing or non-string field, an unknown type or action.
        """
        if data.get("type") != STATEMENT_TYPE:
            raise ValueError(f"statement type must be {STATEMENT_TYPE!r}")
        fields = {}
        for name in cls.__dataclass_fields__:
            value = data.get(name, "" if name == "reason" else None)
            if not isinstance(value, str):
                raise ValueError(f"statement field {name!r} must be a string")
            fields[name] = value
        if fields["action"] not in ACTIONS:
            raise ValueError(f"statement action must be one of {', '.join(ACTIONS)}")
        return cls(**fields)  # type: ignore[arg-type]  # action checked just above

    @property
    def time(self) -> datetime:
        """`signed_at` as a datetime."""
        return parse_signing_time(self.signed_at)


@dataclass(frozen=True)
class SignedStatement:
    """A statement and its Ed25519 signature (base64 of 64 bytes)."""

    statement: Statement
    signature: str

    def to_json(self) -> dict[str, object]:
        return {"statement": self.statement.to_json(), "signature": self.signature}


__all__ = [
    "ACTIONS",
    "STATEMENT_TYPE",
    "Action",
    "SignedStatement",
    "Statement",
    "decision_sha256",
    "parse_signing_time",
    "signing_time",
]
