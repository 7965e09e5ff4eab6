"""FastAPI application factory: mounts the API routers and error handling."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kindred import __version__
from kindred.agents.runtime import maintain as maintain_agents
from kindred.api import (
    access_log,
    agents,
    auth,
    channels,
    events,
    graph,
    imports,
    ledger,
    lookup,
    metadata,
    notifications,
    records,
    resolution,
    scenarios,
    search,
    sovereignty,
    stream,
    tags,
    timeline,
    views,
)
from kindred.api.access_log import AccessLogMiddleware
from kindred.api.api_docs import install_api_docs
from kindred.api.console import default_console_dir, install_console
from kindred.api.limits import (
    AuthenticateFirstMiddleware,
    BodyLimit,
    handled,
    nul_in_url,
    payload_too_large,
    url_has_nul,
)
from kindred.api.openapi import install_openapi
from kindred.api.problems import (
    install_problem_handlers,
    log_unexpected,
    problem_response,
    unexpected_response,
)
from kindred.events.guard import SourceGuard, SourceRateLimited
from kindred.events.runtime import EventRuntime, freeze_startup_heap, jobs_from_settings
from kindred.services import Kindred


class RequestContextMiddleware:
    """Request ids, the body-size limit and the last-resort error answer, as plain ASGI.

    Why not ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs every request
    through an extra task and memory stream, which costs more than our whole GET handler.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        # Why: a client-supplied id ties our change log to the caller's own logs.
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = incoming or str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await payload_too_large(self.max_bytes, request_id)(scope, receive, send)
            return
        if nul_in_url(scope):
            await url_has_nul(request_id)(scope, receive, send)
            return
        encoded = request_id.encode("latin-1")
        # Chunked bodies declare no length: the limit is counted as the body streams.
        body = BodyLimit(receive, self.max_bytes)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if body.exceeded:
                # Whatever the app made of a body it could not read in full (FastAPI turns
                # the refusal into a 400), the answer is the 413 below.
                return
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                # Problem answers built outside the routes may carry it already.
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", encoded))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, body, send_with_id)
        except Exception as error:
            if body.exceeded and not started:
                await payload_too_large(self.max_bytes, request_id)(scope, receive, send)
                return
            log_unexpected(scope, error)
            if not started:
                response = await handled(scope, receive, error) or unexpected_response(
                    Request(scope, receive), error
                )
                await response(scope, receive, send_with_id)
            # Not re-raised: the server would log the exception's text, which may hold data.
            return
        if body.exceeded and not started:
            await payload_too_large(self.max_bytes, request_id)(scope, receive, send)


async def _periodic_checkpoints(services: Kindred) -> None:
    """Sign a ledger checkpoint every ``ledger_checkpoint_seconds`` when the log grew."""
    interval = services.settings.ledger_checkpoint_seconds
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(_checkpoint_if_grown, services)
        except Exception:
            logging.getLogger("kindred.ledger").exception("periodic checkpoint failed")


def _checkpoint_if_grown(services: Kindred) -> None:
    with services.database.write() as session:
        latest = services.ledger.latest_checkpoint(session)
        if services.ledger.tree(session).size != (latest.size if latest else 0):
            services.ledger.checkpoint(session)


def create_app(kindred: Kindred | None = None, *, bootstrap: bool = True) -> FastAPI:
    owned = kindred is None
    services = kindred or Kindred.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_periodic_checkpoints(services))
        # Resume agent runs a stopped process left in flight; apply human-task SLAs.
        upkeep = (
            asyncio.create_task(maintain_agents(services))
            if services.settings.scheduler_enabled
            else None
        )
        runtime = EventRuntime(services, jobs_from_settings(services))
        await runtime.start()
        if services.settings.mode != "test":
            freeze_startup_heap()
        app.state.event_runtime = runtime
        try:
            yield
        finally:
            task.cancel()
            if upkeep is not None:
                upkeep.cancel()
            agent_runtime = services.extras.pop("agent_runtime", None)
            if agent_runtime is not None:
                await agent_runtime.aclose()
            await runtime.stop()
            await services.events.close()
            if owned:
                services.close()

    if bootstrap:
        services.bootstrap()
    app = FastAPI(
        title="Kindred CRM API",
        version=__version__,
        description=(
            "Self-hosted, AI-native CRM. Every error is RFC 9457 problem+json. Authenticate "
            "with a bearer JWT from `POST /api/v1/auth/token` or an `X-API-Key` header."
        ),
        lifespan=lifespan,
        # /docs is served from this server (api_docs.py); FastAPI's pages load from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.kindred = services
    install_problem_handlers(app)
    install_openapi(app)
    max_bytes = services.settings.max_request_bytes
    app.state.source_guard = SourceGuard.from_settings(services.settings)

    @app.exception_handler(SourceRateLimited)
    async def _rate_limited(request: Request, error: SourceRateLimited) -> Response:
        return problem_response(
            429,
            error.to_problem(request.url.path),
            headers={"Retry-After": str(error.retry_after)},
        )

    # Added innermost first: the access log sees every answer, the request context (ids,
    # the body limit, the last resort) wraps the authentication that precedes bodies.
    app.add_middleware(AuthenticateFirstMiddleware)
    app.add_middleware(RequestContextMiddleware, max_bytes=max_bytes)
    if services.settings.access_log:
        access_log.configure(True)
        app.add_middleware(AccessLogMiddleware)

    app.include_router(auth.router)
    app.include_router(metadata.router)
    app.include_router(records.router)
    app.include_router(lookup.router)
    app.include_router(ledger.router)
    app.include_router(ledger.explorer_router)
    app.include_router(auth.users_router)
    # Before events.router: /events/stream is not an event position (/events/{position}).
    app.include_router(stream.router)
    app.include_router(events.router)
    app.include_router(channels.router)
    app.include_router(scenarios.router)
    app.include_router(scenarios.runs_router)
    app.include_router(scenarios.builder_router)
    app.include_router(sovereignty.router)
    app.include_router(graph.router)
    app.include_router(resolution.router)
    app.include_router(search.router)
    app.include_router(agents.router)
    app.include_router(agents.runs_router)
    app.include_router(agents.tasks_router)
    app.include_router(agents.console_router)
    app.include_router(events.metrics_router)
    app.include_router(imports.router)
    app.include_router(views.router)
    app.include_router(timeline.router)
    app.include_router(tags.router)
    app.include_router(notifications.router)

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness and database check",
        response_model=None,
        responses={200: {"model": events.HealthStatus, "description": "Up, database included"}},
    )
    def healthz() -> dict[str, str]:
        with services.database.read() as session:
            session.execute(__import__("sqlalchemy").text("select 1"))
        return {"status": "ok", "database": services.database.dialect}

    console_dir = services.settings.console_dir or default_console_dir()
    install_api_docs(app, console_dir)
    # Last: the console answers paths no API route took.
    install_console(app, console_dir)
    return app
