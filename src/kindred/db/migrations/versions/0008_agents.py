"""agent workflows (definitions, runs, steps, traces, human tasks, evaluations)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Placeholder, filled in by the change that needs it (kept so the revision chain is fixed).
    pass


def downgrade() -> None:
    pass
