"""Storage: SQLAlchemy engine and sessions, tables, and Alembic migrations.

SQLite (WAL) under the data directory by default; PostgreSQL (psycopg 3) for a fleet.
"""

from releasegate.store._base import Base
from releasegate.store._engine import make_engine, make_session_factory
from releasegate.store._migrate import current_revision, downgrade, head_revision, upgrade
from releasegate.store._open import ensure_schema, open_store
from releasegate.store._types import UTCDateTime, utcnow

__all__ = [
    "Base",
    "UTCDateTime",
    "current_revision",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "open_store",
    "upgrade",
    "utcnow",
]
