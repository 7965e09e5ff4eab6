"""notification inbox read state; scenario provenance of tags and notifications

Issue 18, item 6: each reader's read state of an in-app notification (one notification to a
role is read or unread per person: ``notification_reads`` replaces the single
``notifications.read_at``); the record a notification is about and which of its fields the
text quotes (checked against the reader's own record read); the scenario version, run and
principal that set a tag or sent a notification.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kindred.db.base

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_reads",
        sa.Column("notification_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("read_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", "user_id"),
    )
    # What was read before keeps being read, by the user it was addressed to.
    op.execute(
        "INSERT INTO notification_reads (notification_id, user_id, read_at) "
        "SELECT id, user_id, read_at FROM notifications "
        "WHERE read_at IS NOT NULL AND user_id IS NOT NULL"
    )
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("read_at")
        batch.add_column(sa.Column("object", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("record_id", sa.String(length=36), nullable=True))
        batch.add_column(
            sa.Column(
                "quoted",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("run_id", sa.String(length=36), nullable=True))
    op.create_index("ix_notifications_role", "notifications", ["role", "created_at"])
    op.create_index("ix_notifications_record", "notifications", ["record_id"])
    with op.batch_alter_table("customer_tags") as batch:
        batch.add_column(sa.Column("scenario", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("run_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("set_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_tags") as batch:
        batch.drop_column("set_by")
        batch.drop_column("run_id")
        batch.drop_column("version")
        batch.drop_column("scenario")
    op.drop_index("ix_notifications_record", table_name="notifications")
    op.drop_index("ix_notifications_role", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("run_id")
        batch.drop_column("quoted")
        batch.drop_column("record_id")
        batch.drop_column("object")
        batch.add_column(
            sa.Column("read_at", kindred.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    # The addressee's own read state survives; per-person state of role notifications cannot.
    op.execute(
        "UPDATE notifications SET read_at = (SELECT r.read_at FROM notification_reads r "
        "WHERE r.notification_id = notifications.id AND r.user_id = notifications.user_id)"
    )
    op.drop_table("notification_reads")
