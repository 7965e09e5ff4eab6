"""events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:58:32.600248
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kindred.db.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_dead_letters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("received_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column(
            "errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("event_type", sa.String(length=200), nullable=True),
        sa.Column("event_id", sa.String(length=500), nullable=True),
        sa.Column("event_source", sa.String(length=1000), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_bytes", sa.BigInteger(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resolved_at", kindred.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_dead_letters")),
    )
    with op.batch_alter_table("event_dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_event_dead_letters_reason", ["reason"], unique=False)
        batch_op.create_index(
            "ix_event_dead_letters_status_received", ["status", "received_at"], unique=False
        )

    op.create_table(
        "event_timeline",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("partition_key", sa.String(length=500), nullable=False),
        sa.Column("event_source", sa.String(length=1000), nullable=False),
        sa.Column("event_id", sa.String(length=500), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("time", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("position", sa.String(length=100), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_timeline")),
        sa.UniqueConstraint("event_source", "event_id", name="uq_event_timeline_event"),
    )
    with op.batch_alter_table("event_timeline", schema=None) as batch_op:
        batch_op.create_index("ix_event_timeline_key_time", ["partition_key", "time"], unique=False)

    op.create_table(
        "event_types",
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "schema",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("partition_field", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("type", "version", name=op.f("pk_event_types")),
    )


def downgrade() -> None:
    op.drop_table("event_types")
    with op.batch_alter_table("event_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_event_timeline_key_time")

    op.drop_table("event_timeline")
    with op.batch_alter_table("event_dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_event_dead_letters_status_received")
        batch_op.drop_index("ix_event_dead_letters_reason")

    op.drop_table("event_dead_letters")
