"""Storage: SQLAlchemy engine and sessions, tables, and Alembic migrations.

SQLite (WAL) under the data directory by default; PostgreSQL (psycopg 3) for a fleet.
"""

from releasegate.store._base import Base
from releasegate.store._engine import make_engine, make_session_factory
from releasegate.store._migrate import current_revision, downgrade, head_revision, upgrade

__all__ = [
    "Base",
    "current_revision",
    "downgrade",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "upgrade",
]
