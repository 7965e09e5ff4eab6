"""FastAPI application factory: mounts the API routers and error handling."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.responses import Response

from kindred import __version__
from kindred.api import auth, metadata, records
from kindred.api.problems import install_problem_handlers, problem_response
from kindred.errors import PROBLEM_BASE
from kindred.services import Kindred


def create_app(kindred: Kindred | None = None, *, bootstrap: bool = True) -> FastAPI:
    owned = kindred is None
    services = kindred or Kindred.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
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

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Why: a client-supplied id ties our change log to the caller's own logs.
        incoming = request.headers.get("x-request-id", "")
        request.state.request_id = incoming[:64] if incoming else str(uuid.uuid4())
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes:
            return problem_response(
                413,
                {
                    "type": PROBLEM_BASE + "payload-too-large",
                    "title": "Payload too large",
                    "status": 413,
                    "detail": f"request bodies are limited to {max_bytes} bytes",
                },
            )
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    app.include_router(auth.router)
    app.include_router(metadata.router)
    app.include_router(records.router)

    @app.get("/healthz", tags=["operations"], summary="Liveness and database check")
    def healthz() -> dict[str, str]:
        with services.database.read() as session:
            session.execute(__import__("sqlalchemy").text("select 1"))
        return {"status": "ok", "database": services.database.dialect}

    return app
