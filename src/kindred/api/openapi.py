"""The OpenAPI document, with every error an operation can answer documented.

FastAPI documents each operation's success response and its own 422 (as an
``application/json`` ``HTTPValidationError`` the app never sends). Every error Kindred sends
is ``application/problem+json`` (``api/problems.py``), and which ones an operation can answer
follows mostly from its route: a staff principal dependency means 401, 403 and 429 (API-key
throttling), a passport session 401, any input (path, query, body) 400, 404 and 422, an
``If-Match`` header 412 and 428, a write by a principal 409, a body-carrying method 413, and
every operation 500 and 503. What a route's signature does not show (sign-in refusals and
throttling, channel signatures) is in the small tables below.

Record bodies are typed per object (``openapi_records.py``), so the document depends on the
data model. ``app.openapi()`` — what ``kindred openapi`` prints and the console's client is
generated from — is the shipped model's (the standard objects), built once. ``/openapi.json``
answers it to anonymous callers; a signed-in caller gets this deployment's model as they may
use it (the objects they may read, the fields they may write, custom ones included), rebuilt
when the metadata generation moves (one cached document per generation and view).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import FastAPI, Request, routing
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from kindred.api.deps import get_context
from kindred.api.openapi_records import ObjectView, add_metadata_schemas, add_record_schemas
from kindred.api.problems import PROBLEM_JSON, PROBLEM_SCHEMA
from kindred.api.sovereignty import passport_session
from kindred.auth.permissions import Principal
from kindred.records.metadata import Registry
from kindred.records.standard import STANDARD_OBJECTS

PROBLEM_REF = "#/components/schemas/Problem"
STOCK_422 = "Validation Error"  # the description FastAPI gives the 422 it adds itself
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
WRITE_METHODS = BODY_METHODS | {"DELETE"}
# Dependencies that establish who is calling: staff (bearer JWT or API key) and customers
# (a data-passport session).
PRINCIPAL_DEPENDENCIES = (get_context, passport_session)
CREDENTIALS = frozenset({"authorization", "x-api-key"})  # header names, lower case

# What each status means for any operation; a table entry below may say it more precisely.
MEANINGS: dict[int, str] = {
    400: (
        "Malformed request: the body is not valid JSON (or YAML where accepted), or a "
        "parameter such as If-Match, a cursor or a filter cannot be parsed"
    ),
    401: "Authentication required: no, an expired or an unknown bearer token or API key",
    403: "Permission denied: your roles, territories or the customer's consent do not allow it",
    404: "Not found: it does not exist or you may not see it",
    409: "Conflict with the current state (exists already, still referenced, already decided)",
    412: "Precondition failed: it changed since the version you sent; reload and retry",
    413: "Payload too large: the body exceeds the server's request size limit",
    422: "Validation failed: `errors` lists every problem, each at a JSON Pointer",
    428: "Precondition required: send If-Match with the version you edited",
    429: (
        "Too many failed attempts (API keys, sign-ins) from your address or for this "
        "account: wait as many seconds as Retry-After says"
    ),
    500: "Internal error: a bug; the server log has the details under `request_id`",
    503: "Service unavailable: the database cannot serve now; retry after Retry-After seconds",
}

PASSPORT_401 = (
    "Passport sign-in required: no, an expired or an unknown passport session token "
    "(POST /api/v1/passport/session)"
)

# Statuses (and their meaning there) that a route's dependencies and parameters do not show.
_SIGN_IN = {
    401: "Sign-in refused: unknown user, wrong password or a disabled account",
    429: "Too many sign-in attempts: wait as many seconds as Retry-After says",
}
_PASSPORT_SIGN_IN = {
    401: "Passport sign-in refused; `reason` says why (bad signature, used challenge …)",
    429: "Too many passport sign-in attempts: wait as many seconds as Retry-After says",
}
_CHANNEL = {
    401: "Bad signature: the sender's signature, timestamp or write key does not check out",
    404: "The channel is not configured on this server (its secret is not set)",
    429: "Too many messages from this sender: wait as many seconds as Retry-After says",
}
EXTRA_ERRORS: dict[tuple[str, str], dict[int, str]] = {
    ("POST", "/api/v1/auth/token"): _SIGN_IN,
    ("POST", "/api/v1/auth/session"): _SIGN_IN,
    ("POST", "/api/v1/auth/refresh"): {
        401: "No session to refresh: no cookie, or its session ended (lifetime, password "
        "change, deactivated user); the cookie is cleared",
        403: "The X-Kindred-Session: refresh header is missing",
    },
    ("POST", "/api/v1/passport/challenge"): {429: _PASSPORT_SIGN_IN[429]},
    ("POST", "/api/v1/passport/session"): _PASSPORT_SIGN_IN,
    ("POST", "/api/v1/passport/magic-link"): {429: _PASSPORT_SIGN_IN[429]},
    ("GET", "/api/v1/channels/wechat"): _CHANNEL,
    ("POST", "/api/v1/channels/wechat"): _CHANNEL,
    ("POST", "/api/v1/channels/pos"): _CHANNEL,
    ("POST", "/api/v1/channels/social"): _CHANNEL,
    ("POST", "/api/v1/channels/app"): _CHANNEL,
    ("GET", "/metrics"): {
        401: "KINDRED_METRICS_TOKEN is set and the request lacks 'Authorization: Bearer <it>'",
        403: "Without KINDRED_METRICS_TOKEN only direct loopback clients are answered",
    },
    # Versions in the body (merges) or a concurrent save (bulk) without If-Match.
    ("POST", "/api/v1/objects/{object_name}/records/bulk"): {412: MEANINGS[412]},
    ("POST", "/api/v1/resolution/merges"): {412: MEANINGS[412]},
}

# Success answers a route's decorator does not declare: (status, description) added, or the
# media type of a non-JSON body (when its return annotation does not name the response class).
EXTRA_SUCCESS: dict[tuple[str, str], dict[int, str]] = {
    ("POST", "/api/v1/agents/{name}/runs"): {
        202: "The run is waiting or still running; follow Location for its outcome"
    },
}
SUCCESS_MEDIA: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/status-lists/{list_id}"): "application/statuslist+jwt",
    ("GET", "/metrics"): "text/plain",
}


SHIPPED_VIEWS = [ObjectView.every_field(definition) for definition in STANDARD_OBJECTS]
CACHED_VIEWS = 32  # documents kept per process (a generation × a set of permissions each)


class Documents:
    """The app's OpenAPI documents: the shipped one and one per (generation, view)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._base: bytes | None = None
        self._views: dict[tuple[Any, ...], dict[str, Any]] = {}

    def _fresh_base(self) -> dict[str, Any]:
        """A private copy of the document without record schemas (built once)."""
        with self._lock:
            if self._base is None:
                document = build_openapi(self.app)
                add_metadata_schemas(document)
                self._base = orjson.dumps(document)
        return dict(orjson.loads(self._base))

    def shipped(self) -> dict[str, Any]:
        if self.app.openapi_schema is None:
            document = self._fresh_base()
            add_record_schemas(document, SHIPPED_VIEWS)
            self.app.openapi_schema = document
        return self.app.openapi_schema

    def deployment(self, registry: Registry, principal: Principal) -> dict[str, Any]:
        """The document of ``registry`` as ``principal`` may use it."""
        views: list[ObjectView] = []
        for compiled in registry.objects.values():
            permission = principal.permission(compiled.name)
            create, update = permission.can("create"), permission.can("update")
            if create or update:
                fields = compiled.definition.fields
                writable = tuple(f.name for f in fields if permission.can_write_field(f.name))
                views.append(ObjectView(compiled.definition, writable, create, update))
        key = (
            registry.generation,
            tuple((v.definition.name, v.writable, v.create, v.update) for v in views),
        )
        document = self._views.get(key)
        if document is None:
            document = self._fresh_base()
            add_record_schemas(document, views)
            with self._lock:
                if len(self._views) >= CACHED_VIEWS:
                    self._views.pop(next(iter(self._views)))
                self._views[key] = document
        return document


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` answers the shipped document; ``/openapi.json`` serves it to anonymous
    callers and the deployment's, as they may use it, to signed-in ones."""
    documents = Documents(app)
    app.openapi = documents.shipped  # type: ignore[method-assign]
    url = app.openapi_url or "/openapi.json"
    # FastAPI's own route serves app.openapi() to everyone: replaced by the one below.
    app.router.routes[:] = [r for r in app.router.routes if not _serves(r, url)]

    @app.get(url, include_in_schema=False)
    async def openapi_json(request: Request) -> Response:
        headers = request.headers
        authorization, api_key = headers.get("authorization"), headers.get("x-api-key")
        if not authorization and not api_key:
            return JSONResponse(documents.shipped())
        services = request.app.state.kindred
        scheme, _, token = (authorization or "").partition(" ")
        credentials = (
            HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
            if scheme.lower() == "bearer" and token.strip()
            else None
        )
        context = await get_context(request, services, credentials, api_key)

        def build() -> dict[str, Any]:
            with services.database.read() as session:
                registry = services.metadata.registry(session)
            return documents.deployment(registry, context.principal)

        return JSONResponse(
            await run_in_threadpool(build),
            headers={"Cache-Control": "private, no-cache", "Vary": "Authorization, X-API-Key"},
        )


def _serves(route: BaseRoute, path: str) -> bool:
    return getattr(route, "path", None) == path


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    for route in routing.iter_route_contexts(app.routes):
        if not isinstance(route.original_route, routing.APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = document["paths"][route.path_format][method.lower()]
            _document_success(route, method, operation)
            statuses = error_statuses(route, method)
            if 422 not in statuses and _stock_422(operation):
                # FastAPI adds it for any parameter, the credential headers included.
                del operation["responses"]["422"]
            for status, meaning in statuses.items():
                _document_error(operation, status, meaning)
            operation["responses"] = dict(sorted(operation["responses"].items()))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    # FastAPI's own 422 schemas are referenced by nothing now: every 422 is a Problem.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return document


def error_statuses(route: Any, method: str) -> dict[int, str]:
    """Every error status ``method`` on ``route`` can answer, with what it means there."""
    dependant: Dependant = route.dependant
    calls = set(_dependency_calls(dependant))
    staff = get_context in calls
    customer = passport_session in calls
    inputs = list(_inputs(dependant))
    documented = {500: MEANINGS[500], 503: MEANINGS[503]}
    if method in BODY_METHODS or route.body_field is not None or inputs:
        # Input can be malformed or invalid, and whatever it names (a path's record, a
        # body's relation target, a query's object) may not exist or be invisible.
        documented |= {status: MEANINGS[status] for status in (400, 404, 422)}
    if staff:
        # API keys are throttled per client address: a spent budget is refused first.
        documented |= {status: MEANINGS[status] for status in (401, 403, 429)}
        # X-Purpose must name a registered purpose (GET /api/v1/purposes).
        documented.setdefault(422, MEANINGS[422])
    if customer:
        documented[401] = PASSPORT_401
    if (staff or customer) and method in WRITE_METHODS:
        documented[409] = MEANINGS[409]
    if any(p.alias.lower() == "if-match" for p in inputs):
        documented |= {412: MEANINGS[412], 428: MEANINGS[428]}
    if method in BODY_METHODS:
        documented[413] = MEANINGS[413]
    documented.update(EXTRA_ERRORS.get((method, route.path_format), {}))
    return documented


def _dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


def _inputs(dependant: Dependant) -> Iterator[Any]:
    """The parameters an operation reads, less the credentials: a principal dependency's
    headers (Authorization, X-API-Key, X-Purpose …) and any other credential header are
    refused with 401, never 400/422."""
    yield from dependant.path_params
    yield from dependant.query_params
    yield from (p for p in dependant.header_params if p.alias.lower() not in CREDENTIALS)
    yield from dependant.cookie_params
    for sub in dependant.dependencies:
        if sub.call not in PRINCIPAL_DEPENDENCIES:
            yield from _inputs(sub)


def _stock_422(operation: dict[str, Any]) -> bool:
    return bool(operation["responses"].get("422", {}).get("description") == STOCK_422)


def _document_error(operation: dict[str, Any], status: int, meaning: str) -> None:
    response = operation.setdefault("responses", {}).setdefault(str(status), {})
    # A description the route gave itself is more specific than ours; FastAPI's stock 422
    # one is not.
    if not response.get("description") or response["description"] == STOCK_422:
        response["description"] = meaning
    # Only problem+json is ever sent for an error (FastAPI's application/json 422 was not).
    response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    headers = _error_headers(status)
    if headers:
        response["headers"] = headers


def _error_headers(status: int) -> dict[str, Any]:
    if status == 401:
        return {
            "WWW-Authenticate": {
                "description": "The scheme to authenticate with (Bearer)",
                "schema": {"type": "string"},
            }
        }
    if status in (429, 503):
        return {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "string"},
            }
        }
    return {}


def _document_success(route: Any, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    media = SUCCESS_MEDIA.get((method, route.path_format)) or _annotated_media(route.endpoint)
    if media is not None:
        for status, response in responses.items():
            if status.startswith("2") and status != "204":
                response["content"] = {media: {"schema": {"type": "string"}}}
    for status, description in EXTRA_SUCCESS.get((method, route.path_format), {}).items():
        responses.setdefault(
            str(status),
            {"description": description, "content": {"application/json": {"schema": {}}}},
        )


def _annotated_media(endpoint: Any) -> str | None:
    """The media type of a non-JSON response class named as the return annotation."""
    annotation = inspect.signature(endpoint, eval_str=True).return_annotation
    if inspect.isclass(annotation) and issubclass(annotation, Response):
        media = annotation.media_type
        if media and media != "application/json":
            return str(media)
    return None
