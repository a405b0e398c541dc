"""Fixtures shared by the whole suite. Helpers live in tests/helpers/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.databases import require_redis, temporary_postgres_database

# The bundled model, converted once per session (tests/helpers/models.py).
pytest_plugins = ["tests.helpers.models"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped after the test."""
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Each store test runs twice: on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'releasegate.db'}"
    else:
        with temporary_postgres_database() as url:
            yield url


@pytest.fixture
def redis_url() -> str:
    """URL of the real Redis server; the test fails loudly if it is down."""
    return require_redis()


@pytest.fixture(autouse=True)
def _isolated_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own data directory, so commands that use the default store (decide
    records its decisions) never write into the repository's ./data."""
    monkeypatch.setenv("RELEASEGATE_DATA_DIR", str(tmp_path_factory.mktemp("rg-data")))
