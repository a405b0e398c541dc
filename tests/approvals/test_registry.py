"""Signed sign-offs in the store (SQLite and PostgreSQL): who may sign what, N of M, one
person once, reject and halt, revocation, the audit record and the change counter."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from releasegate._util import ed25519
from releasegate.approvals import (
    ApprovalError,
    DecisionNotFoundError,
    DecisionRegistry,
    SignerError,
    SignerRegistry,
    decision_sha256,
    read_version,
)
from releasegate.policy import SignoffRequirement
from releasegate.store.tables.decisions import DecisionRow
from releasegate.vocab import Component
from tests.helpers.decisions import example_decision
from tests.helpers.signing import approve, audit_log, rehashed, signers


def _registry(sessions: sessionmaker[Session]) -> DecisionRegistry:
    return DecisionRegistry(sessions, audit_log(sessions))


def _version(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return read_version(session)


def test_record_is_a_round_trip_and_idempotent(sessions: sessionmaker[Session]) -> None:
    registry = _registry(sessions)
    decision = example_decision("low-risk")
    record = registry.record(decision, actor="test")
    assert record.id == decision.content_sha256[:16]
    assert record.content_sha256 == decision.content_sha256
    assert record.status == "pending" and record.signatures == ()
    assert record.levels == {str(k): str(v) for k, v in decision.levels.items()}
    assert record.decision() == decision
    # The stored bytes are the decision's canonical bytes: what signatures are over.
    import hashlib

    assert hashlib.sha256(record.decision_json.encode()).hexdigest() == decision_sha256(decision)
    again = registry.record(decision, actor="test")
    assert again.id == record.id and again.created_at == record.created_at
    assert [r.id for r in registry.list()] == [record.id]
    actions = [r.payload["action"] for r in audit_log(sessions).records()]
    assert actions == ["decision.record", "decision.record_again"]


def test_get_by_prefix_and_errors(sessions: sessionmaker[Session]) -> None:
    registry = _registry(sessions)
    low = registry.record(example_decision("low-risk"))
    cyber = registry.record(example_decision("high-cyber-strong-safeguards"))
    assert registry.get(low.id[:6]).id == low.id
    assert registry.get(cyber.content_sha256).id == cyber.id
    for bad in ["", "abc", "zzzzzz", "0" * 16]:
        with pytest.raises(DecisionNotFoundError):
            registry.get(bad)


def test_edited_decision_is_refused(sessions: sessionmaker[Session]) -> None:
    decision = example_decision("low-risk")
    edited = decision.model_copy(update={"policy_version": "9.9.9"})
    with pytest.raises(ValueError, match="edited"):
        _registry(sessions).record(edited)
    assert _registry(sessions).list() == []


def test_approved_only_when_n_different_people_in_n_roles_signed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    people = signers(sessions, tmp_path)
    registry = _registry(sessions)
    record = registry.record(example_decision("low-risk"))
    before = _version(sessions)
    alice, bob = people["release_lead"], people["safety_lead"]
    first = registry.sign(record.id, "approve", role="release_lead", by="alice", key=alice.key)
    assert first.status == "pending" and first.missing == 1 and first.approved_at is None
    second = registry.sign(record.id[:8], "approve", role="safety_lead", by="Bob", key=bob.key)
    assert second.status == "approved" and second.missing == 0
    assert second.verification is not None and second.verification.in_force
    assert second.approved_at == second.signatures[-1].statement.time
    assert [(s.statement.role, s.statement.signer) for s in second.signatures] == [
        ("release_lead", "Alice"),
        ("safety_lead", "Bob"),
    ]
    assert _version(sessions) == before + 2  # each sign-off is one change the gateways see
    # Each sign-off is an audit record carrying the statement and its signature.
    records = [
        r for r in audit_log(sessions).records() if r.payload["action"] == "decision.approve"
    ]
    assert [r.actor for r in records] == ["signer:Alice", "signer:Bob"]
    assert records[-1].payload["status_before"] == "pending"
    assert records[-1].payload["status"] == "approved"
    assert records[-1].payload["signature"] == second.signatures[-1].signature
    assert audit_log(sessions).verify().ok


def test_a_name_without_its_key_cannot_sign(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    people = signers(sessions, tmp_path)
    registry = _registry(sessions)
    record = registry.record(example_decision("low-risk"))
    bob_key = people["safety_lead"].key
    with pytest.raises(ApprovalError, match="not Alice's registered signing key"):
        registry.sign(record.id, "approve", role="release_lead", by="Alice", key=bob_key)
    stranger = ed25519.generate_private_key()
    with pytest.raises(ApprovalError, match="not Alice's registered signing key"):
        registry.sign(record.id, "approve", role="release_lead", by="Alice", key=stranger)
    with pytest.raises(ApprovalError, match="not a registered signer"):
        registry.sign(record.id, "approve", role="release_lead", by="Mallory", key=stranger)
    assert registry.get(record.id).signatures == ()


def test_one_person_counts_once_however_many_roles_they_hold(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    signer_registry = SignerRegistry(sessions, audit_log(sessions))
    signer_registry.create("Dana", ["release_lead", "safety_lead"], tmp_path / "d.pem", actor="t")
    dana = ed25519.load_private_key(tmp_path / "d.pem")
    registry = _registry(sessions)
    record = registry.record(example_decision("low-risk"))
    registry.sign(record.id, "approve", role="release_lead", by="Dana", key=dana)
    with pytest.raises(ApprovalError, match="one person counts once"):
        registry.sign(record.id, "approve", role="safety_lead", by=" dana ", key=dana)
    after = registry.get(record.id)
    assert after.status == "pending" and after.missing == 1


def test_signoff_rules(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    people = signers(sessions, tmp_path)
    registry = _registry(sessions)
    record = registry.record(example_decision("missing-tamper"))
    alice, bob = people["release_lead"], people["safety_lead"]
    with pytest.raises(ApprovalError, match="does not hold the role"):
        registry.sign(record.id, "approve", role="safety_lead", by="Alice", key=alice.key)
    registry.sign(record.id, "approve", role="release_lead", by="Alice", key=alice.key)
    with pytest.raises(ApprovalError, match="already approved"):
        registry.sign(record.id, "approve", role="release_lead", by="Alice", key=alice.key)
    with pytest.raises(ApprovalError, match="give the reason"):
        registry.sign(record.id, "reject", role="safety_lead", by="Bob", key=bob.key)
    with pytest.raises(DecisionNotFoundError):
        registry.sign("ffffffff", "approve", role="safety_lead", by="Bob", key=bob.key)
    # A role outside the decision's sign-off cannot sign even if the person holds it.
    SignerRegistry(sessions, audit_log(sessions)).create(
        "Eve", ["ceo"], tmp_path / "eve.pem", actor="t"
    )
    eve = ed25519.load_private_key(tmp_path / "eve.pem")
    with pytest.raises(ApprovalError, match="its roles are"):
        registry.sign(record.id, "approve", role="ceo", by="Eve", key=eve)
    after = registry.get(record.id)
    assert after.status == "pending" and len(after.signatures) == 1


def test_reject_then_nothing_more(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    people = signers(sessions, tmp_path)
    registry = _registry(sessions)
    record = registry.record(example_decision("low-risk"))
    alice, bob = people["release_lead"], people["safety_lead"]
    rejected = registry.sign(
        record.id, "reject", role="safety_lead", by="Bob", key=bob.key, reason="tamper too weak"
    )
    assert rejected.status == "rejected"
    with pytest.raises(ApprovalError, match="rejected"):
        registry.sign(record.id, "approve", role="release_lead", by="Alice", key=alice.key)


def test_halt_closes_an_approved_decision_for_good(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    people = signers(sessions, tmp_path)
    record = approve(sessions, example_decision("low-risk"), people)
    registry = _registry(sessions)
    carol = people["security_lead"]
    with pytest.raises(ApprovalError, match="halted, not rejected"):
        registry.sign(
            record.id, "reject", role="security_lead", by="Carol", key=carol.key, reason="x"
        )
    halted = registry.sign(
        record.id, "halt", role="security_lead", by="Carol", key=carol.key, reason="jailbreak"
    )
    assert halted.status == "halted" and halted.approved_at is None
    assert halted.verification is not None and not halted.verification.in_force
    assert "halted by Carol (security_lead)" in halted.verification.halt_reason()
    with pytest.raises(ApprovalError, match="halted"):
        registry.sign(
            record.id, "halt", role="security_lead", by="Carol", key=carol.key, reason="y"
        )


def test_policy_halted_decision_cannot_be_approved(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    people = signers(sessions, tmp_path)
    registry = _registry(sessions)
    decision = example_decision("critical-bio-proxy")
    assert decision.status == "halted"
    record = registry.record(decision)
    assert record.status == "halted"
    alice = people["release_lead"]
    with pytest.raises(ApprovalError, match="halted"):
        registry.sign(record.id, "approve", role="release_lead", by="Alice", key=alice.key)


def test_revoking_a_signer_withdraws_their_approval(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    people = signers(sessions, tmp_path)
    record = approve(sessions, example_decision("low-risk"), people)
    assert record.status == "approved"
    before = _version(sessions)
    SignerRegistry(sessions, audit_log(sessions)).revoke("Bob", actor="test", reason="key lost")
    assert _version(sessions) == before + 1
    after = _registry(sessions).get(record.id)
    assert after.status == "pending" and after.missing == 1
    # The status change is audited with the revocation, and the listing's status follows.
    revoked = [r for r in audit_log(sessions).records() if r.payload["action"] == "signers.revoke"]
    assert revoked[-1].payload["decisions"] == {record.id: "approved -> pending"}
    assert [r.id for r in _registry(sessions).list(status="pending")] == [record.id]
    assert after.verification is not None
    assert any("revoked" in (c.note or "") for c in after.verification.signatures)
    # Bob, registered again with a new key, may approve again; his first approval stays void.
    signer_registry = SignerRegistry(sessions, audit_log(sessions))
    signer_registry.create("Bob", ["safety_lead"], tmp_path / "bob2.pem", actor="test")
    key = ed25519.load_private_key(tmp_path / "bob2.pem")
    again = _registry(sessions).sign(record.id, "approve", role="safety_lead", by="Bob", key=key)
    assert again.status == "approved" and len(again.signatures) == 3


def test_one_of_one_signoff(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    people = signers(sessions, tmp_path)
    decision = rehashed(
        example_decision("low-risk"),
        signoff=SignoffRequirement(roles=["release_lead"], required=1),
    )
    record = _registry(sessions).record(decision)
    alice = people["release_lead"]
    signed = _registry(sessions).sign(
        record.id, "approve", role="release_lead", by="Alice", key=alice.key
    )
    assert signed.status == "approved"


def test_a_tampered_row_takes_no_signature(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    people = signers(sessions, tmp_path)
    decision = example_decision("low-risk")
    record = _registry(sessions).record(decision)
    level = decision.levels[Component.WEIGHTS].value
    # Someone with write access to the database edits the stored decision's levels.
    with sessions() as session, session.begin():
        edited = record.decision_json.replace(f'"weights": "{level}"', '"weights": "fully_open"')
        assert edited != record.decision_json
        session.execute(
            update(DecisionRow).where(DecisionRow.id == record.id).values(decision_json=edited)
        )
    alice = people["release_lead"]
    with pytest.raises(ApprovalError, match="does not verify"):
        _registry(sessions).sign(
            record.id, "approve", role="release_lead", by="Alice", key=alice.key
        )


def test_concurrent_signoffs_are_serialised(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    people = signers(sessions, tmp_path)
    record = _registry(sessions).record(example_decision("low-risk"))
    barrier = threading.Barrier(3)

    def sign(role: str) -> str:
        person = people[role]
        barrier.wait()
        try:
            return (
                _registry(sessions)
                .sign(record.id, "approve", role=role, by=person.name, key=person.key)
                .status
            )
        except ApprovalError as exc:
            return f"refused: {exc}"

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(sign, ["release_lead", "safety_lead", "security_lead"]))
    final = _registry(sessions).get(record.id)
    assert final.status == "approved" and len(final.signatures) == 3
    assert sorted(results).count("approved") >= 2
    assert final.verification is not None and final.verification.approvals == 3
    assert audit_log(sessions).verify().ok


def test_signers_create_list_revoke(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    registry = SignerRegistry(sessions, audit_log(sessions))
    key_file = tmp_path / "keys" / "alice.pem"
    alice = registry.create("Alice  Martin", ["release_lead"], key_file, actor="test")
    assert alice.name == "Alice Martin" and alice.active
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert ed25519.public_key_b64(ed25519.load_private_key(key_file)) == alice.public_key
    with pytest.raises(SignerError, match="already a signer"):
        registry.create("alice martin", ["safety_lead"], tmp_path / "other.pem", actor="test")
    assert not (tmp_path / "other.pem").exists()  # no key written for a refused signer
    for roles in ([], ["bad role!"]):
        with pytest.raises(SignerError, match="role"):
            registry.create("Zed", roles, tmp_path / "zed.pem", actor="test")
    assert registry.active("ALICE MARTIN").key_id == alice.key_id
    revoked = registry.revoke("Alice Martin", actor="test", reason="left")
    assert not revoked.active and revoked.revoked_reason == "left"
    with pytest.raises(SignerError, match="no active signer"):
        registry.revoke("Alice Martin", actor="test")
    again = registry.create("Alice Martin", ["release_lead"], tmp_path / "a2.pem", actor="test")
    assert again.key_id != alice.key_id
    assert [s.active for s in registry.list()] == [False, True]
    assert len(registry.list(include_revoked=False)) == 1
    actions = [r.payload["action"] for r in audit_log(sessions).records()]
    assert actions == ["signers.create", "signers.revoke", "signers.create"]
