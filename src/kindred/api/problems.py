"""RFC 9457 problem+json for every error the API returns, and the schema it follows."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from kindred.errors import PROBLEM_BASE, KindredError

PROBLEM_JSON = "application/problem+json"
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
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        source = parts.pop(0)
        prefix = "" if source == "body" else f"/{source}"
    else:
        prefix = ""
    return prefix + "".join(f"/{p}" for p in parts) or "/"


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
