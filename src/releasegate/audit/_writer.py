"""Group commit for the async gateway: concurrent appends share one transaction.

Each caller's entry joins a queue; one drain task takes everything queued, writes it in ONE
transaction on a dedicated thread (the event loop never waits on the database), then resolves
each caller's future with its committed record, or with the error. While one batch is being
written the next one gathers, so under load the number of transactions (and fsyncs) grows far
slower than the number of requests, with no added delay when the log is idle. The idea is the
group commit of database logs (DeWitt et al. 1984; Gray and Reuter 1993), applied one level up.

On SQLite, an entry that finds the log idle (nothing queued, no batch being written) and a
batch of ONE entry are written on the event loop's thread instead. Appending one record to SQLite's
write-ahead log costs ≈0.07 ms, less than the two thread hops it would take to hand it to the
writer thread and back (≈0.3 ms measured in the gateway, `bench/gateway.py`). The loop never
waits for another writer, though: that write uses a busy timeout of zero and, if another
process holds SQLite's writer lock, the entry goes to the writer thread, which waits. And the
loop never runs a checkpoint (the step that fsyncs, milliseconds): the writer's connection has
automatic checkpoints off and the writer thread checkpoints every `CHECKPOINT_EVERY` records.

Every SQLite write, on the loop or on the thread, is its own `BEGIN IMMEDIATE` ... `COMMIT` on
the `sqlite3` connection under the writer's SQLAlchemy connection (`AuditLog.append_on_sqlite`),
which saves SQLAlchemy's transaction bookkeeping and the touch of the head on the hot path; the
SQLAlchemy connection only opens, configures, checkpoints and discards that connection.
PostgreSQL batches always go to the thread (each statement is a network round trip), in a
SQLAlchemy transaction (`AuditLog.append_on`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection

from releasegate.audit._chain import AuditRecord, JsonValue
from releasegate.audit._log import AuditLog, PendingEntry

log = logging.getLogger("releasegate.audit")

LOCK_TIMEOUT_MS = 10_000
SQLITE_BUSY_TIMEOUT_MS = 5_000  # what the writer thread waits for another process's lock
CHECKPOINT_EVERY = 256  # records between the writer thread's SQLite checkpoints


class AuditWriter:
    """The group-commit writer of one `AuditLog` on one event loop: an `AuditSink`.

    Build it where the event loop runs (the gateway's lifespan) and `aclose` it there. A writer
    whose loop ends without `aclose` (a script's `asyncio.run`) releases its thread when the
    loop is collected.

    Args:
        log: the log to append to.
        max_batch: the most entries written in one transaction.
    """

    def __init__(self, log: AuditLog, max_batch: int = 512) -> None:
        self._log = log
        self._max_batch = max_batch
        self._queue: list[tuple[PendingEntry, asyncio.Future[AuditRecord]]] = []
        self._drain: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rg-audit")
        self._closed = False
        self._connection: Connection | None = None
        self._driver: sqlite3.Connection | None = None  # SQLite: the DBAPI connection under it
        self._sqlite = log.engine.dialect.name == "sqlite"
        self._busy_timeout_ms: int | None = None  # what the SQLite connection is set to now
        self._since_checkpoint = 0
        self.batches = 0  # transactions written (for tests and metrics)
        self.records = 0
        self.inline_batches = 0  # of `batches`, written on the event loop's thread
        self.direct_writes = 0  # of `inline_batches`, written by `append` itself (idle log)
        self._turn_writer: asyncio.Task[Any] | None = None  # wrote directly in this turn
        self._watching_loop = False

    async def append_async(
        self,
        kind: str,
        actor: str,
        payload: Mapping[str, JsonValue],
        content: Mapping[str, JsonValue] | None = None,
    ) -> AuditRecord:
        """Queue one entry and wait until it is committed; raises if the write failed."""
        return await self.append(kind, actor, payload, content)

    async def append(
        self,
        kind: str,
        actor: str,
        payload: Mapping[str, Any],
        content: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Queue one entry and wait until it is committed; raises if the write failed."""
        if self._closed:
            raise RuntimeError("the audit writer is closed")
        if not self._watching_loop:
            # Not a reference to the loop (that would keep it alive): a finalizer on it.
            weakref.finalize(asyncio.get_running_loop(), self.abandon)
            self._watching_loop = True
        entry = self._log.prepare(kind, actor, payload, content)  # bad input fails here, alone
        if self._idle():
            # Nothing queued or being written: write it now, without the round trip through the
            # drain task and its futures (three turns of the event loop, ≈0.1 ms here). One
            # task per turn of the loop: appends of other tasks in the same turn (concurrent
            # requests) queue behind it and share one transaction, the group commit.
            records = self._write_inline([entry])
            if records is not None:
                self._count(records)
                self.direct_writes += 1
                if self._turn_writer is None:
                    asyncio.get_running_loop().call_soon(self._next_turn)
                self._turn_writer = asyncio.current_task()
                return records[0]
        future: asyncio.Future[AuditRecord] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run())
        # shield: a caller that is cancelled must not cancel the batch others are waiting on.
        return await asyncio.shield(future)

    def _idle(self) -> bool:
        """SQLite, no batch queued, being written or checkpointed (the writer thread is idle,
        so writing on the loop's thread keeps the records in order), and no other task wrote
        directly in this turn of the event loop."""
        return (
            self._sqlite
            and self._turn_writer in (None, asyncio.current_task())
            and not self._queue
            and (self._drain is None or self._drain.done())
            and not self._checkpoint_due()
        )

    def _next_turn(self) -> None:
        self._turn_writer = None

    def _count(self, records: list[AuditRecord]) -> None:
        self.batches += 1
        self.records += len(records)
        self._since_checkpoint += len(records)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue or self._checkpoint_due():
            if self._checkpoint_due():  # before the next batch, so the log never outgrows it
                await loop.run_in_executor(self._executor, self._checkpoint)
                continue
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            entries = [entry for entry, _ in batch]
            try:
                records = self._write_inline(entries) if len(entries) == 1 else None
                if records is None:
                    records = await loop.run_in_executor(self._executor, self._write, entries)
            except BaseException as exc:  # fail closed: every waiter learns its write failed
                for _, future in batch:
                    if not future.done():
                        future.set_exception(_as_exception(exc))
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self._count(records)
            for (_, future), record in zip(batch, records, strict=True):
                if not future.done():
                    future.set_result(record)
        # Drop the finished task: it references the event loop, and the log keeps writers in a
        # dict weakly keyed by their loop, which a strong path back to the loop would pin.
        self._drain = None

    def _write_inline(self, entries: list[PendingEntry]) -> list[AuditRecord] | None:
        """Write on the event loop's thread (SQLite only); None: hand it to the writer thread."""
        if not self._sqlite:
            return None
        driver = self._sqlite_driver(busy_timeout_ms=0)
        try:
            records = self._log.append_on_sqlite(driver, entries)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                self._close_connection()
                raise
            return None  # another process is writing: the writer thread waits for it
        except BaseException:
            self._close_connection()
            raise
        self.inline_batches += 1
        return records

    def _write(self, entries: list[PendingEntry]) -> list[AuditRecord]:
        # Runs on the writer's one thread, which keeps one connection open across batches.
        try:
            if self._sqlite:
                driver = self._sqlite_driver(busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)
                return self._log.append_on_sqlite(driver, entries)
            connection = self._connect()
            with connection.begin():
                return self._log.append_on(connection, entries)
        except BaseException:
            # Whatever failed (a lost connection, a lock timeout), start the next batch afresh.
            self._close_connection()
            raise

    def _checkpoint_due(self) -> bool:
        return self._sqlite and self._since_checkpoint >= CHECKPOINT_EVERY

    def _checkpoint(self) -> None:
        # Runs on the writer thread. A failed checkpoint loses nothing (the records are in the
        # write-ahead log); the next one is tried after another CHECKPOINT_EVERY records.
        self._since_checkpoint = 0
        if self._connection is None:
            return
        try:
            self._connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").close()
            self._connection.commit()
        except Exception as exc:
            log.warning("audit log checkpoint failed: %s", exc)
            self._close_connection()

    def _connect(self) -> Connection:
        """The writer's connection, opened on first use and kept across batches."""
        connection = self._connection
        if connection is None:
            connection = self._log.engine.connect()
            if connection.dialect.name == "postgresql":
                # A head lock held by a wedged process must not hang every request: give up
                # after a while, so the gateway answers 503 instead of waiting forever.
                connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
            elif self._sqlite:
                # Checkpoints (which fsync) run on the writer thread, never inside an append.
                connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0").close()
            connection.commit()
            self._connection = connection
            self._busy_timeout_ms = None
        return connection

    def _sqlite_driver(self, busy_timeout_ms: int) -> sqlite3.Connection:
        """The `sqlite3` connection under the writer's connection, with this busy timeout."""
        driver = self._driver
        if driver is None:
            driver = self._connect().connection.driver_connection
            if not isinstance(driver, sqlite3.Connection):
                raise TypeError(f"expected a sqlite3 connection, got {type(driver).__name__}")
            self._driver = driver
        if self._busy_timeout_ms != busy_timeout_ms:
            # Not in a transaction (appends begin and end their own), so this starts none.
            driver.execute(f"PRAGMA busy_timeout={busy_timeout_ms}").close()
            self._busy_timeout_ms = busy_timeout_ms
        return driver

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        self._driver = None
        if connection is not None:
            try:
                if self._sqlite:
                    # Its busy timeout and checkpoint settings are this writer's own: the DBAPI
                    # connection is discarded, not handed back to the pool for others.
                    connection.invalidate()
                connection.close()
            except Exception:  # closing a broken connection must not hide the original error
                connection.invalidate()

    def abandon(self) -> None:
        """Release the writer's thread without waiting (its event loop is gone)."""
        self._closed = True
        try:
            self._executor.submit(self._close_connection)
        except RuntimeError:
            return  # already closed by `aclose`
        self._executor.shutdown(wait=False)

    async def aclose(self) -> None:
        """Finish the queued and in-flight batches, then release the writer thread."""
        self._closed = True
        while self._drain is not None and not self._drain.done():
            await asyncio.shield(self._drain)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=True)


def _as_exception(exc: BaseException) -> BaseException:
    if isinstance(exc, asyncio.CancelledError):
        return RuntimeError("the audit write was cancelled; the record may not be committed")
    return exc
