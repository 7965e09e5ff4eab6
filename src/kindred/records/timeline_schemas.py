"""Response body of a record's timeline (``GET …/records/{id}/timeline``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TimelineKind = Literal[
    "change", "event", "scenario_run", "agent_run", "consent", "tag", "notification"
]


class TimelineChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    before: Any = Field(description="null when withheld (see withheld) or unset")
    after: Any = Field(description="null when withheld (see withheld) or cleared")
    withheld: str | None = Field(
        description="Why the values are not shown (the record read's reason, or 'sealed')"
    )


class TimelineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TimelineKind
    id: str = Field(description="The change, event, run, consent, tag or notification id")
    at: str = Field(description="When it happened (RFC 3339)")
    title: str = Field(
        description="change: create/update/delete; event: its type; runs: the scenario or "
        "agent; consent: the purpose; tag: the tag; notification: its title ('notification' "
        "when withheld)"
    )
    status: str | None = Field(
        description="Runs: their status; consents: their state; tags: valid or expired; "
        "notifications: read or unread (by you)"
    )
    actor: str | None = Field(
        description="Who: the changing user's name (or id), the event's source, the run's "
        "starter, the consent's grantee, the scenario that set the tag or sent the notification"
    )
    detail: str | None = Field(
        description="A run's error, a consent's dimensions, a tag's note, a notification's "
        "message (or why it is withheld)"
    )
    changes: list[TimelineChange] = Field(description="change: the fields it changed")


class TimelineOmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["events", "scenario_runs", "agent_runs", "consents"]
    reason: str


class RecordTimeline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[TimelineItem] = Field(description="Newest first")
    omitted: list[TimelineOmission] = Field(description="Sources left out for this reader, and why")
