"""What the events and channels API answer, as Pydantic models for the OpenAPI document.

The routers do not serialize through these: they answer dicts with orjson
(``api.responses.Json``). These models only describe those bodies, declared per operation as
``responses={…: {"model": …}}`` — see ``records/schemas.py`` for the conventions and
``tests/api/test_response_schemas_data.py`` for the proof that real responses match.

Fixed-shape bodies forbid undocumented keys. A CloudEvent is the exception: its extension
attributes are whatever the producer sent, and its ``data`` is the event's own (as the reader
may see it: values of records they may not read are withheld, ``records/redaction.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DeadLetterStatus = Literal["open", "replayed", "discarded"]


# -- ingest -------------------------------------------------------------------------------------


class IngestedEvent(BaseModel):
    """One stored (or already stored) event of the request."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, description="Its place in the request (0 unless a batch)")
    id: str
    source: str
    type: str
    position: str = Field(description="Where it is in the log: GET /api/v1/events/{position}")
    duplicate: bool = Field(description="Its source+id was stored before: not stored again")


class IngestResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stored: int = Field(ge=0, description="How many events of the request are new: stored now")
    duplicates: int = Field(
        ge=0,
        description="How many were stored before (same source+id): acknowledged, not stored again",
    )
    events: list[IngestedEvent] = Field(
        description="Each event of the request, new or duplicate, in request order"
    )


# -- the log ------------------------------------------------------------------------------------


class CloudEventPublic(BaseModel):
    """A CloudEvents 1.0 event in its JSON form. Optional attributes are left out when unset;
    extension attributes are additional properties. ``data`` is left out when the event has
    none; where it refers to records you may not see (``<object>_id``) it is replaced by
    ``{"withheld": "<why>"}``, and values of fields your record reads hide are left out
    (``data.meta.withheld`` names them)."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"]
    id: str
    source: str
    type: str
    time: str = Field(default_factory=str, description="RFC 3339; present when set")
    subject: str = Field(default_factory=str, description="Present when set")
    datacontenttype: str = Field(default_factory=str, description="Present when set")
    dataschema: str = Field(default_factory=str, description="Present when set")
    partitionkey: str = Field(default_factory=str, description="The ordering key, when set")
    data: Any = Field(default=None, description="The event's data, as you may see it")


class StoredEventPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: str = Field(description="Its position in the log (pass as after= to continue)")
    partition: int = Field(ge=0, description="The partition its key hashes to")
    stored_at: dt.datetime
    event: CloudEventPublic


class EventPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[StoredEventPublic] = Field(description="In storage order")
    next_cursor: str | None = Field(description="Pass as after= for the next page; null: none yet")


# -- the catalog --------------------------------------------------------------------------------


class EventTypeListed(BaseModel):
    """An event type of the catalog (its schema only when ``schemas=true`` asks)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str = Field(description="<domain>.<entity>.<action>")
    domain: str
    version: int = Field(ge=1)
    description: str
    schema_: dict[str, Any] = Field(
        default_factory=dict,
        alias="schema",
        description="JSON Schema of `data`; present when schemas=true",
    )
    partition_field: str | None = Field(
        description="The `data` field that keys events when the producer sent no partition key"
    )
    builtin: bool = Field(description="Shipped with Kindred")


class EventTypePublic(EventTypeListed):
    """One version of an event type, with its schema."""

    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of `data`")


class EventTypeDetail(EventTypePublic):
    """The latest version of an event type."""

    versions: list[int] = Field(min_length=1, description="Every version, oldest first")


class EventTypeList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total: int = Field(ge=0, description="How many types matched")
    domains: dict[str, str] = Field(description="Every domain of the catalog: its description")
    data: list[EventTypeListed]


# -- dead letters -------------------------------------------------------------------------------


class DeadLetterPublic(BaseModel):
    """A refused event (or native message), without its payload."""

    model_config = ConfigDict(extra="forbid")

    id: str
    received_at: dt.datetime
    channel: str = Field(description="Where it came in: http, replay, wechat, pos, social, app")
    reason: str = Field(
        description="Why it was refused, e.g. malformed, schema_violation, unknown_type, "
        "too_large, bad_signature"
    )
    detail: str
    errors: list[dict[str, Any]] = Field(
        description="Each problem, as problem+json errors (path, code, message)"
    )
    event_type: str | None
    event_id: str | None
    event_source: str | None
    payload_bytes: int = Field(ge=0, description="The payload's size as received")
    truncated: bool = Field(description="Only the first bytes of an oversize payload are kept")
    status: DeadLetterStatus
    attempts: int = Field(ge=0, description="How often it was replayed")
    resolved_at: dt.datetime | None = Field(description="null while open")
    resolved_by: str | None
    resolution: str | None = Field(description="What became of it; null while open")


class DeadLetterDetail(DeadLetterPublic):
    """A dead letter with its payload."""

    content_type: str | None
    context: dict[str, Any] | None = Field(
        description="What replaying needs besides the payload (e.g. the app id)"
    )
    payload_redacted: bool = Field(
        description="Values you may not read were left out of the payload (you may then not "
        "replace it)"
    )
    payload: str = Field(description="The payload: text, or base64 of bytes that are not UTF-8")
    payload_encoding: Literal["utf-8", "base64"]


class DeadLetterList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[DeadLetterPublic] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as before= for the next page; null: last")
    counts: dict[str, int] = Field(
        description="How many dead letters there are per status (open, replayed, discarded); "
        "statuses without any are left out"
    )


class ReplayResult(IngestResult):
    dead_letter: str = Field(description="The dead letter's id")
    status: Literal["replayed"]


# -- consumer groups and retention --------------------------------------------------------------


class ConsumerGroupPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    types: list[str] = Field(description="The types (or patterns) it consumes")
    lag: int = Field(ge=0, description="Events stored that it has not acknowledged")
    members: list[str] = Field(description="The consumers currently in the group")


class ConsumerGroupList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["embedded", "jetstream"] = Field(description="The event bus in use")
    data: list[ConsumerGroupPublic]


class SeekResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str
    moved: Literal[True]


class RetentionResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cutoff: dt.datetime = Field(description="Events stored before this were deleted")
    deleted: int = Field(ge=0, description="How many events were deleted")
    bytes_before: int = Field(ge=0, description="The log's size on disk before")
    bytes_after: int = Field(ge=0, description="And after")
    dead_letters_purged: int = Field(
        ge=0, description="Resolved dead letters, resolved before the cutoff, deleted"
    )


# -- operations ---------------------------------------------------------------------------------


class HealthStatus(BaseModel):
    """``GET /healthz`` (declared in ``app.py``): the server answers and its database too."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]
    database: Literal["sqlite", "postgresql"] = Field(description="The database's dialect")
