"""identity resolution (match candidates, reversible merges)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kindred.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "identity_keys",
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("object", "key", "record_id", name=op.f("pk_identity_keys")),
    )
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.create_index("ix_identity_keys_record", ["record_id"], unique=False)

    op.create_table(
        "identity_merges",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("survivor_id", sa.String(length=36), nullable=False),
        sa.Column("duplicate_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("features", JSON, nullable=True),
        sa.Column("duplicate", JSON, nullable=False),
        sa.Column("survivor_before", JSON, nullable=False),
        sa.Column("survivor_after", JSON, nullable=False),
        sa.Column("edges", JSON, nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("ledger_index", sa.Integer(), nullable=True),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("undone_at", kindred.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=36), nullable=True),
        sa.Column("undo_request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_merges")),
    )
    with op.batch_alter_table("identity_merges", schema=None) as batch_op:
        batch_op.create_index("ix_identity_merges_object", ["object", "created_at"], unique=False)
        batch_op.create_index("ix_identity_merges_survivor", ["survivor_id"], unique=False)
        batch_op.create_index("ix_identity_merges_duplicate", ["duplicate_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("identity_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_merges_duplicate")
        batch_op.drop_index("ix_identity_merges_survivor")
        batch_op.drop_index("ix_identity_merges_object")
    op.drop_table("identity_merges")
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_keys_record")
    op.drop_table("identity_keys")
