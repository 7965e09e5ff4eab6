"""The saved-view table (migration 0015)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, PortableJSON, UTCDateTime, utcnow


class SavedView(Base):
    """One user's named list view of an object: filters, sort and columns.

    ``shared_role`` null: only the owner sees it; a role name: everyone holding that role may
    open it (only the owner may change or delete it)."""

    __tablename__ = "saved_views"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(36), nullable=False)
    object: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    filters: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, nullable=False)
    sort: Mapped[str | None] = mapped_column(String(200))
    columns: Mapped[list[str]] = mapped_column(PortableJSON, nullable=False)
    shared_role: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_saved_views_owner_object", "owner_id", "object"),
        Index("ix_saved_views_role_object", "shared_role", "object"),
    )
