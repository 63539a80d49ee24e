"""GitHub entity tables: github_issues, github_comments (DESIGN §5, §7; issue 11).

Revision ID: github_0001
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "github_0001"
down_revision = "0001"
branch_labels = ("github",)
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "github_comments",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("seen_generation", sa.String(length=40), nullable=True),
        sa.Column("repo", sa.String(), nullable=True),
        sa.Column("issue_number", sa.BigInteger(), nullable=True),
        sa.Column("author", sa.String(), nullable=True),
        sa.Column("body", sa.String(), nullable=True),
        sa.Column("github_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("github_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_comments")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "external_id",
            name=op.f("uq_github_comments_tenant_id_provider_external_id"),
        ),
    )
    op.create_index(
        op.f("ix_github_comments_tenant_id_github_updated_at"),
        "github_comments",
        ["tenant_id", "github_updated_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_github_comments_tenant_id_repo"),
        "github_comments",
        ["tenant_id", "repo"],
        unique=False,
    )
    op.create_table(
        "github_issues",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("seen_generation", sa.String(length=40), nullable=True),
        sa.Column("repo", sa.String(), nullable=True),
        sa.Column("number", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=True),
        sa.Column("state_reason", sa.String(), nullable=True),
        sa.Column("author", sa.String(), nullable=True),
        sa.Column("labels", JSON, nullable=True),
        sa.Column("assignees", JSON, nullable=True),
        sa.Column("is_pull_request", sa.Boolean(), nullable=True),
        sa.Column("github_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("github_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_issues")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "external_id",
            name=op.f("uq_github_issues_tenant_id_provider_external_id"),
        ),
    )
    op.create_index(
        op.f("ix_github_issues_tenant_id_github_updated_at"),
        "github_issues",
        ["tenant_id", "github_updated_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_github_issues_tenant_id_repo"),
        "github_issues",
        ["tenant_id", "repo"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_github_issues_tenant_id_repo"), table_name="github_issues")
    op.drop_index(op.f("ix_github_issues_tenant_id_github_updated_at"), table_name="github_issues")
    op.drop_table("github_issues")
    op.drop_index(op.f("ix_github_comments_tenant_id_repo"), table_name="github_comments")
    op.drop_index(
        op.f("ix_github_comments_tenant_id_github_updated_at"), table_name="github_comments"
    )
    op.drop_table("github_comments")
