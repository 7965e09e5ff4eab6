"""search: SQLite fills the FTS5 index from each write's new entries in one statement

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:00:00

The insert trigger on ``search_entries`` handed FTS5 one row per statement: ~20 µs per
entry, most of an import's search cost. ``SqliteFullText.write`` now indexes the rows it
inserted with one ``INSERT … SELECT`` (~5 µs per entry); the delete and update triggers stay.
PostgreSQL keeps a tsvector per row and is unaffected.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSERT_TRIGGER = (
    "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, content, extra) VALUES (new.id, new.content, new.extra); END"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS search_entries_ai")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(INSERT_TRIGGER)
