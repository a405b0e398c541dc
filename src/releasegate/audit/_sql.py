"""The append transaction as plain SQL on the driver's cursor: the gateway's hot path.

Appending is four statements: lock the chain head, read it, insert the records, move the head.
Through SQLAlchemy Core each statement costs ≈60–80 µs of Python (execution context, parameter
processing, result set-up) against ≈5–10 µs of work in SQLite itself; with one request at a
time that overhead was most of the gateway's added latency. These statements are fixed, so
they are written once per driver parameter style and run on the DBAPI cursor of the caller's
SQLAlchemy connection, inside the transaction that connection opened (SQLAlchemy still begins,
commits and rolls back; only the statements bypass it).

The async writer's SQLite appends go one step further (`AuditLog.append_on_sqlite`): they also
begin and commit on the `sqlite3` connection itself, with `BEGIN IMMEDIATE`, which takes the
writer lock up front, so the head is read with `read_head` and needs no touch first.

Drivers with another parameter style (named, numeric) fall back to the Core statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

_COLUMNS = ("seq", "time", "kind", "actor", "payload", "prev_hash", "hash", "hmac")
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


@dataclass(frozen=True)
class AppendStatements:
    """The append transaction's statements in one driver's parameter style."""

    touch_head: str | None  # SQLite: a write first, so the writer lock is taken before reading
    select_head: str
    insert_record: str
    move_head: str

    @classmethod
    def for_connection(cls, connection: Connection) -> AppendStatements | None:
        """The statements for this connection's dialect, or None when it needs Core."""
        dialect = connection.dialect
        mark = _PLACEHOLDERS.get(dialect.paramstyle)
        if mark is None or dialect.name not in ("sqlite", "postgresql"):
            return None
        return cls._cached(dialect.name, mark)

    @classmethod
    def for_sqlite(cls) -> AppendStatements:
        """The statements for a `sqlite3` driver connection (qmark parameters)."""
        return cls._cached("sqlite", "?")

    @classmethod
    def _cached(cls, dialect: str, mark: str) -> AppendStatements:
        statements = _STATEMENTS.get((dialect, mark))
        if statements is None:
            statements = _STATEMENTS[(dialect, mark)] = cls._build(dialect, mark)
        return statements

    @classmethod
    def _build(cls, dialect: str, mark: str) -> AppendStatements:
        select_head = "SELECT seq, hash FROM audit_head WHERE id = 1"
        values = ", ".join([mark] * len(_COLUMNS))
        return cls(
            touch_head="UPDATE audit_head SET id = 1 WHERE id = 1" if dialect == "sqlite" else None,
            # PostgreSQL: a row lock that every other appending process waits on.
            select_head=select_head if dialect == "sqlite" else select_head + " FOR UPDATE",
            insert_record=f"INSERT INTO audit_records ({', '.join(_COLUMNS)}) VALUES ({values})",
            move_head=f"UPDATE audit_head SET seq = {mark}, hash = {mark} WHERE id = 1",
        )

    def lock_head(self, cursor: Any) -> tuple[int, str]:
        """Lock the chain head for the caller's transaction and read it."""
        if self.touch_head is not None:
            cursor.execute(self.touch_head)
        return self.read_head(cursor)

    def read_head(self, cursor: Any) -> tuple[int, str]:
        """Read the chain head, in a transaction that already holds the lock on it."""
        cursor.execute(self.select_head)
        row = cursor.fetchone()
        if row is None:
            raise RuntimeError("the audit chain head row is missing: run the migrations")
        return int(row[0]), str(row[1])

    def write(self, cursor: Any, rows: Sequence[tuple[Any, ...]], seq: int, digest: str) -> None:
        """Insert the records (tuples in `_COLUMNS` order) and move the head past them."""
        if len(rows) == 1:
            cursor.execute(self.insert_record, rows[0])
        else:
            cursor.executemany(self.insert_record, rows)
        cursor.execute(self.move_head, (seq, digest))


_STATEMENTS: dict[tuple[str, str], AppendStatements] = {}
