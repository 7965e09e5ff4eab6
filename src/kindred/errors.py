"""Domain errors shared by every package.

Each error knows its RFC 9457 problem type, title and HTTP status, so the API layer maps them
mechanically and the CLI prints the same words. Domain code raises these; it never builds
HTTP responses itself.
"""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://kindred.dev/problems/"


class KindredError(Exception):
    """Base class: a failure a caller can understand and act on."""

    status = 400
    problem = "bad-request"
    title = "Bad request"

    def __init__(
        self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.problem

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class ValidationFailed(KindredError):
    """Input is well-formed but breaks the schema or a rule. ``errors`` lists each violation
    as ``{"path": "/field", "code": "...", "message": "..."}`` (JSON Pointer paths)."""

    status = 422
    problem = "validation-failed"
    title = "Validation failed"


class MalformedRequest(KindredError):
    status = 400
    problem = "malformed-request"
    title = "Malformed request"


class NotFound(KindredError):
    status = 404
    problem = "not-found"
    title = "Not found"


class PermissionDenied(KindredError):
    status = 403
    problem = "permission-denied"
    title = "Permission denied"


class Unauthenticated(KindredError):
    status = 401
    problem = "unauthenticated"
    title = "Authentication required"


class Conflict(KindredError):
    status = 409
    problem = "conflict"
    title = "Conflict"


class PreconditionFailed(KindredError):
    status = 412
    problem = "precondition-failed"
    title = "Precondition failed"


def pointer(*tokens: str | int) -> str:
    """The JSON Pointer (RFC 6901) to ``tokens`` in the request: ``pointer("records", 0,
    "amount")`` is ``/records/0/amount``; no tokens is ``""``, the whole body."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def field_error(path: str, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """One entry of ``ValidationFailed.errors``. ``path`` is a JSON Pointer into the request
    body (``""`` for the body as a whole); a query parameter is ``/query/<name as sent>``."""
    error = {"path": path, "code": code, "message": message}
    error.update(extra)
    return error
