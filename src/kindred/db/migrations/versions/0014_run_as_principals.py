"""scenarios and agents: run-as principals and ownership; change-log attribution

Automation acts with a principal's rights (issue 16): every scenario and agent has an owner
and a run-as principal (its author, or a service principal an admin granted); each scenario
version and run records whom it ran as; a change made by automation records what acted.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("change_log") as batch:
        batch.add_column(
            sa.Column(
                "acting_for",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
    for table in ("scenarios", "agents"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("run_as", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("enabled_by", sa.String(length=64), nullable=True))
    for table in ("scenario_versions", "agent_versions", "scenario_runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("run_as", sa.String(length=64), nullable=True))
    # Scenarios and agents saved before this release belong to whoever created them; with
    # nobody recorded they run as nobody until an admin grants them a principal.
    for table in ("scenarios", "agents"):
        op.execute(f"UPDATE {table} SET owner_id = created_by, run_as = updated_by")


def downgrade() -> None:
    for table in ("scenario_versions", "agent_versions", "scenario_runs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("run_as")
    for table in ("scenarios", "agents"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("enabled_by")
            batch.drop_column("run_as")
            batch.drop_column("owner_id")
    with op.batch_alter_table("change_log") as batch:
        batch.drop_column("acting_for")
