"""Live tail of the event log over Server-Sent Events: ``GET /api/v1/events/stream``.

The console's live tail (and anyone with curl) watches events as they are stored. The stream
passes exactly the checks of ``GET /api/v1/events``: the same reader roles, and every event's
data redacted for the reader as their record reads would show it
(``kindred.records.redaction``). Who the reader is, is checked again at every heartbeat: a
token that expired, a deactivated user or a lost role ends the stream with an ``error``
message.

Authentication is the ordinary bearer token (or API key) header, so a browser reads the
stream with ``fetch()`` and parses it itself (``EventSource`` cannot send headers); no
token ever goes into a URL.

How it reads: like the consumers, from the log through the bus's ``read`` and, on the
embedded bus, woken by its commit notifications (``wait_for_append``, which also polls for
other processes' appends). The cursor advances over every event, matching or not, so a
filter never makes it scan the same events twice; type and key filters are applied with the
consumer groups' own matching (``GroupSpec.matches``, the partition key).

How it ends: when the client goes away (Starlette cancels the generator), on an ``error``,
and when the server stops: the router's lifespan chains the process's SIGTERM/SIGINT
handlers (uvicorn's) so a stop signal ends every open stream with an ``end`` message at
once — uvicorn waits for open responses before it shuts down, and a stream never finishes by
itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, RootModel

from kindred.api.deps import KindredDep, get_context
from kindred.api.events import READERS, ReaderDep, _stored_body, checked_position
from kindred.errors import KindredError, MalformedRequest, PermissionDenied
from kindred.events.bus import EventBus, GroupSpec, StoredEvent
from kindred.events.schemas import StoredEventPublic
from kindred.records.redaction import Redactor
from kindred.records.service import RequestContext
from kindred.services import Kindred

STOPPING = "event_stream_stopping"  # app.state: set when the server is asked to stop
MEDIA = "text/event-stream"
PAGE = 200  # events read per query
IDLE_SECONDS = 0.25  # between reads when the bus cannot say something was stored


# -- what the stream sends (documented; the frames are written by hand) ------------------------


class StreamMark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime = Field(description="The server's time")
    position: str | None = Field(
        description="The last position read (matching or not): pass it as after= (or "
        "Last-Event-ID) to resume from here; null: nothing stored since the stream started"
    )


class StreamProblem(BaseModel):
    """An RFC 9457 problem, as the API's error bodies."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


class ReadyMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["ready"] = Field(description="First: the stream is open, reading from here")
    data: StreamMark


class EventMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["event"] = Field(description="An event stored in the log")
    id: str = Field(description="The event's position (the SSE id, Last-Event-ID to resume)")
    data: StoredEventPublic = Field(description="As GET /api/v1/events shows it to you")


class HeartbeatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["heartbeat"] = Field(description="Every `heartbeat` seconds")
    data: StreamMark


class EndMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["end"] = Field(description="The server is stopping; reconnect later")
    data: StreamMark


class ErrorMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["error"] = Field(
        description="You may no longer read the log (token expired, user deactivated, role "
        "removed); the stream ends"
    )
    data: StreamProblem


class EventStreamMessage(
    RootModel[
        Annotated[
            ReadyMessage | EventMessage | HeartbeatMessage | EndMessage | ErrorMessage,
            Field(discriminator="event"),
        ]
    ]
):
    """One message of the stream. On the wire (text/event-stream) each is an `event:` line
    with its name, an `id:` line for events, and one `data:` line holding `data` as JSON,
    then a blank line."""


class EventStreamResponse(StreamingResponse):
    media_type = MEDIA


# -- stopping with the server --------------------------------------------------------------


def _chain_stop_signals(
    loop: asyncio.AbstractEventLoop, stopping: asyncio.Event
) -> Callable[[], None]:
    """Have SIGTERM and SIGINT set ``stopping`` before whatever handled them does (uvicorn's
    ``handle_exit``). Returns the undo. Only from the main thread (where signals go), and
    only over a Python handler: under the default action the process ends anyway."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    installed: dict[int, tuple[Any, Any]] = {}
    for number in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(number)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to end
                loop.call_soon_threadsafe(stopping.set)
            previous(signum, frame)

        signal.signal(number, handler)
        installed[number] = (handler, previous)

    def undo() -> None:
        for number, (handler, previous) in installed.items():
            if signal.getsignal(number) is handler:
                signal.signal(number, previous)

    return undo


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    stopping = asyncio.Event()
    setattr(app.state, STOPPING, stopping)
    undo = _chain_stop_signals(asyncio.get_running_loop(), stopping)
    try:
        yield
    finally:
        stopping.set()
        undo()


router = APIRouter(tags=["events"], lifespan=_lifespan)


# -- reading the log -----------------------------------------------------------------------


class LogTail:
    """A cursor over the log from a position, or from now: every event stored after it,
    page by page. Positions are the bus's: a number on the embedded bus, ``STREAM:seq`` on
    JetStream (where the cursor keeps one sequence per stream)."""

    def __init__(self, bus: EventBus, after: str | None) -> None:
        self.bus = bus
        self.since: datetime | None = None if after else datetime.now(UTC)
        self.vector: dict[str, int] = {}
        self.position: str | None = after
        for part in (after or "").split(","):
            stream, _, number = part.rpartition(":")
            if number.isdigit():
                self.vector[stream] = int(number)
        self.more = False

    def cursor(self) -> str | None:
        if not self.vector:
            return None
        if list(self.vector) == [""]:  # one sequence for the whole log
            return str(self.vector[""])
        return ",".join(f"{s}:{n}" for s, n in sorted(self.vector.items()))

    async def read(self) -> list[StoredEvent]:
        page, following = await self.bus.read(after=self.cursor(), since=self.since, limit=PAGE)
        for stored in page:
            stream, _, number = stored.position.rpartition(":")
            self.vector[stream] = max(self.vector.get(stream, 0), int(number))
        if page and list(self.vector) == [""]:
            self.since = None  # the position alone says where to go on
        self.position = self.cursor() or self.position
        self.more = following is not None
        return page

    async def wait(self, stopping: asyncio.Event) -> None:
        """Until something may have been stored (or ``stopping``)."""
        waiter = getattr(self.bus, "wait_for_append", None)
        if waiter is not None:
            await waiter(IDLE_SECONDS)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), IDLE_SECONDS)


def frame(event: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def _mark(tail: LogTail) -> dict[str, Any]:
    return {"at": datetime.now(UTC).isoformat(), "position": tail.position}


async def _reauthenticate(request: Request, kindred: Kindred) -> RequestContext:
    """The reader as they are now (the same dependency every route uses), still a reader."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    credentials = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip()) if token else None
    )
    context = await get_context(
        request,
        kindred,
        credentials,
        x_api_key=request.headers.get("x-api-key"),
        x_purpose=request.headers.get("x-purpose"),
    )
    if not READERS & set(context.principal.roles):
        raise PermissionDenied(
            f"reading the event log needs one of the roles: {', '.join(sorted(READERS))}"
        )
    return context


def _shown(kindred: Kindred, context: RequestContext, page: list[StoredEvent]) -> list[Any]:
    with kindred.database.read() as session:
        redact = Redactor(kindred.records, session, context)
        return [_stored_body(stored, redact) for stored in page]


async def _messages(
    request: Request,
    kindred: Kindred,
    context: RequestContext,
    tail: LogTail,
    spec: GroupSpec,
    key: str | None,
    heartbeat: float,
) -> AsyncIterator[bytes]:
    stopping: asyncio.Event = getattr(request.app.state, STOPPING, None) or asyncio.Event()
    yield frame("ready", _mark(tail))
    beat_at = time.monotonic() + heartbeat
    while not stopping.is_set():
        page = await tail.read()
        wanted = [
            s for s in page if spec.matches(s.event.type) and (key is None or s.event.key == key)
        ]
        if wanted:
            for body in await asyncio.to_thread(_shown, kindred, context, wanted):
                yield frame("event", body, body["position"])
        if time.monotonic() >= beat_at:
            try:
                context = await _reauthenticate(request, kindred)
            except KindredError as error:
                yield frame("error", error.to_problem(request.url.path))
                return
            yield frame("heartbeat", _mark(tail))
            beat_at = time.monotonic() + heartbeat
        if not tail.more:
            await tail.wait(stopping)
    yield frame("end", _mark(tail))


@router.get(
    "/api/v1/events/stream",
    summary="Live tail of the event log (Server-Sent Events)",
    description=(
        "Events as they are stored, as `text/event-stream`: first a `ready` message, then "
        "an `event` message for each stored event that matches `type` and `key` (its data "
        "redacted for you exactly as `GET /api/v1/events` shows it), a `heartbeat` every "
        "`heartbeat` seconds, and `end` when the server stops (or `error` when you may no "
        "longer read the log: your token expired, your user was deactivated or lost the "
        "role). Starts from now, or after `after` (or the `Last-Event-ID` header): a "
        "position or cursor of the log. Authenticate with the `Authorization` header as "
        "anywhere else: browsers read it with `fetch()` (EventSource cannot send headers)."
    ),
    response_class=EventStreamResponse,
    # The body is text; its schema is that of each message once parsed (an object), the way
    # OpenAPI 3.2 says with itemSchema (FastAPI would add "type": "string" beside the $ref).
    openapi_extra={"responses": {"200": {"content": {MEDIA: {"schema": {"type": "object"}}}}}},
    responses={
        200: {
            "model": EventStreamMessage,
            "description": "The stream; the schema describes each of its messages",
        }
    },
)
async def stream_events(
    request: Request,
    kindred: KindredDep,
    context: ReaderDep,
    type: Annotated[list[str] | None, Query(description="Types or patterns (iot.*)")] = None,
    key: Annotated[str | None, Query(description="Only this partition key")] = None,
    after: Annotated[
        str | None, Query(description="Start after this position/cursor instead of now")
    ] = None,
    heartbeat: Annotated[float, Query(ge=1, le=60, description="Seconds between heartbeats")] = 15,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this position (sent by SSE clients)")
    ] = None,
) -> StreamingResponse:
    await kindred.events.start()
    start = after or last_event_id
    if start is not None:
        checked_position(start, "after")
    bus = kindred.events.bus
    if start is not None:
        # The same refusal as GET /events for a position this bus cannot have.
        try:
            await bus.read(after=start, limit=1)
        except ValueError as error:
            raise MalformedRequest(str(error)) from None
    spec = GroupSpec("stream", tuple(type) if type else ("*",))
    tail = LogTail(bus, start)
    return EventStreamResponse(
        _messages(request, kindred, context, tail, spec, key, heartbeat),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
