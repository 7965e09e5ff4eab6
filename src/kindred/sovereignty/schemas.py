"""What the sovereignty API answers (DIDs, the data passport, consents, the customer's rights,
provenance), as Pydantic models for the OpenAPI document.

The routers do not serialize through these: they answer dicts with orjson
(``api.responses.Json``). These models only describe those bodies, declared per operation as
``responses={…: {"model": …}}`` — see ``records/schemas.py`` for the conventions and
``tests/api/test_response_schemas_data.py`` for the proof that real responses match. DID
documents follow DID Core (did:key and did:web as this deployment builds them); the status
list is a JWT (``application/statuslist+jwt``), documented as text by ``api/openapi.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kindred.records.fields import SovereigntyClass
from kindred.records.schemas import RecordPublic

Custody = Literal["custodial", "customer"]
PassportVia = Literal["did-signature", "magic-link"]
ConsentState = Literal["prepared", "active", "revoked"]
RequestState = Literal["pending", "approved", "declined"]
# sovereignty.pdp: a read of a customer-authorized value allowed (consent, customer-request)
# or withheld (the rest, as records/schemas.WithheldReason).
DecisionReason = Literal[
    "consent",
    "customer-request",
    "no-purpose",
    "unknown-purpose",
    "no-subject",
    "no-consent",
    "expired-consent",
    "not-yet-valid",
    "not-for-you",
]


class _Fixed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# -- DID documents ------------------------------------------------------------------------------


class PublicJwk(_Fixed):
    kty: Literal["OKP"]
    crv: Literal["Ed25519", "X25519"]
    x: str = Field(description="The public key, base64url")


class VerificationMethod(_Fixed):
    id: str = Field(description="<did>#<key id>")
    type: Literal["JsonWebKey2020", "Ed25519VerificationKey2018", "X25519KeyAgreementKey2019"]
    controller: str = Field(description="The DID")
    publicKeyJwk: PublicJwk = Field(
        default_factory=lambda: PublicJwk(kty="OKP", crv="Ed25519", x=""),
        description="JsonWebKey2020 methods: the key as a JWK",
    )
    publicKeyBase58: str = Field(
        default_factory=str, description="The 2018/2019 methods of a did:key: the key, base58"
    )


class DidDocument(_Fixed):
    """A DID document (W3C DID Core). A did:web lists every key of its owner (old ones stay,
    so old signatures verify) and asserts with the active one; a did:key's document is
    derived from the identifier (its Ed25519 key and the X25519 key agreement key)."""

    context: list[str] = Field(alias="@context", min_length=1)
    id: str = Field(description="The DID")
    verificationMethod: list[VerificationMethod] = Field(min_length=1)
    assertionMethod: list[str]
    authentication: list[str]
    capabilityInvocation: list[str] = Field(default_factory=list, description="did:key only")
    capabilityDelegation: list[str] = Field(default_factory=list, description="did:key only")
    keyAgreement: list[str] = Field(default_factory=list, description="did:key only")


class RecordDid(_Fixed):
    did: str = Field(description="The customer's did:key")
    custody: Custody = Field(
        description="custodial: Kindred holds the key; customer: their own wallet does"
    )
    created_at: dt.datetime


# -- passport sign-in ---------------------------------------------------------------------------


class PassportChallenge(_Fixed):
    challenge: str = Field(description="The nonce: send it back with the signature")
    expires_at: float = Field(description="Unix time (seconds) it expires at")
    sign: str = Field(description="The exact text to sign with the DID's key")


class PassportToken(_Fixed):
    token: str = Field(description="Send it as 'Authorization: Bearer <it>' to /passport/*")
    did: str
    via: PassportVia
    expires_in: int = Field(ge=1, description="Seconds until it expires")


class MagicLinkSent(_Fixed):
    status: str = Field(description="The same words whether or not the address is known")


class PrivateJwk(_Fixed):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str = Field(description="The public key, base64url")
    d: str = Field(description="The private key, base64url")


class HandedOverKey(_Fixed):
    did: str
    kid: str = Field(description="The key's id in the DID document (the fragment)")
    jwk: PrivateJwk = Field(description="Shown this once: Kindred keeps no copy")


class Subject(_Fixed):
    object: str = Field(description="The object of the customer's record (contact, lead …)")
    id: str = Field(description="The record's id")


class PassportMe(_Fixed):
    did: str
    subject: Subject
    via: PassportVia


# -- consents -----------------------------------------------------------------------------------


class GranteePublic(_Fixed):
    kind: Literal["role", "user", "agent"]
    id: str


class StatusEntry(_Fixed):
    list: str = Field(description="The revocation list: GET /api/v1/status-lists/{list}")
    index: int = Field(ge=0, description="The consent's bit in it")


class ConsentPublic(_Fixed):
    id: str = Field(description="urn:uuid:…")
    did: str = Field(description="The customer's DID")
    dimensions: list[str] = Field(description="<object>.<field> values it covers")
    purpose: str
    grantee: GranteePublic
    valid_from: dt.datetime
    valid_until: dt.datetime
    state: ConsentState
    revoked_at: dt.datetime | None
    status: StatusEntry
    request: str | None = Field(description="The consent request it answers, if any")


class ConsentWithCredential(ConsentPublic):
    credential: str = Field(description="The consent as a verifiable credential (SD-JWT VC)")


class ConsentList(_Fixed):
    data: list[ConsentPublic]


class ConsentWithCredentialList(_Fixed):
    data: list[ConsentWithCredential]


class PreparedStatus(_Fixed):
    uri: str = Field(description="The status list's URI")
    index: int = Field(ge=0)


class PreparedConsent(_Fixed):
    """The grant a wallet signs as an SD-JWT VC and submits to /consents/submit."""

    id: str
    subject: str = Field(description="The customer's DID")
    dimensions: list[str]
    purpose: str
    grantee: GranteePublic
    valid_from: dt.datetime
    valid_until: dt.datetime
    issued_at: dt.datetime
    status: PreparedStatus
    sign_as: str = Field(description="How to sign it, in words")


class ConsentRequestPublic(_Fixed):
    id: str
    did: str = Field(description="The customer's DID")
    dimensions: list[str]
    purpose: str
    grantee: GranteePublic
    valid_for_seconds: float = Field(description="How long an approval is valid")
    note: str | None
    state: RequestState
    consent: str | None = Field(description="The consent an approval granted")
    created_at: dt.datetime
    decided_at: dt.datetime | None


class ConsentRequestList(_Fixed):
    data: list[ConsentRequestPublic]


class AccessLogEntry(_Fixed):
    """One read of one of the customer's values, allowed or withheld."""

    at: dt.datetime
    dimension: str = Field(description="<object>.<field>")
    purpose: str | None
    accessor: str = Field(description="The user or agent id that read")
    channel: str = Field(description="api, export, scenario, passport …")
    allowed: bool
    reason: DecisionReason
    consent: str | None = Field(description="The consent that allowed it")


class AccessLog(_Fixed):
    data: list[AccessLogEntry] = Field(description="Newest first")


# -- provenance ---------------------------------------------------------------------------------


class ProvenancePublic(_Fixed):
    """Where a field's current value came from, until when it is valid, on what legal basis."""

    field: str
    source_system: str
    collector: str | None
    collected_at: dt.datetime
    valid_until: dt.datetime | None
    expired: bool
    legal_basis: str
    verified: bool
    disputed_at: dt.datetime | None
    dispute_reason: str | None


class ProvenanceList(_Fixed):
    data: list[ProvenancePublic]


class SovereigntyKpis(_Fixed):
    """Shares are null when there is nothing to measure yet."""

    values: int = Field(ge=0, description="Values with provenance")
    tag_accuracy: float | None = Field(description="Share of values nobody disputes")
    verified_share: float | None
    disputed: int = Field(ge=0)
    expired: int = Field(ge=0)
    authorization_validity_compliance: float | None = Field(
        description="Share of allowed reads of customer-authorized data under a valid basis"
    )
    authorized_accesses: int = Field(ge=0)
    consent_rate: float | None = Field(description="Share of customers with an active consent")
    customers: int = Field(ge=0)


# -- the passport's view and the customer's rights ----------------------------------------------


class DataDomain(_Fixed):
    name: str
    did: str


class DimensionAccess(_Fixed):
    at: dt.datetime
    accessor: str
    purpose: str | None
    channel: str
    allowed: bool
    reason: DecisionReason


class Dimension(_Fixed):
    """One field of the customer's record: what is held, under which consents, who read it."""

    dimension: str = Field(description="<object>.<field>")
    label: str | None
    class_: SovereigntyClass = Field(alias="class")
    domain: str = Field(description="The data domain that holds it")
    held: bool = Field(description="A value is held")
    value: Any = Field(description="The value (null when none)")
    consents: list[str] = Field(description="Active consents that cover it")
    accesses: list[DimensionAccess] = Field(description="Its latest reads, newest first (≤ 5)")
    provenance: ProvenancePublic | None


class PassportData(_Fixed):
    did: str
    custody: Custody
    subject: Subject
    domains: list[DataDomain]
    dimensions: list[Dimension]


class ExportChange(_Fixed):
    at: dt.datetime
    action: Literal["create", "update", "delete", "merge", "unmerge", "seed"]
    actor: str | None
    before: Any = Field(description="The changed values before (opened for the customer)")
    after: Any


class ExportConsent(_Fixed):
    id: str
    dimensions: list[str]
    purpose: str
    grantee: GranteePublic
    state: ConsentState
    credential: str | None = Field(description="null while prepared for a wallet")


class ExportRequest(_Fixed):
    id: str
    dimensions: list[str]
    purpose: str
    state: RequestState


class ExportAccess(_Fixed):
    at: float = Field(description="Unix time (seconds)")
    dimension: str
    purpose: str | None
    accessor: str
    channel: str
    allowed: bool
    reason: DecisionReason
    consent_id: str | None
    request_id: str | None


class SubjectExport(_Fixed):
    """Everything held about a customer (a data subject access request)."""

    format: Literal["kindred-dsar/1"]
    did: str
    custody: Custody
    subject: Subject
    record: RecordPublic = Field(description="The customer's record, every value")
    history: list[ExportChange] = Field(description="Oldest first")
    consents: list[ExportConsent]
    consent_requests: list[ExportRequest]
    accesses: list[ExportAccess] = Field(description="Every logged read of their values")


class ErasureResult(_Fixed):
    erased: str = Field(description="The customer's DID")
    removed: dict[str, int] = Field(description="What was removed, per kind")
