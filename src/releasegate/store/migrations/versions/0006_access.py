"""The access programme: principals (people and service accounts) with roles and hashed tokens,
applications for keys with their reviews, versioned tier terms and their acceptances; keys
remember the principal they were issued to.

Revision ID: 0006_access
Revises: 0005_hardening
"""

import sqlalchemy as sa
from alembic import op

from releasegate.store._types import UTCDateTime

revision = "0006_access"
down_revision = "0005_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("suspended_at", UTCDateTime(), nullable=True),
        sa.Column("suspended_by", sa.String(200), nullable=True),
        sa.Column("suspended_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_principals"),
        sa.UniqueConstraint("name_key", name="uq_principals_name_key"),
    )
    op.create_index("ix_principals_email", "principals", ["email"])
    op.create_table(
        "principal_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("principal_id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name="fk_principal_tokens_principal_id_principals",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_principal_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_principal_tokens_token_hash"),
    )
    op.create_index("ix_principal_tokens_principal_id", "principal_tokens", ["principal_id"])
    op.create_table(
        "access_applications",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("terms_version", sa.String(64), nullable=True),
        sa.Column("claim_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("denial_category", sa.String(40), nullable=True),
        sa.Column("denial_reason", sa.Text(), nullable=True),
        sa.Column("key_expires_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("principal_id", sa.String(32), nullable=True),
        sa.Column("renewal_of", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_access_applications"),
        sa.UniqueConstraint("claim_hash", name="uq_access_applications_claim_hash"),
    )
    op.create_index("ix_access_applications_tier", "access_applications", ["tier"])
    op.create_index("ix_access_applications_status", "access_applications", ["status"])
    op.create_index("ix_access_applications_email", "access_applications", ["email"])
    op.create_table(
        "access_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("reviewer_id", sa.String(32), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["access_applications.id"],
            name="fk_access_reviews_application_id_access_applications",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_reviews"),
    )
    op.create_index("ix_access_reviews_application_id", "access_reviews", ["application_id"])
    op.create_index(
        "uq_access_reviews_vote",
        "access_reviews",
        ["application_id", "reviewer_id"],
        unique=True,
        sqlite_where=sa.text("verdict != 'comment'"),
        postgresql_where=sa.text("verdict != 'comment'"),
    )
    op.create_table(
        "tier_terms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tier", sa.String(100), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tier_terms"),
        sa.UniqueConstraint("tier", "version", name="uq_tier_terms_version"),
    )
    op.create_index("ix_tier_terms_tier", "tier_terms", ["tier"])
    op.create_table(
        "terms_acceptances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(100), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name="fk_terms_acceptances_principal_id_principals",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_terms_acceptances"),
        sa.UniqueConstraint("principal_id", "tier", "version", name="uq_terms_acceptances"),
    )
    op.create_index("ix_terms_acceptances_principal_id", "terms_acceptances", ["principal_id"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("principal_id", sa.String(32), nullable=True))
        batch.create_index("ix_api_keys_principal_id", ["principal_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_principal_id")
        batch.drop_column("principal_id")
    op.drop_table("terms_acceptances")
    op.drop_table("tier_terms")
    op.drop_table("access_reviews")
    op.drop_table("access_applications")
    op.drop_table("principal_tokens")
    op.drop_table("principals")
