"""Tables of the events domain in the main database.

The event log itself lives in the bus (its own SQLite file, or NATS JetStream); these tables
hold what the CRM owns about events: admin-defined types, dead letters and the customer
timeline projection.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, PortableJSON, UTCDateTime, utcnow


class EventTypeVersion(Base):
    """One version of an admin-defined event type (built-in types ship in code)."""

    __tablename__ = "event_types"

    type: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    schema: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    partition_field: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeadLetter(Base):
    """An event (or native message) that could not be accepted, with why.

    The raw payload is kept byte for byte (up to a cap for oversize bodies) so it can be
    fixed and replayed; nothing is dropped silently.
    """

    __tablename__ = "event_dead_letters"
    __table_args__ = (
        Index("ix_event_dead_letters_status_received", "status", "received_at"),
        Index("ix_event_dead_letters_reason", "reason"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(40), nullable=False)
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    errors: Mapped[list[Any]] = mapped_column(PortableJSON, nullable=False, default=list)
    event_type: Mapped[str | None] = mapped_column(String(200))
    event_id: Mapped[str | None] = mapped_column(String(500))
    event_source: Mapped[str | None] = mapped_column(String(1000))
    content_type: Mapped[str | None] = mapped_column(String(200))
    # What replaying needs besides the bytes (e.g. the WeChat account a message came to).
    context: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    payload: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    payload_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    truncated: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(Text)


class TimelineEntry(Base):
    """The customer timeline: one row per event per partition key, built by a bus consumer.

    ``processed`` counts how often the consumer handled the event: the bus promises that
    acknowledged work is never handed out again, and this counter makes that checkable.
    """

    __tablename__ = "event_timeline"
    __table_args__ = (
        UniqueConstraint("event_source", "event_id", name="uq_event_timeline_event"),
        Index("ix_event_timeline_key_time", "partition_key", "time"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    partition_key: Mapped[str] = mapped_column(String(500), nullable=False)
    event_source: Mapped[str] = mapped_column(String(1000), nullable=False)
    event_id: Mapped[str] = mapped_column(String(500), nullable=False)
    type: Mapped[str] = mapped_column(String(200), nullable=False)
    time: Mapped[str] = mapped_column(String(40), nullable=False)
    subject: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[str] = mapped_column(String(100), nullable=False)
    processed: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
