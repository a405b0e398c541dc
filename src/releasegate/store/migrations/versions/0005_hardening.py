"""Hardening: signed audit checkpoints, the store's facts (the audit key id), and the streamed
requests still open with the gateway processes that hold them.

Revision ID: 0005_hardening
Revises: 0004_approvals
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_hardening"
down_revision = "0004_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_checkpoints"),
    )
    op.create_table(
        "store_meta",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_store_meta"),
    )
    op.create_table(
        "audit_open_requests",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("instance", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("route", sa.String(100), nullable=False),
        sa.Column("opened_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_audit_open_requests"),
    )
    op.create_index(
        "ix_audit_open_requests_instance", "audit_open_requests", ["instance"], unique=False
    )
    op.create_table(
        "gateway_instances",
        sa.Column("instance", sa.String(32), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("instance", name="pk_gateway_instances"),
    )


def downgrade() -> None:
    op.drop_table("gateway_instances")
    op.drop_index("ix_audit_open_requests_instance", table_name="audit_open_requests")
    op.drop_table("audit_open_requests")
    op.drop_table("store_meta")
    op.drop_table("audit_checkpoints")
