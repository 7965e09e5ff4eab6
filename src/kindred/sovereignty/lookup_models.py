"""The table of the lawful staff lookup (``kindred.sovereignty.lookup``).

``lookup_hashes`` is derived data kept in step with the records by a change hook: for every
email and phone value of a customer record, a keyed digest (HMAC-SHA256 under a key derived
from the deployment secret) of the normalized value — lowercase email, E.164 phone — and the
record it belongs to. Staff find a caller by an exact value without the value being
filterable or readable: the table holds no readable personal data, and erasure deletes a
customer's rows.
"""

from __future__ import annotations

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base

ID_LENGTH = 36


class LookupHash(Base):
    __tablename__ = "lookup_hashes"

    object: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    # 64 hex characters of HMAC-SHA256(kind NUL normalized value).
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)

    __table_args__ = (Index("ix_lookup_hashes_record", "record_id"),)
