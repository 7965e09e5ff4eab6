"""What a request may cost before it is trusted: the body-size limit, enforced while the body
streams, and authentication before a signed-in route reads its body.

Why both are ASGI-level: a limit that looks at ``Content-Length`` only is skipped by chunked
uploads, and FastAPI reads (and buffers) a route's declared body *before* it runs the
dependency that authenticates, so a route that needs a principal would read an anonymous
caller's whole upload only to answer 401.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import solve_dependencies
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kindred.api.deps import get_context
from kindred.api.problems import problem_response
from kindred.api.sovereignty import passport_session
from kindred.errors import PROBLEM_BASE, KindredError

# The dependencies that establish who is calling: a route that depends on one (directly or
# through another dependency) needs a principal. Staff sign in with a JWT or an API key;
# customers with a passport session.
AUTHENTICATORS: tuple[Callable[..., Any], ...] = (get_context, passport_session)


# -- the body-size limit ----------------------------------------------------------------------


class BodyTooLarge(Exception):
    """Raised from ``receive`` once a request body has passed the limit."""


class BodyLimit:
    """A ``receive`` that counts body bytes as they arrive and refuses the message that
    passes ``max_bytes``: nothing past the limit is ever handed to the application, so
    nothing past it is buffered."""

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self._receive = receive
        self.max_bytes = max_bytes
        self.received = 0
        self.exceeded = False

    async def __call__(self) -> Message:
        if self.exceeded:
            raise BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.exceeded = True
                raise BodyTooLarge
        return message


def payload_too_large(max_bytes: int, request_id: str) -> Response:
    return problem_response(
        413,
        {
            "type": PROBLEM_BASE + "payload-too-large",
            "title": "Payload too large",
            "status": 413,
            "detail": f"request bodies are limited to {max_bytes} bytes",
        },
        # The rest of the upload is not wanted: close instead of draining it.
        headers={"X-Request-ID": request_id, "Connection": "close"},
    )


def nul_in_url(scope: Scope) -> bool:
    """Whether the path or query string holds a NUL character: PostgreSQL text cannot, so
    such an id, filter or CEL literal failed in SQL (a 500) on one dialect only."""
    return "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")


def url_has_nul(request_id: str) -> Response:
    return problem_response(
        400,
        {
            "type": PROBLEM_BASE + "malformed-request",
            "title": "Malformed request",
            "status": 400,
            "detail": "the URL holds a NUL character (%00), which no id, name or value may",
        },
        headers={"X-Request-ID": request_id},
    )


# -- authentication before the body -----------------------------------------------------------


def _authenticator(dependant: Dependant | None) -> Dependant | None:
    """The authenticating dependency somewhere in ``dependant``'s tree, if any."""
    if dependant is None:
        return None
    for sub in dependant.dependencies:
        if sub.call in AUTHENTICATORS:
            return sub
        found = _authenticator(sub)
        if found is not None:
            return found
    return None


def principal_routes(app: FastAPI) -> list[RouteContext]:
    """The routes whose dependencies authenticate the caller (read from the routes, so a
    new route is covered the day it is written)."""
    return [
        context
        for context in iter_route_contexts(app.routes)
        if _authenticator(getattr(context.original_route, "dependant", None)) is not None
    ]


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


async def handled(scope: Scope, receive: Receive, error: Exception) -> Response | None:
    """The response the app's own exception handler gives ``error`` (by its class, most
    specific first), for errors caught outside the handlers' reach."""
    handlers = getattr(scope.get("app"), "exception_handlers", {})
    for kind in type(error).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            response: Response = await handler(Request(scope, receive), error)
            return response
    return None


class AuthenticateFirstMiddleware:
    """For a request that carries a body to a route that needs a principal: run the route's
    authenticating dependency first, and answer its refusal before a byte of the body is
    read. Requests without a body (every read) pass straight through: the route
    authenticates them as always."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # (route, its authenticator) in routing order; built on the first request, when
        # every router is mounted.
        self._routes: list[tuple[RouteContext, Dependant | None]] | None = None

    def _table(self, app: FastAPI) -> list[tuple[RouteContext, Dependant | None]]:
        if self._routes is None:
            self._routes = []
            for context in iter_route_contexts(app.routes):
                found = _authenticator(getattr(context.original_route, "dependant", None))
                # Solving a dependant runs its dependencies: the authenticator is one.
                root = Dependant(dependencies=[found], path=found.path) if found else None
                self._routes.append((context, root))
        return self._routes

    def _route(self, scope: Scope) -> tuple[RouteContext, Dependant | None] | None:
        """The route the router will choose (the first full match), with its authenticator."""
        for context, authenticator in self._table(scope["app"]):
            match, _ = context.matches(scope)
            if match == Match.FULL:
                return context, authenticator
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        route = self._route(scope)
        if route is not None and route[1] is not None:
            try:
                await _authenticate(scope, route[1])
            except KindredError as error:
                scope["route"] = route[0].original_route  # for the access log
                response = await handled(scope, receive, error)
                if response is None:  # no problem handlers installed: still a problem
                    response = problem_response(error.status, error.to_problem())
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _authenticate(scope: Scope, authenticator: Dependant) -> None:
    """Run the route's own authenticating dependency (its headers, its sub-dependencies;
    ``authenticator`` is a root whose one dependency it is) without the body. Invalid
    headers are left for the route to report."""

    async def no_body() -> Message:
        raise RuntimeError("authentication must not read the request body")

    # FastAPI keeps a dependency's exit stacks in the scope; these live for this call only.
    async with AsyncExitStack() as inner, AsyncExitStack() as function:
        saved = {key: scope.get(key) for key in ("fastapi_inner_astack", "fastapi_function_astack")}
        scope["fastapi_inner_astack"], scope["fastapi_function_astack"] = inner, function
        try:
            await solve_dependencies(
                request=Request(scope, no_body),
                dependant=authenticator,
                dependency_overrides_provider=scope.get("app"),
                async_exit_stack=inner,
                embed_body_fields=False,
            )
        finally:
            for key, value in saved.items():
                if value is None:
                    scope.pop(key, None)
                else:
                    scope[key] = value
