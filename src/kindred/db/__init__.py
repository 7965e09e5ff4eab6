"""Persistence: engines per dialect, declarative base, portable types and migrations."""

from kindred.db.base import Base, PortableJSON, UTCDateTime, metadata, utcnow
from kindred.db.engine import Database, driver_rows, insert_new, upsert

__all__ = [
    "Base",
    "Database",
    "PortableJSON",
    "UTCDateTime",
    "driver_rows",
    "insert_new",
    "metadata",
    "upsert",
    "utcnow",
]
