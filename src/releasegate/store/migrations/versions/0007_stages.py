"""Staged release: adopted stage plans, stage transitions, promotion sign-offs, gate evidence;
an index on incidents' creation time (gates and rollback triggers count incidents per stage).

Revision ID: 0007_stages
Revises: 0006_access
"""

import sqlalchemy as sa
from alembic import op

from releasegate.store._types import UTCDateTime

revision = "0007_stages"
down_revision = "0006_access"
branch_labels = None
depends_on = None


def _decision_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["decision_id"],
        ["decisions.id"],
        name=f"fk_{table}_decision_id_decisions",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "stage_plans",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_stage_plans"),
    )
    op.create_table(
        "stage_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("plan_sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_stage", sa.String(64), nullable=True),
        sa.Column("to_stage", sa.String(64), nullable=False),
        sa.Column("trigger_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        _decision_fk("stage_transitions"),
        sa.ForeignKeyConstraint(
            ["plan_sha256"],
            ["stage_plans.sha256"],
            name="fk_stage_transitions_plan_sha256_stage_plans",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stage_transitions"),
        sa.UniqueConstraint("decision_id", "seq", name="uq_stage_transitions_seq"),
    )
    op.create_index("ix_stage_transitions_decision_id", "stage_transitions", ["decision_id"])
    op.create_table(
        "stage_signoffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("entry_seq", sa.Integer(), nullable=False),
        sa.Column("to_stage", sa.String(64), nullable=False),
        sa.Column("statement_json", sa.Text(), nullable=False),
        sa.Column("signer", sa.String(200), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.String(100), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        _decision_fk("stage_signoffs"),
        sa.PrimaryKeyConstraint("id", name="pk_stage_signoffs"),
    )
    op.create_index("ix_stage_signoffs_decision_id", "stage_signoffs", ["decision_id"])
    op.create_table(
        "stage_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.Column("assessed_at", UTCDateTime(), nullable=False),
        sa.Column("through", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        _decision_fk("stage_evidence"),
        sa.PrimaryKeyConstraint("id", name="pk_stage_evidence"),
    )
    op.create_index("ix_stage_evidence_decision_id", "stage_evidence", ["decision_id"])
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_created_at", table_name="incidents")
    op.drop_index("ix_stage_evidence_decision_id", table_name="stage_evidence")
    op.drop_table("stage_evidence")
    op.drop_index("ix_stage_signoffs_decision_id", table_name="stage_signoffs")
    op.drop_table("stage_signoffs")
    op.drop_index("ix_stage_transitions_decision_id", table_name="stage_transitions")
    op.drop_table("stage_transitions")
    op.drop_table("stage_plans")
