"""golden cases pin what named tools answer in their evaluation runs

``agent_golden_cases.systems``: tool name → ``{"fail": {"status", "times"?}}`` and/or
``{"answer": {...}}``, applied at the tool-call layer of that case's evaluation runs only
(``kindred.agents.pins.EvaluationPins``). Cases saved before this revision pin
nothing (NULL reads as ``{}``).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-09 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agent_golden_cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "systems",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("agent_golden_cases", schema=None) as batch_op:
        batch_op.drop_column("systems")
