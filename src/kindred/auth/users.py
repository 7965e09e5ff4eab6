"""User administration for people: who has which access, and the rule that nobody grants
more than they hold.

A user administrator (``manage_users``) lists users with their access state (roles,
territories, kind, active, sign-in lockout), changes their roles, territories and active flag,
and saves roles. Each grant is checked against the administrator's own rights
(``permissions.uncovered``): a role, or a set of roles given to a user, that would let
someone do what the administrator may not is refused (403) with one error per gap, placed
at the part of the request that grants it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.auth.models import SignInFailure, UserCredential
from kindred.auth.permissions import Principal, RolePermissions, uncovered
from kindred.auth.throttle import SignInThrottle
from kindred.errors import PermissionDenied, field_error
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.service import RecordService, RequestContext

USER_FIELDS = ("email", "name", "roles", "territories", "kind", "active")
MAX_MATCHES = 1000  # users a search narrows a page to
MANAGE = {"manage users": "manage_users", "manage metadata": "manage_metadata"}


def _candidate(holder: Principal, permissions: Sequence[RolePermissions]) -> Principal:
    """Someone with ``permissions`` who is otherwise the holder (same id and territories),
    so only the rights themselves are compared."""
    return Principal(
        user_id=holder.user_id,
        name=holder.name,
        roles=("(granted)",),
        role_permissions=tuple(permissions),
        territory_ids=holder.territory_ids,
    )


def grant_gaps(
    holder: Principal, permissions: Sequence[RolePermissions], objects: Mapping[str, bool]
) -> list[str]:
    """What ``permissions`` allow that ``holder`` may not do (empty: nothing)."""
    return uncovered(holder, _candidate(holder, permissions), objects)


def check_role(
    holder: Principal, permissions: RolePermissions, objects: Mapping[str, bool]
) -> None:
    """Refuse saving a role that grants more than ``holder`` holds; each gap is placed at the
    grant that gives it (``/permissions/objects/<name>``, the ``"*"`` grant for objects
    without their own, or ``/permissions/manage_users``)."""
    gaps = grant_gaps(holder, [permissions], objects)
    if not gaps:
        return
    errors = []
    for gap in gaps:
        if gap in MANAGE:
            path = f"/permissions/{MANAGE[gap]}"
        else:
            name = gap.split(":", 1)[0]
            granted = name if name in permissions.objects else "*"
            path = f"/permissions/objects/{granted.replace('~', '~0').replace('/', '~1')}"
        errors.append(field_error(path, "exceeds_your_rights", f"you may not grant {gap}"))
    raise PermissionDenied(
        f"this role would grant rights you do not have ({'; '.join(gaps[:5])})", errors=errors
    )


def check_roles_given(
    holder: Principal,
    roles: Sequence[str],
    role_permissions: Sequence[RolePermissions],
    objects: Mapping[str, bool],
) -> None:
    """Refuse giving a user ``roles`` whose rights ``holder`` does not hold."""
    gaps = grant_gaps(holder, role_permissions, objects)
    if gaps:
        raise PermissionDenied(
            f"the roles {', '.join(roles)} grant rights you do not have ({'; '.join(gaps[:5])})",
            errors=[
                field_error("/roles", "exceeds_your_rights", f"you may not grant {gap}")
                for gap in gaps
            ],
        )


def list_users(
    session: Session,
    records: RecordService,
    throttle: SignInThrottle,
    context: RequestContext,
    *,
    search: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Users by name, as the reader's role shows the user object (every read path
    filters), with each one's access state. ``search``: part of the name, or of the email
    address when it contains ``@``."""
    filters = []
    if search and search.strip():
        ids = _matching(session, context.principal, search.strip())
        if not ids:
            return {"data": [], "next_cursor": None}
        filters.append(FieldFilter("id", "in", ",".join(ids)))
    query = ListQuery(
        filters=filters, sort=[("name", False)], limit=limit, cursor=cursor, fields=None
    )
    page = records.list_records(session, context, "user", query)
    return {
        "data": summaries(session, throttle, page.data),
        "next_cursor": page.next_cursor,
    }


def summaries(
    session: Session, throttle: SignInThrottle, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """User records (as the reader sees them) with each one's access state."""
    ids = [row["id"] for row in rows]
    emails = _stored_emails(session, ids)
    with_password = set(
        session.execute(
            sa.select(UserCredential.user_id).where(UserCredential.user_id.in_(ids))
        ).scalars()
    )
    keys = {throttle.account_key("password", email): uid for uid, email in emails.items()}
    locked: dict[str, float] = {}
    for key, until in session.execute(
        sa.select(SignInFailure.key, SignInFailure.locked_until).where(
            SignInFailure.key.in_(list(keys)), SignInFailure.locked_until > throttle.clock()
        )
    ):
        locked[keys[key]] = until
    return [_summary(row, locked.get(row["id"]), row["id"] in with_password) for row in rows]


def _matching(session: Session, principal: Principal, term: str) -> list[str]:
    """Ids of users whose name (or email address, when ``term`` has an @) contains
    ``term``, ignoring case — only by a field the reader may read (a search must not reveal
    what the reader's role hides)."""
    from kindred.records.models import RecordRow
    from kindred.records.storage import field_expression, object_is

    name = "email" if "@" in term else "name"
    if not principal.permission("user").can_read_field(name):
        return []
    dialect = session.get_bind().dialect.name
    value = sa.func.lower(sa.cast(field_expression(dialect, name, "text"), sa.Text))
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = session.execute(
        sa.select(RecordRow.id)
        .where(object_is("user"), value.like(f"%{escaped}%", escape="\\"))
        .limit(MAX_MATCHES)
    )
    return [str(row) for row in rows.scalars()]


def _stored_emails(session: Session, ids: list[str]) -> dict[str, str]:
    """The stored addresses (lockout keys are derived from them), whatever the reader may
    read: they are never answered, only used to look the lockout up."""
    from kindred.records.models import RecordRow

    rows = session.execute(sa.select(RecordRow.id, RecordRow.data).where(RecordRow.id.in_(ids)))
    return {
        row.id: str(row.data["email"]) for row in rows if (row.data or {}).get("email") is not None
    }


def _summary(row: dict[str, Any], locked_until: float | None, has_password: bool) -> dict[str, Any]:
    withheld = [name for name in USER_FIELDS if name not in row]
    withheld += [
        str(item.get("field"))
        for item in (row.get("meta") or {}).get("withheld", [])
        if isinstance(item, dict) and item.get("field") not in withheld
    ]
    return {
        "id": row["id"],
        "email": row.get("email"),
        "name": row.get("name"),
        "roles": list(row.get("roles") or []),
        "territories": list(row.get("territories") or []),
        "kind": "service" if row.get("kind") == "service" else "person",
        "active": row.get("active") is not False,
        "locked_until": (
            dt.datetime.fromtimestamp(locked_until, dt.UTC).isoformat() if locked_until else None
        ),
        "has_password": has_password,
        "version": int(row.get("version") or 1),
        "withheld": sorted(set(withheld)),
    }
