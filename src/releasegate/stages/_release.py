"""`StagedRelease`: a decision's staged release in the store: start, status, promote, roll back.

The stage in force is the latest row of `stage_transitions` for the decision. Every transition
commits with its audit record and a bump of the change counter every gateway polls (the one
of `releasegate.approvals`), under a lock on the decision's row, so two processes (two
gateways finding one rollback due, a promotion racing a rollback) serialise and the second
sees the first's result. Promotion sign-offs and gate evidence are recorded (and audited) as
they arrive; a refused promotion keeps the sign-offs it recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access._tiers import TierSpec
from releasegate.approvals._changes import audit_in, bump_version
from releasegate.approvals._keys import all_signers, name_key
from releasegate.approvals._openness import (
    Openness,
    ReleaseState,
    StageLimit,
    load_release_state,
    open_now,
)
from releasegate.approvals._registry import DecisionNotFoundError, _resolve
from releasegate.approvals._triggers import REASSESSMENT_INCIDENT
from releasegate.audit import AuditLog
from releasegate.errors import ReleasegateError
from releasegate.evidence import RiskReport
from releasegate.stages._load import check_against_decision, stage_excess
from releasegate.stages._model import EvidenceIndicator, RollbackTrigger, Stage, StagePlan
from releasegate.stages._signoff import SignedStageStatement, check_stage_signature
from releasegate.store._locks import get_for_update
from releasegate.store._types import utcnow
from releasegate.store.tables.decisions import DecisionRow
from releasegate.store.tables.monitoring import IncidentRow
from releasegate.store.tables.stages import (
    StageEvidenceRow,
    StagePlanRow,
    StageSignoffRow,
    StageTransitionRow,
)
from releasegate.vocab import AccessLevel, Component, Tier

THROUGH_NOTE = "post_mitigation was measured through the deployment at "


class StageError(ReleasegateError):
    """A stage change the plan or the rules do not allow (unknown stage, not started...)."""


class PromotionRefused(StageError):
    """A promotion whose gate is not met; `status.unmet` lists each unmet item."""

    def __init__(self, status: StageStatus) -> None:
        self.status = status
        lines = "\n".join(f"  - {i.item}: {i.requirement} — {i.evidence}" for i in status.unmet)
        super().__init__(f"promotion to {status.next_stage!r} refused; unmet gate items:\n{lines}")


def plan_sha256(plan: StagePlan) -> str:
    """SHA-256 of the plan's canonical JSON (what a promotion's signers sign)."""
    data = plan.model_dump(mode="json")
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    ).hexdigest()


@dataclass(frozen=True)
class Transition:
    """One move of the release into a stage."""

    seq: int
    kind: str  # start, promote or rollback
    from_stage: str | None
    to_stage: str
    reason: str
    actor: str
    at: datetime
    audit_seq: int
    trigger_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "from": self.from_stage,
            "to": self.to_stage,
            "reason": self.reason,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "audit_seq": self.audit_seq,
            "trigger": self.trigger_id,
            "details": self.details,
        }


@dataclass(frozen=True)
class CurrentStage:
    """The stage in force and how the release got there."""

    decision_id: str
    plan: StagePlan
    plan_sha256: str
    entered: Transition

    @property
    def stage(self) -> Stage:
        return self.plan.stage(self.entered.to_stage)

    @property
    def index(self) -> int:
        return self.plan.index(self.entered.to_stage)

    @property
    def next_stage(self) -> Stage | None:
        i = self.index + 1
        return self.plan.stages[i] if i < len(self.plan.stages) else None

    def limit(self, tiers: Mapping[str, TierSpec]) -> StageLimit:
        """What this stage opens, for `open_now`."""
        return stage_limit(self.stage, tiers, note=_note(self.entered))


def stage_limit(stage: Stage, tiers: Mapping[str, TierSpec], *, note: str = "") -> StageLimit:
    """A stage's `StageLimit`: its tiers, and its levels with `weights` at the level it names
    or, when it names none, the least open level its tiers need (so an API stage never lets
    weights out, whatever the decision allows)."""
    levels = dict(stage.levels)
    if Component.WEIGHTS not in levels:
        needs = [tiers[t].required_weights_level() for t in stage.tiers if t in tiers]
        levels[Component.WEIGHTS] = max(needs, key=lambda lv: lv.rank, default=AccessLevel.CLOSED)
    return StageLimit(stage.name, frozenset(stage.tiers), levels, note)


def _note(t: Transition) -> str:
    when = t.at.isoformat(timespec="seconds")
    if t.kind == "rollback":
        by = f"trigger {t.trigger_id}" if t.trigger_id else t.actor
        return f"rolled back from {t.from_stage} at {when} by {by}: {t.reason}"
    return f"{t.kind} at {when}"


@dataclass(frozen=True)
class GateItem:
    """One item of a stage's gate, met or not, with the evidence read."""

    item: str  # min_time, incidents, evidence, signoffs, decision
    requirement: str
    met: bool
    evidence: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "requirement": self.requirement,
            "met": self.met,
            "evidence": self.evidence,
            "details": self.details,
        }


@dataclass(frozen=True)
class StageStatus:
    """Where the release stands and what the next gate needs."""

    decision_id: str
    current: CurrentStage | None
    now: datetime
    next_stage: str | None
    items: tuple[GateItem, ...]
    openness: Openness | None = None

    @property
    def time_in_stage(self) -> timedelta | None:
        return self.now - self.current.entered.at if self.current else None

    @property
    def unmet(self) -> list[GateItem]:
        return [i for i in self.items if not i.met]

    @property
    def ready(self) -> bool:
        return self.next_stage is not None and not self.unmet

    def to_json(self) -> dict[str, Any]:
        cur = self.current
        return {
            "decision": self.decision_id,
            "plan": (
                {"name": cur.plan.name, "version": cur.plan.version, "sha256": cur.plan_sha256}
                if cur
                else None
            ),
            "stage": cur.entered.to_stage if cur else None,
            "stages": cur.plan.names() if cur else [],
            "entered": cur.entered.to_json() if cur else None,
            "time_in_stage_s": (
                round(self.time_in_stage.total_seconds(), 3) if self.time_in_stage else None
            ),
            "tiers_open": self.openness.open_tiers if self.openness else [],
            "next": self.next_stage,
            "ready": self.ready,
            "gate": [i.to_json() for i in self.items],
        }


@dataclass(frozen=True)
class Evidence:
    """A reassessment recorded as gate evidence."""

    id: int
    report: RiskReport
    report_sha256: str
    assessed_at: datetime
    through: str
    recorded_at: datetime
    recorded_by: str


class StagedRelease:
    """The staged release of one stored decision.

    Args:
        sessions: the store.
        audit: the audit log (every change is recorded in its own transaction).
        decision_id: the decision (id or unique prefix).
        tiers: the access tiers offered (the decision's policy's).
        trusted_keys: only these signer keys count (`RELEASEGATE_TRUSTED_SIGNER_KEYS`).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog | None,
        decision_id: str,
        tiers: Mapping[str, TierSpec],
        *,
        trusted_keys: frozenset[str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._tiers = dict(tiers)
        self._trusted = trusted_keys
        with sessions() as session:
            self.decision_id = _resolve(session, decision_id).id

    # -- reading ------------------------------------------------------------------------------

    def current(self) -> CurrentStage | None:
        """The stage in force (None: the staged release has not started)."""
        with self._sessions() as session:
            return current_stage(session, self.decision_id)

    def timeline(self) -> list[Transition]:
        """Every transition, oldest first."""
        with self._sessions() as session:
            return timeline(session, self.decision_id)

    def status(self, now: datetime | None = None) -> StageStatus:
        """The current stage, time in it, and each gate item of the next stage, met or not."""
        moment = now or utcnow()
        with self._sessions() as session:
            return self._status(session, moment)

    def _status(self, session: Session, now: datetime, target: str | None = None) -> StageStatus:
        cur = current_stage(session, self.decision_id)
        state = load_release_state(session, self.decision_id, self._trusted)
        openness = open_now(state, self._tiers, now)  # the decision alone, no stage
        if cur is None:
            return StageStatus(self.decision_id, None, now, None, (), openness)
        stage_now = open_now(replace(state, stage=cur.limit(self._tiers)), self._tiers, now)
        nxt = cur.plan.stage(target) if target else cur.next_stage
        if nxt is None:
            return StageStatus(self.decision_id, cur, now, None, (), stage_now)
        items = self._gate(session, cur, nxt, state, openness, now)
        return StageStatus(self.decision_id, cur, now, nxt.name, tuple(items), stage_now)

    def _gate(
        self,
        session: Session,
        cur: CurrentStage,
        nxt: Stage,
        state: ReleaseState,
        openness: Openness,
        now: datetime,
    ) -> list[GateItem]:
        gate = nxt.gate
        items: list[GateItem] = [_decision_item(nxt, state, openness, self._tiers)]
        if gate.min_days_in_previous is not None:
            items.append(_time_item(cur, gate.min_days_in_previous, now))
        if gate.max_incidents:
            items.append(_incidents_item(session, cur, gate.max_incidents))
        if gate.evidence is not None:
            items.append(_evidence_item(session, self.decision_id, gate.evidence, now))
        if gate.signoffs is not None:
            items.append(self._signoffs_item(session, cur, nxt))
        return items

    def _signoffs_item(self, session: Session, cur: CurrentStage, nxt: Stage) -> GateItem:
        req = nxt.gate.signoffs
        assert req is not None
        counted, notes = self._count_signoffs(session, cur, nxt)
        need = f"{req.required} of {', '.join(req.roles)} sign the promotion (Ed25519)"
        got = ", ".join(f"{name} ({role})" for name, role in counted) or "none"
        evidence = f"{len(counted)} of {req.required} counted: {got}"
        if notes:
            evidence += "; not counted: " + "; ".join(notes)
        return GateItem(
            "signoffs",
            need,
            len(counted) >= req.required,
            evidence,
            {"counted": [{"signer": n, "role": r} for n, r in counted], "not_counted": notes},
        )

    def _count_signoffs(
        self, session: Session, cur: CurrentStage, nxt: Stage
    ) -> tuple[list[tuple[str, str]], list[str]]:
        req = nxt.gate.signoffs
        assert req is not None
        signers = all_signers(session, self._trusted)
        rows = session.scalars(
            select(StageSignoffRow)
            .where(
                StageSignoffRow.decision_id == self.decision_id,
                StageSignoffRow.entry_seq == cur.entered.seq,
                StageSignoffRow.to_stage == nxt.name,
            )
            .order_by(StageSignoffRow.id)
        ).all()
        counted: list[tuple[str, str]] = []
        notes: list[str] = []
        people: set[str] = set()
        roles: set[str] = set()
        for row in rows:
            signed = SignedStageStatement.from_json(
                {"statement": json.loads(row.statement_json), "signature": row.signature}
            )
            problem = _binding_problem(signed, cur, nxt)
            signer, bad = check_stage_signature(signed, signers)
            problem = problem or bad
            s = signed.statement
            if problem is None and s.role not in req.roles:
                problem = f"role {s.role!r} is not one of this gate's roles"
            if problem is None and name_key(s.signer) in people:
                problem = "one person counts once"
            if problem is None and s.role in roles:
                problem = f"role {s.role!r} already counted"
            if problem is not None or signer is None:
                notes.append(f"{s.signer} ({s.role}): {problem}")
                continue
            people.add(name_key(s.signer))
            roles.add(s.role)
            counted.append((signer.name, s.role))
        return counted, notes

    # -- changing ------------------------------------------------------------------------------

    def start(self, plan: StagePlan, *, actor: str, at: str | None = None) -> Transition:
        """Adopt `plan` and enter its first stage (or stage `at`).

        Raises:
            InputError: a stage opens more than the decision allows (naming the stage).
            StageError: already started; `at` is not a stage; the decision, as in force now,
                does not allow the stage (pending, halted, a trigger fired...).
        """
        from releasegate.errors import InputError

        audit = self._require_audit()
        first = plan.stages[0] if at is None else _stage(plan, at)
        now = utcnow()
        with self._sessions() as session, session.begin():
            _lock(session, self.decision_id)
            state = load_release_state(session, self.decision_id, self._trusted)
            problems = check_against_decision(plan, state.decision, self._tiers)
            if problems:
                raise InputError(f"stage plan {plan.name!r}", problems)
            cur = current_stage(session, self.decision_id)
            if cur is not None:
                raise StageError(
                    f"the staged release of decision {self.decision_id} has started already "
                    f"(stage {cur.entered.to_stage!r}); promote or roll back"
                )
            item = _decision_item(first, state, open_now(state, self._tiers, now), self._tiers)
            if not item.met:
                raise StageError(f"cannot start in stage {first.name!r}: {item.evidence}")
            digest = _store_plan(session, plan, now)
            # The tiers the release is judged against from now on (the CLI reads them back).
            offered = {name: spec.model_dump(mode="json") for name, spec in self._tiers.items()}
            return self._record(
                session,
                audit,
                digest,
                "start",
                None,
                first.name,
                "start",
                actor,
                now,
                {"tiers": offered},
            )

    def record_signoffs(
        self, signoffs: Sequence[SignedStageStatement], *, actor: str, to: str
    ) -> list[str]:
        """Record promotion sign-offs to stage `to` (each checked, each audited).

        Returns:
            One line per sign-off recorded.

        Raises:
            StageError: not started; a sign-off that does not bind this promotion or whose
                signature does not verify (nothing is recorded then).
        """
        audit = self._require_audit()
        out: list[str] = []
        with self._sessions() as session, session.begin():
            _lock(session, self.decision_id)
            cur = self._require_current(session)
            nxt = _stage(cur.plan, to)
            signers = all_signers(session, self._trusted)
            for signed in signoffs:
                problem = _binding_problem(signed, cur, nxt)
                _, bad = check_stage_signature(signed, signers)
                if problem or bad:
                    s = signed.statement
                    raise StageError(f"sign-off by {s.signer} ({s.role}): {problem or bad}")
            for signed in signoffs:
                s = signed.statement
                seq = audit_in(
                    session,
                    audit,
                    f"signer:{s.signer}",
                    {
                        "action": "stage.signoff",
                        "decision_id": self.decision_id,
                        "statement": s.to_json(),
                        "signature": signed.signature,
                        "recorded_by": actor,
                    },
                )
                session.add(
                    StageSignoffRow(
                        decision_id=self.decision_id,
                        entry_seq=cur.entered.seq,
                        to_stage=nxt.name,
                        statement_json=json.dumps(s.to_json(), sort_keys=True),
                        signer=s.signer,
                        role=s.role,
                        key_id=s.key_id,
                        signature=signed.signature,
                        recorded_at=utcnow(),
                    )
                )
                out.append(f"{s.signer} ({s.role}) signed {cur.entered.to_stage} -> {nxt.name}")
                del seq
        return out

    def promote(
        self,
        to: str,
        *,
        actor: str,
        signoffs: Sequence[SignedStageStatement] = (),
        reason: str = "",
        now: datetime | None = None,
    ) -> Transition:
        """Enter the next stage `to` if every item of its gate is met now.

        Sign-offs given are recorded first (and stay recorded if the promotion is refused).

        Raises:
            PromotionRefused: an unmet gate item (each listed, with its evidence).
            StageError: not started; `to` is not the next stage; a bad sign-off.
        """
        audit = self._require_audit()
        if signoffs:
            self.record_signoffs(signoffs, actor=actor, to=to)
        moment = now or utcnow()
        with self._sessions() as session, session.begin():
            _lock(session, self.decision_id)
            cur = self._require_current(session)
            nxt = _stage(cur.plan, to)
            if cur.next_stage is None or nxt.name != cur.next_stage.name:
                following = cur.next_stage.name if cur.next_stage else "none: the last stage"
                raise StageError(
                    f"stage {to!r} is not the next stage after {cur.entered.to_stage!r} "
                    f"(next: {following}); a release moves up one gate at a time"
                )
            status = self._status(session, moment, target=nxt.name)
            if status.unmet:
                raise PromotionRefused(status)
            details = {"gate": [i.to_json() for i in status.items]}
            return self._record(
                session,
                audit,
                cur.plan_sha256,
                "promote",
                cur.entered.to_stage,
                nxt.name,
                reason or "gate met",
                actor,
                moment,
                details,
            )

    def rollback(
        self,
        to: str,
        *,
        reason: str,
        actor: str,
        trigger_id: str | None = None,
        details: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Transition | None:
        """Step back to an earlier stage `to`.

        Returns:
            The transition; None when the release is already at or below `to` (a trigger
            found due by two processes rolls back once).

        Raises:
            StageError: not started; `to` is not a stage; no reason.
        """
        audit = self._require_audit()
        if not reason.strip():
            raise StageError("a rollback needs the reason (--reason)")
        moment = now or utcnow()
        with self._sessions() as session, session.begin():
            _lock(session, self.decision_id)
            cur = self._require_current(session)
            target = _stage(cur.plan, to)
            if cur.plan.index(target.name) >= cur.index:
                if trigger_id is not None:
                    return None
                raise StageError(
                    f"stage {to!r} is not before the current stage {cur.entered.to_stage!r}: "
                    "a rollback steps back (promote to move forward)"
                )
            return self._record(
                session,
                audit,
                cur.plan_sha256,
                "rollback",
                cur.entered.to_stage,
                target.name,
                reason.strip(),
                actor,
                moment,
                details or {},
                trigger_id=trigger_id,
            )

    def record_evidence(self, report: RiskReport, *, actor: str) -> Evidence:
        """Record a reassessment of the deployed system (made through the gateway) as gate
        evidence.

        Raises:
            StageError: the report was not measured through a gateway (`assess --through`), or
                it has no assessment date.
        """
        audit = self._require_audit()
        through = _through(report)
        if through is None:
            raise StageError(
                "the report was not measured through the deployed gateway (run `releasegate "
                "assess --through URL`): gate evidence is the deployed system's"
            )
        if report.created_at is None:
            raise StageError("the report has no assessment date (created_at), so no age")
        text = report.model_dump_json()
        digest = hashlib.sha256(text.encode()).hexdigest()
        now = utcnow()
        with self._sessions() as session, session.begin():
            seq = audit_in(
                session,
                audit,
                actor,
                {
                    "action": "stage.evidence",
                    "decision_id": self.decision_id,
                    "report_sha256": digest,
                    "assessed_at": report.created_at.isoformat(),
                    "through": through,
                    "model": report.model.name,
                },
            )
            row = StageEvidenceRow(
                decision_id=self.decision_id,
                report_sha256=digest,
                report_json=text,
                assessed_at=report.created_at,
                through=through,
                recorded_at=now,
                recorded_by=actor,
                audit_seq=seq,
            )
            session.add(row)
            session.flush()
            return Evidence(row.id, report, digest, report.created_at, through, now, actor)

    # -- helpers -------------------------------------------------------------------------------

    def _record(
        self,
        session: Session,
        audit: AuditLog,
        digest: str,
        kind: str,
        from_stage: str | None,
        to_stage: str,
        reason: str,
        actor: str,
        now: datetime,
        details: dict[str, Any],
        *,
        trigger_id: str | None = None,
    ) -> Transition:
        last = session.scalar(
            select(func.max(StageTransitionRow.seq)).where(
                StageTransitionRow.decision_id == self.decision_id
            )
        )
        seq_no = int(last or 0) + 1
        audit_seq = audit_in(
            session,
            audit,
            actor,
            {
                "action": f"stage.{kind}",
                "decision_id": self.decision_id,
                "plan_sha256": digest,
                "seq": seq_no,
                "from": from_stage,
                "to": to_stage,
                "reason": reason,
                "trigger": trigger_id,
                "details": details,
            },
        )
        row = StageTransitionRow(
            decision_id=self.decision_id,
            seq=seq_no,
            plan_sha256=digest,
            kind=kind,
            from_stage=from_stage,
            to_stage=to_stage,
            trigger_id=trigger_id,
            reason=reason,
            actor=actor,
            at=now,
            audit_seq=audit_seq,
            details=details,
        )
        session.add(row)
        bump_version(session)
        session.flush()
        return _to_transition(row)

    def _require_current(self, session: Session) -> CurrentStage:
        cur = current_stage(session, self.decision_id)
        if cur is None:
            raise StageError(
                f"the staged release of decision {self.decision_id} has not started "
                "(releasegate stage start --plan FILE)"
            )
        return cur

    def _require_audit(self) -> AuditLog:
        if self._audit is None:
            raise ValueError("changing a stage needs the audit log (StagedRelease(audit=))")
        return self._audit


# -- module-level readers (the gateway's poll uses them inside its own session) ---------------


def current_stage(session: Session, decision_id: str) -> CurrentStage | None:
    """The stage in force for a decision (None: no staged release)."""
    row = session.scalars(
        select(StageTransitionRow)
        .where(StageTransitionRow.decision_id == decision_id)
        .order_by(StageTransitionRow.seq.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    plan_row = session.get(StagePlanRow, row.plan_sha256)
    assert plan_row is not None  # a foreign key
    plan = StagePlan.model_validate_json(plan_row.plan_json)
    return CurrentStage(decision_id, plan, row.plan_sha256, _to_transition(row))


def started_tiers(session: Session, decision_id: str) -> dict[str, TierSpec] | None:
    """The tiers a staged release was started with (None: not started)."""
    row = session.scalars(
        select(StageTransitionRow).where(
            StageTransitionRow.decision_id == decision_id, StageTransitionRow.seq == 1
        )
    ).one_or_none()
    if row is None:
        return None
    tiers = (row.details or {}).get("tiers") or {}
    return {name: TierSpec.model_validate(spec) for name, spec in tiers.items()}


def timeline(session: Session, decision_id: str) -> list[Transition]:
    """Every transition of a decision's staged release, oldest first."""
    rows = session.scalars(
        select(StageTransitionRow)
        .where(StageTransitionRow.decision_id == decision_id)
        .order_by(StageTransitionRow.seq)
    )
    return [_to_transition(r) for r in rows]


def latest_evidence(session: Session, decision_id: str) -> Evidence | None:
    """The most recent reassessment recorded as gate evidence."""
    row = session.scalars(
        select(StageEvidenceRow)
        .where(StageEvidenceRow.decision_id == decision_id)
        .order_by(StageEvidenceRow.assessed_at.desc(), StageEvidenceRow.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    return Evidence(
        row.id,
        RiskReport.model_validate_json(row.report_json),
        row.report_sha256,
        row.assessed_at,
        row.through,
        row.recorded_at,
        row.recorded_by,
    )


def _to_transition(row: StageTransitionRow) -> Transition:
    return Transition(
        seq=row.seq,
        kind=row.kind,
        from_stage=row.from_stage,
        to_stage=row.to_stage,
        reason=row.reason,
        actor=row.actor,
        at=row.at,
        audit_seq=row.audit_seq,
        trigger_id=row.trigger_id,
        details=dict(row.details or {}),
    )


def _lock(session: Session, decision_id: str) -> None:
    if get_for_update(session, DecisionRow, decision_id) is None:
        raise DecisionNotFoundError(f"no decision with id {decision_id!r}")


def _store_plan(session: Session, plan: StagePlan, now: datetime) -> str:
    digest = plan_sha256(plan)
    if session.get(StagePlanRow, digest) is None:
        session.add(
            StagePlanRow(
                sha256=digest,
                name=plan.name,
                version=plan.version,
                plan_json=plan.model_dump_json(),
                created_at=now,
            )
        )
        session.flush()
    return digest


def _stage(plan: StagePlan, name: str) -> Stage:
    try:
        return plan.stage(name)
    except KeyError:
        raise StageError(
            f"plan {plan.name!r} has no stage {name!r} (stages: {', '.join(plan.names())})"
        ) from None


def _binding_problem(signed: SignedStageStatement, cur: CurrentStage, nxt: Stage) -> str | None:
    s = signed.statement
    expected = {
        "decision_id": cur.decision_id,
        "plan_sha256": cur.plan_sha256,
        "from_stage": cur.entered.to_stage,
        "entry_seq": str(cur.entered.seq),
        "to_stage": nxt.name,
    }
    for name, value in expected.items():
        if getattr(s, name) != value:
            return (
                f"it signs {name} {getattr(s, name)!r}, not this promotion's {value!r} "
                "(signed for another decision, plan, stage or visit of the stage)"
            )
    return None


def _through(report: RiskReport) -> str | None:
    for note in report.notes:
        if note.startswith(THROUGH_NOTE):
            return note[len(THROUGH_NOTE) :].rstrip(".")
    return None


# -- gate items ------------------------------------------------------------------------------


def _decision_item(
    stage: Stage, state: ReleaseState, openness: Openness, tiers: Mapping[str, TierSpec]
) -> GateItem:
    need = f"the decision in force allows everything stage {stage.name!r} opens"
    if openness.closed_reason is not None:
        return GateItem("decision", need, False, openness.closed_reason)
    excess = stage_excess(
        stage,
        openness.components,
        state.decision,
        tiers,
        open_tiers=set(openness.open_tiers),
    )
    if excess:
        return GateItem("decision", need, False, "; ".join(m for _, m in excess))
    return GateItem(
        "decision",
        need,
        True,
        f"decision {state.decision_id} is {openness.status}; weights in force "
        f"{openness.weights.value}; open: {', '.join(openness.open_tiers) or 'none'}",
    )


def _time_item(cur: CurrentStage, days: float, now: datetime) -> GateItem:
    spent = now - cur.entered.at
    need = timedelta(days=days)
    return GateItem(
        "min_time",
        f"at least {_duration(need)} in stage {cur.entered.to_stage!r}",
        spent >= need,
        f"{_duration(spent)} since {cur.entered.at.isoformat(timespec='seconds')}",
        {"seconds_in_stage": round(spent.total_seconds(), 3), "required_s": need.total_seconds()},
    )


def _duration(delta: timedelta) -> str:
    seconds = max(0.0, delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def stage_incidents(session: Session, since: datetime) -> list[tuple[str, str, list[str]]]:
    """`(id, severity, categories)` of every incident opened since `since` (reassessment
    incidents aside: they are the release's own bookkeeping)."""
    rows = session.execute(
        select(IncidentRow.id, IncidentRow.severity, IncidentRow.categories).where(
            IncidentRow.created_at >= since, IncidentRow.kind != REASSESSMENT_INCIDENT
        )
    ).all()
    return [(str(r.id), str(r.severity), [str(c) for c in (r.categories or [])]) for r in rows]


def severity_rank(severity: str) -> int:
    """Rank of an incident severity; an unknown one counts as the worst (precaution)."""
    try:
        return Tier(severity).rank
    except ValueError:
        return Tier.CRITICAL.rank


def _incidents_item(session: Session, cur: CurrentStage, limits: Mapping[Tier, int]) -> GateItem:
    found = stage_incidents(session, cur.entered.at)
    parts, ok, over = [], True, {}
    for tier in sorted(limits, key=lambda t: t.rank):
        n = sum(1 for _, sev, _ in found if severity_rank(sev) >= tier.rank)
        over[tier.value] = n
        parts.append(f"{n} of severity {tier.value}+ (max {limits[tier]})")
        ok = ok and n <= limits[tier]
    need = ", ".join(f"at most {limits[t]} of severity {t.value}+" for t in limits)
    return GateItem(
        "incidents",
        f"incidents opened in stage {cur.entered.to_stage!r}: {need}",
        ok,
        "; ".join(parts),
        {"counts": over, "incidents": [i for i, _, _ in found][:50]},
    )


def _evidence_item(session: Session, decision_id: str, req: Any, now: datetime) -> GateItem:
    need = f"a reassessment through the gateway at most {req.max_age_days:g} days old" + (
        " meeting " + ", ".join(i.describe() for i in req.indicators) if req.indicators else ""
    )
    ev = latest_evidence(session, decision_id)
    if ev is None:
        return GateItem(
            "evidence",
            need,
            False,
            "no reassessment recorded (stage promote --reassess, or stage evidence REPORT)",
        )
    age = now - ev.assessed_at
    problems = []
    if age > timedelta(days=req.max_age_days):
        problems.append(f"too old: assessed {_duration(age)} ago")
    readings = []
    for ind in req.indicators:
        value, text = _read(ev.report, ind)
        readings.append(text)
        if value is None or not _meets(ind, value):
            problems.append(f"{ind.describe()}: {text}")
    evidence = (
        f"report {ev.report_sha256[:12]} assessed {ev.assessed_at.isoformat(timespec='seconds')} "
        f"through {ev.through}: " + ("; ".join(readings) or "no indicators")
    )
    if problems:
        evidence += " — " + "; ".join(problems)
    return GateItem(
        "evidence",
        need,
        not problems,
        evidence,
        {"report_sha256": ev.report_sha256, "assessed_at": ev.assessed_at.isoformat()},
    )


def _read(report: RiskReport, ind: EvidenceIndicator) -> tuple[float | None, str]:
    for item in report.evidence:
        if item.metric == ind.metric and item.condition == ind.condition:
            value = item.value
            if item.ci95 is not None:
                value = item.ci95.low if ind.at_least is not None else item.ci95.high
            bound = " (worse CI bound)" if item.ci95 is not None else ""
            return value, f"{ind.metric} = {value:.3f}{bound}, n={item.n}"
    return None, f"{ind.metric} ({ind.condition.value}) not measured"


def _meets(ind: EvidenceIndicator, value: float) -> bool:
    if ind.at_least is not None:
        return value >= ind.at_least
    assert ind.at_most is not None
    return value <= ind.at_most


# -- rollback triggers -----------------------------------------------------------------------


@dataclass(frozen=True)
class DueRollback:
    """A rollback trigger whose event happened while the release was in the current stage."""

    trigger: RollbackTrigger
    reason: str
    details: dict[str, Any]


def due_rollbacks(
    session: Session,
    cur: CurrentStage,
    *,
    guard_requests: int = 0,
    guard_failures: int = 0,
) -> list[DueRollback]:
    """The plan's triggers that are due now and would step the release back.

    Args:
        session: the store.
        cur: the stage in force.
        guard_requests, guard_failures: what this process saw in the `guard_failure_rate`
            triggers' window (requests with a tier, and those refused because a guard could
            not run).

    Returns:
        Due triggers, the one stepping back furthest first.
    """
    due: list[DueRollback] = []
    incidents: list[tuple[str, str, list[str]]] | None = None
    for trig in cur.plan.rollback_triggers:
        if cur.plan.index(trig.to) >= cur.index:
            continue
        if trig.kind == "incident":
            if incidents is None:
                incidents = stage_incidents(session, cur.entered.at)
            hits = [
                i
                for i, sev, cats in incidents
                if severity_rank(sev) >= trig.min_severity.rank
                and (not trig.categories or set(cats) & set(trig.categories))
            ]
            if hits:
                what = f" in categories {', '.join(trig.categories)}" if trig.categories else ""
                due.append(
                    DueRollback(
                        trig,
                        f"{len(hits)} incident(s) of severity {trig.min_severity.value}+{what} "
                        f"opened in stage {cur.entered.to_stage!r} ({', '.join(sorted(hits)[:5])})",
                        {"incidents": sorted(hits)},
                    )
                )
        elif trig.kind == "guard_failure_rate" and guard_requests >= trig.min_requests:
            assert trig.above is not None
            rate = guard_failures / guard_requests
            if rate > trig.above:
                due.append(
                    DueRollback(
                        trig,
                        f"guard failure rate {rate:.1%} ({guard_failures} of {guard_requests} "
                        f"requests in {trig.window_s:g} s) above {trig.above:.1%}",
                        {"requests": guard_requests, "failures": guard_failures},
                    )
                )
    due.sort(key=lambda d: cur.plan.index(d.trigger.to))
    return due


def fire_rollback(
    sessions: sessionmaker[Session],
    audit: AuditLog,
    decision_id: str,
    *,
    kind: str,
    reason: str,
    actor: str,
    severity: Tier = Tier.CRITICAL,
    details: dict[str, Any] | None = None,
) -> Transition | None:
    """Fire the plan's rollback triggers of `kind` for an event their owner learnt of: the
    flaw-report triage calls it with `kind="flaw_report"` when a report is confirmed.

    Args:
        sessions: the store.
        audit: the audit log.
        decision_id: the decision whose staged release steps back.
        kind: the trigger kind (`flaw_report`, or `incident` for an incident confirmed by hand).
        reason: what happened (a flaw report's id and title...).
        actor: who fired it.
        severity: the event's severity; triggers with a higher `min_severity` ignore it.
        details: extra JSON for the audit record.

    Returns:
        The rollback (to the furthest stage any matching trigger names); None when no trigger
        of that kind matches or the release is already there.
    """
    with sessions() as session:
        cur = current_stage(session, _resolve(session, decision_id).id)
    if cur is None:
        return None
    matching = [
        t
        for t in cur.plan.rollback_triggers
        if t.kind == kind
        and severity.rank >= t.min_severity.rank
        and cur.plan.index(t.to) < cur.index
    ]
    if not matching:
        return None
    trig = min(matching, key=lambda t: cur.plan.index(t.to))
    release = StagedRelease(sessions, audit, cur.decision_id, {})
    return release.rollback(
        trig.to,
        reason=f"{kind} ({severity.value}): {reason}",
        actor=actor,
        trigger_id=trig.id,
        details=details or {},
    )


__all__ = [
    "CurrentStage",
    "DueRollback",
    "Evidence",
    "GateItem",
    "PromotionRefused",
    "StageError",
    "StageStatus",
    "StagedRelease",
    "Transition",
    "current_stage",
    "due_rollbacks",
    "fire_rollback",
    "latest_evidence",
    "plan_sha256",
    "stage_limit",
    "started_tiers",
    "timeline",
]
