"""`DecisionRegistry`: stored release decisions and their N-of-M sign-off.

A decision is stored once per content hash (recording the same decision again returns the
stored one). It becomes `approved` only when `signoff.required` of the decision's
`signoff.roles` have signed, one person per role and one role per person, every sign-off with
its time. A `halted` decision cannot be approved: a halt is lifted by a new assessment and a new
decision, not by signatures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from releasegate.errors import ReleasegateError
from releasegate.policy._canonical import decision_content_sha256, decision_json_bytes
from releasegate.policy._decision import Decision
from releasegate.store._locks import get_for_update
from releasegate.store._types import utcnow
from releasegate.store.tables.decisions import DecisionRow, SignoffRow

ID_LENGTH = 16  # the first 16 hex digits of the content hash: 64 bits, stable and readable
MIN_PREFIX = 4


class DecisionNotFoundError(ReleasegateError):
    """No stored decision has this id (or the prefix is ambiguous)."""


class ApprovalError(ReleasegateError):
    """A sign-off the rules do not allow (unknown role, second role for one person...)."""


@dataclass(frozen=True)
class SignoffRecord:
    """One role's sign-off: who signed and when (timezone-aware UTC)."""

    role: str
    signer: str
    signed_at: datetime


@dataclass(frozen=True)
class DecisionRecord:
    """A stored decision with its sign-off state."""

    id: str
    content_sha256: str
    model_name: str
    policy_name: str
    policy_version: str
    status: str  # "pending", "approved" or "halted"
    levels: dict[str, str]
    created_at: datetime
    approved_at: datetime | None
    roles: tuple[str, ...]
    required: int
    signoffs: tuple[SignoffRecord, ...] = ()
    decision_json: str = field(default="", repr=False)

    @property
    def signed_roles(self) -> list[str]:
        return [s.role for s in self.signoffs]

    @property
    def missing(self) -> int:
        """How many more sign-offs approval needs (0 once approved)."""
        return max(0, self.required - len(self.signoffs))

    def decision(self) -> Decision:
        """The full stored `Decision`."""
        return Decision.model_validate_json(self.decision_json)


class DecisionRegistry:
    """Record, list, show and approve decisions.

    Args:
        session_factory: from `releasegate.store.open_store`.
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def record(self, decision: Decision) -> DecisionRecord:
        """Store a decision; recording the same content again returns the stored record.

        Raises:
            ValueError: the decision carries a `content_sha256` that does not match its content
                (the file was edited after `decide` wrote it).
        """
        digest = decision_content_sha256(decision)
        if decision.content_sha256 and decision.content_sha256 != digest:
            raise ValueError(
                f"content_sha256 {decision.content_sha256} does not match the decision's "
                f"content ({digest}): it was edited after it was made"
            )
        decision = decision.model_copy(update={"content_sha256": digest})
        row = DecisionRow(
            id=digest[:ID_LENGTH],
            content_sha256=digest,
            model_name=decision.model.name,
            policy_name=decision.policy_name,
            policy_version=decision.policy_version,
            status="halted" if decision.status == "halted" else "pending",
            # In the decision's own component order (the vocabulary's), not sorted.
            levels_json=json.dumps({str(k): str(v) for k, v in decision.levels.items()}),
            decision_json=decision_json_bytes(decision).decode(),
            created_at=utcnow(),
            approved_at=None,
        )
        try:
            with self._sessions() as session, session.begin():
                if session.get(DecisionRow, row.id) is None:
                    session.add(row)
        except IntegrityError:
            pass  # recorded concurrently by another process: theirs is the same content
        return self.get(row.id)

    def list(self, status: str | None = None) -> list[DecisionRecord]:
        """Every stored decision, newest first (optionally only those with `status`)."""
        stmt = select(DecisionRow).order_by(DecisionRow.created_at.desc(), DecisionRow.id)
        if status is not None:
            stmt = stmt.where(DecisionRow.status == status)
        with self._sessions() as session:
            rows = session.scalars(stmt).all()
            signoffs = _signoffs(session, [r.id for r in rows])
            return [_to_record(r, signoffs.get(r.id, [])) for r in rows]

    def get(self, id_or_prefix: str) -> DecisionRecord:
        """A decision by id, or by a unique prefix of its id / content hash (4+ characters).

        Raises:
            DecisionNotFoundError: no match, or several.
        """
        with self._sessions() as session:
            row = self._resolve(session, id_or_prefix)
            return _to_record(row, _signoffs(session, [row.id]).get(row.id, []))

    def approve(self, id_or_prefix: str, role: str, by: str) -> DecisionRecord:
        """Record `by`'s sign-off for `role`; the decision is approved at the N-th sign-off.

        Args:
            id_or_prefix: the decision.
            role: one of the decision's `signoff.roles`.
            by: the signer's name (one person may sign one role only).

        Returns:
            The decision after this sign-off.

        Raises:
            DecisionNotFoundError: no such decision.
            ApprovalError: a halted decision, an unknown role, a role already signed, or a
                person who already signed another role.
        """
        signer = by.strip()
        if not signer:
            raise ApprovalError("a sign-off needs the signer's name (--by)")
        role = role.strip()
        with self._sessions() as session, session.begin():
            decision_id = self._resolve(session, id_or_prefix).id
            row = get_for_update(session, DecisionRow, decision_id)  # serialises sign-offs
            if row is None:
                raise DecisionNotFoundError(f"no decision with id {id_or_prefix!r}")
            record = _to_record(row, _signoffs(session, [row.id]).get(row.id, []))
            if record.status == "halted":
                raise ApprovalError(
                    f"decision {row.id} is halted and cannot be approved; reassess and decide again"
                )
            if role not in record.roles:
                raise ApprovalError(
                    f"role {role!r} cannot sign decision {row.id}; its roles are "
                    + ", ".join(record.roles)
                )
            for existing in record.signoffs:
                if existing.role == role:
                    raise ApprovalError(
                        f"role {role!r} already signed decision {row.id} "
                        f"(by {existing.signer} at {existing.signed_at.isoformat()})"
                    )
                if existing.signer.casefold() == signer.casefold():
                    raise ApprovalError(
                        f"{signer} already signed decision {row.id} as {existing.role!r}; "
                        "one person cannot sign two roles"
                    )
            now = utcnow()
            session.add(SignoffRow(decision_id=row.id, role=role, signer=signer, signed_at=now))
            if row.status == "pending" and len(record.signoffs) + 1 >= record.required:
                row.status = "approved"
                row.approved_at = now
        return self.get(decision_id)

    @staticmethod
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


def _signoffs(session: Session, ids: list[str]) -> dict[str, list[SignoffRecord]]:
    if not ids:
        return {}
    out: dict[str, list[SignoffRecord]] = {}
    rows = session.scalars(
        select(SignoffRow).where(SignoffRow.decision_id.in_(ids)).order_by(SignoffRow.id)
    )
    for row in rows:
        out.setdefault(row.decision_id, []).append(
            SignoffRecord(role=row.role, signer=row.signer, signed_at=row.signed_at)
        )
    return out


def _to_record(row: DecisionRow, signoffs: list[SignoffRecord]) -> DecisionRecord:
    data = json.loads(row.decision_json)
    signoff = data.get("signoff") or {}
    return DecisionRecord(
        id=row.id,
        content_sha256=row.content_sha256,
        model_name=row.model_name,
        policy_name=row.policy_name,
        policy_version=row.policy_version,
        status=row.status,
        levels=json.loads(row.levels_json),
        created_at=row.created_at,
        approved_at=row.approved_at,
        roles=tuple(signoff.get("roles", ())),
        required=int(signoff.get("required", 1)),
        signoffs=tuple(signoffs),
        decision_json=row.decision_json,
    )
