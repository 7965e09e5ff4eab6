"""Tables of the sovereignty domain: customers' DIDs and keys, the enterprise's DID keys.

A customer's DID is a ``did:key``: the public key is the identifier, so it is stored once
here with the subject it belongs to. A custodial private key (the customer has no wallet
yet) is stored wrapped (AES-GCM under a key derived from the deployment secret, the DID as
associated data); a customer-held key never reaches us.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, PortableJSON, UTCDateTime, utcnow

SUBJECT_CHUNK = 500  # subject ids per IN (…) of a lookup


def subject_chunks(
    subjects: Iterable[tuple[str, str]], size: int = SUBJECT_CHUNK
) -> Iterator[tuple[str, list[str]]]:
    """(subject object, up to ``size`` of its ids) for the tables keyed by subject: one
    ``subject_object = ? AND subject_id IN (…)`` lookup each, however many subjects."""
    by_object: dict[str, list[str]] = {}
    for subject_object, subject_id in subjects:
        by_object.setdefault(subject_object, []).append(subject_id)
    for subject_object, ids in by_object.items():
        for start in range(0, len(ids), size):
            yield subject_object, ids[start : start + size]


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


class Consent(Base):
    """A consent the customer signed (the SD-JWT credential itself is kept, verbatim)."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_subject", "subject_did", "purpose"),)

    id: Mapped[str] = mapped_column(String(45), primary_key=True)  # urn:uuid:…
    subject_did: Mapped[str] = mapped_column(String(120), nullable=False)
    dimensions: Mapped[list[str]] = mapped_column(PortableJSON, nullable=False)
    purpose: Mapped[str] = mapped_column(String(64), nullable=False)
    grantee_kind: Mapped[str] = mapped_column(String(10), nullable=False)  # role | user | agent
    grantee_id: Mapped[str] = mapped_column(String(100), nullable=False)
    valid_from: Mapped[float] = mapped_column(Float, nullable=False)
    valid_until: Mapped[float] = mapped_column(Float, nullable=False)
    status_list: Mapped[str] = mapped_column(String(64), nullable=False)
    status_index: Mapped[int] = mapped_column(Integer, nullable=False)
    credential: Mapped[str | None] = mapped_column(Text)  # None while prepared for a wallet
    state: Mapped[str] = mapped_column(String(12), nullable=False)  # prepared | active | revoked
    revoked_at: Mapped[float | None] = mapped_column(Float)
    request_id: Mapped[str | None] = mapped_column(String(36))  # the consent request answered
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusListRow(Base):
    """A revocation list (IETF Token Status List, 1 bit per consent)."""

    __tablename__ = "consent_status_lists"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    next_index: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    bits: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class ConsentRequest(Base):
    """A staff member asking a customer for a consent (dimensions + purpose)."""

    __tablename__ = "consent_requests"
    __table_args__ = (Index("ix_consent_requests_subject", "subject_did", "state"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_did: Mapped[str] = mapped_column(String(120), nullable=False)
    dimensions: Mapped[list[str]] = mapped_column(PortableJSON, nullable=False)
    purpose: Mapped[str] = mapped_column(String(64), nullable=False)
    grantee_kind: Mapped[str] = mapped_column(String(10), nullable=False)
    grantee_id: Mapped[str] = mapped_column(String(100), nullable=False)
    valid_seconds: Mapped[float] = mapped_column(Float, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(12), nullable=False)  # pending|approved|declined
    consent_id: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AccessDecision(Base):
    """The policy decisions of one read batch (a page, a get, an export chunk …): for each
    record read, its customer and each field allowed or withheld, with the reason and the
    consent; and the ledger batch that commits to them.

    One row per read batch, not per record: the decisions of a page repeat a handful of
    outcomes, so they are stored once per batch (see ``kindred.sovereignty.decision_log``).

    - ``outcomes``: the batch's distinct field decisions, ``[[[field, allowed, reason], …], …]``;
    - ``reads``: one per record read, ``[[subject DID or null, outcome index, consent], …]``,
      where consent is null, the id of the consent every allowed field of the read was
      allowed under, or a list of ids (or null) aligned with the outcome's fields;
    - ``subject_keys``: the distinct ``subject_key`` of the batch's customers, from which
      ``access_decision_subjects`` is filled.
    """

    __tablename__ = "access_decisions"
    # Found by customer through access_decision_subjects; batches are verified by a scan,
    # rarely: every further index is paid on each of the many inserts.
    # The SQLite index pass walks ids past its mark: an id is never handed out twice, even
    # after an erasure deleted the newest rows (AUTOINCREMENT; migration 0017).
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, nullable=False)
    object: Mapped[str] = mapped_column(String(64), nullable=False)
    purpose: Mapped[str | None] = mapped_column(String(64))
    accessor: Mapped[str] = mapped_column(String(100), nullable=False)  # user id or agent id
    channel: Mapped[str] = mapped_column(String(20), nullable=False)  # api | export | scenario …
    request_id: Mapped[str | None] = mapped_column(String(64))
    outcomes: Mapped[list[list[list[Any]]]] = mapped_column(PortableJSON, nullable=False)
    reads: Mapped[list[list[Any]]] = mapped_column(PortableJSON, nullable=False)
    subject_keys: Mapped[list[int]] = mapped_column(PortableJSON, nullable=False)
    read_count: Mapped[int] = mapped_column(Integer, nullable=False)
    allowed_count: Mapped[int] = mapped_column(Integer, nullable=False)
    withheld_count: Mapped[int] = mapped_column(Integer, nullable=False)
    batch: Mapped[str] = mapped_column(String(36), nullable=False)


class AccessDecisionSubject(Base):
    """The subject-side index of the access log: which ``access_decisions`` rows hold reads
    of a customer (by ``subject_key``, a 64-bit hash of their DID; the row itself names the
    DID, so a hash collision costs a row read, never a wrong answer).

    Keyed by ``bucket`` first: a bucket is a run of consecutive log writes of one process
    (at most ``BUCKET_ENTRIES`` entries or ``BUCKET_SECONDS`` old), so each write inserts
    into one small, recent part of the b-tree instead of pages all over it — with the
    customer first, every insert would dirty its own page once the log is large. A lookup
    visits each bucket once (a loose index scan).
    """

    __tablename__ = "access_decision_subjects"
    __table_args__ = ({"sqlite_with_rowid": False},)

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subject_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    decision_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class CustomerDataKey(Base):
    """A customer's own data key (AES-256, wrapped): the copies of their customer-authorized
    values that must stay (the change history) are sealed with it, so shredding it is
    erasing them. Keyed by subject: a record's history starts before its DID exists."""

    __tablename__ = "customer_data_keys"

    subject_object: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Erasure(Base):
    """That a customer was erased, when and by whose request — and nothing about them."""

    __tablename__ = "erasures"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # SHA-256 of the DID: "was this DID erased?" stays answerable for whoever knows the DID,
    # and the table names nobody.
    subject_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(20), nullable=False)  # customer | staff
    counts: Mapped[dict[str, int]] = mapped_column(PortableJSON, nullable=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FieldProvenance(Base):
    """Where a field's current value came from, until when it is valid, on what legal basis,
    and whether it was verified or disputed."""

    __tablename__ = "field_provenance"
    __table_args__ = (Index("ix_field_provenance_valid", "valid_until"),)

    object: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_system: Mapped[str] = mapped_column(String(64), nullable=False)
    collector: Mapped[str | None] = mapped_column(String(100))
    collected_at: Mapped[float] = mapped_column(Float, nullable=False)
    valid_until: Mapped[float | None] = mapped_column(Float)
    legal_basis: Mapped[str] = mapped_column(String(40), nullable=False)
    verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    disputed_at: Mapped[float | None] = mapped_column(Float)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
