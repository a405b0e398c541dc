"""`DecisionRegistry`: stored release decisions and their signed sign-offs.

A decision is stored once per content hash (recording the same decision again returns the
stored one). Signers sign it with their Ed25519 keys: an approval, a rejection or a halt is a
signed statement over the decision's exact bytes (`_statement.py`). Its status is derived from
the signatures every time they are checked (`verify_signoffs`); the `status` column only
caches it for listing. Every sign-off, its status change and its audit record commit in one
transaction, which also bumps the change counter the gateways poll.

Rules at signing time (stricter than what verification accepts, so honest use never produces
an ambiguous record): the signer must be registered, hold the role, and sign with their own
key; one person approves once and one role is approved once; a halted or rejected decision
takes no further sign-offs; only a pending decision can be rejected; a halt needs a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from releasegate._util import ed25519
from releasegate.approvals._changes import audit_in, bump_version
from releasegate.approvals._keys import Signer, all_signers, name_key
from releasegate.approvals._statement import (
    Action,
    SignedStatement,
    Statement,
    decision_sha256,
    signing_time,
)
from releasegate.approvals._verify import Verification, verify_signoffs
from releasegate.audit import AuditLog
from releasegate.errors import ReleasegateError
from releasegate.evidence import RiskReport
from releasegate.policy._canonical import decision_content_sha256, decision_json_bytes
from releasegate.policy._decision import Decision
from releasegate.policy._model import ReleasePolicy
from releasegate.store._locks import get_for_update
from releasegate.store._types import utcnow
from releasegate.store.tables.approvals import SignatureRow
from releasegate.store.tables.decisions import DecisionRow

ID_LENGTH = 16  # the first 16 hex digits of the content hash: 64 bits, stable and readable
MIN_PREFIX = 4


class DecisionNotFoundError(ReleasegateError):
    """No stored decision has this id (or the prefix is ambiguous)."""


class ApprovalError(ReleasegateError):
    """A sign-off the rules do not allow (unknown role, a second approval by one person...)."""


@dataclass(frozen=True)
class DecisionRecord:
    """A stored decision with its signatures and what checking them found."""

    id: str
    content_sha256: str
    model_name: str
    policy_name: str
    policy_version: str
    status: str  # pending, approved, rejected or halted, from the verified signatures
    levels: dict[str, str]
    created_at: datetime
    approved_at: datetime | None
    roles: tuple[str, ...]
    required: int
    signatures: tuple[SignedStatement, ...] = ()
    verification: Verification | None = None
    output_dir: str | None = None
    decision_json: str = field(default="", repr=False)
    report_json: str | None = field(default=None, repr=False)
    policy_json: str | None = field(default=None, repr=False)

    @property
    def missing(self) -> int:
        """How many more approvals the policy needs (0 once approved)."""
        counted = self.verification.approvals if self.verification else 0
        return max(0, self.required - counted)

    def decision(self) -> Decision:
        """The full stored `Decision`."""
        return Decision.model_validate_json(self.decision_json)

    def report(self) -> RiskReport | None:
        """The report the decision was made from, when `decide` stored it."""
        return RiskReport.model_validate_json(self.report_json) if self.report_json else None

    def policy(self) -> ReleasePolicy | None:
        """The policy the decision was made under, when `decide` stored it."""
        return ReleasePolicy.model_validate_json(self.policy_json) if self.policy_json else None


class DecisionRegistry:
    """Record, list, show and sign decisions.

    Args:
        session_factory: from `releasegate.store.open_store`.
        audit: the audit log each change is recorded in (in the change's own transaction);
            needed by every method that changes something.
        trusted_keys: when given, only these signer public keys count (`trusted_keys`).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        audit: AuditLog | None = None,
        *,
        trusted_keys: frozenset[str] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._audit = audit
        self._trusted = trusted_keys

    # -- recording ---------------------------------------------------------------------------

    def record(
        self,
        decision: Decision,
        *,
        actor: str = "",
        output_dir: str | None = None,
        report: RiskReport | None = None,
        policy: ReleasePolicy | None = None,
    ) -> DecisionRecord:
        """Store a decision; recording the same content again returns the stored record.

        Args:
            decision: as `decide` made it (its `content_sha256` is checked, or filled in).
            actor: who recorded it, for the audit record.
            output_dir: where its documents were written (re-rendered after each sign-off).
            report, policy: what it was made from, kept for re-rendering; they must be the
                ones the decision names (same SHA-256).

        Raises:
            ValueError: the decision carries a `content_sha256` that does not match its content
                (the file was edited after `decide` wrote it), or a report/policy that is not
                the decision's.
        """
        from releasegate.policy._canonical import model_sha256

        digest = decision_content_sha256(decision)
        if decision.content_sha256 and decision.content_sha256 != digest:
            raise ValueError(
                f"content_sha256 {decision.content_sha256} does not match the decision's "
                f"content ({digest}): it was edited after it was made"
            )
        if report is not None and model_sha256(report) != decision.report_sha256:
            raise ValueError("the report is not the one the decision was made from")
        if policy is not None and model_sha256(policy) != decision.policy_sha256:
            raise ValueError("the policy is not the one the decision was made under")
        decision = decision.model_copy(update={"content_sha256": digest})
        decision_id = digest[:ID_LENGTH]
        try:
            with self._sessions() as session, session.begin():
                row = session.get(DecisionRow, decision_id)
                created = row is None
                if row is None:
                    row = DecisionRow(
                        id=decision_id,
                        content_sha256=digest,
                        model_name=decision.model.name,
                        policy_name=decision.policy_name,
                        policy_version=decision.policy_version,
                        status="halted" if decision.status == "halted" else "pending",
                        # In the decision's own component order (the vocabulary's), not sorted.
                        levels_json=json.dumps(
                            {str(k): str(v) for k, v in decision.levels.items()}
                        ),
                        decision_json=decision_json_bytes(decision).decode(),
                        created_at=utcnow(),
                        approved_at=None,
                    )
                    session.add(row)
                if output_dir is not None:
                    row.output_dir = output_dir
                if report is not None:
                    row.report_json = report.model_dump_json()
                if policy is not None:
                    row.policy_json = policy.model_dump_json()
                session.flush()
                if self._audit is not None:
                    audit_in(
                        session,
                        self._audit,
                        actor or "releasegate",
                        {
                            "action": "decision.record" if created else "decision.record_again",
                            "decision_id": decision_id,
                            "content_sha256": digest,
                            "model": decision.model.name,
                            "policy": f"{decision.policy_name} {decision.policy_version}",
                            "status": row.status,
                            "levels": {str(k): str(v) for k, v in decision.levels.items()},
                            "output_dir": output_dir,
                        },
                    )
        except IntegrityError:
            pass  # recorded concurrently by another process: theirs is the same content
        return self.get(decision_id)

    # -- reading -----------------------------------------------------------------------------

    def list(self, status: str | None = None) -> list[DecisionRecord]:
        """Every stored decision, newest first (optionally only those with `status`)."""
        stmt = select(DecisionRow).order_by(DecisionRow.created_at.desc(), DecisionRow.id)
        if status is not None:
            stmt = stmt.where(DecisionRow.status == status)
        with self._sessions() as session:
            rows = session.scalars(stmt).all()
            signatures = _signatures(session, [r.id for r in rows])
            signers = all_signers(session, self._trusted)
            return [_to_record(r, signatures.get(r.id, []), signers) for r in rows]

    def get(self, id_or_prefix: str) -> DecisionRecord:
        """A decision by id, or by a unique prefix of its id / content hash (4+ characters).

        Raises:
            DecisionNotFoundError: no match, or several.
        """
        with self._sessions() as session:
            return self.load(session, id_or_prefix)

    def load(self, session: Session, id_or_prefix: str) -> DecisionRecord:
        """`get` inside the caller's session (so it reads what the session's transaction sees)."""
        return load_record(session, id_or_prefix, self._trusted)

    def find(self, decision: Decision) -> DecisionRecord:
        """The stored record of exactly this decision (same content hash).

        Raises:
            DecisionNotFoundError: it was never recorded.
        """
        digest = decision_content_sha256(decision)
        with self._sessions() as session:
            row = session.scalars(
                select(DecisionRow).where(DecisionRow.content_sha256 == digest)
            ).one_or_none()
            if row is None:
                raise DecisionNotFoundError(
                    f"decision {digest[:ID_LENGTH]} is not recorded in this store (record it "
                    "with `releasegate decision record FILE`, then sign it)"
                )
            return _to_record(
                row,
                _signatures(session, [row.id]).get(row.id, []),
                all_signers(session, self._trusted),
            )

    # -- signing -----------------------------------------------------------------------------

    def sign(
        self,
        id_or_prefix: str,
        action: Action,
        *,
        role: str,
        by: str,
        key: Ed25519PrivateKey,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> DecisionRecord:
        """Sign the decision as `by` in `role` with `by`'s private key.

        Args:
            id_or_prefix: the decision.
            action: "approve", "reject" or "halt".
            role: one of the decision's `signoff.roles`, held by the signer.
            by: the signer's registered name.
            key: the signer's private key (`releasegate signers create` wrote it).
            reason: why (required to reject or halt).
            now: the signing time (default: now).

        Returns:
            The decision after this signature.

        Raises:
            DecisionNotFoundError: no such decision.
            ApprovalError: a sign-off the rules do not allow (see the module docstring).
        """
        audit = self._require_audit()
        reason = (reason or "").strip()
        if action in ("reject", "halt") and not reason:
            raise ApprovalError(f"to {action} a decision, give the reason (--reason)")
        with self._sessions() as session, session.begin():
            decision_id = _resolve(session, id_or_prefix).id
            row = get_for_update(session, DecisionRow, decision_id)  # serialises sign-offs
            if row is None:
                raise DecisionNotFoundError(f"no decision with id {id_or_prefix!r}")
            before = self.load(session, decision_id)
            signer = _signer_for(session, by, role, key, self._trusted)
            _check_allowed(before, action, signer, role)
            decision = before.decision()
            statement = Statement(
                action=action,
                decision_id=decision_id,
                decision_sha256=decision_sha256(decision),
                role=role,
                signer=signer.name,
                key_id=signer.key_id,
                signed_at=signing_time(now),
                reason=reason,
            )
            signed = SignedStatement(statement, ed25519.sign(key, statement.to_bytes()))
            session.add(_signature_row(signed))
            session.flush()
            after = self.load(session, decision_id)
            assert after.verification is not None
            row.status = after.verification.status
            row.approved_at = after.verification.approved_at
            bump_version(session)
            audit_in(
                session,
                audit,
                f"signer:{signer.name}",
                {
                    "action": f"decision.{action}",
                    "decision_id": decision_id,
                    "statement": statement.to_json(),
                    "signature": signed.signature,
                    "status_before": before.status,
                    "status": row.status,
                },
            )
        return self.get(decision_id)

    def _require_audit(self) -> AuditLog:
        if self._audit is None:
            raise ValueError("changing a decision needs the audit log (DecisionRegistry(audit=))")
        return self._audit


def load_record(
    session: Session, id_or_prefix: str, trusted_keys: frozenset[str] | None = None
) -> DecisionRecord:
    """A stored decision with its signatures checked against the registered signers (only
    the `trusted_keys` among them, when given).

    Raises:
        DecisionNotFoundError: no match, or several.
    """
    row = _resolve(session, id_or_prefix)
    signers = all_signers(session, trusted_keys)
    return _to_record(row, _signatures(session, [row.id]).get(row.id, []), signers)


def _signer_for(
    session: Session,
    by: str,
    role: str,
    key: Ed25519PrivateKey,
    trusted: frozenset[str] | None,
) -> Signer:
    active = [
        s for s in all_signers(session).values() if s.active and name_key(s.name) == name_key(by)
    ]
    if not active:
        raise ApprovalError(
            f"{by.strip()!r} is not a registered signer (releasegate signers create)"
        )
    signer = active[0]
    if ed25519.key_id(ed25519.public_key_b64(key)) != signer.key_id:
        raise ApprovalError(
            f"the key given is not {signer.name}'s registered signing key ({signer.key_id})"
        )
    if trusted is not None and signer.public_key not in trusted:
        raise ApprovalError(
            f"{signer.name}'s key {signer.key_id} is not among RELEASEGATE_TRUSTED_SIGNER_KEYS"
        )
    if role not in signer.roles:
        raise ApprovalError(
            f"{signer.name} does not hold the role {role!r} (their roles: "
            + ", ".join(signer.roles)
            + ")"
        )
    return signer


def _check_allowed(record: DecisionRecord, action: Action, signer: Signer, role: str) -> None:
    v = record.verification
    assert v is not None
    if v.problems:
        raise ApprovalError(
            f"decision {record.id} does not verify, so it takes no sign-off: "
            + "; ".join(v.problems)
        )
    if role not in record.roles:
        raise ApprovalError(
            f"role {role!r} cannot sign decision {record.id}; its roles are "
            + ", ".join(record.roles)
        )
    if v.status == "halted":
        raise ApprovalError(
            f"decision {record.id} is halted ({v.halt_reason()}); reassess and decide again"
        )
    if v.status == "rejected":
        raise ApprovalError(f"decision {record.id} was rejected; reassess and decide again")
    if action == "reject" and v.status != "pending":
        raise ApprovalError(
            f"decision {record.id} is {v.status}; an approved decision is halted, not rejected"
        )
    if action != "approve":
        return
    for checked in v.signatures:
        s = checked.signed.statement
        if not checked.counted:
            continue
        if name_key(s.signer) == name_key(signer.name):
            raise ApprovalError(
                f"{signer.name} already approved decision {record.id} as {s.role!r} at "
                f"{s.signed_at}; one person counts once"
            )
        if s.role == role:
            raise ApprovalError(
                f"role {role!r} already approved decision {record.id} (by {s.signer} at "
                f"{s.signed_at})"
            )


def _resolve(session: Session, id_or_prefix: str) -> DecisionRow:
    key = id_or_prefix.strip().lower()
    row = session.get(DecisionRow, key)
    if row is not None:
        return row
    if len(key) < MIN_PREFIX or not all(c in "0123456789abcdef" for c in key):
        raise DecisionNotFoundError(f"no decision with id {id_or_prefix!r}")
    column = DecisionRow.id if len(key) <= ID_LENGTH else DecisionRow.content_sha256
    rows = session.scalars(select(DecisionRow).where(column.startswith(key)).limit(5)).all()
    if not rows:
        raise DecisionNotFoundError(f"no decision with id {id_or_prefix!r}")
    if len(rows) > 1:
        raise DecisionNotFoundError(
            f"{id_or_prefix!r} matches several decisions ("
            + ", ".join(r.id for r in rows)
            + "); give more characters"
        )
    return rows[0]


def _signature_row(signed: SignedStatement) -> SignatureRow:
    s = signed.statement
    return SignatureRow(
        decision_id=s.decision_id,
        action=s.action,
        decision_sha256=s.decision_sha256,
        role=s.role,
        signer=s.signer,
        key_id=s.key_id,
        signed_at=s.signed_at,
        reason=s.reason,
        signature=signed.signature,
    )


def _signatures(session: Session, ids: list[str]) -> dict[str, list[SignedStatement]]:
    if not ids:
        return {}
    out: dict[str, list[SignedStatement]] = {}
    rows = session.scalars(
        select(SignatureRow).where(SignatureRow.decision_id.in_(ids)).order_by(SignatureRow.id)
    )
    for row in rows:
        statement = Statement(
            action=row.action,  # type: ignore[arg-type]  # checked when verified
            decision_id=row.decision_id,
            decision_sha256=row.decision_sha256,
            role=row.role,
            signer=row.signer,
            key_id=row.key_id,
            signed_at=row.signed_at,
            reason=row.reason,
        )
        out.setdefault(row.decision_id, []).append(SignedStatement(statement, row.signature))
    return out


def _to_record(
    row: DecisionRow, signatures: list[SignedStatement], signers: dict[str, Signer]
) -> DecisionRecord:
    decision = Decision.model_validate_json(row.decision_json)
    verification = verify_signoffs(decision, signatures, signers)
    return DecisionRecord(
        id=row.id,
        content_sha256=row.content_sha256,
        model_name=row.model_name,
        policy_name=row.policy_name,
        policy_version=row.policy_version,
        status=verification.status,
        levels=json.loads(row.levels_json),
        created_at=row.created_at,
        approved_at=verification.approved_at,
        roles=tuple(decision.signoff.roles),
        required=decision.signoff.required,
        signatures=tuple(signatures),
        verification=verification,
        output_dir=row.output_dir,
        decision_json=row.decision_json,
        report_json=row.report_json,
        policy_json=row.policy_json,
    )


def record_json(record: DecisionRecord) -> dict[str, Any]:
    """The stored record's sign-off state as JSON (`decision show --json`, `status --json`)."""
    v = record.verification
    return {
        "id": record.id,
        "status": record.status,
        "verified": bool(v and v.ok),
        "problems": list(v.problems) if v else [],
        "approvals": v.approvals if v else 0,
        "required": record.required,
        "approved_at": record.approved_at.isoformat() if record.approved_at else None,
        "signatures": [
            {
                **c.signed.to_json(),
                "valid": c.valid,
                "counted": c.counted,
                "problem": c.problem,
                "note": c.note,
            }
            for c in (v.signatures if v else ())
        ],
    }


__all__ = [
    "ApprovalError",
    "DecisionNotFoundError",
    "DecisionRecord",
    "DecisionRegistry",
    "load_record",
    "record_json",
]
