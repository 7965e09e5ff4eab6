"""ids a mark or cursor walks are never reused

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 00:10:00

SQLite hands a plain ``INTEGER PRIMARY KEY`` row ``max(id) + 1``: once the newest rows are
deleted, their ids come back. Two tables are walked by the highest id seen:
``access_decisions`` (the subject index pass indexes the rows past its mark, and lookups scan
that tail — rows that took an erased row's id below the mark were found by neither) and
``search_vectors`` (each process reads the vectors past the highest id it holds; the newest
record re-embedded took its old id back and kept its old vector in every cache). Both are
rebuilt ``AUTOINCREMENT`` (a new id is always above every id ever used). The access log's
sequence starts above the index mark too, and the rows the mark already skipped are indexed
now. PostgreSQL sequences never hand out an id twice: nothing to do there.
"""

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("access_decisions", "search_vectors")
INDEXED_THROUGH = 6  # kindred.sovereignty.decision_log.INDEXED_THROUGH

# Rows at or below the mark no index pass covered (they took an erased row's id): every row
# an index pass covered has an entry per customer, and an erased row's entries went with it.
_SKIPPED = (
    "INSERT INTO access_decision_subjects (bucket, subject_key, decision_id) "
    "SELECT :bucket, k.value, d.id FROM access_decisions d, json_each(d.subject_keys) k "
    "WHERE d.id <= :mark AND d.id NOT IN (SELECT decision_id FROM access_decision_subjects) "
    "ORDER BY 2"
)


def _rebuild(table: str, autoincrement: bool) -> None:
    with op.batch_alter_table(
        table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(table, autoincrement=True)
    mark = bind.execute(
        sa.text("SELECT generation FROM metadata_state WHERE id = :id"), {"id": INDEXED_THROUGH}
    ).scalar()
    if mark is None:
        return
    bind.execute(sa.text(_SKIPPED), {"bucket": int(time.time() * 1000), "mark": int(mark)})
    # New rows start above the mark (rows at or below it are never taken by a pass).
    newest = bind.execute(sa.text("SELECT coalesce(max(id), 0) FROM access_decisions")).scalar()
    bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'access_decisions'"))
    bind.execute(
        sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('access_decisions', :seq)"),
        {"seq": max(int(mark), int(newest or 0))},
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(table, autoincrement=False)
