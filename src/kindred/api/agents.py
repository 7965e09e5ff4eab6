"""Agent endpoints: definitions (JSON or YAML, versioned), runs and their decision traces
(with OTLP export and ledger proof), the human task queue, golden cases and evaluations.
Thin: parsing and permission gates here, everything else in ``kindred.agents``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kindred.agents.definition import definition_schema
from kindred.agents.evaluation import evaluate, history
from kindred.agents.runtime import runtime_for
from kindred.agents.schemas import (
    AgentList,
    AgentMetrics,
    AgentPublic,
    AgentRunList,
    AgentRunOutcome,
    AgentRunTrace,
    AgentRunVerification,
    AgentValidation,
    AgentVersionList,
    EvaluationHistory,
    EvaluationReport,
    GoldenCaseList,
    GoldenCaseSaved,
    HumanTaskDetail,
    HumanTaskList,
    OtlpTraces,
    TaskDecisionResult,
    ToolList,
)
from kindred.api.deps import ContextDep, KindredDep, parse_if_match
from kindred.api.responses import Json
from kindred.api.scenarios import read_definition
from kindred.auth.automation import RunAsRequest
from kindred.errors import NotFound, PermissionDenied, ValidationFailed, field_error
from kindred.records.redaction import Redactor
from kindred.records.service import RequestContext
from kindred.scenarios.schemas import JsonSchemaDocument

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])
runs_router = APIRouter(prefix="/api/v1/agent-runs", tags=["agents"])
tasks_router = APIRouter(prefix="/api/v1/tasks", tags=["agents"])
# What the console reads besides the operations above (issue 17): evaluations over time.
console_router = APIRouter(prefix="/api/v1/agents", tags=["agents"])
AUTHORS = {"admin"}
# Who may read any run's decision trace (others: the runs they started).
AUDITORS = {"admin", "compliance"}
# Response bodies are documented, not serialized, through the models in agents/schemas.py
# (response_model=None): the routes answer the services' dicts with orjson.
ETAG = {"ETag": {"description": 'The version, e.g. "v3"', "schema": {"type": "string"}}}
LOCATION = {"Location": {"description": "The run's URL", "schema": {"type": "string"}}}


def _author(context: ContextDep) -> RequestContext:
    if not AUTHORS & set(context.principal.roles):
        raise PermissionDenied("defining agents needs the admin role")
    return context


AuthorDep = Annotated[RequestContext, Depends(_author)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(_Body):
    inputs: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    # Versions are 32-bit integers in the database: a larger one cannot exist (and failed in SQL).
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    wait: bool = True


class Decision(_Body):
    outcome: str
    values: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = Field(default=None, max_length=2000)


class CaseRequest(_Body):
    name: str = Field(min_length=1, max_length=100)
    inputs: dict[str, Any]
    expected: dict[str, Any]
    # What named tools answer in this case's evaluation runs (validated by the service).
    systems: dict[str, Any] = Field(default_factory=dict)


class EvaluationRequest(_Body):
    k: int = Field(default=3, ge=1, le=50)
    versions: list[int] | None = None


def _may_read_run(context: RequestContext, run: dict[str, Any]) -> None:
    if (
        AUDITORS & set(context.principal.roles)
        or run.get("started_by") == context.principal.user_id
    ):
        return
    # Not 403: whether a run exists is itself not for everyone to learn.
    raise NotFound(f"no agent run {run['id']}")


# -- definitions -------------------------------------------------------------------------------


@router.get(
    "/schema",
    summary="JSON Schema of an agent definition",
    response_model=None,
    responses={
        200: {"model": JsonSchemaDocument, "description": "The JSON Schema of an agent definition"}
    },
)
async def schema() -> Json:
    return Json(definition_schema())


@router.get(
    "/tools",
    summary="The tools agents may be granted, with input/output schemas",
    response_model=None,
    responses={200: {"model": ToolList, "description": "Every tool"}},
)
async def tools(kindred: KindredDep, context: ContextDep) -> Json:
    return Json({"data": [tool.describe() for tool in kindred.agents.tools.values()]})


@router.get(
    "/metrics",
    summary="Run volume, success, latency and the human intervention rate",
    response_model=None,
    responses={200: {"model": AgentMetrics, "description": "The live runs' metrics"}},
)
def metrics(kindred: KindredDep, context: ContextDep, agent: str | None = None) -> Json:
    with kindred.database.read() as session:
        return Json(kindred.agents.metrics(session, agent))


@router.get(
    "",
    summary="Agents",
    response_model=None,
    responses={200: {"model": AgentList, "description": "Every agent (latest versions)"}},
)
def list_agents(kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        return Json({"data": kindred.agents.all(session)})


@router.post(
    "",
    status_code=201,
    summary="Save an agent (JSON or YAML); a new version if it exists",
    response_model=None,
    responses={201: {"model": AgentPublic, "description": "The agent as saved", "headers": ETAG}},
)
async def save_agent(request: Request, kindred: KindredDep, context: AuthorDep) -> Json:
    raw = await read_definition(request)
    with kindred.database.write() as session:
        saved = kindred.agents.save(
            session, raw, actor_id=context.principal.user_id, actor=context.principal
        )
    return Json(saved, status_code=201, headers={"ETag": f'"v{saved["version"]}"'})


@router.post(
    "/validate",
    summary="Check a definition without saving it",
    response_model=None,
    responses={
        200: {
            "model": AgentValidation,
            "description": "Whether it checks, and every problem if not",
        }
    },
)
async def validate_agent(request: Request, kindred: KindredDep, context: ContextDep) -> Json:
    raw = await read_definition(request)
    with kindred.database.read() as session:
        compiled, errors = kindred.agents.check(session, raw)
    if compiled is None:
        return Json({"valid": False, "errors": errors})
    return Json({"valid": True, "name": compiled.name, "order": compiled.order})


@router.get(
    "/{name}",
    summary="One agent (latest version)",
    response_model=None,
    responses={200: {"model": AgentPublic, "description": "The agent", "headers": ETAG}},
)
def get_agent(name: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        saved = kindred.agents.get(session, name)
    return Json(saved, headers={"ETag": f'"v{saved["version"]}"'})


@router.put(
    "/{name}",
    summary="Save a new version (If-Match: the version you edited)",
    response_model=None,
    responses={200: {"model": AgentPublic, "description": "The agent as saved", "headers": ETAG}},
)
async def update_agent(
    name: str,
    request: Request,
    kindred: KindredDep,
    context: AuthorDep,
    if_match: Annotated[str | None, Header()] = None,
) -> Json:
    raw = await read_definition(request)
    if isinstance(raw, dict) and raw.get("name") != name:
        raise ValidationFailed(
            "the definition's name must match the URL",
            errors=[field_error("/name", "mismatch", f"expected {name!r}")],
        )
    with kindred.database.write() as session:
        saved = kindred.agents.save(
            session,
            raw,
            actor_id=context.principal.user_id,
            expected_version=parse_if_match(if_match),
            actor=context.principal,
        )
    return Json(saved, headers={"ETag": f'"v{saved["version"]}"'})


@router.get(
    "/{name}/versions",
    summary="Every saved version",
    response_model=None,
    responses={200: {"model": AgentVersionList, "description": "Every version"}},
)
def agent_versions(name: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        return Json({"data": kindred.agents.versions(session, name)})


@router.post(
    "/{name}/enable",
    summary="Allow new runs",
    response_model=None,
    responses={200: {"model": AgentPublic, "description": "The agent, enabled"}},
)
def enable_agent(name: str, kindred: KindredDep, context: AuthorDep) -> Json:
    with kindred.database.write() as session:
        return Json(
            kindred.agents.set_enabled(
                session, name, True, context.principal.user_id, context.principal
            )
        )


@router.post(
    "/{name}/disable",
    summary="Refuse new runs (runs in flight finish)",
    response_model=None,
    responses={200: {"model": AgentPublic, "description": "The agent, disabled"}},
)
def disable_agent(name: str, kindred: KindredDep, context: AuthorDep) -> Json:
    with kindred.database.write() as session:
        return Json(
            kindred.agents.set_enabled(
                session, name, False, context.principal.user_id, context.principal
            )
        )


@router.put(
    "/{name}/run-as",
    summary="Whose rights event- and scenario-started runs act with: you, or a service principal",
    response_model=None,
    responses={
        200: {"model": AgentPublic, "description": "The agent with its new run-as principal"}
    },
)
def set_run_as(name: str, body: RunAsRequest, kindred: KindredDep, context: AuthorDep) -> Json:
    with kindred.database.write() as session:
        return Json(kindred.agents.set_run_as(session, name, body.principal, context.principal))


# -- runs --------------------------------------------------------------------------------------


@router.post(
    "/{name}/runs",
    summary="Run an agent (waits for the result unless wait=false)",
    response_model=None,
    responses={
        200: {"model": AgentRunOutcome, "description": "The run finished", "headers": LOCATION},
        202: {
            "model": AgentRunOutcome,
            "description": "The run is waiting or still running; follow Location for its outcome",
            "headers": LOCATION,
        },
    },
)
async def start_run(name: str, body: RunRequest, kindred: KindredDep, context: ContextDep) -> Json:
    runtime = runtime_for(kindred)
    summary = await runtime.start(
        name,
        body.inputs,
        principal=context.principal,
        idempotency_key=body.idempotency_key,
        trigger={"kind": "api", "request": context.request_id},
        version=body.version,
        wait=body.wait,
    )
    status = 202 if summary["status"] in ("running", "waiting") else 200
    return Json(
        summary, status_code=status, headers={"Location": f"/api/v1/agent-runs/{summary['id']}"}
    )


@runs_router.get(
    "",
    summary="Runs, newest first: by agent, customer (account id) and status",
    response_model=None,
    responses={200: {"model": AgentRunList, "description": "Runs"}},
)
def list_runs(
    kindred: KindredDep,
    context: ContextDep,
    agent: str | None = None,
    customer: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Json:
    with kindred.database.read() as session:
        items = kindred.agents.runs(
            session, agent=agent, customer=customer, status=status, limit=limit
        )
        if not AUDITORS & set(context.principal.roles):
            items = [i for i in items if i["started_by"] == context.principal.user_id]
        # Inputs and outputs may hold records: as far as the reader's record reads go.
        return Json({"data": Redactor(kindred.records, session, context).value(items)})


@runs_router.get(
    "/{run_id}",
    summary="A run's decision trace: reads, steps, sub-agents, tasks",
    response_model=None,
    responses={
        200: {"model": AgentRunTrace, "description": "The decision trace as far as you may see it"}
    },
)
def get_run(run_id: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        run = kindred.agents.run(session, run_id)
        _may_read_run(context, run)
        # The trace's reads keep only what the reader's own record reads would show.
        return Json(Redactor(kindred.records, session, context).value(run))


@runs_router.get(
    "/{run_id}/otlp",
    summary="The trace as OTLP/JSON spans (GenAI conventions)",
    response_model=None,
    responses={200: {"model": OtlpTraces, "description": "The trace as OTLP/JSON"}},
)
def run_otlp(run_id: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        _may_read_run(context, kindred.agents.run(session, run_id))
        redact = Redactor(kindred.records, session, context).value
        return Json(kindred.agents.otlp(session, run_id, redact))


@runs_router.get(
    "/{run_id}/verify",
    summary="Prove the stored trace unaltered against the ledger",
    response_model=None,
    responses={200: {"model": AgentRunVerification, "description": "The check against the ledger"}},
)
def verify_run(run_id: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        _may_read_run(context, kindred.agents.run(session, run_id))
        return Json(kindred.agents.verify(session, run_id))


@runs_router.post(
    "/{run_id}/resume",
    summary="Continue a run from its durable state (admin)",
    response_model=None,
    responses={200: {"model": AgentRunOutcome, "description": "Where the run stands now"}},
)
async def resume_run(run_id: str, kindred: KindredDep, context: AuthorDep) -> Json:
    return Json(await runtime_for(kindred).resume(run_id))


# -- human tasks -------------------------------------------------------------------------------


@tasks_router.get(
    "",
    summary="The task queue: open tasks assigned to you or your roles",
    response_model=None,
    responses={200: {"model": HumanTaskList, "description": "Tasks"}},
)
def list_tasks(
    kindred: KindredDep,
    context: ContextDep,
    status: str | None = "open",
    mine: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    mode: Annotated[
        Literal["live", "evaluation"],
        Query(description="live: the approvals queue; evaluation: tasks of evaluation runs"),
    ] = "live",
) -> Json:
    with kindred.database.read() as session:
        items = kindred.agents.tasks(
            session, context.principal, status=status or None, mine=mine, limit=limit, mode=mode
        )
    return Json({"data": items})


@tasks_router.get(
    "/{task_id}",
    summary="One task with its history",
    response_model=None,
    responses={200: {"model": HumanTaskDetail, "description": "The task with its history"}},
)
def get_task(task_id: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        return Json(kindred.agents.task(session, context.principal, task_id))


@tasks_router.post(
    "/{task_id}/decision",
    summary="Approve, reject or modify; the run continues",
    response_model=None,
    responses={
        200: {"model": TaskDecisionResult, "description": "The decided task and the continued run"}
    },
)
async def decide_task(
    task_id: str, body: Decision, kindred: KindredDep, context: ContextDep
) -> Json:
    with kindred.database.write() as session:
        task = kindred.agents.decide(
            session, context.principal, task_id, body.outcome, body.values, body.comment
        )
    run = await runtime_for(kindred).resume(task["root_id"])
    return Json({"task": task, "run": run})


# -- golden cases and evaluation ---------------------------------------------------------------


@router.get(
    "/{name}/cases",
    summary="Golden cases of an agent",
    response_model=None,
    responses={200: {"model": GoldenCaseList, "description": "The golden cases"}},
)
def list_cases(name: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        return Json({"data": kindred.agents.cases(session, name)})


@router.post(
    "/{name}/cases",
    status_code=201,
    summary="Add (or replace by name) a golden case",
    response_model=None,
    responses={201: {"model": GoldenCaseSaved, "description": "The golden case saved"}},
)
def add_case(name: str, body: CaseRequest, kindred: KindredDep, context: AuthorDep) -> Json:
    with kindred.database.write() as session:
        case = kindred.agents.add_case(
            session,
            name,
            body.name,
            body.inputs,
            body.expected,
            context.principal.user_id,
            body.systems,
        )
    return Json(case, status_code=201)


@router.post(
    "/{name}/evaluations",
    summary="Run every golden case k times per version: pass^k",
    response_model=None,
    responses={200: {"model": EvaluationReport, "description": "The evaluation report"}},
)
async def run_evaluation(
    name: str, body: EvaluationRequest, kindred: KindredDep, context: AuthorDep
) -> Json:
    report = await evaluate(
        runtime_for(kindred), name, k=body.k, versions=body.versions, principal=context.principal
    )
    return Json(report)


@console_router.get(
    "/{name}/evaluations",
    summary="The agent's evaluations over time: pass^k, deviation and intervention rates",
    response_model=None,
    responses={200: {"model": EvaluationHistory, "description": "Oldest first"}},
)
def evaluation_history(
    name: str,
    kindred: KindredDep,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Json:
    with kindred.database.read() as session:
        kindred.agents.get(session, name)  # 404 for an agent that does not exist
        return Json({"data": history(session, name, limit)})
