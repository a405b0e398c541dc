"""A migrated store (SQLite or PostgreSQL) for tests of the persistent parts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from releasegate.store import make_engine, make_session_factory, upgrade

TEST_HMAC_KEY = b"test-audit-key-0123456789abcdef"


@contextmanager
def migrated_store(url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """Engine and session factory on `url`, migrated to head; the engine is disposed after."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield engine, make_session_factory(engine)
    finally:
        engine.dispose()
