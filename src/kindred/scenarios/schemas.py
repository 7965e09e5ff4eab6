"""What the scenarios and scenario-runs API answer, as Pydantic models for the OpenAPI document.

Like ``records/schemas.py`` (see there for the conventions): the routes answer the services'
dicts with orjson; these models only describe those bodies, declared per operation as
``responses={…: {"model": …}}``. ``tests/api/test_response_schemas_automation.py`` validates
real responses of every operation against them on both dialects.

Fixed-shape bodies forbid other properties. What authors write or automation stored is
free-form and said so: a definition, lookups and run variables (records as they were, see
below), step inputs and outputs, event data.

Stored record data in a run (its lookups in ``variables``, its event's ``data``, step inputs
and outputs) is shown as far as the reader's own record reads show it now
(``kindred.records.redaction``): a record the reader cannot see becomes
``{"id", "object", "withheld": "<why>"}``; a record or event data with fields the reader may
not read keeps the others and lists the left-out names in ``meta.withheld`` (a list of field
names, unlike a record read's ``meta.withheld`` entries); event data about a record the
reader cannot see becomes ``{"withheld": "<why>"}``; a step input or output of a run that
acted with rights the reader does not have becomes ``{"withheld": "<why>"}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kindred.scenarios.actions import ParamKind

RunStatus = Literal["running", "waiting", "succeeded", "failed"]
# A run step: pending → (retrying →) succeeded | failed | failed_handled, skipped (its `if`
# was false), branch (an if/else: it chose), waiting (a wait step or awaited event).
StepStatus = Literal[
    "pending", "retrying", "waiting", "succeeded", "skipped", "branch", "failed", "failed_handled"
]


def optional_keys(schema: dict[str, Any]) -> None:
    """Sometimes-absent keys are modelled with a placeholder default only for Pydantic; the
    document must not claim a default the code never sends."""
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class JsonSchemaDocument(BaseModel):
    """A JSON Schema (draft 2020-12) document; its keywords beyond these are JSON Schema's."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_uri: Literal["https://json-schema.org/draft/2020-12/schema"] = Field(alias="$schema")
    title: str
    type: Literal["object"]
    properties: dict[str, Any] = Field(description="The definition's properties, as JSON Schema")


# -- the action catalog -------------------------------------------------------------------------


class ActionParamPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=optional_keys)

    kind: ParamKind = Field(description="The type of value the parameter takes")
    required: bool
    description: str
    choices: list[str] = Field(
        default_factory=list, min_length=1, description="Present when only these values are taken"
    )


class ActionPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="What a step's `action` names")
    description: str
    params: dict[str, ActionParamPublic] = Field(description="Its parameters (`with`), by name")
    one_of: list[list[str]] = Field(description="Groups of parameters one of which must be given")
    available: bool = Field(description="False: listed, but refused at save time until it ships")


class ActionList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ActionPublic]


# -- scenarios ----------------------------------------------------------------------------------


class ScenarioPublic(BaseModel):
    """A saved scenario: its latest version."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    version: int = Field(ge=1, description='The latest version; the ETag is "v<version>"')
    enabled: bool = Field(description="Whether events start runs (saved scenarios start off)")
    updated_at: dt.datetime
    updated_by: str | None = Field(description="User id; null for the operator's tooling")
    owner: str | None = Field(description="Who created it (its steward)")
    run_as: str | None = Field(description="The principal whose rights its runs act with")
    enabled_by: str | None = Field(description="Who last switched it on; null: never")
    definition: dict[str, Any] = Field(description="The definition as saved (see /schema)")


class ScenarioList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ScenarioPublic]


class ScenarioValidation(BaseModel):
    """A definition that checks (one that does not is refused with 422 and every problem)."""

    model_config = ConfigDict(extra="forbid")

    valid: Literal[True]
    name: str
    steps: int = Field(ge=0, description="How many steps it has, nested ones included")


class ScenarioVersionPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    created_at: dt.datetime
    created_by: str | None
    run_as: str | None = Field(description="The principal the version acts with")
    definition: dict[str, Any]


class ScenarioVersionList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ScenarioVersionPublic] = Field(description="Oldest first")


# -- dry runs -----------------------------------------------------------------------------------


class ConditionResultPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cel: str = Field(description="The condition (an `and` entry)")
    result: bool | None = Field(description="null when it could not be evaluated (`error`)")
    error: str | None


class PlannedStepPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=optional_keys)

    id: str
    pointer: str = Field(description="JSON Pointer of the step in the definition")
    status: Literal["would_run", "skipped", "branch", "failed"]
    action: str = Field(default="", description="Present for action steps (not if/else)")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Present with `action`: the rendered parameters (empty when not rendered)",
    )
    branch: Literal["then", "else"] = Field(default="then", description="Present for if/else")
    error: str = Field(default="", description="Present when rendering the step failed")


class DryRunReport(BaseModel):
    """What the scenario would do for the event, without acting."""

    model_config = ConfigDict(extra="forbid")

    scenario: str
    version: int = Field(ge=0, description="The version tried; 0 for an unsaved draft")
    matched: bool = Field(description="Whether the event matches `when` (types and filters)")
    fires: bool = Field(description="matched and every condition true: a run would start")
    reason: str | None = Field(description="Why it did not match; null when it did")
    lookups: dict[str, Any] = Field(
        description="The lookups' results (records as the dry run read them) and `windows`: "
        "the window values from the event log"
    )
    conditions: list[ConditionResultPublic]
    plan: list[PlannedStepPublic] = Field(description="Every step it would take, in order")


# -- health -------------------------------------------------------------------------------------


class LatencyPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    p50: float | None = Field(description="Milliseconds, event to finish; null: no finished run")
    p99: float | None


class BusinessImpactPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measure: Literal["order_value", "ticket_avoided", "fixed"]
    value: float = Field(description="The measured value over the succeeded runs")
    runs: int = Field(ge=0, description="The succeeded runs measured (at most 500)")


class RunBucketPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: dt.datetime = Field(description="Runs started from then (for `bucket_seconds`)")
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)
    in_progress: int = Field(ge=0, description="Running or waiting")


class LastFailurePublic(BaseModel):
    """The newest failed run of the period (its error text is in the run, for its stewards)."""

    model_config = ConfigDict(extra="forbid")

    at: dt.datetime = Field(description="When the run failed")
    step: str | None = Field(description="The id of the step that failed; null: none did")
    error_code: str | None = Field(description="The step's stable error code")


class ScenarioHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str
    since: dt.datetime = Field(description="Runs started from then are counted")
    runs: int = Field(ge=0)
    in_progress: int = Field(ge=0)
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)
    success_rate: float | None = Field(ge=0, le=1, description="null: no finished run")
    latency_ms: LatencyPublic
    failure_reasons: dict[str, int] = Field(description="Failed steps by error code")
    business_impact: BusinessImpactPublic | None = Field(
        description="null when the scenario defines no `impact`"
    )
    bucket_seconds: int = Field(gt=0, description="The width of each of `buckets`")
    buckets: list[RunBucketPublic] = Field(
        description="The period's runs over time, oldest bucket first (aligned on multiples "
        "of the width since the epoch, UTC)"
    )
    last_failure: LastFailurePublic | None = Field(description="null: no failed run in the period")


# -- runs ---------------------------------------------------------------------------------------


class EventReference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None
    type: str | None


class _RunBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    scenario: str
    version: int = Field(ge=1, description="The scenario version the run follows")
    status: RunStatus
    key: str = Field(description="The customer or device key the run is about")
    chain_depth: int = Field(ge=0, description="How many scenario runs led to its event")
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_ms: float | None = Field(description="Event to finish; null until it finishes")
    error: str | None


class ScenarioRunSummary(_RunBase):
    event: EventReference = Field(description="The triggering event")


class ScenarioRunPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ScenarioRunSummary] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as before= for the next page; null: last")


class StoredEvent(BaseModel):
    """The triggering CloudEvent as stored (structured mode), its data redacted for you."""

    model_config = ConfigDict(extra="allow", json_schema_extra=optional_keys)

    specversion: Literal["1.0"]
    id: str
    source: str
    type: str
    time: str = Field(default="", description="Present when the event has one")
    subject: str = Field(default="", description="Present when the event has one")
    data: Any = Field(
        default=None,
        description="Present when the event has data (free-form; redacted as the module says)",
    )


class ScenarioRunStepPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    pointer: str = Field(description="JSON Pointer of the step in the definition")
    action: str | None = Field(description="null for an if/else")
    status: StepStatus
    attempts: int = Field(ge=0)
    input: dict[str, Any] | None = Field(
        description="The rendered parameters (free-form, redacted); null before it ran"
    )
    output: dict[str, Any] | None = Field(description="Its result (free-form, redacted)")
    error: str | None
    error_code: str | None = Field(description="A stable code, e.g. validation-failed")
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ScenarioRunDetail(_RunBase):
    """One run with every step, as far as you may see it (see the module on redaction)."""

    event: StoredEvent
    run_as: str | None = Field(description="The principal whose rights the run acted with")
    variables: dict[str, Any] = Field(
        description="What the run knows: `event`, `now`, its lookups (records as they were, "
        "redacted for you) and step outputs; free-form"
    )
    next_attempt_at: float | None = Field(
        description="When a waiting or retrying run continues (Unix seconds); null otherwise"
    )
    steps: list[ScenarioRunStepPublic] = Field(description="By pointer")


class RetryAccepted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str
    status: Literal["running"]


# -- the builder's helpers (GET /api/v1/scenario-builder/…) ------------------------------------


class ScenarioExamplePublic(BaseModel):
    """One of the example chains shipped with Kindred, to start a new scenario from."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    description: str
    installed: bool = Field(description="Whether a scenario of this name is saved already")
    definition: dict[str, Any] = Field(description="The definition (see /scenarios/schema)")


class ScenarioExampleList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ScenarioExamplePublic]


class SampleEventPublic(BaseModel):
    """An event to dry-run a scenario with: the latest past event of the type (its data as your
    record reads would show it), or an example made from the type's JSON Schema."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["past", "example"] = Field(
        description="past: from the event log (readers of the log only); example: made up"
    )
    stored_at: dt.datetime | None = Field(description="When the past event was stored")
    event: dict[str, Any] = Field(description="A CloudEvent (structured mode)")
