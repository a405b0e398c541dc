from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access import (
    DEFAULT_TIERS,
    KeyLimits,
    KeyLimitsError,
    KeyNotFoundError,
    KeyStore,
    hash_key,
)
from releasegate.store.tables.access import ApiKeyRow

PUBLIC = DEFAULT_TIERS["public"]


def test_create_shows_key_once_and_stores_only_its_hash(sessions: sessionmaker[Session]) -> None:
    store = KeyStore(sessions)
    created = store.create(PUBLIC, "alice")
    assert created.plaintext.startswith("rg-") and len(created.plaintext) > 40
    assert created.plaintext.startswith(created.record.prefix)
    with sessions() as session:
        row = session.scalars(select(ApiKeyRow)).one()
        stored = [str(v) for v in vars(row).values()]
    assert created.plaintext not in " ".join(stored)
    assert row.key_hash == hash_key(created.plaintext)
    record = store.authenticate(created.plaintext)
    assert record is not None
    assert (record.id, record.tier, record.owner) == (created.record.id, "public", "alice")
    assert record.created_at.tzinfo is not None
    assert store.get(record.id) == record
    assert [k.id for k in store.list()] == [record.id]


def test_unknown_or_malformed_keys_do_not_authenticate(sessions: sessionmaker[Session]) -> None:
    store = KeyStore(sessions)
    created = store.create(PUBLIC, "alice")
    for bad in ["", "rg-", "rg-nope", created.plaintext + "x", created.plaintext[3:], "x" * 500]:
        assert store.authenticate(bad) is None


def test_expired_key_is_refused(sessions: sessionmaker[Session]) -> None:
    store = KeyStore(sessions)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    created = store.create(PUBLIC, "bob", expires_at=soon)
    assert store.authenticate(created.plaintext) is not None
    assert created.record.expires_at == soon
    assert created.record.status(now=soon + timedelta(microseconds=1)) == "expired"
    with sessions() as session, session.begin():
        row = session.get(ApiKeyRow, created.record.id)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert store.authenticate(created.plaintext) is None
    with pytest.raises(ValueError, match="past"):
        store.create(PUBLIC, "bob", expires_at=datetime.now(UTC) - timedelta(days=1))
    with pytest.raises(ValueError, match="timezone"):
        store.create(PUBLIC, "bob", expires_at=datetime(2099, 1, 1))


def test_revoke_is_immediate_and_final(sessions: sessionmaker[Session]) -> None:
    store = KeyStore(sessions)
    created = store.create(PUBLIC, "carol")
    other = store.create(PUBLIC, "carol")
    revoked = store.revoke(created.record.id)
    assert revoked.revoked_at is not None and revoked.status() == "revoked"
    assert store.authenticate(created.plaintext) is None
    assert store.authenticate(other.plaintext) is not None
    assert store.revoke(created.record.id).revoked_at == revoked.revoked_at
    assert [k.id for k in store.list(include_revoked=False)] == [other.record.id]
    with pytest.raises(KeyNotFoundError):
        store.revoke("key_missing")


def test_rotate_revokes_old_and_keeps_tier_owner_limits(sessions: sessionmaker[Session]) -> None:
    store = KeyStore(sessions)
    old = store.create(DEFAULT_TIERS["developer"], "dave", limits={"rpm": 10})
    new = store.rotate(old.record.id)
    assert new.plaintext != old.plaintext
    assert store.authenticate(old.plaintext) is None
    record = store.authenticate(new.plaintext)
    assert record is not None
    assert (record.tier, record.owner, record.limits) == ("developer", "dave", KeyLimits(rpm=10))
    assert record.rotated_from == old.record.id
    with pytest.raises(ValueError, match="revoked"):
        store.rotate(old.record.id)


def test_suspend_blocks_until_unsuspended(sessions: sessionmaker[Session]) -> None:
    store = KeyStore(sessions)
    created = store.create(PUBLIC, "eve")
    suspended = store.suspend(created.record.id, "5 flagged requests in 1 h")
    assert suspended.suspended and suspended.suspended_reason == "5 flagged requests in 1 h"
    assert store.authenticate(created.plaintext) is None
    assert store.rotate(created.record.id).record.suspended  # no way out by rotating
    other = store.create(PUBLIC, "eve")
    store.suspend(other.record.id, "x")
    store.unsuspend(other.record.id)
    assert store.authenticate(other.plaintext) is not None


def test_limits_over_the_tier_are_rejected(sessions: sessionmaker[Session]) -> None:
    store = KeyStore(sessions)
    with pytest.raises(KeyLimitsError) as excinfo:
        store.create(PUBLIC, "frank", limits={"rpm": PUBLIC.rpm + 1, "tpm": 10})  # type: ignore[operator]
    message = str(excinfo.value)
    assert "rpm" in message and "exceeds" in message and "'public'" in message
    with pytest.raises(KeyLimitsError, match="unknown limit"):
        store.create(PUBLIC, "frank", limits={"rps": 1})
    with pytest.raises(KeyLimitsError, match="at least 1"):
        store.create(PUBLIC, "frank", limits=KeyLimits(tpm=0))
    assert store.list() == []  # nothing half-created
    ok = store.create(PUBLIC, "frank", limits=KeyLimits(rpm=PUBLIC.rpm, daily_tokens=100))
    assert ok.record.limits.resolve(PUBLIC) == KeyLimits(
        rpm=PUBLIC.rpm, tpm=PUBLIC.tpm, daily_tokens=100
    )


def test_racing_rotations_issue_one_replacement(sessions: sessionmaker[Session]) -> None:
    store = KeyStore(sessions)
    old = store.create(PUBLIC, "gina")
    barrier = threading.Barrier(4)

    def rotate(_: int) -> str:
        barrier.wait()
        try:
            return KeyStore(sessions).rotate(old.record.id).record.id
        except ValueError:
            return "refused"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(rotate, range(4)))
    assert results.count("refused") == 3, results
    active = store.list(include_revoked=False)
    assert [k.rotated_from for k in active] == [old.record.id]
