"""What a signer signs to promote a staged release: one statement binding the decision, the
plan (its SHA-256), the stage left (and the transition that entered it), the stage entered, the
signer, their role and key, and the time.

Binding the entering transition means a sign-off given during one visit of a stage does not
count after a rollback and a later return: the release team signs again on the new evidence.
The bytes are those of the decision sign-offs (sorted keys, no spaces, ASCII, strings only),
so the same verifier rebuilds them (docs/design/0011-signed-decisions.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from releasegate._util import ed25519
from releasegate.approvals._keys import Signer, name_key
from releasegate.approvals._statement import signing_time

STAGE_STATEMENT_TYPE = "releasegate.stage-signoff/v1"


@dataclass(frozen=True)
class StageStatement:
    """One promotion sign-off, as signed."""

    decision_id: str
    plan_sha256: str
    from_stage: str
    entry_seq: str  # the transition that entered `from_stage`, as a string (strings only)
    to_stage: str
    role: str
    signer: str
    key_id: str
    signed_at: str
    action: str = "promote"

    def to_json(self) -> dict[str, str]:
        return {"type": STAGE_STATEMENT_TYPE, **asdict(self)}

    def to_bytes(self) -> bytes:
        """The exact bytes that are signed."""
        return json.dumps(
            self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode("ascii")

    @classmethod
    def from_json(cls, data: object) -> StageStatement:
        """Read a statement written by `to_json`.

        Raises:
            ValueError: not a mapping, wrong type, a missing or non-string field.
        """
        if not isinstance(data, dict) or data.get("type") != STAGE_STATEMENT_TYPE:
            raise ValueError(f"a stage sign-off statement has type {STAGE_STATEMENT_TYPE!r}")
        fields: dict[str, str] = {}
        for name in cls.__dataclass_fields__:
            value = data.get(name)
            if not isinstance(value, str):
                raise ValueError(f"statement field {name!r} must be a string")
            fields[name] = value
        if fields["action"] != "promote":
            raise ValueError("a stage sign-off's action is 'promote'")
        return cls(**fields)


@dataclass(frozen=True)
class SignedStageStatement:
    """A stage statement and its Ed25519 signature (base64)."""

    statement: StageStatement
    signature: str

    def to_json(self) -> dict[str, object]:
        return {"statement": self.statement.to_json(), "signature": self.signature}

    @classmethod
    def from_json(cls, data: object) -> SignedStageStatement:
        """Raises: ValueError on anything but `{"statement": {...}, "signature": "..."}`."""
        if not isinstance(data, dict) or not isinstance(data.get("signature"), str):
            raise ValueError("a signed stage sign-off is {statement, signature}")
        return cls(StageStatement.from_json(data.get("statement")), data["signature"])


def sign_stage(
    key: Ed25519PrivateKey,
    *,
    decision_id: str,
    plan_sha256: str,
    from_stage: str,
    entry_seq: int,
    to_stage: str,
    role: str,
    signer: str,
    signed_at: str | None = None,
) -> SignedStageStatement:
    """Sign a promotion with `key` (done where the key is: the CLI, or a signer's own machine
    for the HTTP API, which then only carries the signed statement)."""
    statement = StageStatement(
        decision_id=decision_id,
        plan_sha256=plan_sha256,
        from_stage=from_stage,
        entry_seq=str(entry_seq),
        to_stage=to_stage,
        role=role,
        signer=signer,
        key_id=ed25519.key_id(ed25519.public_key_b64(key)),
        signed_at=signed_at or signing_time(),
    )
    return SignedStageStatement(statement, ed25519.sign(key, statement.to_bytes()))


def check_stage_signature(
    signed: SignedStageStatement, signers: dict[str, Signer]
) -> tuple[Signer | None, str | None]:
    """The signer of a valid signature, or a problem: unknown or revoked key, a name or role
    the key does not hold, a bad signature."""
    s = signed.statement
    signer = signers.get(s.key_id)
    if signer is None:
        return None, f"key {s.key_id} is not a registered (trusted) signer key"
    if not signer.active:
        return None, f"{signer.name}'s key {s.key_id} was revoked"
    if name_key(signer.name) != name_key(s.signer):
        return None, f"key {s.key_id} belongs to {signer.name}, not {s.signer}"
    if s.role not in signer.roles:
        return None, f"{signer.name} does not hold the role {s.role!r}"
    if not ed25519.verify(signer.public_key, s.to_bytes(), signed.signature):
        return None, "the signature does not verify"
    return signer, None


__all__ = [
    "STAGE_STATEMENT_TYPE",
    "SignedStageStatement",
    "StageStatement",
    "check_stage_signature",
    "sign_stage",
]
