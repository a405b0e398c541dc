"""Alembic environment: the engine is handed in by `releasegate.store.upgrade`, never built here."""

from alembic import context

from releasegate.store import tables  # noqa: F401  (registers every table on the metadata)
from releasegate.store._base import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
