"""Tables of identity resolution: the blocking index and the reversible merges.

``identity_keys`` is derived data kept in step with the records by a change hook: for every
account and contact, the blocking keys (normalized name forms, tax id, external ids, phone,
website and email domains) under which candidates are looked up, so matching a new payload
reads a handful of index entries instead of comparing it with every record. Keys are keyed
digests (HMAC under the deployment secret), never the values: the index holds no readable
personal data, and erasure deletes a customer's entries.

``identity_merges`` holds exactly what undoing a merge needs: the duplicate's full record
(customer-authorized values sealed under the customer's data key, like the change history),
the survivor's fields before and after the merge, and every re-pointed edge.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, PortableJSON, UTCDateTime, utcnow

ID_LENGTH = 36


class IdentityKey(Base):
    __tablename__ = "identity_keys"

    object: Mapped[str] = mapped_column(String(64), primary_key=True)
    # 32 hex characters of HMAC-SHA256(kind ":" normalized value): equality is all blocking
    # needs, and the digest cannot be read back (nor brute-forced without the secret).
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)

    __table_args__ = (Index("ix_identity_keys_record", "record_id"),)


class IdentityMerge(Base):
    __tablename__ = "identity_merges"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    object: Mapped[str] = mapped_column(String(64), nullable=False)
    survivor_id: Mapped[str] = mapped_column(String(ID_LENGTH), nullable=False)
    duplicate_id: Mapped[str] = mapped_column(String(ID_LENGTH), nullable=False)
    state: Mapped[str] = mapped_column(String(10), nullable=False)  # merged | undone
    # The match as it was scored when merging (features hold weights and words, no values).
    score: Mapped[float | None] = mapped_column(Float)
    features: Mapped[list[dict[str, Any]] | None] = mapped_column(PortableJSON)
    # {"data": {...}, "version": n, "created_at": iso, "created_by": id}
    duplicate: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    survivor_before: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    survivor_after: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    # [{"object", "record_id", "field", "before", "after"}]: ids only.
    edges: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(64))
    ledger_index: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    undo_request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_identity_merges_object", "object", "created_at"),
        Index("ix_identity_merges_survivor", "survivor_id"),
        Index("ix_identity_merges_duplicate", "duplicate_id"),
    )
