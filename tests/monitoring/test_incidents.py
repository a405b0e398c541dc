"""The incident store on SQLite and PostgreSQL: opening suspends the key in the same
transaction, one incident per crossing, resolve (once), and the monitor's fail-closed paths."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from releasegate.access import DEFAULT_TIERS, KeyStore
from releasegate.access._keys import KeyNotFoundError
from releasegate.monitoring import (
    IncidentNotFoundError,
    IncidentStore,
    MemoryFlagCounter,
    MisuseMonitor,
    MonitorUnavailable,
)
from tests.helpers.stores import migrated_store

PUBLIC = DEFAULT_TIERS["public"]


def _open(store: IncidentStore, key_id: str, trigger: int, seqs: list[int]) -> Any:
    end = datetime.now(UTC)
    return store.open(
        key_id=key_id,
        tier="public",
        window_start=end - timedelta(hours=1),
        window_end=end,
        audit_seqs=seqs,
        categories=["S9", "S1", "S9"],
        trigger_seq=trigger,
        reason="misuse monitoring: test",
    )


def test_open_suspends_and_records(database_url: str) -> None:
    with migrated_store(database_url) as (_engine, sessions):
        keys = KeyStore(sessions)
        created = keys.create(PUBLIC, "mallory")
        store = IncidentStore(sessions)
        incident, new = _open(store, created.record.id, 7, [7, 3, 5])
        assert new
        assert incident.status == "open" and incident.flag_count == 3
        assert incident.audit_seqs == [3, 5, 7] and incident.categories == ["S1", "S9"]
        record = keys.get(created.record.id)
        assert record.status() == "suspended"
        assert record.suspended_reason == "misuse monitoring: test"
        assert keys.authenticate(created.plaintext) is None
        assert store.get(incident.id) == incident
        assert store.list() == [incident]
        assert store.list("open", created.record.id) == [incident]
        assert store.list("resolved") == []
        # the same crossing again (a retry, another process): nothing new
        again, new = _open(store, created.record.id, 7, [7, 3, 5])
        assert not new and again == incident
        assert len(store.list()) == 1
        with pytest.raises(KeyNotFoundError):
            _open(store, "key_missing", 8, [8])
        with pytest.raises(IncidentNotFoundError):
            store.get("inc_missing")


def test_racing_opens_of_one_crossing_record_one_incident(database_url: str) -> None:
    with migrated_store(database_url) as (_engine, sessions):
        key_id = KeyStore(sessions).create(PUBLIC, "mallory").record.id
        store = IncidentStore(sessions)
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _i: _open(store, key_id, 42, [40, 41, 42]), range(8)))
        assert sum(new for _i, new in results) == 1
        assert len({i.id for i, _new in results}) == 1
        assert len(store.list()) == 1


def test_resolve_once_and_unsuspend(database_url: str) -> None:
    with migrated_store(database_url) as (_engine, sessions):
        keys = KeyStore(sessions)
        created = keys.create(PUBLIC, "mallory")
        store = IncidentStore(sessions)
        first, _ = _open(store, created.record.id, 1, [1])
        resolved = store.resolve(first.id, "alice", "false positive: a chemistry class")
        assert resolved.status == "resolved" and resolved.resolved_by == "alice"
        assert resolved.resolution_note == "false positive: a chemistry class"
        assert resolved.resolved_at is not None
        assert keys.get(created.record.id).status() == "suspended"  # not without --unsuspend
        with pytest.raises(ValueError, match="already resolved by alice"):
            store.resolve(first.id, "bob")
        with pytest.raises(ValueError, match="--by"):
            store.resolve(first.id, "  ")
        second, _ = _open(store, created.record.id, 2, [2])
        store.resolve(second.id, "alice", unsuspend=True)
        assert keys.authenticate(created.plaintext) is not None
        assert [i.status for i in store.list()] == ["resolved", "resolved"]
        with pytest.raises(IncidentNotFoundError):
            store.resolve("inc_missing", "alice")


class _BrokenStore(IncidentStore):
    def open(self, **kwargs: Any) -> Any:
        raise RuntimeError("database unreachable")


def test_monitor_fails_closed_and_retries_the_crossing(database_url: str) -> None:
    with migrated_store(database_url) as (_engine, sessions):
        key_id = KeyStore(sessions).create(PUBLIC, "mallory").record.id
        tier = PUBLIC.model_copy(update={"flag_threshold": 2})
        counter = MemoryFlagCounter()
        audited: list[tuple[Any, ...]] = []

        class Sink:
            async def append_async(self, *args: Any) -> Any:
                audited.append(args)

            async def aclose(self) -> None:
                return None

        audit = Sink()

        async def go() -> None:
            broken = MisuseMonitor(counter, _BrokenStore(sessions), audit=audit)
            assert await broken.record_flag(key_id=key_id, tier=tier, seq=1, categories=[]) is None
            with pytest.raises(MonitorUnavailable, match="database unreachable"):
                await broken.record_flag(key_id=key_id, tier=tier, seq=2, categories=["S9"])
            # the crossing was forgotten: the next flag (store back) opens the incident
            suspended: list[str] = []
            monitor = MisuseMonitor(
                counter, IncidentStore(sessions), audit=audit, on_suspend=suspended.append
            )
            incident = await monitor.record_flag(key_id=key_id, tier=tier, seq=3, categories=["S1"])
            assert incident is not None and incident.audit_seqs == [1, 2, 3]
            assert incident.categories == ["S1", "S9"] and suspended == [key_id]
            assert audited[-1][:2] == ("admin", "monitor")
            assert audited[-1][2]["incident_id"] == incident.id
            # resolving clears the counter: the key starts afresh
            await monitor.resolve(incident.id, "alice", unsuspend=True)
            again = await monitor.record_flag(key_id=key_id, tier=tier, seq=4, categories=[])
            assert again is None

        asyncio.run(go())
