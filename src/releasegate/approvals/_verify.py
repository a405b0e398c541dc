"""Check a decision's signatures against a set of signer keys, with no store: the same code
serves `decision verify`, `serve`, the gateway's live check and (in standard-library form)
the outsider's `verify_decision.py`.

A decision is in force ("approved") when its content hash matches its content, every signature
on it is valid, and valid approvals from `signoff.required` different people in different roles
of `signoff.roles` exist, with no valid halt or rejection. Opening needs N people; closing
needs one: any valid halt halts, any valid rejection of a pending decision rejects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from releasegate._util import ed25519
from releasegate.approvals._keys import Signer, name_key
from releasegate.approvals._statement import SignedStatement, decision_sha256
from releasegate.policy._canonical import decision_content_sha256
from releasegate.policy._decision import Decision

SignoffStatus = Literal["pending", "approved", "rejected", "halted"]


@dataclass(frozen=True)
class CheckedSignature:
    """One signature and what checking it found (`problem` None: valid)."""

    signed: SignedStatement
    problem: str | None = None
    counted: bool = False  # an approval that counts toward N-of-M
    note: str | None = None  # why a valid signature does not count (revoked key, duplicate)

    @property
    def valid(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Verification:
    """The result of checking a decision and its signatures."""

    decision_id: str
    status: SignoffStatus
    problems: tuple[str, ...]
    signatures: tuple[CheckedSignature, ...] = ()
    required: int = 1
    approvals: int = 0
    halted_by: CheckedSignature | None = None
    rejected_by: CheckedSignature | None = None
    approved_at: datetime | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """The content hash matches and every signature is valid."""
        return not self.problems

    @property
    def in_force(self) -> bool:
        """Valid, approved by N of M, neither halted nor rejected."""
        return self.ok and self.status == "approved"

    def failures(self) -> list[str]:
        """What keeps the decision from being in force, one line each (empty: in force)."""
        out = list(self.problems)
        if self.status == "halted":
            out.append(self.halt_reason())
        elif self.status == "rejected" and self.rejected_by is not None:
            s = self.rejected_by.signed.statement
            out.append(f"rejected by {s.signer} ({s.role}) at {s.signed_at}: {s.reason}")
        elif self.status == "pending":
            out.append(
                f"pending: {self.approvals} of the {self.required} approvals the policy requires"
            )
        return out

    def halt_reason(self) -> str:
        if self.halted_by is None:
            return "halted by the policy's rules when the decision was made"
        s = self.halted_by.signed.statement
        return f"halted by {s.signer} ({s.role}) at {s.signed_at}: {s.reason}"


def check_signature(
    signed: SignedStatement,
    decision: Decision,
    digest: str,
    signers: Mapping[str, Signer],
) -> str | None:
    """Why one signature is not a valid sign-off of `decision` (None: it is)."""
    s = signed.statement
    who = f"{s.action} by {s.signer!r} as {s.role!r}"
    if s.decision_sha256 != digest:
        return f"{who}: signs other bytes (sha256 {s.decision_sha256[:16]}…), not this decision"
    signer = signers.get(s.key_id)
    if signer is None:
        return f"{who}: key {s.key_id} is not a registered signer key (or not a trusted one)"
    if not ed25519.verify(signer.public_key, s.to_bytes(), signed.signature):
        return f"{who}: the signature does not verify with key {s.key_id}"
    if name_key(signer.name) != name_key(s.signer):
        return f"{who}: key {s.key_id} belongs to {signer.name!r}"
    if s.role not in signer.roles:
        return f"{who}: {signer.name} does not hold the role {s.role!r}"
    if s.role not in decision.signoff.roles:
        return f"{who}: {s.role!r} is not a sign-off role of this decision"
    if s.decision_id != decision.content_sha256[:16]:
        return f"{who}: names decision {s.decision_id!r}, not {decision.content_sha256[:16]!r}"
    return None


def verify_signoffs(
    decision: Decision,
    signatures: Sequence[SignedStatement],
    signers: Mapping[str, Signer],
) -> Verification:
    """Check the content hash and every signature, and derive the decision's status.

    Args:
        decision: the decision as stored or exported.
        signatures: its signed statements, in signing order.
        signers: the trusted signer keys (revoked ones included), by key id.

    Returns:
        The verification; `in_force` says whether the decision may be served.
    """
    problems: list[str] = []
    decision_id = decision.content_sha256[:16]
    recomputed = decision_content_sha256(decision)
    if decision.content_sha256 != recomputed:
        problems.append(
            f"content_sha256 {decision.content_sha256[:16]}… does not match the content "
            f"({recomputed[:16]}…): the decision was edited after it was made"
        )
    digest = decision_sha256(decision)
    checked: list[CheckedSignature] = []
    people: set[str] = set()
    roles: set[str] = set()
    approved_at: datetime | None = None
    halted_by = rejected_by = None
    for signed in sorted(signatures, key=lambda x: x.statement.signed_at):
        problem = check_signature(signed, decision, digest, signers)
        if problem is not None:
            problems.append(problem)
            checked.append(CheckedSignature(signed, problem))
            continue
        s = signed.statement
        signer = signers[s.key_id]
        if s.action == "halt":
            halted_by = halted_by or CheckedSignature(signed)
            checked.append(CheckedSignature(signed))
            continue
        if s.action == "reject":
            rejected_by = rejected_by or CheckedSignature(signed)
            checked.append(CheckedSignature(signed))
            continue
        note = None
        if not signer.active:
            note = f"{signer.name}'s key {signer.key_id} was revoked; the approval no longer counts"
        elif name_key(s.signer) in people:
            note = f"{s.signer} already counted once (one person counts once)"
        elif s.role in roles:
            note = f"role {s.role} already counted"
        if note is not None:
            checked.append(CheckedSignature(signed, note=note))
            continue
        people.add(name_key(s.signer))
        roles.add(s.role)
        if len(people) == decision.signoff.required:
            approved_at = s.time
        checked.append(CheckedSignature(signed, counted=True))
    status: SignoffStatus
    if decision.status == "halted" or halted_by is not None:
        status = "halted"
    elif rejected_by is not None and (
        approved_at is None or rejected_by.signed.statement.time < approved_at
    ):
        status = "rejected"  # a rejection made before the N-th approval stands
    elif len(people) >= decision.signoff.required:
        status = "approved"
    else:
        status = "pending"
    return Verification(
        decision_id=decision_id,
        status=status,
        problems=tuple(problems),
        signatures=tuple(checked),
        required=decision.signoff.required,
        approvals=len(people),
        halted_by=halted_by,
        rejected_by=rejected_by,
        approved_at=approved_at if status == "approved" else None,
        notes=tuple(c.note for c in checked if c.note),
    )


__all__ = [
    "CheckedSignature",
    "SignoffStatus",
    "Verification",
    "check_signature",
    "verify_signoffs",
]
