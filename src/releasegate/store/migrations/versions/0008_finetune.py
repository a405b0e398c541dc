"""Fine-tuning through the API: training files, jobs (the workers' queue) and job events.

Revision ID: 0008_finetune
Revises: 0007_stages
"""

import sqlalchemy as sa
from alembic import op

from releasegate.store._types import UTCDateTime

revision = "0008_finetune"
down_revision = "0007_stages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ft_files",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("screening", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ft_files"),
    )
    op.create_index("ix_ft_files_owner", "ft_files", ["owner"])
    op.create_table(
        "ft_jobs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(100), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("training_file", sa.String(40), nullable=False),
        sa.Column("validation_file", sa.String(40), nullable=True),
        sa.Column("suffix", sa.String(64), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("fine_tuned_model", sa.String(300), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("trained_tokens", sa.BigInteger(), nullable=True),
        sa.Column("reserved_tokens", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("artifact", sa.Text(), nullable=True),
        sa.Column("gate", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ft_jobs"),
    )
    op.create_index("ix_ft_jobs_owner", "ft_jobs", ["owner"])
    op.create_index("ix_ft_jobs_status", "ft_jobs", ["status"])
    op.create_index("ix_ft_jobs_fine_tuned_model", "ft_jobs", ["fine_tuned_model"])
    op.create_table(
        "ft_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ft_events"),
    )
    op.create_index("ix_ft_events_job_id", "ft_events", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_ft_events_job_id", table_name="ft_events")
    op.drop_table("ft_events")
    op.drop_index("ix_ft_jobs_fine_tuned_model", table_name="ft_jobs")
    op.drop_index("ix_ft_jobs_status", table_name="ft_jobs")
    op.drop_index("ix_ft_jobs_owner", table_name="ft_jobs")
    op.drop_table("ft_jobs")
    op.drop_index("ix_ft_files_owner", table_name="ft_files")
    op.drop_table("ft_files")
