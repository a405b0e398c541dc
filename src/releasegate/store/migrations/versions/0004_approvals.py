"""Signed sign-offs: signers and their keys, signatures, fired reassessment triggers, the change
counter gateways poll; decisions remember their documents; incidents gain kind and severity.

The unsigned sign-offs of 0001 (`signoffs`) cannot be verified, so they no longer count: the
table is dropped and decisions they had approved go back to `pending` (each of those sign-offs
is still in the audit log as a `decision.approve` record). Downgrading recreates `signoffs`
empty.

Revision ID: 0004_approvals
Revises: 0003_monitoring
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from releasegate.store._types import UTCDateTime

revision = "0004_approvals"
down_revision = "0003_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signers",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_signers"),
    )
    op.create_index(
        "uq_signers_active_name",
        "signers",
        ["name_key"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("decision_sha256", sa.String(64), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("signer", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signed_at", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name="fk_signatures_decision_id_decisions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_signatures"),
    )
    op.create_index("ix_signatures_decision_id", "signatures", ["decision_id"])
    op.create_table(
        "fired_triggers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("trigger_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fallback", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=False),
        sa.Column("fired_by", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name="fk_fired_triggers_decision_id_decisions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_fired_triggers"),
        sa.UniqueConstraint("decision_id", "trigger_id", name="uq_fired_triggers_decision_trigger"),
    )
    op.create_index("ix_fired_triggers_decision_id", "fired_triggers", ["decision_id"])
    state = op.create_table(
        "approvals_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approvals_state"),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0, "changed_at": datetime.now(UTC)}])

    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("output_dir", sa.Text(), nullable=True))
        batch.add_column(sa.Column("report_json", sa.Text(), nullable=True))
        batch.add_column(sa.Column("policy_json", sa.Text(), nullable=True))
    op.execute(
        "UPDATE decisions SET status = 'pending', approved_at = NULL WHERE status = 'approved'"
    )
    op.drop_index("ix_signoffs_decision_id", table_name="signoffs")
    op.drop_table("signoffs")

    with op.batch_alter_table("incidents") as batch:
        batch.alter_column("key_id", existing_type=sa.String(32), nullable=True)
        batch.add_column(sa.Column("kind", sa.String(32), server_default="misuse", nullable=False))
        batch.add_column(
            sa.Column("severity", sa.String(16), server_default="medium", nullable=False)
        )
        batch.add_column(sa.Column("decision_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("summary", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM incidents WHERE key_id IS NULL")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("summary")
        batch.drop_column("decision_id")
        batch.drop_column("severity")
        batch.drop_column("kind")
        batch.alter_column("key_id", existing_type=sa.String(32), nullable=False)

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
    # The signed approvals have no unsigned form: every decision is pending again.
    op.execute(
        "UPDATE decisions SET status = 'pending', approved_at = NULL WHERE status = 'approved'"
    )
    op.execute("UPDATE decisions SET status = 'pending' WHERE status = 'rejected'")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("policy_json")
        batch.drop_column("report_json")
        batch.drop_column("output_dir")

    op.drop_table("approvals_state")
    op.drop_index("ix_fired_triggers_decision_id", table_name="fired_triggers")
    op.drop_table("fired_triggers")
    op.drop_index("ix_signatures_decision_id", table_name="signatures")
    op.drop_table("signatures")
    op.drop_index("uq_signers_active_name", table_name="signers")
    op.drop_table("signers")
