"""Misuse-monitoring incidents.

Revision ID: 0003_monitoring
Revises: 0002_access_audit
"""

import sqlalchemy as sa
from alembic import op

from releasegate.store._types import UTCDateTime

revision = "0003_monitoring"
down_revision = "0002_access_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(100), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("flag_count", sa.Integer(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("audit_seqs", sa.JSON(), nullable=False),
        sa.Column("trigger_seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("trigger_seq", name="uq_incidents_trigger_seq"),
    )
    op.create_index("ix_incidents_key_id", "incidents", ["key_id"])
    op.create_index("ix_incidents_status", "incidents", ["status"])


def downgrade() -> None:
    op.drop_index("ix_incidents_status", table_name="incidents")
    op.drop_index("ix_incidents_key_id", table_name="incidents")
    op.drop_table("incidents")
