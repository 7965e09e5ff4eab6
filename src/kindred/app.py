"""FastAPI application factory: mounts the API routers and error handling."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kindred import __version__
from kindred.agents.runtime import maintain as maintain_agents
from kindred.api import (
    agents,
    auth,
    channels,
    events,
    graph,
    ledger,
    metadata,
    records,
    resolution,
    scenarios,
    search,
    sovereignty,
)
from kindred.api.problems import install_problem_handlers, problem_response
from kindred.errors import PROBLEM_BASE
from kindred.events.runtime import EventRuntime, freeze_startup_heap, jobs_from_settings
from kindred.services import Kindred


class RequestContextMiddleware:
    """Request ids and the body-size limit, as plain ASGI.

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
            response = problem_response(
                413,
                {
                    "type": PROBLEM_BASE + "payload-too-large",
                    "title": "Payload too large",
                    "status": 413,
                    "detail": f"request bodies are limited to {self.max_bytes} bytes",
                },
                headers={"X-Request-ID": request_id},
            )
            await response(scope, receive, send)
            return
        encoded = request_id.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", encoded)]
            await send(message)

        await self.app(scope, receive, send_with_id)


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
    )
    app.state.kindred = services
    install_problem_handlers(app)
    max_bytes = services.settings.max_request_bytes

    app.add_middleware(RequestContextMiddleware, max_bytes=max_bytes)

    app.include_router(auth.router)
    app.include_router(metadata.router)
    app.include_router(records.router)
    app.include_router(ledger.router)
    app.include_router(events.router)
    app.include_router(channels.router)
    app.include_router(scenarios.router)
    app.include_router(scenarios.runs_router)
    app.include_router(sovereignty.router)
    app.include_router(graph.router)
    app.include_router(resolution.router)
    app.include_router(search.router)
    app.include_router(agents.router)
    app.include_router(agents.runs_router)
    app.include_router(agents.tasks_router)
    app.include_router(events.metrics_router)

    @app.get("/healthz", tags=["operations"], summary="Liveness and database check")
    def healthz() -> dict[str, str]:
        with services.database.read() as session:
            session.execute(__import__("sqlalchemy").text("select 1"))
        return {"status": "ok", "database": services.database.dialect}

    return app
