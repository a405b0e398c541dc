"""Migrations 0001/0002 step by step, the schema against the table models, and open_store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from releasegate.approvals import DecisionRegistry
from releasegate.settings import Settings
from releasegate.store import (
    Base,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    make_session_factory,
    open_store,
    upgrade,
)
from tests.helpers.decisions import example_decision

MINE = {"decisions", "signoffs", "api_keys", "audit_records", "audit_head"}


def test_each_revision_up_and_down_keeps_data(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0001_decisions")
        assert {"decisions", "signoffs"} <= set(inspect(engine).get_table_names())
        assert "api_keys" not in inspect(engine).get_table_names()
        record = DecisionRegistry(make_session_factory(engine)).record(example_decision())
        upgrade(engine, "0002_access_audit")
        assert set(inspect(engine).get_table_names()) >= MINE
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        downgrade(engine, "0001_decisions")
        tables = set(inspect(engine).get_table_names())
        assert "api_keys" not in tables and "audit_records" not in tables
        assert DecisionRegistry(make_session_factory(engine)).get(record.id) == record
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_table_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            diffs = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
            )
        mine = [d for d in diffs if MINE & set(_tables_named(d))]
        assert mine == []
    finally:
        engine.dispose()


def _tables_named(diff: object) -> list[str]:
    names: list[str] = []
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item if isinstance(item, tuple) else (item,):
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            names += [str(name)] if name else []
            names += [str(table.name)] if table is not None else []
            names += [part] if isinstance(part, str) else []
    return names


def test_open_store_migrates_on_first_use(tmp_path: Path, postgres_url: str) -> None:
    for settings in (
        Settings(data_dir=tmp_path / "data"),
        Settings(data_dir=tmp_path, database_url=postgres_url),
    ):
        for _ in range(2):  # the second open finds the schema current and changes nothing
            engine, sessions = open_store(settings)
            try:
                assert current_revision(engine) == head_revision()
                assert DecisionRegistry(sessions).list() == []
            finally:
                engine.dispose()
    assert (tmp_path / "data" / "releasegate.db").exists()


def test_processes_starting_together_migrate_once(database_url: str, tmp_path: Path) -> None:
    script = (
        "import sys; from releasegate.settings import Settings; "
        "from releasegate.store import open_store; "
        "e, _ = open_store(Settings(data_dir=sys.argv[1], database_url=sys.argv[2])); "
        "e.dispose()"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), database_url],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
