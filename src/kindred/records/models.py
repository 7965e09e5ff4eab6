"""Tables of the records domain.

One ``records`` table holds every object's records (standard and custom) with field values in
a JSON document; custom fields get expression indexes at run time, so they filter and sort as
fast as real columns without DDL on a hot table. Relations are first-class typed edges in
``record_links``: the customer semantic graph walks them in both directions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, PortableJSON, UTCDateTime, utcnow

ID_LENGTH = 36


class RecordRow(Base):
    __tablename__ = "records"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    object: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # Copies of data.owner / data.territory: visibility filters run on every list request.
    owner_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    territory_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    updated_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))

    __table_args__ = (
        Index("ix_records_object_id", "object", "id"),
        Index("ix_records_object_territory", "object", "territory_id", "id"),
        Index("ix_records_object_owner", "object", "owner_id", "id"),
        Index("ix_records_object_updated", "object", "updated_at", "id"),
    )


class RecordLink(Base):
    """A typed edge: ``source`` record's relation field ``relation`` points at ``target``."""

    __tablename__ = "record_links"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    relation: Mapped[str] = mapped_column(String(130), nullable=False)  # "<object>.<field>"
    source_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("records.id", ondelete="CASCADE"), nullable=False
    )
    target_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("records.id", ondelete="RESTRICT"), nullable=False
    )

    __table_args__ = (
        UniqueConstraint("relation", "source_id", "target_id", name="uq_record_links_edge"),
        Index("ix_record_links_source", "source_id", "relation"),
        Index("ix_record_links_target", "target_id", "relation"),
    )


class ObjectDefinitionRow(Base):
    __tablename__ = "object_definitions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    standard: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MetadataChange(Base):
    """Every version of every object definition, with who changed it and why it differs."""

    __tablename__ = "metadata_changes"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    object: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    actor_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("object", "version", name="uq_metadata_changes_object_version"),
    )


class MetadataState(Base):
    """A single counter bumped on every metadata change: processes compare it to know when
    their cached registry is stale (cheap to read on every request)."""

    __tablename__ = "metadata_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class ChangeLogEntry(Base):
    """Explicit change log, written by the service layer in the same transaction as the
    change (never by ORM signals, so bulk paths cannot skip it)."""

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    object: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[str] = mapped_column(String(ID_LENGTH), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Automation that made the change with the actor's rights (scenario, version, run,
    # triggering event); null for a person's own request.
    acting_for: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)

    __table_args__ = (
        Index("ix_change_log_record", "record_id", "id"),
        Index("ix_change_log_object", "object", "id"),
    )


class IdempotencyKey(Base):
    """A POST's response remembered under its ``Idempotency-Key`` so a retry replays it."""

    __tablename__ = "idempotency_keys"

    principal_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    response: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    headers: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
