"""records workspace: saved list views, private or shared with a role

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kindred.db.base

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("filters", JSON, nullable=False),
        sa.Column("sort", sa.String(length=200), nullable=True),
        sa.Column("columns", JSON, nullable=False),
        sa.Column("shared_role", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
    )
    op.create_index(
        "ix_saved_views_owner_object", "saved_views", ["owner_id", "object"], unique=False
    )
    op.create_index(
        "ix_saved_views_role_object", "saved_views", ["shared_role", "object"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_saved_views_role_object", table_name="saved_views")
    op.drop_index("ix_saved_views_owner_object", table_name="saved_views")
    op.drop_table("saved_views")
