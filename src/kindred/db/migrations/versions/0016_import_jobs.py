"""console import jobs shared by every worker

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kindred.db.base

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=True),
        sa.Column("preset", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("report", JSON, nullable=True),
        sa.Column("failure", JSON, nullable=True),
        sa.Column("runner", sa.String(length=160), nullable=True),
        sa.Column("heartbeat_at", kindred.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", kindred.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(
        "ix_import_jobs_owner_created", "import_jobs", ["owner_id", "created_at"], unique=False
    )
    op.create_index("ix_import_jobs_created", "import_jobs", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_import_jobs_created", table_name="import_jobs")
    op.drop_index("ix_import_jobs_owner_created", table_name="import_jobs")
    op.drop_table("import_jobs")
