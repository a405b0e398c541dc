from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, PoolProxiedConnection, delete, insert, update
from sqlalchemy.orm import Session, sessionmaker

from releasegate.audit import GENESIS_HASH, AuditLog, content_sha256, record_hash, verify_jsonl
from releasegate.store.tables.audit import AuditRecordRow
from tests.helpers.stores import TEST_HMAC_KEY, migrated_store


def _filled(sessions: sessionmaker[Session], n: int = 6) -> AuditLog:
    log = AuditLog(sessions, TEST_HMAC_KEY)
    for i in range(n):
        log.append("request", f"key_{i % 2}", {"i": i, "route": "/v1/chat/completions"})
    return log


def test_append_chains_records_and_verify_passes(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(sessions, TEST_HMAC_KEY)
    assert log.verify().ok and log.verify().checked == 0
    first = log.append("admin", "cli:root", {"action": "keys.create", "unicode": "é✓"})
    second = log.append("request", "key_1", {"n": 2})
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert log.head() == (2, second.hash)
    assert list(log.records()) == [first, second]
    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_seq) == (True, 2, None)


def test_content_full_or_hash(sessions: sessionmaker[Session]) -> None:
    content = {"prompt": [{"role": "user", "content": "hi"}], "output": "hello"}
    hashed = AuditLog(sessions, TEST_HMAC_KEY, store_content="hash")
    record = hashed.append("request", "k", {"status": 200}, content=content)
    assert "content" not in record.payload
    assert record.payload["content_sha256"] == {
        "prompt": content_sha256(content["prompt"]),
        "output": content_sha256("hello"),
    }
    full = AuditLog(sessions, TEST_HMAC_KEY, store_content="full")
    assert full.append("request", "k", {}, content=content).payload["content"] == content
    with pytest.raises(ValueError, match="content"):
        full.append("request", "k", {"content": "x"}, content={"output": "y"})
    assert full.verify().ok


def test_bad_entries_are_refused_and_leave_nothing(sessions: sessionmaker[Session]) -> None:
    log = AuditLog(sessions, TEST_HMAC_KEY)
    with pytest.raises(ValueError):
        log.append("request", "k", {"x": float("nan")})
    with pytest.raises(TypeError):
        log.append("request", "k", {"x": object()})
    with pytest.raises(ValueError):
        log.append("", "k", {})
    assert log.head()[0] == 0 and list(log.records()) == []


def test_verify_names_an_edited_record(sessions: sessionmaker[Session]) -> None:
    log = _filled(sessions)
    with sessions() as session, session.begin():
        session.execute(
            update(AuditRecordRow).where(AuditRecordRow.seq == 4).values(payload='{"i":40}')
        )
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 4, 3)
    assert result.reason is not None and "edited" in result.reason


def test_verify_names_a_record_rewritten_without_the_key(sessions: sessionmaker[Session]) -> None:
    log = _filled(sessions)
    forger = AuditLog(sessions, b"not-the-server-key")
    # Recompute the edited record's hash correctly: only the HMAC can tell.
    original = log.get(3)
    assert original is not None
    payload = {"i": 300}
    digest = record_hash(
        original.prev_hash, 3, original.time, original.kind, original.actor, payload
    )
    with sessions() as session, session.begin():
        session.execute(
            update(AuditRecordRow)
            .where(AuditRecordRow.seq == 3)
            .values(payload=json.dumps(payload), hash=digest)
        )
    result = log.verify()
    assert (result.first_bad_seq, result.checked) == (3, 2)
    assert result.reason is not None and "HMAC" in result.reason
    assert forger.verify().first_bad_seq == 1  # the wrong key fails at the first record


def test_verify_names_a_deleted_record(sessions: sessionmaker[Session]) -> None:
    log = _filled(sessions)
    with sessions() as session, session.begin():
        session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq == 3))
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert result.reason is not None and "record 3 is missing" in result.reason


def test_verify_names_records_deleted_at_the_end(sessions: sessionmaker[Session]) -> None:
    log = _filled(sessions)
    with sessions() as session, session.begin():
        session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq >= 5))
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 5)


def test_verify_names_a_reordered_record(sessions: sessionmaker[Session]) -> None:
    log = _filled(sessions)
    # Swap records 2 and 3 (each keeps its own hash, prev_hash and HMAC).
    with sessions() as session, session.begin():
        session.execute(update(AuditRecordRow).where(AuditRecordRow.seq == 2).values(seq=-2))
        session.execute(update(AuditRecordRow).where(AuditRecordRow.seq == 3).values(seq=2))
        session.execute(update(AuditRecordRow).where(AuditRecordRow.seq == -2).values(seq=3))
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert result.reason is not None and "prev_hash" in result.reason


def test_export_writes_jsonl_that_verifies_offline(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    log = _filled(sessions, 5)
    out = tmp_path / "sub" / "audit.jsonl"
    assert log.export(out) == 5
    lines = out.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert verify_jsonl(iter(lines), TEST_HMAC_KEY, require_checkpoint=False).ok
    assert list(tmp_path.joinpath("sub").iterdir()) == [out]  # no temp file left
    buffer = io.StringIO()
    log.export(buffer)
    assert buffer.getvalue() == out.read_text()
    edited = [*lines]
    edited[1] = edited[1].replace('"i":1', '"i":7')
    assert verify_jsonl(iter(edited), TEST_HMAC_KEY, require_checkpoint=False).first_bad_seq == 2


def test_verify_names_a_record_inserted_beyond_the_head(sessions: sessionmaker[Session]) -> None:
    log = _filled(sessions, 3)
    last = log.get(3)
    assert last is not None
    with sessions() as session, session.begin():
        session.execute(
            insert(AuditRecordRow).values(
                seq=4,
                time=last.time,
                kind="request",
                actor="x",
                payload="{}",
                prev_hash=last.hash,
                hash="0" * 64,
                hmac="0" * 64,
            )
        )
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 4, 3)
    assert result.reason is not None and "beyond the chain head" in result.reason


def test_verify_and_export_while_others_append(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    log = _filled(sessions, 5)
    stop = threading.Event()

    def keep_appending() -> None:
        writer = AuditLog(sessions, TEST_HMAC_KEY)
        while not stop.is_set():
            writer.append("request", "live", {"x": 1})

    thread = threading.Thread(target=keep_appending)
    thread.start()
    try:
        for i in range(5):
            result = log.verify()
            assert result.ok, result.reason
            out = tmp_path / f"{i}.jsonl"
            log.export(out)
            lines = out.read_text().splitlines()
            assert verify_jsonl(iter(lines), TEST_HMAC_KEY, require_checkpoint=False).ok
    finally:
        stop.set()
        thread.join()
    assert log.verify().checked > 5


@pytest.mark.parametrize("path", ["driver", "core"])
def test_batches_chain_the_same_on_the_driver_and_the_core_paths(
    sessions: sessionmaker[Session], path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path (plain SQL on the driver's cursor) and the SQLAlchemy Core fallback for
    other drivers write the same chain, batches of several records included."""
    from releasegate.audit import _sql

    if path == "core":
        monkeypatch.setattr(_sql.AppendStatements, "for_connection", lambda _c: None)
    log = AuditLog(sessions, TEST_HMAC_KEY)
    single = log.append("request", "key_0", {"i": 0})
    batch = log.append_batch([log.prepare("request", f"key_{i}", {"i": i}) for i in (1, 2, 3)])
    assert [r.seq for r in [single, *batch]] == [1, 2, 3, 4]
    assert [r.prev_hash for r in batch] == [single.hash, batch[0].hash, batch[1].hash]
    assert list(log.records()) == [single, *batch]
    assert log.head() == (4, batch[-1].hash)
    assert log.verify().ok


# -- the SQLite direct path (`append_on_sqlite`) ------------------------------------------------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    with migrated_store(f"sqlite:///{tmp_path / 'audit.db'}") as store:
        yield store


def _driver(engine: Engine) -> tuple[PoolProxiedConnection, sqlite3.Connection]:
    raw = engine.raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return raw, driver


def test_the_sqlite_direct_path_continues_the_same_chain(
    sqlite_store: tuple[Engine, sessionmaker[Session]],
) -> None:
    """`append_on_sqlite` (own transaction on the sqlite3 connection) and `append` (the
    SQLAlchemy transaction) interleave on one chain, batches included, and leave the
    driver connection outside any transaction."""
    engine, sessions = sqlite_store
    log = AuditLog(sessions, TEST_HMAC_KEY)
    raw, driver = _driver(engine)
    try:
        first = log.append("request", "key_0", {"i": 0})
        [second] = log.append_on_sqlite(driver, [log.prepare("request", "key_1", {"i": 1})])
        assert not driver.in_transaction
        batch = log.append_on_sqlite(
            driver, [log.prepare("request", f"key_{i}", {"i": i}) for i in (2, 3, 4)]
        )
        last = log.append("admin", "cli:root", {"i": 5})
        assert log.append_on_sqlite(driver, []) == []
    finally:
        raw.close()
    records = [first, second, *batch, last]
    assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert list(log.records()) == records  # what was returned is what was committed
    assert log.head() == (6, last.hash)
    assert log.verify().ok and log.verify().checked == 6


def test_the_sqlite_direct_path_is_refused_while_another_connection_writes(
    sqlite_store: tuple[Engine, sessionmaker[Session]],
) -> None:
    engine, sessions = sqlite_store
    log = AuditLog(sessions, TEST_HMAC_KEY)
    raw, driver = _driver(engine)
    blocker = engine.connect()
    try:
        driver.execute("PRAGMA busy_timeout=0").close()
        blocker.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite's one writer lock, held elsewhere
        with pytest.raises(sqlite3.OperationalError) as refused:
            log.append_on_sqlite(driver, [log.prepare("request", "k", {})])
        assert refused.value.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
        assert not driver.in_transaction
        blocker.rollback()
        [record] = log.append_on_sqlite(driver, [log.prepare("request", "k", {"after": 1})])
    finally:
        blocker.close()
        raw.close()
    assert record.seq == 1 and log.verify().checked == 1


@pytest.mark.parametrize("fails_at", ["move_head", "commit"])
def test_a_failure_inside_the_sqlite_direct_transaction_leaves_nothing(
    sqlite_store: tuple[Engine, sessionmaker[Session]], fails_at: str
) -> None:
    """An error after the record is inserted (moving the head, or COMMIT itself) rolls the
    whole transaction back: no record without its head, and the next append works."""
    engine, sessions = sqlite_store
    log = AuditLog(sessions, TEST_HMAC_KEY)
    before = log.append("request", "k", {"i": 0})
    if fails_at == "move_head":  # the UPDATE of the head, after the INSERT of the record
        trigger, error = "no_head", "head is frozen"
        sabotage = [
            "CREATE TRIGGER no_head BEFORE UPDATE ON audit_head "
            "BEGIN SELECT RAISE(ABORT, 'head is frozen'); END"
        ]
    else:  # every statement succeeds; COMMIT fails on a deferred foreign key the insert broke
        trigger, error = "orphan", "FOREIGN KEY constraint failed"
        sabotage = [
            "CREATE TABLE t_parent (id INTEGER PRIMARY KEY)",
            "CREATE TABLE t_child (parent INTEGER REFERENCES t_parent (id) "
            "DEFERRABLE INITIALLY DEFERRED)",
            "CREATE TRIGGER orphan AFTER INSERT ON audit_records "
            "BEGIN INSERT INTO t_child VALUES (42); END",
        ]
    with engine.begin() as connection:
        for statement in sabotage:
            connection.exec_driver_sql(statement)
    raw, driver = _driver(engine)
    try:
        with pytest.raises(sqlite3.DatabaseError, match=error):
            log.append_on_sqlite(driver, [log.prepare("request", "k", {"i": 1})])
        assert not driver.in_transaction
        assert log.head() == (1, before.hash) and [r.seq for r in log.records()] == [1]
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TRIGGER {trigger}")
        [after] = log.append_on_sqlite(driver, [log.prepare("request", "k", {"i": 2})])
    finally:
        raw.close()
    assert after.seq == 2 and after.prev_hash == before.hash
    assert log.verify().ok and log.verify().checked == 2
