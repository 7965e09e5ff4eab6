"""Tables of record search: the full-text entries (one per record and text field) and the
embedding vectors (one per record, only when semantic search is enabled).

The text stored here is the *analysed* text — lowercased, stemmed, Chinese segmented into
words, one token after another separated by spaces — not the record's own value: snippets
are cut from the value the record service presents, so they pass the same permission and
consent checks as any read.

Each dialect searches ``search_entries`` with its own engine: on SQLite an FTS5 table
(``search_fts``, external content over ``search_entries``, kept in step by triggers); on
PostgreSQL the ``document`` tsvector column and its GIN index. Those engine objects are
created by migration 0007 as raw DDL and are not SQLAlchemy models (``ENGINE_MANAGED``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, UTCDateTime, utcnow
from kindred.records.models import ID_LENGTH

FTS_TABLE = "search_fts"
DOCUMENT_INDEX = "ix_search_entries_document"
# Tables and indexes the search engines own (an FTS5 virtual table and its shadow tables on
# SQLite, the GIN index on PostgreSQL): created by the migration, invisible to the models,
# so schema comparisons (Alembic autogenerate) must leave them alone.
ENGINE_MANAGED = frozenset(
    {
        FTS_TABLE,
        f"{FTS_TABLE}_config",
        f"{FTS_TABLE}_data",
        f"{FTS_TABLE}_docsize",
        f"{FTS_TABLE}_idx",
        DOCUMENT_INDEX,
    }
)


class SearchEntry(Base):
    """The analysed text of one text field of one record."""

    __tablename__ = "search_entries"
    __table_args__ = (
        Index("ux_search_entries_record_field", "record_id", "field", unique=True),
        Index("ix_search_entries_object_field", "object", "field"),
    )

    # An integer key: FTS5's external-content rowid on SQLite.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    record_id: Mapped[str] = mapped_column(String(ID_LENGTH), nullable=False)
    object: Mapped[str] = mapped_column(String(64), nullable=False)
    field: Mapped[str] = mapped_column(String(64), nullable=False)
    # The words in order (phrases match here) …
    content: Mapped[str] = mapped_column(Text, nullable=False)
    # … and the shorter words inside long Chinese words (中华人民共和国 → 人民, 共和国),
    # kept apart so a phrase never runs through them.
    extra: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # PostgreSQL: content and extra as a tsvector (positions given explicitly, so no parser
    # or locale re-tokenises them). Always NULL on SQLite, where search_fts indexes them.
    document: Mapped[str | None] = mapped_column(TSVECTOR().with_variant(Text(), "sqlite"))


class SearchVector(Base):
    """A record's embedding: float32 values, little-endian, L2-normalised."""

    __tablename__ = "search_vectors"
    __table_args__ = (
        Index("ux_search_vectors_record", "record_id", unique=True),
        # A re-embedded newest vector must not take its old id back (migration 0017).
        {"sqlite_autoincrement": True},
    )

    # Grows with every write: processes refresh their in-memory matrix from the last id seen.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    record_id: Mapped[str] = mapped_column(String(ID_LENGTH), nullable=False)
    object: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(100), nullable=False)
    # Of the text embedded: an unchanged text is not embedded again.
    text_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    vector: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
