"""Migrations 0003_monitoring and 0004_approvals (incident kind and severity) on SQLite and
PostgreSQL: up, down, and at head the same schema as the table model."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from releasegate.store import Base, downgrade, make_engine, upgrade


def test_up_down_and_matches_the_model(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002_access_audit")
        assert "incidents" not in inspect(engine).get_table_names()
        upgrade(engine, "0003_monitoring")
        assert "incidents" in inspect(engine).get_table_names()
        upgrade(engine)
        columns = {c["name"]: c for c in inspect(engine).get_columns("incidents")}
        assert {"kind", "severity", "decision_id", "summary"} <= set(columns)
        assert columns["key_id"]["nullable"]
        with engine.connect() as connection:
            diffs = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
            )
        assert [d for d in diffs if "incidents" in str(d)] == []
        downgrade(engine, "0002_access_audit")
        tables = set(inspect(engine).get_table_names())
        assert "incidents" not in tables and "api_keys" in tables
        upgrade(engine)
    finally:
        engine.dispose()
