"""Sign-in (OAuth2 password flow → JWT), the current user, API keys, users and roles."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Cookie, Form, Header, Query, Request, Response

from kindred.api.deps import (
    ContextDep,
    KindredDep,
    UserAdminDep,
    client_address,
    etag,
    parse_if_match,
)
from kindred.api.problems import problem_response
from kindred.api.responses import Json
from kindred.auth import sessions
from kindred.auth.automation import object_scopes
from kindred.auth.models import ApiKey, RoleDefinition
from kindred.auth.permissions import RolePermissions
from kindred.auth.roles import offer_roles, remove_role
from kindred.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    MePublic,
    PasswordChange,
    RoleList,
    RolePublic,
    RoleUpsert,
    TokenPublic,
    UserCreate,
    UserList,
    UserPublic,
    UserSummary,
    UserUpdate,
)
from kindred.auth.service import check_password_strength
from kindred.auth.users import check_role, check_roles_given, list_users, summaries
from kindred.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
    field_error,
)
from kindred.records.metadata import AUTH_COUNTER, bump_generation

router = APIRouter(prefix="/api/v1", tags=["auth"])
# Response bodies are documented, not serialized, through the models in auth/schemas.py
# (response_model=None): the routes answer dicts with orjson.


@router.post(
    "/auth/token",
    summary="Sign in (OAuth2 password flow); returns a bearer JWT",
    response_model=None,
    responses={200: {"model": TokenPublic, "description": "A bearer token"}},
)
def token(
    request: Request,
    kindred: KindredDep,
    username: Annotated[str, Form(description="email address")],
    password: Annotated[str, Form()],
    grant_type: Annotated[str | None, Form()] = None,
) -> Json:
    """Failures are throttled per account and per client address: 429 with Retry-After
    (docs/security.md); 503 with Retry-After when too many passwords are being checked."""
    if grant_type not in (None, "password"):
        raise ValidationFailed(
            "only grant_type=password is supported",
            errors=[field_error("/grant_type", "unsupported", grant_type)],
        )
    access_token, lifetime = kindred.auth.sign_in(
        kindred.database, username, password, client_address(request)
    )
    return Json({"access_token": access_token, "token_type": "bearer", "expires_in": lifetime})


def _set_refresh_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME,
        token,
        max_age=max_age,
        path=sessions.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _clear_refresh_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        sessions.COOKIE_NAME,
        path=sessions.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.post(
    "/auth/session",
    summary="Sign in a browser: a bearer JWT, and a refresh cookie (HttpOnly) for reloads",
    response_model=None,
    responses={200: {"model": TokenPublic, "description": "A bearer token; Set-Cookie"}},
)
def browser_session(
    request: Request,
    kindred: KindredDep,
    username: Annotated[str, Form(description="email address")],
    password: Annotated[str, Form()],
) -> Json:
    """Like ``/auth/token`` (same throttling and errors), and also sets the
    ``kindred_refresh`` cookie (HttpOnly, SameSite=Strict, Path=/api/v1/auth) that
    ``/auth/refresh`` exchanges for a new token until ``session_hours`` after sign-in."""
    principal, generation = kindred.auth.check_sign_in(
        kindred.database, username, password, client_address(request)
    )
    access_token, lifetime = kindred.auth.issue_token(principal, generation)
    refresh, max_age = sessions.issue_refresh(kindred.settings, principal.user_id, generation)
    response = Json({"access_token": access_token, "token_type": "bearer", "expires_in": lifetime})
    _set_refresh_cookie(request, response, refresh, max_age)
    return response


@router.post(
    "/auth/refresh",
    summary="A new bearer JWT for a browser session (refresh cookie + X-Kindred-Session)",
    response_model=None,
    responses={200: {"model": TokenPublic, "description": "A bearer token; the cookie rotated"}},
)
def refresh_session(
    request: Request,
    kindred: KindredDep,
    x_kindred_session: Annotated[
        str | None,
        Header(description="Must be `refresh` (a header no cross-site request can carry)"),
    ] = None,
    kindred_refresh: Annotated[str | None, Cookie(description="Set by /auth/session")] = None,
) -> Response:
    """401 (and the cookie cleared) when there is no session, it has ended (absolute
    lifetime, password changed, user deactivated) or the cookie is not one of ours."""
    if x_kindred_session != sessions.CSRF_VALUE:
        raise PermissionDenied(
            f"refreshing a session needs the header {sessions.CSRF_HEADER}: {sessions.CSRF_VALUE}"
        )
    try:
        claims = sessions.read_refresh(kindred.settings, kindred_refresh)
        with kindred.database.read() as session:
            principal = kindred.auth.refreshed_principal(session, claims.user_id, claims.generation)
        refresh, max_age = sessions.issue_refresh(
            kindred.settings, principal.user_id, claims.generation, claims.started
        )
    except Unauthenticated as error:
        answer = problem_response(
            error.status, error.to_problem(request.url.path), {"WWW-Authenticate": "Bearer"}
        )
        _clear_refresh_cookie(request, answer)
        return answer
    access_token, lifetime = kindred.auth.issue_token(principal, claims.generation)
    response = Json({"access_token": access_token, "token_type": "bearer", "expires_in": lifetime})
    _set_refresh_cookie(request, response, refresh, max_age)
    return response


@router.post(
    "/auth/logout",
    status_code=204,
    summary="End this browser's session: the refresh cookie is cleared",
    response_model=None,
    responses={204: {"description": "Signed out (also when there was no session)"}},
)
def logout(request: Request) -> Response:
    """The bearer token in the page's memory is dropped by the page; this clears the cookie
    so a reload does not sign back in."""
    response = Response(status_code=204)
    _clear_refresh_cookie(request, response)
    return response


@router.get(
    "/auth/me",
    summary="Who am I: roles, territories and permissions",
    response_model=None,
    responses={200: {"model": MePublic, "description": "You, as the API sees you"}},
)
def me(context: ContextDep, kindred: KindredDep) -> Json:
    principal = context.principal
    with kindred.database.read() as session:
        objects = sorted(kindred.metadata.registry(session).objects)
    permissions = {}
    for name in objects:
        permission = principal.permission(name)
        if permission.actions:
            permissions[name] = {
                "actions": sorted(permission.actions),
                "scope": permission.scope,
                "hidden_fields": sorted(permission.hidden_fields),
                "read_fields": "*" if permission.read_all else sorted(permission.read_fields),
                "write_fields": "*" if permission.write_all else sorted(permission.write_fields),
            }
    return Json(
        {
            "id": principal.user_id,
            "name": principal.name,
            "roles": list(principal.roles),
            "territories": sorted(principal.territory_ids),
            "via": principal.via,
            "permissions": permissions,
            "manage_metadata": principal.can_manage_metadata,
            "manage_users": principal.can_manage_users,
        }
    )


@router.post(
    "/auth/api-keys",
    status_code=201,
    summary="Create an API key (shown once)",
    response_model=None,
    responses={201: {"model": ApiKeyCreated, "description": "The key, with its secret"}},
)
def create_api_key(payload: ApiKeyCreate, context: ContextDep, kindred: KindredDep) -> Json:
    user_id = payload.user_id or context.principal.user_id
    if user_id != context.principal.user_id and not context.principal.can_manage_users:
        raise PermissionDenied("only user administrators may create keys for other users")
    with kindred.database.write() as session:
        row, plaintext = kindred.auth.create_api_key(session, user_id, payload.name)
        # On the ledger like other credential changes; the key (or its prefix) never is.
        kindred.ledger.append(
            session,
            "auth.api_key.created",
            {
                "key_id": row.id,
                "user_id": user_id,
                "name": row.name,
                "by": context.principal.user_id,
                "request_id": context.request_id,
            },
            _subjects(user_id, context.principal.user_id),
        )
        body = {
            "id": row.id,
            "name": row.name,
            "user_id": row.user_id,
            "prefix": row.prefix,
            "key": plaintext,
        }
    return Json(body, status_code=201)


@router.get(
    "/auth/api-keys",
    summary="List your API keys (secrets are never shown again)",
    response_model=None,
    responses={200: {"model": ApiKeyList, "description": "The keys, revoked ones included"}},
)
def list_api_keys(context: ContextDep, kindred: KindredDep) -> Json:
    with kindred.database.read() as session:
        statement = sa.select(ApiKey).order_by(ApiKey.created_at)
        if not context.principal.can_manage_users:
            statement = statement.where(ApiKey.user_id == context.principal.user_id)
        rows = session.execute(statement).scalars().all()
        body = [
            {
                "id": r.id,
                "name": r.name,
                "user_id": r.user_id,
                "prefix": r.prefix,
                "created_at": r.created_at.isoformat(),
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            }
            for r in rows
        ]
    return Json({"data": body})


@router.delete("/auth/api-keys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_api_key(key_id: str, context: ContextDep, kindred: KindredDep) -> Response:
    with kindred.database.write() as session:
        row = session.get(ApiKey, key_id)
        if row is None or (
            row.user_id != context.principal.user_id and not context.principal.can_manage_users
        ):
            raise NotFound(f"no API key with id '{key_id}'")
        kindred.auth.revoke_api_key(session, key_id)
        kindred.ledger.append(
            session,
            "auth.api_key.revoked",
            {
                "key_id": key_id,
                "user_id": row.user_id,
                "by": context.principal.user_id,
                "request_id": context.request_id,
            },
            _subjects(row.user_id, context.principal.user_id),
        )
    return Response(status_code=204)


@router.post(
    "/users",
    status_code=201,
    summary="Create a user with roles and territories",
    response_model=None,
    responses={201: {"model": UserPublic, "description": "The user record created"}},
)
def create_user(payload: UserCreate, context: UserAdminDep, kindred: KindredDep) -> Json:
    """Roles whose rights you do not hold are refused (403, nothing created). A service
    principal (kind service) has no password: it acts through API keys and automation."""
    if payload.kind == "service" and payload.password is not None:
        raise ValidationFailed(
            "a service principal has no password",
            errors=[field_error("/password", "unexpected", "service principals use API keys")],
        )
    with kindred.database.write() as session:
        _check_roles(session, kindred, context, payload.roles)
        user = kindred.auth.create_user(
            session,
            email=payload.email,
            name=payload.name,
            password=payload.password,
            roles=payload.roles,
            territories=payload.territories,
            context=context,
            extra={"kind": payload.kind} if payload.kind != "person" else None,
        )
    return Json(user, status_code=201)


@router.put("/users/{user_id}/password", status_code=204, summary="Set a user's password")
def set_password(
    user_id: str,
    payload: PasswordChange,
    request: Request,
    context: ContextDep,
    kindred: KindredDep,
) -> Response:
    """Your own password: send the current one too. A user administrator resets another
    user's without it (on the ledger). Either way every earlier token of that user is
    refused from then on (sign in again); API keys stay valid (revoke them one by one)."""
    own = user_id == context.principal.user_id
    if not own and not context.principal.can_manage_users:
        raise PermissionDenied("you may only change your own password")
    if own and payload.current_password is None:
        raise ValidationFailed(
            "changing your own password needs your current password",
            errors=[field_error("/current_password", "required", "your current password")],
        )
    if not own and payload.current_password is not None:
        raise ValidationFailed(
            "a reset of another user's password takes no current password",
            errors=[field_error("/current_password", "unexpected", "leave it out of a reset")],
        )
    check_password_strength(payload.password)
    with kindred.database.read() as session:
        kindred.auth.load_principal(session, user_id)  # the user exists and is active
    checked_at = None
    if payload.current_password is not None:
        checked_at = kindred.auth.verify_current_password(
            kindred.database, user_id, payload.current_password, client_address(request)
        )
    password_hash = kindred.auth.hash_password(payload.password)  # not under the write lock
    with kindred.database.write() as session:
        kindred.auth.store_password_hash(
            session, user_id, password_hash, expected_generation=checked_at
        )
        kindred.ledger.append(
            session,
            "auth.password.changed" if own else "auth.password.reset",
            {"user_id": user_id, "by": context.principal.user_id, "request_id": context.request_id},
            _subjects(user_id, context.principal.user_id),
        )
    return Response(status_code=204)


def _subjects(user_id: str, actor_id: str) -> list[str]:
    return [user_id] if user_id == actor_id else [user_id, actor_id]


@router.get(
    "/roles",
    summary="Roles and their permissions",
    response_model=None,
    responses={200: {"model": RoleList, "description": "Every role"}},
)
def list_roles(context: ContextDep, kindred: KindredDep) -> Json:
    with kindred.database.read() as session:
        rows = session.execute(sa.select(RoleDefinition).order_by(RoleDefinition.name))
        body = [_present_role(r) for r in rows.scalars()]
    return Json({"data": body})


def _present_role(row: RoleDefinition) -> dict[str, Any]:
    # The permissions as the permission checks read them (auth.service.role_permissions):
    # every property present, also in a role stored before a property was added.
    permissions = RolePermissions.model_validate(row.permissions).model_dump(mode="json")
    return {
        "name": row.name,
        "description": row.description,
        "builtin": row.builtin,
        "permissions": permissions,
    }


@router.put(
    "/roles/{name}",
    summary="Create or replace a role",
    response_model=None,
    responses={200: {"model": RolePublic, "description": "The role as saved"}},
)
def upsert_role(name: str, payload: RoleUpsert, context: UserAdminDep, kindred: KindredDep) -> Json:
    """A role granting rights you do not hold is refused (403, one error per gap at the
    grant that gives it; nothing saved)."""
    import re

    if not re.match(r"^[a-z][a-z0-9_]{0,63}$", name):
        raise ValidationFailed(
            "invalid role name", errors=[field_error("/name", "pattern", "use [a-z][a-z0-9_]*")]
        )
    with kindred.database.write() as session:
        objects = object_scopes(kindred.records.registry(session).objects)
        check_role(context.principal, payload.permissions, objects)
        row = session.get(RoleDefinition, name)
        data: dict[str, Any] = payload.permissions.model_dump(mode="json")
        if row is None:
            row = RoleDefinition(name=name, description=payload.description, permissions=data)
            session.add(row)
        else:
            row.description = payload.description
            row.permissions = data
        session.flush()
        # Also for a role saved before roles became options (or whose option went missing).
        offer_roles(
            session,
            kindred.metadata,
            [name],
            actor_id=context.principal.user_id,
            request_id=context.request_id,
        )
        bump_generation(session, AUTH_COUNTER)
        # Permission rules are evidenced like data-model changes.
        kindred.ledger.append(
            session,
            "role.upsert",
            {"role": name, "permissions": data, "request_id": context.request_id},
            [context.principal.user_id],
        )
        body = _present_role(row)
    return Json(body)


@router.delete(
    "/roles/{name}",
    status_code=204,
    summary="Remove a role nobody holds",
    responses={
        404: {"description": "No such role"},
        409: {"description": "A built-in role, or one users still hold (`users`: how many)"},
    },
)
def delete_role(name: str, context: UserAdminDep, kindred: KindredDep) -> Response:
    """The role can no longer be given (it leaves the user object's roles field); saved
    views shared with it become private. Refused while any user holds it (409 naming how
    many): take it from them first, so nobody loses rights as a side effect."""
    with kindred.database.write() as session:
        remove_role(
            session,
            kindred.metadata,
            name,
            actor_id=context.principal.user_id,
            request_id=context.request_id,
        )
        bump_generation(session, AUTH_COUNTER)
        kindred.ledger.append(
            session,
            "role.delete",
            {"role": name, "request_id": context.request_id},
            [context.principal.user_id],
        )
    return Response(status_code=204)


def _check_roles(session: Any, kindred: Any, context: Any, roles: list[str]) -> None:
    """Unknown roles are a 422; roles granting more than the caller holds a 403. The roles
    are share-locked until the user is saved (a role cannot be removed meanwhile), and each
    is made an option of the roles field if it is not one yet."""
    holder = context.principal
    known = {
        row.name: row
        for row in session.execute(
            sa.select(RoleDefinition)
            .where(RoleDefinition.name.in_(roles))
            .with_for_update(read=True)
        ).scalars()
    }
    unknown = [role for role in roles if role not in known]
    if unknown:
        raise ValidationFailed(
            "unknown roles",
            errors=[field_error("/roles", "unknown_role", f"no role '{r}'") for r in unknown],
        )
    permissions = [RolePermissions.model_validate(known[role].permissions) for role in roles]
    objects = object_scopes(kindred.records.registry(session).objects)
    check_roles_given(holder, roles, permissions, objects)
    offer_roles(
        session,
        kindred.metadata,
        roles,
        actor_id=holder.user_id,
        request_id=context.request_id,
    )


# -- user administration for the console: list, change access -----------------------------

users_router = APIRouter(prefix="/api/v1", tags=["auth"])


@users_router.get(
    "/users",
    summary="Users with their access: roles, kind, active, sign-in lockout",
    response_model=None,
    responses={200: {"model": UserList, "description": "A page of users, by name"}},
)
def users(
    context: UserAdminDep,
    kindred: KindredDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Part of the name (of the email when it has @)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Json:
    with kindred.database.read() as session:
        body = list_users(
            session,
            kindred.records,
            kindred.auth.throttle,
            context,
            search=q,
            limit=limit,
            cursor=cursor,
        )
    return Json(body)


@users_router.patch(
    "/users/{user_id}",
    summary="Change a user's roles, territories or active flag",
    response_model=None,
    responses={200: {"model": UserSummary, "description": "The user as changed"}},
)
def update_user(
    user_id: str,
    payload: UserUpdate,
    context: UserAdminDep,
    kindred: KindredDep,
    if_match: Annotated[
        str | None, Header(description='The user\'s version you saw, e.g. "v3"')
    ] = None,
) -> Json:
    """Roles whose rights you do not hold are refused (403); you cannot deactivate yourself
    (409). Deactivating refuses every token and API key of the user from then on. The change
    is on the ledger (auth.rights.changed), like every change to a user's access."""
    patch = payload.model_dump(exclude_none=True)
    if not patch:
        raise ValidationFailed(
            "nothing to change",
            errors=[field_error("", "empty", "send roles, territories or active")],
        )
    if user_id == context.principal.user_id and patch.get("active") is False:
        raise Conflict("you cannot deactivate yourself: ask another user administrator")
    expected = parse_if_match(if_match)
    with kindred.database.write() as session:
        if "roles" in patch:
            _check_roles(session, kindred, context, patch["roles"])
        record = kindred.records.update(session, context, "user", user_id, patch, if_match=expected)
        (body,) = summaries(session, kindred.auth.throttle, [record])
    return Json(body, headers={"ETag": etag(body["version"])})
