"""Settings, read from the environment (prefix `RELEASEGATE_`) or passed in by code.

Built by `Settings()` where needed, never at import time, so tests build isolated instances.
Every setting has help text; docs/settings.md lists them all (a test checks).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of releasegate."""

    model_config = SettingsConfigDict(env_prefix="RELEASEGATE_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Directory for the SQLite database, cached model conversions and run logs.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the store. Default: a SQLite file (WAL) in the data directory. "
            "Use postgresql+psycopg://user@host/db for a fleet of gateway processes."
        ),
    )

    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite under `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'releasegate.db').resolve()}"


__all__ = ["Settings"]
