from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.orm import Session, sessionmaker

from releasegate.approvals import ApprovalError, DecisionNotFoundError, DecisionRegistry
from releasegate.policy import SignoffRequirement
from tests.helpers.decisions import example_decision


def test_record_is_a_round_trip_and_idempotent(sessions: sessionmaker[Session]) -> None:
    registry = DecisionRegistry(sessions)
    decision = example_decision("low-risk")
    record = registry.record(decision)
    assert record.id == decision.content_sha256[:16]
    assert record.content_sha256 == decision.content_sha256
    assert record.status == "pending" and record.signoffs == ()
    assert record.levels == {str(k): str(v) for k, v in decision.levels.items()}
    assert (record.model_name, record.policy_name) == (decision.model.name, decision.policy_name)
    assert record.decision() == decision
    assert record.created_at.tzinfo is not None
    again = registry.record(decision)
    assert again == record
    assert [r.id for r in registry.list()] == [record.id]


def test_get_by_prefix_and_errors(sessions: sessionmaker[Session]) -> None:
    registry = DecisionRegistry(sessions)
    low = registry.record(example_decision("low-risk"))
    cyber = registry.record(example_decision("high-cyber-strong-safeguards"))
    assert registry.get(low.id[:6]).id == low.id
    assert registry.get(cyber.content_sha256).id == cyber.id
    assert registry.get(low.id.upper()).id == low.id
    assert {r.id for r in registry.list()} == {low.id, cyber.id}
    for bad in ["", "abc", "zzzzzz", "0" * 16]:
        with pytest.raises(DecisionNotFoundError):
            registry.get(bad)


def test_edited_decision_is_refused(sessions: sessionmaker[Session]) -> None:
    decision = example_decision("low-risk")
    edited = decision.model_copy(update={"policy_version": "9.9.9"})
    with pytest.raises(ValueError, match="edited"):
        DecisionRegistry(sessions).record(edited)
    assert DecisionRegistry(sessions).list() == []


def test_approved_only_when_n_of_m_roles_signed(sessions: sessionmaker[Session]) -> None:
    registry = DecisionRegistry(sessions)
    decision = example_decision("low-risk")
    assert decision.signoff.required == 2 and len(decision.signoff.roles) == 3
    record = registry.record(decision)
    first = registry.approve(record.id, "release_lead", "Alice")
    assert first.status == "pending" and first.missing == 1 and first.approved_at is None
    second = registry.approve(record.id[:8], "safety_lead", "Bob")
    assert second.status == "approved" and second.missing == 0
    assert second.approved_at == second.signoffs[-1].signed_at
    assert [(s.role, s.signer) for s in second.signoffs] == [
        ("release_lead", "Alice"),
        ("safety_lead", "Bob"),
    ]
    assert all(s.signed_at.tzinfo is not None for s in second.signoffs)
    # The third role may still add its signature; the decision stays approved.
    third = registry.approve(record.id, "security_lead", "Carol")
    assert third.status == "approved" and len(third.signoffs) == 3
    assert registry.list(status="approved")[0].id == record.id


def test_signoff_rules(sessions: sessionmaker[Session]) -> None:
    registry = DecisionRegistry(sessions)
    record = registry.record(example_decision("missing-tamper"))
    with pytest.raises(ApprovalError, match="its roles are"):
        registry.approve(record.id, "ceo", "Alice")
    registry.approve(record.id, "release_lead", "Alice")
    with pytest.raises(ApprovalError, match="one person cannot sign two roles"):
        registry.approve(record.id, "safety_lead", " alice ")
    with pytest.raises(ApprovalError, match="already signed"):
        registry.approve(record.id, "release_lead", "Bob")
    with pytest.raises(ApprovalError, match="signer"):
        registry.approve(record.id, "safety_lead", "  ")
    with pytest.raises(DecisionNotFoundError):
        registry.approve("ffffffff", "safety_lead", "Bob")
    after = registry.get(record.id)
    assert after.status == "pending" and len(after.signoffs) == 1


def test_halted_decision_cannot_be_approved(sessions: sessionmaker[Session]) -> None:
    registry = DecisionRegistry(sessions)
    decision = example_decision("critical-bio-proxy")
    assert decision.status == "halted"
    record = registry.record(decision)
    assert record.status == "halted"
    with pytest.raises(ApprovalError, match="halted"):
        registry.approve(record.id, "release_lead", "Alice")
    assert registry.get(record.id).signoffs == ()


def test_one_of_one_signoff(sessions: sessionmaker[Session]) -> None:
    from releasegate.policy import decision_content_sha256

    decision = example_decision("low-risk").model_copy(
        update={"signoff": SignoffRequirement(roles=["owner"], required=1), "content_sha256": ""}
    )
    decision = decision.model_copy(update={"content_sha256": decision_content_sha256(decision)})
    registry = DecisionRegistry(sessions)
    record = registry.record(decision)
    assert registry.approve(record.id, "owner", "Dana").status == "approved"


def test_concurrent_signoffs_are_serialised(sessions: sessionmaker[Session]) -> None:
    registry = DecisionRegistry(sessions)
    record = registry.record(example_decision("low-risk"))
    barrier = threading.Barrier(3)

    def sign(role: str, by: str) -> str:
        barrier.wait()
        try:
            return DecisionRegistry(sessions).approve(record.id, role, by).status
        except ApprovalError as exc:
            return f"refused: {exc}"

    # One person (spelt two ways) racing for two roles, and a second person for a third role.
    with ThreadPoolExecutor(3) as pool:
        results = list(
            pool.map(
                sign,
                ["release_lead", "safety_lead", "security_lead"],
                ["Alice", " alice", "Bob"],
            )
        )
    refused = [r for r in results if r.startswith("refused")]
    assert len(refused) == 1 and "two roles" in refused[0], results
    final = registry.get(record.id)
    assert final.status == "approved" and len(final.signoffs) == 2
    assert {s.signer.strip().casefold() for s in final.signoffs} == {"alice", "bob"}
