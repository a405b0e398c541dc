from sqlalchemy import inspect

from releasegate.store import current_revision, downgrade, head_revision, make_engine, upgrade


def test_migrations_run_from_empty_to_head_and_back(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
