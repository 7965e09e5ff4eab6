"""What the records and metadata API answer, as Pydantic models for the OpenAPI document.

The routers do not serialize through these: they answer the dicts the services build with
orjson (``api.responses.Json``), the hot paths are benchmarked. These models only describe
those bodies, declared per operation as ``responses={200: {"model": …}}``, so the document
(and the console's generated TypeScript types) says what each operation answers.
``tests/api/test_response_schemas.py`` validates real responses of every operation against
them, on both dialects; schemathesis checks them against fuzzed requests.

Conventions: a field that is always in the body is required, one that is sometimes left
out is not (and says when it is there), null is allowed exactly where the code can answer
null. Fixed-shape bodies forbid other properties (``additionalProperties: false``), so a
key the code adds without documenting it fails the tests. A record is the exception: its
envelope is declared, its field values are whatever the object defines (custom fields
included), so it allows additional properties.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kindred.records.fields import FieldType, SovereigntyClass
from kindred.records.service import MAX_BULK

# -- requests -----------------------------------------------------------------------------------


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: Literal["create", "update", "upsert"]
    records: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BULK)
    match_on: str = Field(default="id", description="'id' or a unique field (upsert/update)")


# -- records ------------------------------------------------------------------------------------

# Why a value is withheld (``sovereignty.pdp.Decision.reason`` of a refusal; the allowed
# reasons, ``consent`` and ``customer-request``, never withhold anything).
WithheldReason = Literal[
    "no-purpose",
    "unknown-purpose",
    "no-subject",
    "no-consent",
    "expired-consent",
    "not-yet-valid",
    "not-for-you",
]


class WithheldValue(BaseModel):
    """A field left out of the record because the customer's consent does not allow it."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="The field left out of the record")
    reason: WithheldReason = Field(
        description="no-purpose: no X-Purpose was sent; unknown-purpose: it is not a registered "
        "purpose; no-subject: the value has no identified customer; no-consent: the customer "
        "has not consented to it for this purpose and reader; expired-consent / not-yet-valid: "
        "the consent has ended / starts later; not-for-you: the purpose is reserved for the "
        "customer's own requests"
    )
    detail: str = Field(description="The reason in words, naming the object, field and purpose")
    request_consent: str = Field(
        description="Where to ask the customer for consent (POST), /api/v1/consent-requests"
    )


class RecordMeta(BaseModel):
    """What a read left out or flags; present only when it has something to say."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    withheld: list[WithheldValue] = Field(
        default_factory=list,
        min_length=1,
        description="Present when the policy decision point withheld customer-authorized "
        "values: one entry per field left out",
    )
    expired: list[str] = Field(
        default_factory=list,
        min_length=1,
        description="Present when values have passed their provenance validity: the names of "
        "those fields (still in the record for people; left out of automated reads)",
    )


class RecordPublic(BaseModel):
    """A record: the envelope below plus its field values, one property per field of its
    object that the caller may read (custom fields included; null where unset). Fields the
    caller's role hides are left out, and so are values withheld for lack of consent
    (``meta.withheld`` says which and why)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="The record's id (a lowercase UUID)")
    object: str = Field(description="The object it is a record of, e.g. account")
    version: int = Field(ge=1, description='Its version; the ETag is "v<version>"')
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str | None = Field(description="User id; null for seeded and system records")
    updated_by: str | None = Field(description="User id; null for seeded and system records")
    meta: RecordMeta = Field(
        default_factory=RecordMeta,
        description="Present only when values were withheld or have expired",
    )


class RecordWithIncluded(RecordPublic):
    """A record, with the records its relation fields point at when ``include=`` asks."""

    included: list[RecordPublic] = Field(
        default_factory=list,
        description="Present when include= was given: the related records you may see",
    )


class RecordPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[RecordPublic]
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null: last")
    included: list[RecordPublic] = Field(
        default_factory=list,
        description="Present when include= was given: the related records of this page you may see",
    )


class BulkResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[RecordPublic] = Field(description="The written records, in request order")
    count: int = Field(ge=0, description="How many records were written")


class ActingFor(BaseModel):
    """The automation that made a change with the actor's rights (a scenario step)."""

    model_config = ConfigDict(extra="allow")

    scenario: str
    version: int
    run: str
    step: str
    author: str | None = Field(description="Who saved the scenario version")
    run_as: str = Field(description="The principal whose rights the step acted with")
    event: dict[str, Any] | None = Field(description="The triggering event: id, source, type")


class ChangeEntryPublic(BaseModel):
    """One change of a record. ``before`` and ``after`` hold the changed fields you may read
    (a create: every value, an update: the changed ones, a merge: ``{"$merge": …}``); a value
    sealed with the customer's key shows as ``{"$sealed": true}``."""

    model_config = ConfigDict(extra="forbid")

    id: int
    action: Literal["create", "update", "delete", "merge", "unmerge", "seed"]
    actor_id: str | None
    request_id: str | None
    acting_for: ActingFor | None = Field(
        description="The automation that made the change; null for a person's own request"
    )
    at: dt.datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class RecordHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ChangeEntryPublic] = Field(description="Newest first")


# -- metadata (object and field definitions) ----------------------------------------------------


class EnumOptionPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str
    label: str | None
    label_zh: str | None


class ValidationRulePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    expression: str = Field(description="CEL over `record` that must hold to save a record")
    message: str
    path: str = Field(description="The field the message is shown against; '' for the record")


class FieldDefinitionPublic(BaseModel):
    """A field as ``records.fields.FieldDefinition`` holds it, every property present."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: FieldType
    label: str | None
    label_zh: str | None
    description: str | None
    required: bool
    unique: bool
    indexed: bool
    default: Any = Field(description="The value new records get; null: none")
    options: list[EnumOptionPublic] = Field(description="enum and multi_enum fields; else []")
    target: str | None = Field(description="relation fields: the object they point at")
    cardinality: Literal["one", "many"]
    inverse_name: str | None
    max_length: int | None
    minimum: float | None
    maximum: float | None
    sovereignty: SovereigntyClass
    standard: bool = Field(description="Shipped with Kindred; cannot be deleted")


class ObjectDefinitionPublic(BaseModel):
    """An object as ``records.fields.ObjectDefinition`` holds it, every property present."""

    model_config = ConfigDict(extra="forbid")

    name: str
    label: str
    label_plural: str
    label_zh: str | None
    description: str | None
    standard: bool
    fields: list[FieldDefinitionPublic]
    validation_rules: list[ValidationRulePublic]
    title_field: str | None
    parent: str | None = Field(description="A child object's to-one relation to its parent")
    version: int = Field(ge=1, description='The definition\'s version; the ETag is "v<version>"')


class ObjectDefinitionList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ObjectDefinitionPublic] = Field(description="The objects you may read")


class ObjectDefinitionChange(BaseModel):
    """One version of an object definition. ``before`` and ``after`` are the definition as
    saved then (without ``version``); ones saved by an earlier release may lack properties
    added since, so they are not described further."""

    model_config = ConfigDict(extra="forbid")

    version: int
    action: Literal[
        "install",
        "upgrade",
        "create",
        "update",
        "delete",
        "add_field",
        "update_field",
        "delete_field",
    ]
    summary: str
    actor_id: str | None
    request_id: str | None
    at: dt.datetime
    before: dict[str, Any] | None = Field(description="null for the version that created it")
    after: dict[str, Any] | None


class ObjectDefinitionHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ObjectDefinitionChange] = Field(description="Oldest first")
