"""Migrations step by step, the schema against the table models, and open_store."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from releasegate.approvals import DecisionRegistry
from releasegate.policy import decision_json_bytes
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

MINE = {
    "decisions",
    "api_keys",
    "audit_records",
    "audit_head",
    "signers",
    "signatures",
    "fired_triggers",
    "approvals_state",
    "incidents",
}


def _insert_0001_decision(engine: Engine, status: str) -> str:
    """A decision and an unsigned sign-off as revision 0001 stored them (plain SQL: today's
    table models have columns 0001 did not)."""
    decision = example_decision()
    decision_id = decision.content_sha256[:16] if status == "approved" else "0" * 16
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO decisions (id, content_sha256, model_name, policy_name, "
                "policy_version, status, levels_json, decision_json, created_at, approved_at) "
                "VALUES (:id, :sha, 'm', 'p', '1', :status, '{}', :json, :now, :approved)"
            ),
            {
                "id": decision_id,
                "sha": decision_id * 4,
                "status": status,
                "json": decision_json_bytes(decision).decode(),
                "now": now,
                "approved": now if status == "approved" else None,
            },
        )
        connection.execute(
            text(
                "INSERT INTO signoffs (decision_id, role, signer, signed_at) "
                "VALUES (:id, 'release_lead', 'Alice', :now)"
            ),
            {"id": decision_id, "now": now},
        )
    return decision_id


def _status(engine: Engine, decision_id: str) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT status FROM decisions WHERE id = :id"), {"id": decision_id}
            ).scalar_one()
        )


def test_each_revision_up_and_down_keeps_data(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0001_decisions")
        assert {"decisions", "signoffs"} <= set(inspect(engine).get_table_names())
        assert "api_keys" not in inspect(engine).get_table_names()
        approved = _insert_0001_decision(engine, "approved")
        upgrade(engine, "0003_monitoring")
        assert _status(engine, approved) == "approved"
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert tables >= MINE and "signoffs" not in tables
        # An unsigned approval cannot be verified: the decision is pending again.
        assert _status(engine, approved) == "pending"
        record = DecisionRegistry(make_session_factory(engine)).get(approved)
        assert record.status == "pending" and record.signatures == ()
        downgrade(engine, "0001_decisions")
        tables = set(inspect(engine).get_table_names())
        assert "api_keys" not in tables and "signers" not in tables and "signoffs" in tables
        assert _status(engine, approved) == "pending"
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
