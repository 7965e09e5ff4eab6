"""What the notification inbox and a record's tags answer, as Pydantic models for the OpenAPI
document (the routes answer the services' dicts with orjson; like ``scenarios/schemas.py``).
``tests/api/test_response_schemas_inbox.py`` validates real responses against them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RecordReference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str
    id: str


class NotificationPublic(BaseModel):
    """One notification in your inbox. Its title, message and link are null (and
    ``withheld`` says why) while your own read of the record it is about does not show that
    record or the fields its text quotes."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str | None = Field(description="null when withheld")
    message: str | None = Field(description="null when none or withheld")
    link: str | None = Field(description="null when none or withheld")
    role: str | None = Field(description="The role it was sent to; null: sent to you by name")
    about: RecordReference | None = Field(description="The record it is about, if it names one")
    source: str = Field(description="What sent it, e.g. scenario:<name>")
    scenario: str | None = Field(description="The scenario that sent it")
    run_id: str | None = Field(description="The run that sent it (null: sent by an older release)")
    created_at: str = Field(description="When it was sent (RFC 3339)")
    read_at: str | None = Field(description="When you read it; null: unread")
    withheld: str | None = Field(description="Why its text is not shown to you")


class NotificationPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[NotificationPublic] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null: last")
    unread: int = Field(description="How many notifications in your inbox you have not read")


class NotificationsMarked(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marked: int = Field(description="How many were unread and are now read")
    unread: int = Field(description="How many are unread now (sent since)")


class TagPublic(BaseModel):
    """One setting of a tag on the record, with its provenance."""

    model_config = ConfigDict(extra="forbid")

    id: str
    tag: str
    note: str | None
    set_at: str = Field(description="When it was set (RFC 3339)")
    valid_until: str | None = Field(description="When it stops applying; null: no end")
    expired: bool = Field(description="valid_until has passed")
    source: str = Field(description="What set it, e.g. scenario:<name>@v<version>")
    scenario: str | None = Field(description="The scenario that set it")
    version: int | None = Field(description="The scenario version that set it")
    run_id: str | None = Field(description="The run that set it (null: set by an older release)")
    set_by: str | None = Field(description="The principal the run acted as")


class TagPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[TagPublic] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null: last")
