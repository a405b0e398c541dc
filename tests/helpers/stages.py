"""Staged releases for tests: a signed decision at a level, a plan written to a file, signed
promotion sign-offs, and reports that look measured through a gateway."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access import DEFAULT_TIERS
from releasegate.approvals import DecisionRecord
from releasegate.evidence import (
    ConfidenceInterval,
    EvidenceItem,
    ModelIdentity,
    RiskReport,
    example_report_path,
    load_report,
)
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.stages import SignedStageStatement, StagedRelease, sign_stage
from releasegate.vocab import AccessLevel, Condition
from tests.helpers.gateway import fresh
from tests.helpers.signing import Person, approve, at_level, audit_log, signers

ROLES = ["release_lead", "safety_lead", "security_lead"]


def signed_decision(
    sessions: sessionmaker[Session], keys: Path, level: AccessLevel
) -> tuple[DecisionRecord, dict[str, Person]]:
    """A decision at `level`, approved by two of the default policy's three roles."""
    people = signers(sessions, keys)
    report = fresh(load_report(example_report_path("low-risk")))
    decision = at_level(decide(report, load_policy(bundled_policy_path("default"))), level)
    return approve(sessions, decision, people), people


def plan_file(path: Path, data: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def release(sessions: sessionmaker[Session], decision_id: str) -> StagedRelease:
    return StagedRelease(sessions, audit_log(sessions), decision_id, DEFAULT_TIERS)


def signoff(r: StagedRelease, to: str, person: Person) -> SignedStageStatement:
    cur = r.current()
    assert cur is not None
    return sign_stage(
        person.key,
        decision_id=cur.decision_id,
        plan_sha256=cur.plan_sha256,
        from_stage=cur.entered.to_stage,
        entry_seq=cur.entered.seq,
        to_stage=to,
        role=person.role,
        signer=person.name,
    )


def through_report(
    refusal: float, *, through: str = "http://127.0.0.1:8000/v1", when: datetime | None = None
) -> RiskReport:
    """A report of the deployed system (as `assess --through` writes its note)."""
    return RiskReport(
        model=ModelIdentity(name="fake-model"),
        created_at=when or datetime.now(UTC),
        evidence=[
            EvidenceItem(
                id="refusal_rate/post_mitigation",
                task="releasegate/refusal",
                metric="refusal_rate",
                condition=Condition.POST_MITIGATION,
                value=refusal,
                ci95=ConfidenceInterval(
                    low=max(0.0, refusal - 0.05), high=min(1.0, refusal + 0.05)
                ),
                n=100,
            )
        ],
        notes=[f"post_mitigation was measured through the deployment at {through}."],
    )
