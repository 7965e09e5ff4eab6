"""Request-scoped dependencies as ``Annotated`` aliases (no module-global engines)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kindred.errors import MalformedRequest, PermissionDenied, Unauthenticated
from kindred.records.service import RequestContext
from kindred.services import Kindred
from kindred.sovereignty.purposes import purpose as registered_purpose

_bearer = HTTPBearer(auto_error=False, description="A JWT from /api/v1/auth/token or an API key")
ETAG = re.compile(r'^(?:W/)?"v(\d+)"$')


async def get_kindred(request: Request) -> Kindred:
    # async: trivial dependencies must not take a thread-pool hop per request.
    kindred: Kindred = request.app.state.kindred
    return kindred


KindredDep = Annotated[Kindred, Depends(get_kindred)]


def client_address(request: Request) -> str:
    """The client's address, what sign-in throttling counts failures by. Behind a reverse
    proxy it is the proxy's unless uvicorn trusts it (--forwarded-allow-ips, default
    127.0.0.1: X-Forwarded-For from there is applied)."""
    return request.client.host if request.client else "unknown"


def request_id(request: Request) -> str:
    value = request.scope.get("state", {}).get("request_id")
    return value or str(uuid.uuid4())


async def get_context(
    request: Request,
    kindred: KindredDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Header(description="API key (alternative to Bearer)")] = None,
    x_purpose: Annotated[
        str | None, Header(description="Declared purpose of this access (consent checks)")
    ] = None,
    x_source_system: Annotated[
        str | None, Header(description="System the written values come from (provenance)")
    ] = None,
    x_legal_basis: Annotated[
        str | None, Header(description="Legal basis for holding the written values")
    ] = None,
) -> RequestContext:
    token = credentials.credentials if credentials else None
    if token is None and x_api_key is None:
        raise Unauthenticated(
            "sign in: send 'Authorization: Bearer <token>' (POST /api/v1/auth/token) or an "
            "'X-API-Key' header"
        )
    # Runs on the event loop: with the principal cache this is one primary-key read of the
    # auth generation counter, cheaper than a thread-pool hop.
    with kindred.database.read() as session:
        # API keys are guessable by brute force only: failures are throttled per address.
        if x_api_key is not None:
            principal = kindred.auth.principal_from_api_key(
                session, x_api_key, client_address(request)
            )
        elif token is not None and token.startswith("kdr_"):
            principal = kindred.auth.principal_from_api_key(session, token, client_address(request))
        else:
            principal = kindred.auth.principal_from_token(session, token or "")
    # Who called, for the access log (kindred.api.access_log): the id only.
    request.scope.setdefault("state", {})["principal_id"] = principal.user_id
    x_purpose = (x_purpose or "").strip() or None  # a blank header declares no purpose
    if x_purpose is not None:  # an unknown purpose is refused (422), never read under
        registered_purpose(x_purpose, "/header/x-purpose")
    return RequestContext(
        principal=principal,
        request_id=request_id(request),
        purpose=x_purpose,
        source=(x_source_system or "crm")[:64],
        legal_basis=x_legal_basis[:40] if x_legal_basis else None,
    )


ContextDep = Annotated[RequestContext, Depends(get_context)]


async def require_admin(context: ContextDep) -> RequestContext:
    if not context.principal.can_manage_metadata:
        raise PermissionDenied("this needs the admin role")
    return context


AdminDep = Annotated[RequestContext, Depends(require_admin)]


async def require_user_admin(context: ContextDep) -> RequestContext:
    if not context.principal.can_manage_users:
        raise PermissionDenied("this needs permission to manage users")
    return context


UserAdminDep = Annotated[RequestContext, Depends(require_user_admin)]


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: "v3"`` → 3; ``*`` or absent → None (no precondition)."""
    if value is None or value.strip() == "*":
        return None
    match = ETAG.match(value.strip())
    if not match:
        raise MalformedRequest(
            f'If-Match must be an ETag from a previous response, like "v3" (got {value!r})'
        )
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"v{version}"'
