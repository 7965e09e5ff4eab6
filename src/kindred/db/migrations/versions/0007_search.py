"""semantic search (full-text index over notes and knowledge)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:30:00

``search_entries`` (analysed text per record and field) and ``search_vectors`` (embeddings)
on both dialects; each dialect's engine as raw DDL: an FTS5 table with its triggers on
SQLite, a GIN index over the tsvector column on PostgreSQL (see kindred.graph.search_models).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kindred.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# External content: the text lives once, in search_entries; FTS5 keeps only its index, and
# the triggers hand it the old values a delete needs. unicode61 without diacritic folding:
# the stored text is already folded, so the tokenizer only splits on the spaces.
SQLITE_ENGINE = (
    "CREATE VIRTUAL TABLE search_fts USING fts5(content, extra, content='search_entries', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, content, extra) VALUES (new.id, new.content, new.extra); END",
    "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, content, extra) "
    "VALUES ('delete', old.id, old.content, old.extra); END",
    "CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, content, extra) "
    "VALUES ('delete', old.id, old.content, old.extra); "
    "INSERT INTO search_fts(rowid, content, extra) VALUES (new.id, new.content, new.extra); END",
)


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("extra", sa.Text(), nullable=False),
        sa.Column(
            "document",
            postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_entries")),
    )
    with op.batch_alter_table("search_entries", schema=None) as batch_op:
        batch_op.create_index("ix_search_entries_object_field", ["object", "field"], unique=False)
        batch_op.create_index("ux_search_entries_record_field", ["record_id", "field"], unique=True)

    op.create_table(
        "search_vectors",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_vectors")),
    )
    with op.batch_alter_table("search_vectors", schema=None) as batch_op:
        batch_op.create_index("ux_search_vectors_record", ["record_id"], unique=True)

    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_ENGINE:
            op.execute(statement)
    else:
        op.execute("CREATE INDEX ix_search_entries_document ON search_entries USING gin (document)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("search_entries_ai", "search_entries_ad", "search_entries_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_entries_document")
    with op.batch_alter_table("search_vectors", schema=None) as batch_op:
        batch_op.drop_index("ux_search_vectors_record")
    op.drop_table("search_vectors")
    with op.batch_alter_table("search_entries", schema=None) as batch_op:
        batch_op.drop_index("ux_search_entries_record_field")
        batch_op.drop_index("ix_search_entries_object_field")
    op.drop_table("search_entries")
