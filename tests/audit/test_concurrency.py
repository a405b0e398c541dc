from __future__ import annotations

import asyncio
import gc
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from releasegate.audit import AuditLog, AuditWriter
from tests.helpers.stores import TEST_HMAC_KEY, migrated_store

REPO = Path(__file__).resolve().parents[2]


def test_group_commit_batches_concurrent_appends(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(sessions, TEST_HMAC_KEY)

    async def run() -> tuple[list[int], AuditWriter]:
        writer = AuditWriter(log)
        records = await asyncio.gather(
            *(writer.append("request", f"k{i % 7}", {"i": i}) for i in range(300))
        )
        await writer.aclose()
        return [r.seq for r in records], writer

    seqs, writer = asyncio.run(run())
    assert sorted(seqs) == list(range(1, 301))
    # Every caller got its own committed record, and far fewer transactions than appends ran.
    assert writer.records == 300
    assert writer.batches < 30, writer.batches
    # at most the first append of the burst is written directly; the rest share transactions
    assert writer.direct_writes <= 1
    assert {r.payload["i"] for r in log.records()} == set(range(300))
    assert log.verify().ok and log.verify().checked == 300


def test_append_async_returns_only_committed_records(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(sessions, TEST_HMAC_KEY, store_content="full")

    async def run() -> None:
        writer = AuditWriter(log)  # the async sink over the synchronous core
        for i in range(3):
            record = await writer.append_async("request", "k", {"i": i}, content={"output": "ok"})
            assert log.get(record.seq) == record  # visible from another session: committed
        await writer.aclose()

    asyncio.run(run())
    asyncio.run(run())  # a second event loop, a second writer, one chain
    assert log.verify().checked == 6


def test_group_commit_fails_closed_and_writes_nothing(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(sessions, TEST_HMAC_KEY)
    log.append("admin", "root", {"before": True})
    with sessions() as session, session.begin():
        session.execute(text("ALTER TABLE audit_records RENAME TO audit_records_gone"))

    async def run() -> list[BaseException | object]:
        writer = AuditWriter(log)
        results = await asyncio.gather(
            *(writer.append("request", "k", {"i": i}) for i in range(20)), return_exceptions=True
        )
        await writer.aclose()
        return results

    results = asyncio.run(run())
    assert all(isinstance(r, Exception) for r in results)
    with sessions() as session, session.begin():
        session.execute(text("ALTER TABLE audit_records_gone RENAME TO audit_records"))
    assert log.head()[0] == 1  # the head did not move: nothing half-written
    assert log.verify().ok and log.verify().checked == 1


def test_two_processes_append_to_one_chain_without_forks(database_url: str, tmp_path: Path) -> None:
    per_process = 80
    go = tmp_path / "go"
    with migrated_store(database_url) as (_engine, sessions):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.helpers.audit_worker",
                    database_url,
                    name,
                    str(per_process),
                    str(go),
                ],
                cwd=REPO,
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("proc-a", "proc-b")
        ]
        go.touch()
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        log = AuditLog(sessions, TEST_HMAC_KEY)
        result = log.verify()
        assert result.ok, result.reason
        assert result.checked == 2 * per_process == log.head()[0]
        records = list(log.records())
        assert Counter(r.actor for r in records) == {"proc-a": per_process, "proc-b": per_process}
        # The processes really interleaved on the one chain.
        switches = sum(1 for a, b in itertools.pairwise(records) if a.actor != b.actor)
        assert switches >= 1
        assert len({r.prev_hash for r in records}) == len(records)


def test_writer_refuses_after_close(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(sessions, TEST_HMAC_KEY)

    async def run() -> None:
        writer = AuditWriter(log)
        await writer.append("request", "k", {"n": 1})
        await writer.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await writer.append("request", "k", {})

    asyncio.run(run())


def test_a_killed_writer_leaves_no_half_written_record(database_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.touch()
    with migrated_store(database_url) as (_engine, sessions):
        log = AuditLog(sessions, TEST_HMAC_KEY)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.helpers.audit_worker",
                database_url,
                "victim",
                str(10**6),
                str(go),
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            deadline = time.monotonic() + 60
            while log.head()[0] < 40 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert log.head()[0] >= 40
        finally:
            proc.send_signal(signal.SIGKILL)  # mid-append, with no chance to clean up
            proc.wait(timeout=30)
        result = log.verify()
        assert result.ok, result.reason
        assert result.checked == log.head()[0] >= 40
        log.append("admin", "after-crash", {})  # the chain continues where it stopped
        assert log.verify().ok


def test_a_loop_that_ends_without_aclose_releases_the_writer_thread(
    sessions: sessionmaker[Session],
) -> None:
    log = AuditLog(sessions, TEST_HMAC_KEY)

    def audit_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name.startswith("rg-audit"))

    before = audit_threads()
    for _ in range(3):
        asyncio.run(AuditWriter(log).append_async("request", "k", {}))  # no aclose
    gc.collect()
    deadline = time.monotonic() + 5
    while audit_threads() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert audit_threads() == before
    assert log.verify().checked == 3


def _sqlite_store(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "audit.db"
    return f"sqlite:///{path}", path


def test_idle_sqlite_appends_are_written_inline_and_checkpointed_off_the_loop(
    tmp_path: Path,
) -> None:
    """One request at a time on SQLite: each record is written on the event loop's thread (no
    thread hop), and the write-ahead log is still checkpointed, by the writer thread."""
    from releasegate.audit import _writer

    url, _path = _sqlite_store(tmp_path)
    with migrated_store(url) as (engine, factory):
        log = AuditLog(factory, TEST_HMAC_KEY)
        loop_thread: list[int] = []
        checkpoint_threads: list[int] = []
        checkpoint = AuditWriter._checkpoint

        def spy(self: AuditWriter) -> None:
            checkpoint_threads.append(threading.get_ident())
            checkpoint(self)

        async def run() -> AuditWriter:
            loop_thread.append(threading.get_ident())
            writer = AuditWriter(log)
            for i in range(_writer.CHECKPOINT_EVERY * 2 + 10):
                await writer.append("request", "k", {"i": i, "pad": "x" * 2000})
            await writer.aclose()
            return writer

        original = AuditWriter._checkpoint
        AuditWriter._checkpoint = spy  # type: ignore[method-assign]
        try:
            writer = asyncio.run(run())
        finally:
            AuditWriter._checkpoint = original  # type: ignore[method-assign]
        n = _writer.CHECKPOINT_EVERY * 2 + 10
        assert writer.records == n and writer.inline_batches == writer.batches == n
        # one at a time, the log is idle: written by `append` itself, except the two appends
        # that found a checkpoint due (they went through the drain task, which ran it first)
        assert writer.direct_writes == n - 2
        assert len(checkpoint_threads) == 2
        assert loop_thread[0] not in checkpoint_threads
        assert log.verify().ok and log.verify().checked == n
        # What the write-ahead log still holds: only the frames of the records written since
        # the last checkpoint (10 records: ≈60 frames). Without the writer's checkpoints (the
        # connection's automatic ones are off) it would hold all 522 records' (≈3300 frames).
        with engine.connect() as connection:
            _busy, log_frames, _done = connection.exec_driver_sql(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).one()
        assert log_frames < 500, log_frames


def test_sqlite_inline_write_never_waits_for_another_writer(tmp_path: Path) -> None:
    """While another connection holds SQLite's writer lock, the loop does not block on it: the
    append goes to the writer thread, which waits for the lock; the loop keeps running."""
    url, _path = _sqlite_store(tmp_path)
    with migrated_store(url) as (engine, factory):
        log = AuditLog(factory, TEST_HMAC_KEY)
        blocker = engine.connect()
        blocker.exec_driver_sql("BEGIN IMMEDIATE")  # take the writer lock, as another process

        async def run() -> tuple[int, int]:
            writer = AuditWriter(log)
            ticks = 0
            task = asyncio.create_task(writer.append("request", "k", {"n": 1}))
            for _ in range(20):  # the loop stays responsive while the append waits
                await asyncio.sleep(0.01)
                ticks += 1
            assert not task.done()
            blocker.rollback()  # release the lock: the waiting writer thread gets it
            record = await task
            assert (writer.direct_writes, writer.inline_batches) == (0, 0)
            # the lock is free again: the next append is written on the loop once more
            await writer.append("request", "k", {"n": 2})
            assert (writer.direct_writes, writer.batches) == (1, 2)
            await writer.aclose()
            return ticks, record.seq

        try:
            ticks, seq = asyncio.run(run())
        finally:
            blocker.close()
        assert ticks == 20 and seq == 1
        assert log.verify().ok and log.verify().checked == 2


def _take_writer_lock_at_once(engine: Engine) -> None:
    """Take and release SQLite's writer lock from another connection, without waiting."""
    with engine.connect() as other:
        other.exec_driver_sql("PRAGMA busy_timeout=0").close()
        other.exec_driver_sql("BEGIN IMMEDIATE")  # SQLITE_BUSY if the writer still held it
        other.rollback()
        other.exec_driver_sql("PRAGMA busy_timeout=5000").close()


def test_sqlite_inline_appends_leave_no_transaction_open(tmp_path: Path) -> None:
    """Each inline append begins and commits its own transaction on the driver connection:
    between appends the writer holds no lock, so other processes can write at once."""
    url, _path = _sqlite_store(tmp_path)
    with migrated_store(url) as (engine, factory):
        log = AuditLog(factory, TEST_HMAC_KEY)

        async def run() -> AuditWriter:
            writer = AuditWriter(log)
            for i in range(40):
                await writer.append("request", "k", {"i": i})
                if i % 10 == 0:
                    _take_writer_lock_at_once(engine)
                    log.append("admin", "other", {"i": i})  # the chain goes on from elsewhere
            await writer.aclose()
            return writer

        writer = asyncio.run(run())
        assert writer.direct_writes == 40
        result = log.verify()
        assert result.ok and result.checked == 44


def test_a_failed_inline_write_leaves_nothing_and_the_next_append_works(tmp_path: Path) -> None:
    """An error inside the loop's transaction (after the record is inserted) fails that append
    and rolls everything back; the writer reconnects and the next append is written inline."""
    url, _path = _sqlite_store(tmp_path)
    with migrated_store(url) as (engine, factory):
        log = AuditLog(factory, TEST_HMAC_KEY)
        first = log.append("admin", "root", {"before": True})

        def freeze_head(frozen: bool) -> None:
            with engine.begin() as connection:
                connection.exec_driver_sql(
                    "CREATE TRIGGER no_head BEFORE UPDATE ON audit_head "
                    "BEGIN SELECT RAISE(ABORT, 'head is frozen'); END"
                    if frozen
                    else "DROP TRIGGER no_head"
                )

        async def run() -> AuditWriter:
            writer = AuditWriter(log)
            await writer.append("request", "k", {"n": 1})
            freeze_head(True)
            with pytest.raises(sqlite3.IntegrityError, match="head is frozen"):
                await writer.append("request", "k", {"n": 2})
            assert [r.seq for r in log.records()] == [1, 2]  # no record without its head
            _take_writer_lock_at_once(engine)
            freeze_head(False)
            await writer.append("request", "k", {"n": 3})
            await writer.aclose()
            return writer

        writer = asyncio.run(run())
        assert writer.direct_writes == writer.records == 2
        records = list(log.records())
        assert [r.payload for r in records] == [{"before": True}, {"n": 1}, {"n": 3}]
        assert records[0] == first
        assert log.verify().ok and log.verify().checked == 3


def test_the_writers_sqlite_settings_do_not_leak_into_the_pool(tmp_path: Path) -> None:
    """The writer's connection runs with a zero busy timeout and no automatic checkpoints; once
    the writer closes, no other user of the engine's pool may get a connection set that way."""
    url, _path = _sqlite_store(tmp_path)
    with migrated_store(url) as (engine, factory):
        log = AuditLog(factory, TEST_HMAC_KEY)

        async def run() -> None:
            writer = AuditWriter(log)
            await writer.append("request", "k", {"n": 1})
            await writer.aclose()

        asyncio.run(run())
        for _ in range(3):  # whatever connection the pool hands out now
            with engine.connect() as connection:
                busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
                autocheckpoint = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
                assert (busy, autocheckpoint) == (5000, 1000)
