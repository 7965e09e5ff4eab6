"""Scenario endpoints: the published schema and action catalog, save (JSON or YAML), versions,
enable/disable and dry runs. Thin: parsing here, everything else in ``kindred.scenarios``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request

from kindred.api.deps import ContextDep, KindredDep, parse_if_match
from kindred.api.responses import Json
from kindred.auth.automation import RunAsRequest
from kindred.errors import MalformedRequest, NotFound, PermissionDenied, ValidationFailed
from kindred.records.redaction import Redactor
from kindred.records.service import RequestContext
from kindred.scenarios import metrics as _metrics  # noqa: F401  (registers the metrics)
from kindred.scenarios.actions import ACTIONS
from kindred.scenarios.definition import definition_schema, load_text
from kindred.scenarios.samples import example_event
from kindred.scenarios.schemas import (
    ActionList,
    DryRunReport,
    JsonSchemaDocument,
    RetryAccepted,
    SampleEventPublic,
    ScenarioExampleList,
    ScenarioHealth,
    ScenarioList,
    ScenarioPublic,
    ScenarioRunDetail,
    ScenarioRunPage,
    ScenarioValidation,
    ScenarioVersionList,
)
from kindred.scenarios.service import get_run, health, list_runs

router = APIRouter(prefix="/api/v1/scenarios", tags=["scenarios"])
# Scenarios are built by front-line staff, not only IT: sales and service may author them.
AUTHORS = {"admin", "sales", "service"}


def _author(context: ContextDep) -> RequestContext:
    if not AUTHORS & set(context.principal.roles):
        raise PermissionDenied(
            f"building scenarios needs one of the roles: {', '.join(sorted(AUTHORS))}"
        )
    return context


AuthorDep = Annotated[RequestContext, Depends(_author)]

# Response bodies are documented, not serialized, through the models in scenarios/schemas.py
# (response_model=None): the routes answer dicts with orjson.
ETAG = {"ETag": {"description": 'The version, e.g. "v3"', "schema": {"type": "string"}}}


async def read_definition(request: Request) -> Any:
    """The body as JSON or YAML (``application/yaml``, ``text/yaml``)."""
    body = await request.body()
    media = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"):
        try:
            return load_text(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise MalformedRequest(str(error)) from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedRequest(f"the body is not valid JSON: {error}") from None


@router.get(
    "/schema",
    summary="JSON Schema of a scenario definition",
    response_model=None,
    responses={
        200: {
            "model": JsonSchemaDocument,
            "description": "The JSON Schema of a scenario definition",
        }
    },
)
async def schema() -> Json:
    return Json(definition_schema())


@router.get(
    "/actions",
    summary="The actions a step can take, with their parameters",
    response_model=None,
    responses={200: {"model": ActionList, "description": "Every action, with its parameters"}},
)
async def actions(context: ContextDep) -> Json:
    return Json({"data": [spec.to_dict() for spec in ACTIONS.values()]})


@router.get(
    "",
    summary="Scenarios",
    response_model=None,
    responses={200: {"model": ScenarioList, "description": "Every scenario (latest versions)"}},
)
def list_scenarios(
    kindred: KindredDep,
    context: ContextDep,
    enabled: bool | None = None,
    observable: Annotated[
        bool,
        Query(description="only scenarios whose health and runs you may read"),
    ] = False,
) -> Json:
    with kindred.database.read() as session:
        items = kindred.scenarios.all(
            session, enabled=enabled, observable_by=context.principal if observable else None
        )
    return Json({"data": [item.to_dict() for item in items]})


@router.post(
    "",
    status_code=201,
    summary="Save a new scenario (JSON or YAML); starts disabled",
    response_model=None,
    responses={
        201: {
            "model": ScenarioPublic,
            "description": "The scenario saved (disabled)",
            "headers": ETAG,
        }
    },
)
async def create_scenario(request: Request, kindred: KindredDep, context: AuthorDep) -> Json:
    raw = await read_definition(request)
    with kindred.database.write() as session:
        saved = kindred.scenarios.create(session, raw, context.principal)
    return Json(saved.to_dict(), status_code=201, headers={"ETag": f'"v{saved.version}"'})


@router.post(
    "/validate",
    summary="Check a definition without saving it",
    response_model=None,
    responses={200: {"model": ScenarioValidation, "description": "The definition checks"}},
)
async def validate_scenario(request: Request, kindred: KindredDep, context: ContextDep) -> Json:
    raw = await read_definition(request)
    with kindred.database.read() as session:
        compiled = kindred.scenarios.check(session, raw)
    return Json({"valid": True, "name": compiled.name, "steps": sum(1 for _ in compiled.walk())})


@router.get(
    "/{name}",
    summary="One scenario (latest version)",
    response_model=None,
    responses={200: {"model": ScenarioPublic, "description": "The scenario", "headers": ETAG}},
)
def get_scenario(name: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        saved = kindred.scenarios.get(session, name)
    return Json(saved.to_dict(), headers={"ETag": f'"v{saved.version}"'})


@router.put(
    "/{name}",
    summary="Save a new version (If-Match: the version you edited)",
    response_model=None,
    responses={
        200: {"model": ScenarioPublic, "description": "The scenario as saved", "headers": ETAG}
    },
)
async def update_scenario(
    name: str,
    request: Request,
    kindred: KindredDep,
    context: AuthorDep,
    if_match: Annotated[str | None, Header()] = None,
) -> Json:
    raw = await read_definition(request)
    with kindred.database.write() as session:
        saved = kindred.scenarios.update(
            session, name, raw, context.principal, expected_version=parse_if_match(if_match)
        )
    return Json(saved.to_dict(), headers={"ETag": f'"v{saved.version}"'})


@router.put(
    "/{name}/run-as",
    summary="Whose rights the scenario acts with: you, or a service principal you cover",
    response_model=None,
    responses={
        200: {"model": ScenarioPublic, "description": "The scenario with its new run-as principal"}
    },
)
def set_run_as(name: str, body: RunAsRequest, kindred: KindredDep, context: AuthorDep) -> Json:
    with kindred.database.write() as session:
        saved = kindred.scenarios.set_run_as(session, name, body.principal, context.principal)
    return Json(saved.to_dict())


@router.get(
    "/{name}/versions",
    summary="Every saved version",
    response_model=None,
    responses={200: {"model": ScenarioVersionList, "description": "Every version"}},
)
def scenario_versions(name: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        return Json({"data": kindred.scenarios.versions(session, name)})


@router.post(
    "/{name}/enable",
    summary="Turn a scenario on",
    response_model=None,
    responses={200: {"model": ScenarioPublic, "description": "The scenario, enabled"}},
)
def enable_scenario(name: str, kindred: KindredDep, context: AuthorDep) -> Json:
    with kindred.database.write() as session:
        saved = kindred.scenarios.set_enabled(session, name, True, context.principal)
    return Json(saved.to_dict())


@router.post(
    "/{name}/disable",
    summary="Turn a scenario off",
    response_model=None,
    responses={200: {"model": ScenarioPublic, "description": "The scenario, disabled"}},
)
def disable_scenario(name: str, kindred: KindredDep, context: AuthorDep) -> Json:
    with kindred.database.write() as session:
        saved = kindred.scenarios.set_enabled(session, name, False, context.principal)
    return Json(saved.to_dict())


@router.post(
    "/{name}/dry-run",
    summary="What the scenario would do for an event — without acting",
    description='Body: `{"event": <CloudEvent>}`. Conditions with their results, lookups, '
    "window values from the event log, and every step with its rendered parameters.",
    response_model=None,
    responses={200: {"model": DryRunReport, "description": "What it would do"}},
)
async def dry_run_saved(
    name: str, request: Request, kindred: KindredDep, context: ContextDep
) -> Json:
    body = await read_definition(request)
    event = _event_of(body)
    with kindred.database.read() as session:
        saved = kindred.scenarios.get(session, name)
        compiled = kindred.scenarios.check(session, saved.definition)
        await kindred.events.start()
        evaluation = await kindred.scenarios.dry_run(
            session, compiled, saved.version, event, context
        )
    return Json(evaluation.to_dict())


@router.post(
    "/dry-run",
    summary="Dry run of an unsaved definition",
    response_model=None,
    responses={200: {"model": DryRunReport, "description": "What the draft would do"}},
)
async def dry_run_draft(request: Request, kindred: KindredDep, context: ContextDep) -> Json:
    body = await read_definition(request)
    if not isinstance(body, dict) or "definition" not in body:
        raise ValidationFailed('send {"definition": {…}, "event": {…}}')
    event = _event_of(body)
    with kindred.database.read() as session:
        compiled = kindred.scenarios.check(session, body["definition"])
        await kindred.events.start()
        evaluation = await kindred.scenarios.dry_run(session, compiled, 0, event, context)
    return Json(evaluation.to_dict())


def _event_of(body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
        raise ValidationFailed(
            "a dry run needs the event to try",
            errors=[{"path": "/event", "code": "required", "message": "give a CloudEvent"}],
        )
    return body["event"]


@router.get(
    "/{name}/health",
    summary="Calls, success rate, p50/p99 latency, failures, BIV",
    description="For the scenario's owner, the owner's team, admins and compliance — the "
    "readers who may list its runs.",
    response_model=None,
    responses={
        200: {"model": ScenarioHealth, "description": "The scenario's health over the period"}
    },
)
def scenario_health(
    name: str,
    kindred: KindredDep,
    context: ContextDep,
    days: Annotated[float, Query(gt=0, le=366)] = 7,
) -> Json:
    since = datetime.now(UTC) - timedelta(days=days)
    with kindred.database.read() as session:
        return Json(health(session, name, context.principal, since=since))


runs_router = APIRouter(prefix="/api/v1/scenario-runs", tags=["scenarios"])


@runs_router.get(
    "",
    summary="Run history (newest first), by scenario, status or customer key",
    response_model=None,
    responses={200: {"model": ScenarioRunPage, "description": "A page of runs"}},
)
def scenario_runs(
    kindred: KindredDep,
    context: ContextDep,
    scenario: str | None = None,
    status: Annotated[str | None, Query(pattern="^(running|waiting|succeeded|failed)$")] = None,
    key: Annotated[str | None, Query(description="customer or device key")] = None,
    before: Annotated[str | None, Query(description="cursor: the last run id of a page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Json:
    with kindred.database.read() as session:
        items = list_runs(
            session,
            context.principal,
            scenario=scenario,
            status=status,
            key=key,
            before=before,
            limit=limit,
        )
    return Json({"data": items, "next_cursor": items[-1]["id"] if len(items) == limit else None})


@runs_router.get(
    "/{run_id}",
    summary="One run with every step's input, output and error",
    response_model=None,
    responses={
        200: {"model": ScenarioRunDetail, "description": "The run as far as you may see it"}
    },
)
def scenario_run(run_id: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        return Json(
            get_run(session, run_id, kindred.records, context, kindred.scenarios.principals)
        )


@runs_router.post(
    "/{run_id}/retry",
    summary="Run a failed run's failed step again",
    response_model=None,
    responses={200: {"model": RetryAccepted, "description": "The run is running again"}},
)
def retry_scenario_run(run_id: str, kindred: KindredDep, context: AuthorDep) -> Json:
    with kindred.database.write() as session:
        kindred.scenarios.retry(session, run_id, context.principal)
    return Json({"run": run_id, "status": "running"})


# -- what the console's builder needs beyond the definitions ------------------------------------

builder_router = APIRouter(prefix="/api/v1/scenario-builder", tags=["scenarios"])
# Who may read the event log (api/events.py READERS): only they are shown past events.
LOG_READERS = {"admin", "integration", "analyst", "compliance"}
SAMPLE_LOOKBACK = timedelta(days=30)
SAMPLE_PAGES = 20


@builder_router.get(
    "/examples",
    summary="The example chains shipped with Kindred, to start a scenario from",
    response_model=None,
    responses={200: {"model": ScenarioExampleList, "description": "Every example chain"}},
)
def scenario_examples(kindred: KindredDep, context: ContextDep) -> Json:
    from kindred.scenarios.examples import example_definitions

    with kindred.database.read() as session:
        saved = {item.name for item in kindred.scenarios.all(session)}
    items = [
        {
            "name": raw["name"],
            "title": raw["title"],
            "description": raw.get("description", ""),
            "installed": raw["name"] in saved,
            "definition": raw,
        }
        for raw in example_definitions()
    ]
    return Json({"data": items})


@builder_router.get(
    "/sample-event",
    summary="An event to dry-run with: the latest of its type, or an example",
    description="The latest event of the type stored in the last 30 days, its data redacted "
    "as your record reads would show it — for those who may read the event log (admin, "
    "integration, analyst, compliance); otherwise, or when there is none, an example made "
    "from the type's JSON Schema.",
    response_model=None,
    responses={200: {"model": SampleEventPublic, "description": "The event to try"}},
)
async def sample_event(
    kindred: KindredDep,
    context: ContextDep,
    type: Annotated[str, Query(description="An event type of the catalog")],
) -> Json:
    with kindred.database.read() as session:
        known = kindred.events.catalog.get(session, type)
    if known is None:
        raise NotFound(f"no event type {type}; see GET /api/v1/event-types")
    if LOG_READERS & set(context.principal.roles):
        past = await _latest_event(kindred, type)
        if past is not None:
            with kindred.database.read() as session:
                shown = Redactor(kindred.records, session, context).event(past.event.to_dict())
            stored_at = datetime.fromtimestamp(past.stored_at, UTC).isoformat()
            return Json({"source": "past", "stored_at": stored_at, "event": shown})
    return Json(
        {"source": "example", "stored_at": None, "event": example_event(type, known.schema)}
    )


async def _latest_event(kindred: Any, event_type: str) -> Any:
    """The last stored event of the type in the lookback period (a bounded scan)."""
    await kindred.events.start()
    latest = None
    after = None
    since = datetime.now(UTC) - SAMPLE_LOOKBACK
    for _ in range(SAMPLE_PAGES):
        page, cursor = await kindred.events.bus.read(
            after=after, since=None if after else since, types=[event_type], limit=1000
        )
        if page:
            latest = page[-1]
        if len(page) < 1000 or cursor is None or cursor == after:
            break
        after = cursor
    return latest
