"""RFC 9457 problem+json for every error the API returns, and the schema it follows."""

from __future__ import annotations

import contextlib
import logging
import traceback
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kindred.errors import PROBLEM_BASE, KindredError, pointer

PROBLEM_JSON = "application/problem+json"
_errors = logging.getLogger("kindred.api")
# How long a client should wait before retrying after a 503 (seconds).
UNAVAILABLE_RETRY_AFTER = 5

# The JSON Schema of every problem document above (the OpenAPI ``Problem`` component). The
# extension members are the ones domain errors really carry (``KindredError(**extra)``); more
# may be added, so the object stays open.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": (
        "RFC 9457 problem details. `type` identifies the kind of problem, `detail` explains "
        "this occurrence in a sentence; `errors` lists every violation of a refused input."
    ),
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": f"The kind of problem, e.g. `{PROBLEM_BASE}not-found`",
        },
        "title": {"type": "string", "description": "Short, fixed summary of the kind"},
        "status": {
            "type": "integer",
            "minimum": 400,
            "maximum": 599,
            "description": "The HTTP status code of this response",
        },
        "detail": {"type": "string", "description": "What went wrong this time, in a sentence"},
        "instance": {"type": "string", "description": "The request path"},
        "errors": {
            "type": "array",
            "description": "Each problem with the input, at a JSON Pointer into it",
            "items": {
                "type": "object",
                "required": ["path", "code", "message"],
                "properties": {
                    "path": {"type": "string", "description": "JSON Pointer, e.g. `/email`"},
                    "code": {"type": "string", "description": "Stable, machine-readable code"},
                    "message": {"type": "string", "description": "What to change"},
                },
                "additionalProperties": True,
            },
        },
        "request_id": {
            "type": "string",
            "description": "500 and 503: the request id to quote (also the server log's)",
        },
        "current_version": {
            "type": "integer",
            "description": "412: the version the resource is at now",
        },
        "references": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "409: how many records still point at the one to delete, by relation",
        },
        "records": {
            "type": "integer",
            "description": "409: records an object still has",
        },
        "users": {
            "type": "integer",
            "description": "409: users who still hold the role to remove",
        },
        "duplicate_values": {
            "type": "array",
            "description": "409: values that occur more than once (first 20)",
        },
        "conflicts": {
            "type": "array",
            "description": "409: what changed since a merge, so it cannot be undone",
        },
        "known_objects": {
            "type": "array",
            "items": {"type": "string"},
            "description": "404: the object names there are",
        },
        "not_updatable": {
            "type": "array",
            "items": {"type": "string"},
            "description": "403: what a merge would have to change that you may not update",
        },
        "withheld": {
            "type": "array",
            "items": {"type": "object"},
            "description": "403 consent-required: the fields withheld and why",
        },
        "missing": {
            "type": "array",
            "items": {"type": "object"},
            "description": "403 consent-required: the values without a consent",
        },
        "request_consent": {
            "type": "string",
            "description": "403 consent-required: where to ask the customer for consent",
        },
        "dead_letter": {
            "type": ["string", "null"],
            "description": "The dead letter keeping the refused payload (null: none was kept)",
        },
        "accepted": {
            "type": "array",
            "items": {"type": "object"},
            "description": "Events of a refused batch that were stored all the same",
        },
        "rejected": {
            "type": "array",
            "items": {"type": "object"},
            "description": "Events refused (and dead-lettered), each with its reason",
        },
        "code": {"type": "string", "description": "422 invalid-credential: a stable code"},
        "reason": {"type": "string", "description": "401 passport: why sign-in was refused"},
        "retry_after": {
            "type": "integer",
            "description": "429 and 503 sign-in: seconds to wait (also the Retry-After header)",
        },
    },
    "additionalProperties": True,
}


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _pointer(location: tuple[Any, ...]) -> str:
    """A JSON Pointer into the request: the body's members as they are (``""``: the body
    as a whole), a query parameter, path parameter or header under ``/query``, ``/path``
    or ``/header``."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source = parts.pop(0)
        if source != "body":
            parts.insert(0, source)
    return pointer(*parts)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot serve now (not that the request is wrong):
    no pooled connection came free in time, PostgreSQL could not be reached or gave up on the
    statement (psycopg's OperationalError), or SQLite stayed locked for the busy timeout.
    SQLite's other OperationalErrors (no such table …) are bugs, not unavailability."""
    if isinstance(error, sa.exc.TimeoutError):
        return True
    if not isinstance(error, sa.exc.OperationalError):
        return False
    import psycopg  # here: only an error path pays for the import

    if isinstance(error.orig, psycopg.OperationalError):
        return True
    message = str(error.orig).lower()
    return "database is locked" in message or "database is busy" in message


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error as a problem: the handlers below for what routes raise, and the
    guard around the whole app (``ProblemGuard``) for what they cannot see."""
    build = app.build_middleware_stack

    def guarded() -> ASGIApp:
        # Outside every middleware, Starlette's ServerErrorMiddleware included: whatever is
        # added later is inside the guard too.
        return ProblemGuard(build())

    app.build_middleware_stack = guarded  # type: ignore[method-assign]

    @app.exception_handler(KindredError)
    async def _domain(request: Request, error: KindredError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
        headers.update(getattr(error, "headers", None) or {})  # e.g. Retry-After on a 429
        return problem_response(error.status, error.to_problem(request.url.path), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        errors = list(error.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            detail = next(e for e in errors if e.get("type") == "json_invalid")
            context = detail.get("ctx") or {}
            return problem_response(
                400,
                {
                    "type": PROBLEM_BASE + "malformed-json",
                    "title": "Malformed JSON",
                    "status": 400,
                    "detail": "the request body is not valid JSON: "
                    + str(context.get("error", "parse error")),
                    "instance": request.url.path,
                },
            )
        return problem_response(
            422,
            {
                "type": PROBLEM_BASE + "validation-failed",
                "title": "Validation failed",
                "status": 422,
                "detail": f"{len(errors)} problem(s) in the request",
                "instance": request.url.path,
                "errors": [
                    {
                        "path": _pointer(tuple(e.get("loc", ()))),
                        "code": e.get("type", "invalid"),
                        "message": e.get("msg", "invalid"),
                    }
                    for e in errors
                ],
            },
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        slug = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        return problem_response(
            error.status_code,
            {
                "type": PROBLEM_BASE + slug.get(error.status_code, "http-error"),
                "title": titles.get(error.status_code, "HTTP error"),
                "status": error.status_code,
                "detail": detail,
                "instance": request.url.path,
            },
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        return unexpected_response(request, error)


def unexpected_response(request: Request, error: Exception) -> Response:
    """The answer to an error nothing more specific handles: 503 when the database cannot
    serve, else 500 — with only the request id to quote."""
    # Only the answer: whoever caught the error logs it (the request-context middleware,
    # else Starlette's server-error middleware). The client learns nothing internal,
    # only the request id to quote; the X-Request-ID header is the middleware's to add.
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    headers: dict[str, str] = {}
    if database_unavailable(error):
        headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
        status, slug, title = 503, "unavailable", "Service unavailable"
        detail = "the database cannot serve requests right now; retry shortly"
    else:
        status, slug, title = 500, "internal-error", "Internal server error"
        detail = "an unexpected error occurred; it has been logged"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if request_id:
        body["request_id"] = request_id
    return problem_response(status, body, headers)


def log_unexpected(scope: Scope, error: BaseException) -> None:
    """Log an unexpected error for operators without the data it may carry: the type, the
    SQL statement if any (never its parameters, never the database's message, which can
    quote values), the route template, the request id and the stack."""
    state = scope.get("state") or {}
    route = getattr(scope.get("route"), "path", None) or "(no route)"
    kind = f"{type(error).__module__}.{type(error).__qualname__}"
    cause = getattr(error, "orig", None)
    if cause is not None:
        kind += f" ({type(cause).__module__}.{type(cause).__qualname__})"
    statement = getattr(error, "statement", None)
    stack = "".join(traceback.format_tb(error.__traceback__))
    _errors.error(
        "unexpected %s in %s %s (request %s)%s\n%s",
        kind,
        scope.get("method"),
        route,
        state.get("request_id"),
        f"; statement: {statement}" if statement else "",
        stack.rstrip(),
    )


# Server errors other than 500 and 503 (unexpected_response's), by status: slug, title.
_SERVER_ERRORS = {
    501: ("not-implemented", "Not implemented"),
    502: ("bad-gateway", "Bad gateway"),
    504: ("gateway-timeout", "Gateway timeout"),
}


def server_error(status: int, scope: Scope, detail: str) -> tuple[dict[str, Any], int]:
    """The problem document for a 5xx answered without one (and its status)."""
    if status == 503:
        slug, title = "unavailable", "Service unavailable"
    elif status in _SERVER_ERRORS:
        slug, title = _SERVER_ERRORS[status]
    elif status == 500 or not 500 <= status <= 599:
        status, slug, title = 500, "internal-error", "Internal server error"
    else:
        slug, title = "server-error", "Server error"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": scope.get("path", ""),
    }
    request_id = (scope.get("state") or {}).get("request_id")
    if request_id:
        body["request_id"] = str(request_id)
    return body, status


class ProblemGuard:
    """The outermost layer of the app: every HTTP request gets an answer, and every 5xx
    answer is a problem document.

    The problem handlers answer what routes raise as ``Exception``; three things get past
    them, and each used to reach the client as a bare ``500 Internal Server Error`` (Starlette's
    or uvicorn's text/plain, issue #18):

    - a ``BaseException`` that is not an ``Exception`` (a stray ``CancelledError``, say):
      answered with a 500 problem, then re-raised, so a cancellation or a shutdown still
      takes its course;
    - an app that returns without answering (a mounted ASGI app, a middleware dropping the
      response): answered with a 500 problem;
    - a 5xx answer built without the handlers (a route returning a plain-text 500, a mounted
      app's error page): its body is replaced by the problem for its status (its
      ``Retry-After`` and ``X-Request-ID`` kept).

    Any ``Exception`` reaching this far (Starlette re-raises what it answered) is logged
    without its text and not re-raised: the server would log the text, which may hold data.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = replaced = False

        async def guarded(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the rest of the replaced answer's body
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                if message["status"] >= 500 and not _is_problem(headers):
                    replaced = True
                    _errors.error(
                        "a %d answer without a problem document in %s %s (request %s): "
                        "replaced by one",
                        message["status"],
                        scope.get("method"),
                        getattr(scope.get("route"), "path", None) or "(no route)",
                        (scope.get("state") or {}).get("request_id"),
                    )
                    kept = [(k, v) for k, v in headers if k.lower() in _KEPT_HEADERS]
                    await _answer(send, message["status"], scope, _UNEXPECTED, kept)
                    return
            await send(message)

        try:
            await self.app(scope, receive, guarded)
        except Exception as error:
            log_unexpected(scope, error)
            if not started:
                with contextlib.suppress(Exception):  # the client may be gone
                    await _answer(send, 500, scope, _UNEXPECTED)
            return
        except BaseException as error:
            if not started:
                log_unexpected(scope, error)
                with contextlib.suppress(Exception):  # whatever happens, ``error`` goes on
                    await _answer(send, 500, scope, _UNEXPECTED)
            raise
        if not started:
            _errors.error(
                "%s %s (request %s) ended without an answer",
                scope.get("method"),
                getattr(scope.get("route"), "path", None) or "(no route)",
                (scope.get("state") or {}).get("request_id"),
            )
            await _answer(
                send, 500, scope, "the request ended without an answer; it has been logged"
            )


_KEPT_HEADERS = (b"retry-after", b"x-request-id")
_UNEXPECTED = "an unexpected error occurred; it has been logged"


def _is_problem(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"content-type" and value.split(b";")[0].strip() == PROBLEM_JSON.encode()
        for name, value in headers
    )


async def _answer(
    send: Send,
    status: int,
    scope: Scope,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body, status = server_error(status, scope, detail)
    payload = orjson.dumps(body)
    kept = list(headers or [])
    request_id = body.get("request_id")
    if request_id and not any(name.lower() == b"x-request-id" for name, _ in kept):
        kept.append((b"x-request-id", request_id.encode("latin-1")))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
                *kept,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
