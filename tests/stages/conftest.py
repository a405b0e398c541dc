from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.stores import migrated_store


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a migrated store, once on SQLite and once on PostgreSQL."""
    with migrated_store(database_url) as (_engine, factory):
        yield factory
