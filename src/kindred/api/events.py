"""Event endpoints: CloudEvents HTTP ingest, replay reads, the type catalog, dead letters,
consumer groups and retention. Thin: parsing of the HTTP binding here, everything else in
``kindred.events``."""

from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from kindred.api.deps import AdminDep, ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.errors import (
    MalformedRequest,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
)
from kindred.events import metrics
from kindred.events.envelope import BATCH, STRUCTURED, binary_to_structured
from kindred.events.models import DeadLetter
from kindred.events.schemas import (
    ConsumerGroupList,
    DeadLetterDetail,
    DeadLetterList,
    DeadLetterPublic,
    EventPage,
    EventTypeDetail,
    EventTypeList,
    EventTypePublic,
    IngestResult,
    ReplayResult,
    RetentionResult,
    SeekResult,
    StoredEventPublic,
)
from kindred.events.schemas import (
    HealthStatus as HealthStatus,  # re-exported: app.py documents /healthz with it
)
from kindred.events.service import IngestReport
from kindred.events.sources import translate_dead_letter
from kindred.records.redaction import Redactor
from kindred.records.service import RequestContext

router = APIRouter(tags=["events"])
PUBLISHERS = {"admin", "integration"}
READERS = {"admin", "integration", "analyst", "compliance"}
# Both stores keep sequence numbers as signed 64-bit integers; a larger one failed in SQL.
MAX_SEQUENCE = 2**63 - 1


def checked_position(value: str, what: str) -> str:
    """``value`` (a position, or a cursor of ``STREAM:seq`` parts) if every sequence number
    in it is one a store can hold; else a 400 that says why. Other malformations are the
    bus's to report."""
    for part in value.split(","):
        sequence = part.rpartition(":")[2]
        # isdigit() also accepts digits int() refuses (superscripts): those are refused too.
        if sequence.isdigit() and not (
            sequence.isascii() and len(sequence) <= 19 and int(sequence) <= MAX_SEQUENCE
        ):
            raise MalformedRequest(
                f"{what} {value[:40]!r} is not a position: sequence numbers are decimal "
                f"numbers up to {MAX_SEQUENCE}"
            )
    return value


def _require(roles: set[str], what: str) -> Any:
    def check(context: ContextDep) -> RequestContext:
        if not roles & set(context.principal.roles):
            raise PermissionDenied(f"{what} needs one of the roles: {', '.join(sorted(roles))}")
        return context

    return Depends(check)


PublisherDep = Annotated[RequestContext, _require(PUBLISHERS, "publishing events")]
ReaderDep = Annotated[RequestContext, _require(READERS, "reading the event log")]
OperatorDep = Annotated[RequestContext, _require(PUBLISHERS, "managing dead letters")]


def report_body(report: IngestReport) -> dict[str, Any]:
    """New events and duplicates counted apart: a repeat is acknowledged, never stored."""
    duplicates = sum(1 for a in report.accepted if a["duplicate"])
    return {
        "stored": len(report.accepted) - duplicates,
        "duplicates": duplicates,
        "events": report.accepted,
    }


@router.post(
    "/api/v1/events",
    summary="Ingest CloudEvents (structured, binary or batch mode)",
    description=(
        "CloudEvents 1.0 over the HTTP binding. Structured mode: `Content-Type: "
        "application/cloudevents+json` and the event as JSON. Batch mode: `application/"
        "cloudevents-batch+json` and a JSON array. Binary mode: attributes in `ce-*` headers "
        "and the data as the JSON body. The response comes only after the events are durably "
        "stored; a repeated source+id is acknowledged again but stored once. Refused events "
        "go to the dead-letter store and the response lists each with its reason."
    ),
    response_model=None,
    responses={
        200: {"model": IngestResult, "description": "All events stored (or already stored)"},
        413: {"description": "Event larger than the limit (dead-lettered)"},
        422: {"description": "Events refused (dead-lettered); valid ones in the batch are stored"},
    },
)
async def ingest(request: Request, kindred: KindredDep, context: PublisherDep) -> Json:
    started = time.perf_counter()
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    service = kindred.events
    try:
        if content_type == BATCH:
            parsed = orjson.loads(body)
            if not isinstance(parsed, list):
                raise MalformedRequest("batch mode needs a JSON array of events")
            if not parsed:
                raise MalformedRequest("the batch is empty")
            raws: list[Any] = parsed
            # Dead letters keep each refused event's JSON (re-serialized on refusal only).
            payloads: list[bytes] | None = None
        elif content_type == STRUCTURED or (
            "ce-specversion" not in request.headers and content_type in ("application/json", "")
        ):
            raws = [orjson.loads(body)]
            payloads = [body]
        else:
            raw, errors = binary_to_structured(dict(request.headers), body)
            if errors:
                raise MalformedRequest(errors[0].message, errors=[e.to_dict() for e in errors])
            raws = [raw]
            payloads = [orjson.dumps(raw)]
    except (orjson.JSONDecodeError, MalformedRequest) as error:
        detail = (
            f"the body is not valid JSON: {error}"
            if isinstance(error, orjson.JSONDecodeError)
            else error.detail
        )
        letter = await asyncio.to_thread(
            service.dead_letter_now,
            channel="http",
            reason="malformed",
            detail=detail,
            payload=body,
            content_type=content_type or None,
        )
        raise MalformedRequest(detail, dead_letter=letter) from None
    report = await service.ingest(
        raws, channel="http", payloads=payloads, started=started, body_bytes=len(body)
    )
    if report.rejected:
        raise report.problem()
    return Json(report_body(report))


def _aware(moment: datetime | None) -> datetime | None:
    """Times without a zone are UTC (not the server's local time)."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _stored_body(stored: Any, redact: Redactor) -> dict[str, Any]:
    """One stored event; its data shows the reader what their record reads would
    (``kindred.records.redaction``: values of records they may not see are withheld)."""
    return {
        "position": stored.position,
        "partition": stored.partition,
        "stored_at": datetime.fromtimestamp(stored.stored_at, UTC).isoformat(),
        "event": redact.event(stored.event.to_dict()),
    }


@router.get(
    "/api/v1/events",
    summary="Read the event log (replay from an offset or a time)",
    response_model=None,
    responses={200: {"model": EventPage, "description": "A page of the log"}},
)
async def read_events(
    kindred: KindredDep,
    context: ReaderDep,
    after: Annotated[str | None, Query(description="Continue after this position/cursor")] = None,
    since: Annotated[
        datetime | None, Query(description="Events stored at or after (RFC 3339)")
    ] = None,
    type: Annotated[list[str] | None, Query(description="Types or patterns (iot.*)")] = None,
    key: Annotated[str | None, Query(description="Only this partition key")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Json:
    await kindred.events.start()
    if after is not None:
        checked_position(after, "after")
    try:
        page, cursor = await kindred.events.bus.read(
            after=after, since=_aware(since), types=type, key=key, limit=limit
        )
    except ValueError as error:
        raise MalformedRequest(str(error)) from None
    with kindred.database.read() as session:
        redact = Redactor(kindred.records, session, context)
        items = [_stored_body(s, redact) for s in page]
    return Json({"data": items, "next_cursor": cursor})


@router.get(
    "/api/v1/events/{position}",
    summary="One stored event by position",
    response_model=None,
    responses={200: {"model": StoredEventPublic, "description": "The stored event"}},
)
async def get_event(position: str, kindred: KindredDep, context: ReaderDep) -> Json:
    await kindred.events.start()
    stored = await kindred.events.bus.get(checked_position(position, "position"))
    if stored is None:
        raise NotFound(f"no event at position {position}")
    with kindred.database.read() as session:
        return Json(_stored_body(stored, Redactor(kindred.records, session, context)))


# -- catalog ---------------------------------------------------------------------------------


class EventTypeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="<domain>.<entity>.<action>")
    description: str
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of `data`")
    partition_field: str | None = None


class EventTypeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    schema_: dict[str, Any] = Field(alias="schema")
    partition_field: str | None = None


@router.get(
    "/api/v1/event-types",
    summary="Browse the event type catalog",
    response_model=None,
    responses={200: {"model": EventTypeList, "description": "The matching event types"}},
)
def list_event_types(
    kindred: KindredDep,
    context: ContextDep,
    domain: str | None = None,
    q: Annotated[str | None, Query(description="Search in names and descriptions")] = None,
    schemas: Annotated[bool, Query(description="Include each JSON Schema")] = False,
) -> Json:
    from kindred.events.catalog import search

    with kindred.database.read() as session:
        found = search(kindred.events.catalog.all(session), domain=domain, text=q)
        domains = kindred.events.catalog.domains(session)
    items = []
    for item in found:
        body = item.to_dict()
        if not schemas:
            body.pop("schema")
        items.append(body)
    return Json({"total": len(items), "domains": domains, "data": items})


@router.get(
    "/api/v1/event-types/{event_type}",
    summary="One event type with its schema",
    response_model=None,
    responses={200: {"model": EventTypeDetail, "description": "Its latest version"}},
)
def get_event_type(event_type: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        versions = kindred.events.catalog.versions(session, event_type)
    if not versions:
        raise NotFound(f"no event type {event_type}")
    body = versions[-1].to_dict()
    body["versions"] = [v.version for v in versions]
    return Json(body)


@router.post(
    "/api/v1/event-types",
    status_code=201,
    summary="Define an event type (admin)",
    response_model=None,
    responses={201: {"model": EventTypePublic, "description": "The type's first version"}},
)
def create_event_type(payload: EventTypeCreate, kindred: KindredDep, context: AdminDep) -> Json:
    with kindred.database.write() as session:
        created = kindred.events.catalog.define(
            session,
            event_type=payload.type,
            description=payload.description,
            schema=payload.schema_,
            partition_field=payload.partition_field,
            actor_id=context.principal.user_id,
        )
        kindred.ledger.append(
            session,
            "events.type.defined",
            {"type": created.type, "version": created.version, "schema": created.schema},
            [context.principal.user_id],
        )
    return Json(created.to_dict(), status_code=201)


@router.put(
    "/api/v1/event-types/{event_type}",
    summary="Publish a new version (admin)",
    response_model=None,
    responses={200: {"model": EventTypePublic, "description": "The new version"}},
)
def update_event_type(
    event_type: str, payload: EventTypeUpdate, kindred: KindredDep, context: AdminDep
) -> Json:
    with kindred.database.write() as session:
        created = kindred.events.catalog.define(
            session,
            event_type=event_type,
            description=payload.description,
            schema=payload.schema_,
            partition_field=payload.partition_field,
            actor_id=context.principal.user_id,
            replace=True,
        )
        kindred.ledger.append(
            session,
            "events.type.defined",
            {"type": created.type, "version": created.version, "schema": created.schema},
            [context.principal.user_id],
        )
    return Json(created.to_dict())


# -- dead letters ----------------------------------------------------------------------------


def _redacted_payload(raw: bytes, redact: Redactor) -> bytes | None:
    """A JSON event payload (one event or a batch) as the reader may see it, or None when
    they may see all of it (or it is no JSON event: native payloads are kept whole)."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    events = parsed if isinstance(parsed, list) else [parsed]
    if not all(isinstance(e, dict) for e in events):
        return None
    shown = [redact.event(e) for e in events]
    if shown == events:
        return None
    return orjson.dumps(shown if isinstance(parsed, list) else shown[0])


def _letter_body(
    letter: DeadLetter, *, payload: bool, redact: Redactor | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": letter.id,
        "received_at": letter.received_at.isoformat(),
        "channel": letter.channel,
        "reason": letter.reason,
        "detail": letter.detail,
        "errors": letter.errors,
        "event_type": letter.event_type,
        "event_id": letter.event_id,
        "event_source": letter.event_source,
        "payload_bytes": letter.payload_bytes,
        "truncated": letter.truncated,
        "status": letter.status,
        "attempts": letter.attempts,
        "resolved_at": letter.resolved_at.isoformat() if letter.resolved_at else None,
        "resolved_by": letter.resolved_by,
        "resolution": letter.resolution,
    }
    if payload:
        body["content_type"] = letter.content_type
        body["context"] = letter.context
        shown = _redacted_payload(letter.payload, redact) if redact is not None else None
        # A payload with values the reader may not see is shown without them; it cannot be
        # fixed by them (PATCH would replace the original with a copy missing those values).
        body["payload_redacted"] = shown is not None
        try:
            body["payload"] = (shown or letter.payload).decode("utf-8")
            body["payload_encoding"] = "utf-8"
        except UnicodeDecodeError:
            body["payload"] = base64.b64encode(letter.payload).decode()
            body["payload_encoding"] = "base64"
    return body


@router.get(
    "/api/v1/dead-letters",
    summary="Dead letters (newest first)",
    response_model=None,
    responses={200: {"model": DeadLetterList, "description": "A page of dead letters"}},
)
def list_dead_letters(
    kindred: KindredDep,
    context: OperatorDep,
    status: Annotated[str | None, Query(pattern="^(open|replayed|discarded|any)$")] = "open",
    reason: str | None = None,
    type: str | None = None,
    channel: str | None = None,
    before: Annotated[str | None, Query(description="Cursor: the last id of the page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Json:
    letters = kindred.events.list_dead_letters(
        status=None if status == "any" else status,
        reason=reason,
        event_type=type,
        channel=channel,
        limit=limit,
        before=before,
    )
    return Json(
        {
            "data": [_letter_body(letter, payload=False) for letter in letters],
            "next_cursor": letters[-1].id if len(letters) == limit else None,
            "counts": kindred.events.dead_letter_counts(),
        }
    )


@router.get(
    "/api/v1/dead-letters/{letter_id}",
    summary="One dead letter with its payload",
    response_model=None,
    responses={200: {"model": DeadLetterDetail, "description": "The dead letter"}},
)
def get_dead_letter(letter_id: str, kindred: KindredDep, context: OperatorDep) -> Json:
    letter = kindred.events.get_dead_letter(letter_id)
    with kindred.database.read() as session:
        redact = Redactor(kindred.records, session, context)
        return Json(_letter_body(letter, payload=True, redact=redact))


class DeadLetterFix(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payload: Any = Field(description="The corrected event (JSON) or native payload (string)")


@router.patch(
    "/api/v1/dead-letters/{letter_id}",
    summary="Replace a dead letter's payload",
    response_model=None,
    responses={
        200: {"model": DeadLetterDetail, "description": "The dead letter with its new payload"}
    },
)
def fix_dead_letter(
    letter_id: str, fix: DeadLetterFix, kindred: KindredDep, context: OperatorDep
) -> Json:
    raw = fix.payload.encode() if isinstance(fix.payload, str) else orjson.dumps(fix.payload)
    current = kindred.events.get_dead_letter(letter_id)
    with kindred.database.read() as session:
        redact = Redactor(kindred.records, session, context)
        if _redacted_payload(current.payload, redact) is not None:
            raise PermissionDenied(
                "this dead letter holds values you may not read, so you may not replace it; "
                "replay or discard it, or ask someone who may read them"
            )
    letter = kindred.events.fix_dead_letter(letter_id, raw, context.principal.user_id)
    with kindred.database.read() as session:
        redact = Redactor(kindred.records, session, context)
        return Json(_letter_body(letter, payload=True, redact=redact))


@router.post(
    "/api/v1/dead-letters/{letter_id}/replay",
    summary="Ingest a dead letter again",
    response_model=None,
    responses={200: {"model": ReplayResult, "description": "Replayed: its events are stored"}},
)
async def replay_dead_letter(letter_id: str, kindred: KindredDep, context: OperatorDep) -> Json:
    report = await kindred.events.replay_dead_letter(
        letter_id, actor_id=context.principal.user_id, translate=translate_dead_letter
    )
    body = report_body(report)
    return Json({"dead_letter": letter_id, "status": "replayed", **body})


class DiscardRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, description="Why the dead letter is dropped")


@router.post(
    "/api/v1/dead-letters/{letter_id}/discard",
    summary="Close a dead letter unreplayed",
    response_model=None,
    responses={200: {"model": DeadLetterPublic, "description": "The discarded dead letter"}},
)
def discard_dead_letter(
    letter_id: str, request: DiscardRequest, kindred: KindredDep, context: OperatorDep
) -> Json:
    letter = kindred.events.discard_dead_letter(letter_id, request.note, context.principal.user_id)
    return Json(_letter_body(letter, payload=False))


# -- consumer groups and retention -------------------------------------------------------------


@router.get(
    "/api/v1/event-consumers",
    summary="Consumer groups with their lag and members",
    response_model=None,
    responses={200: {"model": ConsumerGroupList, "description": "The consumer groups"}},
)
async def list_consumers(kindred: KindredDep, context: ReaderDep) -> Json:
    await kindred.events.start()
    groups = await kindred.events.bus.groups()
    return Json(
        {
            "backend": kindred.events.bus.name,
            "data": [
                {"name": g.name, "types": list(g.types), "lag": g.lag, "members": list(g.members)}
                for g in groups
            ],
        }
    )


class SeekRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset: str | None = Field(default=None, description="Deliver from the event after this one")
    time: datetime | None = Field(default=None, description="Deliver from events stored since")


@router.post(
    "/api/v1/event-consumers/{group}/seek",
    summary="Replay: move a group (admin)",
    response_model=None,
    responses={200: {"model": SeekResult, "description": "The group will deliver from there"}},
)
async def seek_consumer(
    group: str, request: SeekRequest, kindred: KindredDep, context: AdminDep
) -> Json:
    if (request.offset is None) == (request.time is None):
        raise ValidationFailed("give exactly one of offset or time")
    if request.offset is not None:
        checked_position(request.offset, "offset")
    await kindred.events.start()
    try:
        await kindred.events.bus.seek(group, after=request.offset, since=_aware(request.time))
    except KeyError:
        raise NotFound(f"no consumer group {group}") from None
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    with kindred.database.write() as session:
        kindred.ledger.append(
            session,
            "events.consumer.seek",
            {
                "group": group,
                "offset": request.offset,
                "time": request.time.isoformat() if request.time else None,
            },
            [context.principal.user_id],
        )
    return Json({"group": group, "moved": True})


class RetentionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_days: float = Field(
        gt=0, le=36_500, description="Delete events stored before now minus this (≤ 100 years)"
    )


@router.post(
    "/api/v1/events/retention",
    summary="Delete old events (and resolved dead letters) and reclaim disk (admin)",
    response_model=None,
    responses={200: {"model": RetentionResult, "description": "What was deleted"}},
)
async def apply_retention(
    request: RetentionRequest, kindred: KindredDep, context: AdminDep
) -> Json:
    await kindred.events.start()
    cutoff = datetime.now(UTC) - timedelta(days=request.older_than_days)
    report = await kindred.events.bus.apply_retention(cutoff)
    purged = await asyncio.to_thread(kindred.events.purge_resolved_dead_letters, cutoff)
    return Json(
        {
            "cutoff": cutoff.isoformat(),
            "deleted": report.deleted,
            "bytes_before": report.bytes_before,
            "bytes_after": report.bytes_after,
            "dead_letters_purged": purged,
        }
    )


# -- Prometheus --------------------------------------------------------------------------------

metrics_router = APIRouter(tags=["operations"])


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


async def require_scraper(
    request: Request,
    kindred: KindredDep,
    authorization: Annotated[
        str | None, Header(description="Bearer <KINDRED_METRICS_TOKEN>")
    ] = None,
) -> None:
    """The metrics name scenarios, event types and volumes: a scrape token when one is set,
    else loopback clients only."""
    token = kindred.settings.metrics_token
    expected = token.get_secret_value() if token is not None else ""
    if expected:
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), expected.encode()
        ):
            raise Unauthenticated(
                "the metrics need 'Authorization: Bearer <token>' with KINDRED_METRICS_TOKEN"
            )
        return
    # A proxy on this host makes every client look local: a forwarded request is not.
    forwarded = "forwarded" in request.headers or "x-forwarded-for" in request.headers
    if forwarded or not _loopback(request.client.host if request.client else ""):
        raise PermissionDenied(
            "without KINDRED_METRICS_TOKEN the metrics answer direct loopback clients only; "
            "set it and scrape with 'Authorization: Bearer <token>'"
        )


@metrics_router.get(
    "/metrics",
    summary="Prometheus metrics (scrape token, or loopback only)",
    description=(
        "Ingest counts and latency, validation failures by type and reason, consumer lag and "
        "dead letters. Lag and dead-letter gauges are read at scrape time, so they include "
        "work done by `kindred worker` processes. With KINDRED_METRICS_TOKEN set, send "
        "`Authorization: Bearer <token>`; without it, only direct loopback clients are "
        "answered."
    ),
    response_class=Response,
    dependencies=[Depends(require_scraper)],
)
async def prometheus_metrics(kindred: KindredDep) -> Response:
    await kindred.events.start()
    for group in await kindred.events.bus.groups():
        metrics.CONSUMER_LAG.labels(group.name).set(group.lag)
    counts = await asyncio.to_thread(kindred.events.dead_letter_counts)
    for status in ("open", "replayed", "discarded"):
        metrics.DEAD_LETTERS.labels(status).set(counts.get(status, 0))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
