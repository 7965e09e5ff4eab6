"""agent runs marked live or evaluation

Human tasks carry the mode of the run that opened them, so evaluation runs' tasks stay out
of the live queue. Tasks opened before this revision take their run's mode.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=20), server_default="live", nullable=False)
        )
    op.execute(
        "UPDATE human_tasks SET mode = 'evaluation' WHERE run_id IN "
        "(SELECT id FROM agent_runs WHERE mode = 'evaluation')"
    )


def downgrade() -> None:
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.drop_column("mode")
