"""access decision log: the subject index's high-water mark

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:00:00

On SQLite the subject index (``access_decision_subjects``) is filled by passes over the rows
written since the last pass, not by each write (see ``DecisionLog.index``); ``metadata_state``
row 6 holds the last ``access_decisions`` id a pass has covered. Every row existing now was
indexed by its write, so the mark starts at the newest row. The downgrade indexes the rows
past the mark first, so 0009's every-row-indexed layout holds again.
"""

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED_THROUGH = 6  # kindred.sovereignty.decision_log.INDEXED_THROUGH


def upgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM metadata_state WHERE id = :id"), {"id": INDEXED_THROUGH})
    bind.execute(
        sa.text(
            "INSERT INTO metadata_state (id, generation) "
            "SELECT :id, coalesce(max(id), 0) FROM access_decisions"
        ),
        {"id": INDEXED_THROUGH},
    )


def downgrade() -> None:
    bind = op.get_bind()
    mark = bind.execute(
        sa.text("SELECT generation FROM metadata_state WHERE id = :id"), {"id": INDEXED_THROUGH}
    ).scalar()
    if mark is not None and bind.dialect.name == "sqlite":
        bind.execute(
            sa.text(
                "INSERT INTO access_decision_subjects (bucket, subject_key, decision_id) "
                "SELECT :bucket, k.value, d.id FROM access_decisions d, "
                "json_each(d.subject_keys) k WHERE d.id > :mark ORDER BY 2"
            ),
            {"bucket": int(time.time() * 1000), "mark": int(mark)},
        )
    bind.execute(sa.text("DELETE FROM metadata_state WHERE id = :id"), {"id": INDEXED_THROUGH})
