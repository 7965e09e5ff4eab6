"""What the agents, agent-runs and tasks API answer, as Pydantic models for the OpenAPI document.

Like ``records/schemas.py`` (see there for the conventions): the routes answer the services'
dicts with orjson; these models only describe those bodies, declared per operation as
``responses={…: {"model": …}}``. ``tests/api/test_response_schemas_automation.py`` validates
real responses of every operation against them on both dialects.

Fixed-shape bodies forbid other properties. Free-form and said so: definitions, run inputs and
outputs, step inputs, outputs and traces, the records a run read (``reads``; in a decision
trace redacted for the reader as ``kindred.records.redaction`` says: records you cannot see
become ``{"id", "object", "withheld"}``, fields you may not read are left out and named in
``meta.withheld``), task details and tool schemas. The OTLP export follows OTLP/JSON: the
properties Kindred sends are named, and (as OTLP allows more) other properties are allowed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kindred.ledger.schemas import ProofBundle
from kindred.scenarios.schemas import optional_keys

RunStatus = Literal["running", "waiting", "succeeded", "failed", "cancelled"]
StepKind = Literal["rule", "tool", "llm", "human", "agent"]

# -- tools and metrics --------------------------------------------------------------------------


class ToolPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="What a definition's `tools` and tool steps name")
    description: str
    system: str = Field(description="The system it calls, e.g. crm or erp")
    version: str
    effect: bool = Field(description="True: it changes something (calls carry idempotency keys)")
    objects: list[str] = Field(description="CRM objects it reads (the agent must be granted)")
    input_schema: dict[str, Any] = Field(description="JSON Schema of its arguments")
    output_schema: dict[str, Any] = Field(description="JSON Schema of its result")


class ToolList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ToolPublic]


class AgentMetrics(BaseModel):
    """Live runs (not evaluations): top-level ones, or every run of ``agent``."""

    model_config = ConfigDict(extra="forbid")

    agent: str | None = Field(description="The agent asked about; null: every agent")
    runs: int = Field(ge=0)
    by_status: dict[str, int] = Field(description="Runs by status")
    success_rate: float | None = Field(
        ge=0, le=1, description="Of finished or waiting runs; null: none"
    )
    intervention_rate: float | None = Field(
        ge=0, le=1, description="Share of finished or waiting runs a person was asked into"
    )
    intervention_target: float = Field(description="The rate to stay below")
    p50_ms: float | None = Field(description="null: no run has finished")
    p95_ms: float | None
    mean_ms: float | None


# -- definitions --------------------------------------------------------------------------------


class AgentPublic(BaseModel):
    """A saved agent: its latest version."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    role: str = Field(description="The role whose work it does")
    version: int = Field(ge=1, description='The latest version; the ETag is "v<version>"')
    enabled: bool = Field(description="Whether new runs are accepted")
    definition: dict[str, Any] | None = Field(description="The definition as saved (see /schema)")
    updated_at: dt.datetime | None
    updated_by: str | None
    owner: str | None = Field(description="Who created it (its steward)")
    run_as: str | None = Field(description="Whose rights event- and scenario-started runs use")
    enabled_by: str | None


class AgentList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[AgentPublic] = Field(description="By name")


class DefinitionProblem(BaseModel):
    """One problem with a definition, at a JSON Pointer into it (as in a 422's ``errors``)."""

    model_config = ConfigDict(extra="allow")

    path: str
    code: str
    message: str


def _valid_or_errors(schema: dict[str, Any]) -> None:
    optional_keys(schema)
    schema["oneOf"] = [
        {"properties": {"valid": {"const": True}}, "required": ["name", "order"]},
        {"properties": {"valid": {"const": False}}, "required": ["errors"]},
    ]


class AgentValidation(BaseModel):
    """Valid: ``name`` and ``order``; not valid: ``errors``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_valid_or_errors)

    valid: bool
    name: str = Field(default="", description="Present when valid")
    order: list[str] = Field(
        default_factory=list, description="Present when valid: the steps in the order they run"
    )
    errors: list[DefinitionProblem] = Field(
        default_factory=list, min_length=1, description="Present when not valid: every problem"
    )


class AgentVersionPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    digest: str = Field(description="SHA-256 of the definition, as on the ledger")
    created_at: dt.datetime
    created_by: str | None


class AgentVersionList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[AgentVersionPublic] = Field(description="Oldest first")


# -- runs ---------------------------------------------------------------------------------------


class AgentRunPublic(BaseModel):
    """A run as stored (list entries; the envelope of a decision trace)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    agent: str
    version: int = Field(ge=1)
    status: RunStatus
    mode: Literal["live", "evaluation"]
    root_id: str = Field(description="The top-level run (itself for a top-level run)")
    parent_id: str | None = Field(description="The run whose agent step started it")
    parent_step: str | None
    inputs: dict[str, Any] = Field(description="Free-form: the agent's inputs")
    outputs: dict[str, Any] | None = Field(description="Free-form; null until it succeeds")
    error: str | None
    error_code: str | None = Field(description="A stable code, e.g. read-not-found")
    customer_id: str | None = Field(description="The account the run is about, when known")
    trigger: dict[str, Any] = Field(description="What started it: `kind` (api, event, …) and more")
    started_by: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_ms: float | None
    digest: str | None = Field(description="The trace's digest, once on the ledger")
    ledger_index: int | None = Field(description="Its ledger entry, once there")


class AgentRunList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[AgentRunPublic] = Field(description="Newest first")


class AgentRunOutcome(BaseModel):
    """Where a run stands after starting, resuming or a decision. A repeated
    ``idempotency_key`` answers the earlier run as stored: then every property of a run
    (``AgentRunPublic``) is present too."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=optional_keys)

    id: str
    agent: str
    version: int = Field(ge=1)
    status: RunStatus
    outputs: dict[str, Any] | None = Field(description="Free-form; null unless it succeeded")
    error: str | None
    error_code: str | None
    customer_id: str | None
    waiting_for: list[str] = Field(description="The open tasks it waits for (status waiting)")
    # Present on an idempotent replay only:
    mode: Literal["live", "evaluation"] = "live"
    root_id: str = ""
    parent_id: str | None = None
    parent_step: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    trigger: dict[str, Any] = Field(default_factory=dict)
    started_by: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration_ms: float | None = None
    digest: str | None = None
    ledger_index: int | None = None


class AgentStepPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str
    kind: StepKind
    status: str = Field(
        description="pending, succeeded, failed, skipped, waiting (for a person or a "
        "sub-agent), fallback (failed, its fallback value used), compensated or cancelled "
        "(its run failed or was cancelled while it waited or ran)"
    )
    attempts: int = Field(ge=0)
    input: Any = Field(description="Free-form: what the step was given")
    output: Any = Field(description="Free-form: what it produced")
    trace: dict[str, Any] | None = Field(
        description="Free-form: how it decided (rules evaluated, tool call, model, task)"
    )
    error: str | None
    error_code: str | None
    started_at: float | None = Field(description="Unix seconds")
    finished_at: float | None = Field(description="Unix seconds")
    duration_ms: float | None


class Assignee(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str | None
    role: str | None


class HumanTaskPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    run_id: str
    root_id: str
    step: str
    agent: str
    reason: Literal["step", "error"] = Field(
        description="step: a human step; error: a failed step escalated to a person"
    )
    title: str
    details: dict[str, Any] = Field(description="Free-form: what the person needs to decide")
    modifiable: list[str] = Field(description="The values a `modified` decision may change")
    assignee: Assignee
    status: Literal["open", "decided", "cancelled"] = Field(
        description="cancelled: closed without a decision, because its run was cancelled "
        "(the reason is in `comment`)"
    )
    mode: Literal["live", "evaluation"] = Field(
        description="evaluation: opened by an evaluation run (never in the live queue)"
    )
    outcome: Literal["approved", "rejected", "modified"] | None
    values: dict[str, Any] | None = Field(description="The changed values of a modification")
    comment: str | None
    decided_by: str | None = Field(description="User id, or system:sla for an automatic decision")
    decided_at: dt.datetime | None
    due_at: dt.datetime
    overdue: bool
    escalations: int = Field(ge=0)
    created_at: dt.datetime | None


class AgentRunTrace(AgentRunPublic):
    """A run's decision trace: what it read, every step, its sub-agent runs and tasks."""

    reads: dict[str, Any] | None = Field(description="Free-form: the records it read, redacted")
    steps: list[AgentStepPublic] = Field(description="In the order they started")
    children: list[AgentRunTrace] = Field(description="Sub-agent runs, with their traces")
    tasks: list[HumanTaskPublic]


def _one_value(schema: dict[str, Any]) -> None:
    optional_keys(schema)
    schema.update(minProperties=1, maxProperties=1)


class OtlpValue(BaseModel):
    """An OTLP AnyValue: exactly one value (Kindred sends these four kinds)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_one_value)

    stringValue: str = ""
    intValue: str = Field(default="", description="An int64, as a decimal string")
    doubleValue: float = 0.0
    boolValue: bool = False


class OtlpAttribute(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: str
    value: OtlpValue


class OtlpStatus(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: int = Field(description="1: OK, 2: ERROR")
    message: str


class OtlpSpan(BaseModel):
    model_config = ConfigDict(extra="allow")

    traceId: str
    spanId: str
    parentSpanId: str = Field(description="'' for the root run's span")
    name: str
    kind: int = Field(description="1: INTERNAL, 3: CLIENT (a call to another system)")
    startTimeUnixNano: str
    endTimeUnixNano: str
    attributes: list[OtlpAttribute]
    status: OtlpStatus


class OtlpScope(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    version: str


class OtlpScopeSpans(BaseModel):
    model_config = ConfigDict(extra="allow")

    scope: OtlpScope
    spans: list[OtlpSpan]


class OtlpResource(BaseModel):
    model_config = ConfigDict(extra="allow")

    attributes: list[OtlpAttribute]


class OtlpResourceSpans(BaseModel):
    model_config = ConfigDict(extra="allow")

    resource: OtlpResource
    scopeSpans: list[OtlpScopeSpans]


class OtlpTraces(BaseModel):
    """An OTLP/JSON ExportTraceServiceRequest: one span per run and per step."""

    model_config = ConfigDict(extra="allow")

    resourceSpans: list[OtlpResourceSpans]


class AgentRunVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str
    intact: bool = Field(description="The stored trace matches its digest and the ledger's")
    problems: list[str]
    digest: str = Field(description="The digest recomputed from the stored trace")
    ledger_index: int = Field(ge=0)
    bundle: ProofBundle = Field(description="The ledger entry's proof, to verify offline")


# -- tasks --------------------------------------------------------------------------------------


class HumanTaskList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[HumanTaskPublic] = Field(description="Soonest due first")


class TaskEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: dt.datetime
    actor: str = Field(description="User id, system:sla, or system:runtime (cancelled)")
    action: str = Field(description="created, escalated, approved, rejected, modified or cancelled")
    detail: dict[str, Any] = Field(description="Free-form")


class HumanTaskDetail(HumanTaskPublic):
    history: list[TaskEvent] = Field(description="Oldest first")


class TaskDecisionResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: HumanTaskPublic = Field(description="The task as decided")
    run: AgentRunOutcome = Field(description="The run, continued")


# -- golden cases and evaluations ---------------------------------------------------------------


class GoldenCasePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    inputs: dict[str, Any] = Field(description="Free-form: the agent's inputs")
    expected: dict[str, Any] = Field(description="Expected outputs; `_status`: the run status")
    systems: dict[str, Any] = Field(
        default_factory=dict,
        description="What named tools answer in this case's evaluation runs only: tool name → "
        '`{"fail": {"status": 503, "times": n}}` (times omitted: every call) and/or '
        '`{"answer": {...}}` (a recorded response, valid for the tool\'s output schema)',
    )


class GoldenCaseSaved(GoldenCasePublic):
    agent: str


class GoldenCaseList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[GoldenCasePublic] = Field(description="By name")


class EvaluationRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str
    passed: bool
    outcome: dict[str, Any] = Field(description="The compared outputs and `_status`")


class CaseVersionResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pass_k: bool = Field(description="All k runs passed")
    passed: int = Field(ge=0)
    runs: list[EvaluationRun]


class CaseResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected: dict[str, Any]
    versions: dict[str, CaseVersionResult] = Field(description="By version number")
    deviations: int = Field(ge=0, description="Runs whose outcome differs from the most common")


class EvaluationReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    agent: str
    k: int = Field(ge=1)
    versions: list[int]
    cases: int = Field(ge=0)
    runs: int = Field(ge=0)
    pass_k: float = Field(ge=0, le=1, description="The lowest pass^k of the versions")
    pass_k_by_version: dict[str, float]
    deviation_rate: float = Field(ge=0, le=1)
    deviation_target: float
    meets_target: bool
    detail: dict[str, CaseResult] = Field(description="By case name")


class EvaluationSummary(BaseModel):
    """One stored evaluation, as a point of the agent's quality over time."""

    model_config = ConfigDict(extra="forbid")

    id: str
    agent: str
    created_at: dt.datetime
    created_by: str | None
    k: int = Field(ge=1)
    versions: list[int]
    cases: int = Field(ge=0)
    runs: int = Field(ge=0)
    pass_k: float = Field(ge=0, le=1, description="The lowest pass^k of the versions")
    deviation_rate: float = Field(ge=0, le=1)
    intervention_rate: float = Field(
        ge=0, le=1, description="Share of the evaluation's runs a person was asked into"
    )
    meets_target: bool = Field(description="The deviation rate is below its target")


class EvaluationHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[EvaluationSummary] = Field(description="Oldest first (the latest `limit`)")
