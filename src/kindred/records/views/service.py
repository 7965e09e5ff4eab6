"""Saved views: who may see, change and delete them, and what a view may name.

A view is read by its owner and, when shared, by everyone holding its role; anyone else is
told it does not exist (a private view's name is nobody else's business). Only the owner may
change or delete it. Every field a view names must be one the owner may read on an object
they may read, so a shared view never hands its readers a filter on a value they could not
see (the list endpoint checks each reader again when the view is used).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.errors import NotFound, PermissionDenied, ValidationFailed, field_error
from kindred.ids import new_id
from kindred.records.query import SYSTEM_COLUMNS
from kindred.records.service import RecordService, RequestContext
from kindred.records.views.models import SavedView
from kindred.records.views.schemas import SavedViewCreate, SavedViewUpdate, ViewFilter

# Views per user and object: a guard against runaway clients, not a product limit.
MAX_VIEWS = 200


def view_dict(row: SavedView, reader_id: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": row.object,
        "name": row.name,
        "filters": list(row.filters),
        "sort": row.sort,
        "columns": list(row.columns),
        "shared_role": row.shared_role,
        "owner_id": row.owner_id,
        "mine": row.owner_id == reader_id,
        "version": row.version,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _visible(context: RequestContext) -> sa.ColumnElement[bool]:
    principal = context.principal
    mine = SavedView.owner_id == principal.user_id
    roles = sorted(set(principal.roles))
    return sa.or_(mine, SavedView.shared_role.in_(roles)) if roles else mine


def list_views(
    session: Session, context: RequestContext, object_name: str | None = None
) -> list[dict[str, Any]]:
    """Yours and those shared with one of your roles, yours first, by name."""
    query = sa.select(SavedView).where(_visible(context))
    if object_name:
        query = query.where(SavedView.object == object_name)
    rows = session.execute(query).scalars().all()
    me = context.principal.user_id
    rows = sorted(rows, key=lambda r: (r.owner_id != me, r.name.casefold(), r.id))
    return [view_dict(r, me) for r in rows]


def _load(session: Session, context: RequestContext, view_id: str) -> SavedView:
    row = session.execute(
        sa.select(SavedView).where(SavedView.id == view_id, _visible(context))
    ).scalar()
    if row is None:
        raise NotFound(f"no saved view {view_id}")
    return row


def get_view(session: Session, context: RequestContext, view_id: str) -> dict[str, Any]:
    return view_dict(_load(session, context, view_id), context.principal.user_id)


def _owned(session: Session, context: RequestContext, view_id: str) -> SavedView:
    row = _load(session, context, view_id)
    if row.owner_id != context.principal.user_id:
        raise PermissionDenied("only the owner of a saved view may change or delete it")
    return row


def _check_contents(
    records: RecordService,
    session: Session,
    context: RequestContext,
    object_name: str,
    filters: list[ViewFilter] | None,
    sort: str | None,
    columns: list[str] | None,
    shared_role: str | None,
) -> None:
    """Refuse a view naming what its owner may not read (422 with each bad place)."""
    compiled = records.registry(session).get(object_name)
    permission = context.principal.permission(object_name)
    if not permission.can("read"):
        raise PermissionDenied(f"you may not read {compiled.definition.label_plural.lower()}")

    def readable(name: str, system: bool) -> bool:
        if system and name in SYSTEM_COLUMNS:
            return True
        return name in compiled.fields and permission.can_read_field(name)

    errors: list[dict[str, Any]] = []
    for index, item in enumerate(filters or []):
        if not readable(item.field, system=True):
            errors.append(
                field_error(
                    f"/filters/{index}/field",
                    "unknown-field",
                    f"{object_name} has no field '{item.field}' you may read",
                )
            )
    if sort and not readable(sort.lstrip("-"), system=True):
        errors.append(field_error("/sort", "unknown-field", f"cannot sort by '{sort.lstrip('-')}'"))
    for index, name in enumerate(columns or []):
        if not readable(name, system=False):
            errors.append(
                field_error(
                    f"/columns/{index}",
                    "unknown-field",
                    f"{object_name} has no field '{name}' you may read",
                )
            )
    if shared_role is not None and shared_role not in context.principal.roles:
        errors.append(
            field_error(
                "/shared_role",
                "not-your-role",
                f"you may share a view only with a role you hold: "
                f"{', '.join(sorted(context.principal.roles)) or 'none'}",
            )
        )
    if errors:
        raise ValidationFailed(f"the view cannot be saved ({len(errors)} problems)", errors=errors)


def _name_taken(
    session: Session, owner_id: str, object_name: str, name: str, except_id: str | None
) -> None:
    query = sa.select(SavedView.id).where(
        SavedView.owner_id == owner_id,
        SavedView.object == object_name,
        sa.func.lower(SavedView.name) == name.lower(),
    )
    if except_id:
        query = query.where(SavedView.id != except_id)
    if session.execute(query).first() is not None:
        raise ValidationFailed(
            f"you already have a view called {name!r}",
            errors=[field_error("/name", "duplicate", f"you already have a view called {name!r}")],
        )


def create_view(
    records: RecordService, session: Session, context: RequestContext, body: SavedViewCreate
) -> dict[str, Any]:
    name = body.name.strip()
    if not name:
        raise ValidationFailed(
            "a view needs a name", errors=[field_error("/name", "required", "give it a name")]
        )
    _check_contents(
        records,
        session,
        context,
        body.object,
        body.filters,
        body.sort,
        body.columns,
        body.shared_role,
    )
    owner = context.principal.user_id
    _name_taken(session, owner, body.object, name, None)
    count = session.execute(
        sa.select(sa.func.count())
        .select_from(SavedView)
        .where(SavedView.owner_id == owner, SavedView.object == body.object)
    ).scalar_one()
    if count >= MAX_VIEWS:
        raise ValidationFailed(
            f"you have {MAX_VIEWS} views of {body.object} already: delete one first",
            errors=[field_error("/object", "too-many", f"at most {MAX_VIEWS} views per object")],
        )
    now = dt.datetime.now(dt.UTC)
    row = SavedView(
        id=new_id(),
        owner_id=owner,
        object=body.object,
        name=name,
        filters=[f.model_dump() for f in body.filters],
        sort=body.sort,
        columns=list(body.columns),
        shared_role=body.shared_role,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return view_dict(row, owner)


def update_view(
    records: RecordService,
    session: Session,
    context: RequestContext,
    view_id: str,
    body: SavedViewUpdate,
) -> dict[str, Any]:
    row = _owned(session, context, view_id)
    sent = body.model_fields_set
    name = body.name.strip() if body.name is not None else None
    if "name" in sent and not name:
        raise ValidationFailed(
            "a view needs a name", errors=[field_error("/name", "required", "give it a name")]
        )
    _check_contents(
        records,
        session,
        context,
        row.object,
        body.filters if "filters" in sent else None,
        body.sort if "sort" in sent else None,
        body.columns if "columns" in sent else None,
        body.shared_role if "shared_role" in sent else None,
    )
    if name:
        _name_taken(session, row.owner_id, row.object, name, row.id)
        row.name = name
    if "filters" in sent:
        row.filters = [f.model_dump() for f in body.filters or []]
    if "sort" in sent:
        row.sort = body.sort
    if "columns" in sent:
        row.columns = list(body.columns or [])
    if "shared_role" in sent:
        row.shared_role = body.shared_role
    row.version += 1
    row.updated_at = dt.datetime.now(dt.UTC)
    session.flush()
    return view_dict(row, context.principal.user_id)


def delete_view(session: Session, context: RequestContext, view_id: str) -> None:
    session.delete(_owned(session, context, view_id))
    session.flush()
