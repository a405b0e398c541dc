"""Signed decisions for tests: real signers with real Ed25519 keys in a real store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from releasegate._util import ed25519
from releasegate.approvals import DecisionRecord, DecisionRegistry, SignerRegistry
from releasegate.audit import AuditLog
from releasegate.evidence import ModelIdentity
from releasegate.policy import Decision, decision_content_sha256
from releasegate.vocab import AccessLevel, Component
from tests.helpers.gateway import AUDIT_KEY

# The default policy's sign-off: 2 of these 3 roles.
ROLES = ("release_lead", "safety_lead", "security_lead")


@dataclass
class Person:
    name: str
    role: str
    key: Ed25519PrivateKey
    key_file: Path


def audit_log(sessions: sessionmaker[Session]) -> AuditLog:
    """The store's audit log, with the key the test gateway processes use too."""
    return AuditLog(sessions, hmac_key=AUDIT_KEY.encode())


def signers(sessions: sessionmaker[Session], keys: Path) -> dict[str, Person]:
    """One registered person per role of the default policy (Alice, Bob, Carol)."""
    registry = SignerRegistry(sessions, audit_log(sessions))
    out = {}
    for name, role in zip(("Alice", "Bob", "Carol"), ROLES, strict=True):
        key_file = keys / f"{name.lower()}.pem"
        registry.create(name, [role], key_file, actor="test")
        out[role] = Person(name, role, ed25519.load_private_key(key_file), key_file)
    return out


def rehashed(decision: Decision, **changes: object) -> Decision:
    """`decision` with `changes`, its content hash made to match (as `decide` would)."""
    changed = decision.model_copy(update={**changes, "content_sha256": ""})
    return changed.model_copy(update={"content_sha256": decision_content_sha256(changed)})


def at_level(decision: Decision, level: AccessLevel) -> Decision:
    return rehashed(decision, levels={**decision.levels, Component.WEIGHTS: level})


def for_model(decision: Decision, name: str, fingerprint: str | None) -> Decision:
    return rehashed(decision, model=ModelIdentity(name=name, fingerprint=fingerprint))


def approve(
    sessions: sessionmaker[Session], decision: Decision, people: dict[str, Person], n: int = 2
) -> DecisionRecord:
    """Record `decision` and have the first `n` roles approve it."""
    registry = DecisionRegistry(sessions, audit_log(sessions))
    record = registry.record(decision, actor="test")
    for role in ROLES[:n]:
        person = people[role]
        record = registry.sign(record.id, "approve", role=role, by=person.name, key=person.key)
    return record
