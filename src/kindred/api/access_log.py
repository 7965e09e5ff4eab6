"""The access log: one JSON line per request on the ``kindred.access`` logger.

Each line holds the method, the route *template* (``/api/v1/objects/{object_name}/records/
{record_id}``, never the raw path, whose ids and query strings can be personal data), the
principal's id or ``anonymous``, the status, the duration in milliseconds and the request id
(the one the response's ``X-Request-ID`` and the change log carry). Never a body, a query
string or a header.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("kindred.access")


def configure(enabled: bool) -> None:
    """Make the access log visible: INFO on ``kindred.access``, written to stderr unless the
    process has set up logging itself (then its handlers decide)."""
    if not enabled:
        return
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)


class AccessLogMiddleware:
    """Outermost middleware: it sees the final status, including the last-resort 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if no response starts

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            log.info(_line(scope, status, started))


def _line(scope: Scope, status: int, started: float) -> str:
    state: dict[str, Any] = scope.get("state") or {}
    route = scope.get("route")
    entry = {
        "method": scope.get("method"),
        # None: no route matched (a 404 for an unknown path).
        "route": getattr(route, "path", None),
        "principal": state.get("principal_id") or "anonymous",
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "request_id": state.get("request_id"),
    }
    return orjson.dumps(entry).decode()
