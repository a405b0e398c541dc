"""Stored decisions and their sign-offs.

Revision ID: 0001_decisions
Revises:
"""

import sqlalchemy as sa
from alembic import op

from releasegate.store._types import UTCDateTime

revision = "0001_decisions"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(300), nullable=False),
        sa.Column("policy_name", sa.String(200), nullable=False),
        sa.Column("policy_version", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("levels_json", sa.Text(), nullable=False),
        sa.Column("decision_json", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.UniqueConstraint("content_sha256", name="uq_decisions_content_sha256"),
    )
    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("signer", sa.String(200), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name="fk_signoffs_decision_id_decisions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_signoffs"),
        sa.UniqueConstraint("decision_id", "role", name="uq_signoffs_decision_role"),
        sa.UniqueConstraint("decision_id", "signer", name="uq_signoffs_decision_signer"),
    )
    op.create_index("ix_signoffs_decision_id", "signoffs", ["decision_id"])


def downgrade() -> None:
    op.drop_index("ix_signoffs_decision_id", table_name="signoffs")
    op.drop_table("signoffs")
    op.drop_table("decisions")
