"""Row locks that work the same way on PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import inspect, update
from sqlalchemy.orm import Session

T = TypeVar("T")


def get_for_update(session: Session, entity: type[T], key: Any) -> T | None:
    """Load one row by primary key and lock it until the transaction ends.

    PostgreSQL: `SELECT ... FOR UPDATE`. SQLite has no row locks, only one writer at a time;
    a (no-op) write as the first statement takes that writer lock before anything is read, so
    the read-check-write that follows cannot interleave with another writer, and cannot fail
    later with SQLITE_BUSY when a read lock would have to be upgraded.
    """
    if session.get_bind().dialect.name == "sqlite":
        pk = inspect(entity).primary_key[0]
        session.execute(update(entity).where(pk == key).values({pk.key: pk}))
    return session.get(entity, key, with_for_update=True, populate_existing=True)
