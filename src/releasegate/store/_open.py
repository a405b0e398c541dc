"""Open the store that the settings name, bringing its schema up to date on first use."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from releasegate.settings import Settings
from releasegate.store._engine import make_engine, make_session_factory
from releasegate.store._migrate import current_revision, head_revision, upgrade

# Arbitrary constant key of the PostgreSQL advisory lock that serialises migrations, so that
# several gateway processes starting together do not race to create the same tables.
_MIGRATION_LOCK_KEY = 0x52470001


def ensure_schema(engine: Engine) -> None:
    """Run the migrations if the database is behind this version of releasegate."""
    head = head_revision()
    if current_revision(engine) == head:
        return
    if engine.dialect.name == "sqlite":
        with _sqlite_migration_lock(engine):
            if current_revision(engine) != head:
                upgrade(engine)
        return
    if engine.dialect.name != "postgresql":
        upgrade(engine)
        return
    with engine.connect() as lock_connection:
        lock_connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        try:
            if current_revision(engine) != head:  # another process may have done it meanwhile
                upgrade(engine)
        finally:
            lock_connection.execute(
                text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY}
            )
            lock_connection.commit()


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive file lock beside a SQLite database while it is migrated (several local
    processes may start at once; SQLite DDL under contention would fail, not wait)."""
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_store(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    """The engine and session factory of the store that `settings` name, schema up to date.

    Args:
        settings: `database_url` (or a SQLite file under `data_dir`) says where the store is.

    Returns:
        `(engine, session_factory)`; dispose of the engine when done.
    """
    engine = make_engine(settings.resolved_database_url())
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine, make_session_factory(engine)
