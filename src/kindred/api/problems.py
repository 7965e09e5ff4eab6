"""RFC 9457 problem+json for every error the API returns."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from kindred.errors import PROBLEM_BASE, KindredError

PROBLEM_JSON = "application/problem+json"


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


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(KindredError)
    async def _domain(request: Request, error: KindredError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
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
