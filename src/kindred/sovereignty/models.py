"""Tables of the sovereignty domain: customers' DIDs and keys, the enterprise's DID keys.

A customer's DID is a ``did:key``: the public key is the identifier, so it is stored once
here with the subject it belongs to. A custodial private key (the customer has no wallet
yet) is stored wrapped (AES-GCM under a key derived from the deployment secret, the DID as
associated data); a customer-held key never reaches us.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, UTCDateTime, utcnow


class CustomerIdentity(Base):
    __tablename__ = "customer_identities"
    __table_args__ = (
        Index("ux_customer_identities_subject", "subject_object", "subject_id", unique=True),
    )

    did: Mapped[str] = mapped_column(String(120), primary_key=True)
    subject_object: Mapped[str] = mapped_column(String(64), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(36), nullable=False)
    custody: Mapped[str] = mapped_column(String(12), nullable=False)  # custodial | customer
    public_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    private_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # wrapped; custodial only
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DomainKey(Base):
    """A signing key of the enterprise (``owner`` "enterprise") or of a data domain
    ("domain:<name>"); old keys stay listed in the did:web document after a rotation."""

    __tablename__ = "sovereignty_domain_keys"
    __table_args__ = (Index("ix_sovereignty_domain_keys_owner", "owner", "active"),)

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80), nullable=False)
    public_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    private_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # wrapped
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PassportChallenge(Base):
    """A sign-in challenge or magic link, by the SHA-256 of its secret (single use)."""

    __tablename__ = "passport_challenges"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    did: Mapped[str] = mapped_column(String(120), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # challenge | magic-link
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)
    used_at: Mapped[float | None] = mapped_column(Float)
