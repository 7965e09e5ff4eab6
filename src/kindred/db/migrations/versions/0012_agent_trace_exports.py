"""agents: which run trees' traces the OTLP exporter has pushed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_trace_exports",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("exported_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_agent_trace_exports")),
    )


def downgrade() -> None:
    op.drop_table("agent_trace_exports")
