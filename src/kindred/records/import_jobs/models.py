"""The import-job table (migration 0016): one uploaded CSV file, its state and its report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, PortableJSON, UTCDateTime, utcnow


class ImportJobRow(Base):
    """An upload and what became of it.

    ``runner`` names the process importing it (``host:pid:token``) while ``state`` is
    ``running``; ``heartbeat_at`` is refreshed with the progress where the database takes a
    second writer during the import (PostgreSQL), so another host can tell a runner that
    died from one that is busy. ``report`` is the latest dry run's or import's report,
    errors and written record ids included."""

    __tablename__ = "import_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(36), nullable=False)
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    headers: Mapped[list[str]] = mapped_column(PortableJSON, nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="uploaded")
    object: Mapped[str | None] = mapped_column(String(64))
    preset: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16), nullable=False, default="skip_bad_rows")
    rows_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    failure: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    runner: Mapped[str | None] = mapped_column(String(160))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_import_jobs_owner_created", "owner_id", "created_at"),
        Index("ix_import_jobs_created", "created_at"),
    )
