"""A record's change log as its reader may see it, also after the record was deleted.

Who may read a deleted record's history: whoever would have seen the record when it was
deleted — judged on the record as the deletion entry keeps it (its owner and territory; a
child record by its parent, as it is now or, deleted too, as it was). Readers of every
record of the object (admins, compliance) see every deleted one. Anyone else gets the same
404 as for a record that never was. Fields the reader may not read are left out of every
entry, and sealed (customer-authorized) values stay opaque.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.auth.permissions import EffectivePermission, Principal
from kindred.errors import NotFound
from kindred.records.metadata import ORPHAN, CompiledObject
from kindred.records.models import ChangeLogEntry, RecordRow
from kindred.records.storage import object_is

if TYPE_CHECKING:
    from kindred.records.service import RecordService, RequestContext

records: sa.Table = RecordRow.__table__  # type: ignore[assignment]
change_log: sa.Table = ChangeLogEntry.__table__  # type: ignore[assignment]
MAX_PARENTS = 8  # how far up deleted parents are followed


def read_history(
    service: RecordService,
    session: Session,
    context: RequestContext,
    compiled: CompiledObject,
    permission: EffectivePermission,
    record_id: str,
    limit: int,
) -> list[dict[str, Any]]:
    """The changes of record ``record_id`` of ``compiled``, newest first (``limit`` of
    them); a deleted record's newest is its deletion (who, when, the values it had)."""
    from kindred.records.service import SEALED, _iso

    if _exists(session, compiled.name, record_id):
        service._load_visible(session, context, compiled, permission, record_id)
    elif not _was_visible(service, session, context.principal, compiled, permission, record_id):
        # Same answer for "never was", "deleted, not yours to see" and "absent".
        raise NotFound(f"no {compiled.name} with id '{record_id}'")
    rows = session.execute(
        sa.select(change_log)
        .where(change_log.c.record_id == record_id)
        .order_by(change_log.c.id.desc())
        .limit(limit)
    ).all()

    def visible(values: dict[str, Any] | None) -> dict[str, Any] | None:
        if values is None:
            return None
        return {
            # A sealed value stays opaque here: only its customer's export opens it.
            k: {SEALED: True} if isinstance(v, dict) and SEALED in v else v
            for k, v in values.items()
            if permission.can_read_field(k)
        }

    return [
        {
            "id": row.id,
            "action": row.action,
            "actor_id": row.actor_id,
            "request_id": row.request_id,
            "acting_for": row.acting_for,
            "at": _iso(row.created_at),
            "before": visible(row.before),
            "after": visible(row.after),
        }
        for row in rows
    ]


def _exists(session: Session, object_name: str, record_id: str) -> bool:
    found = session.execute(
        sa.select(records.c.id).where(records.c.id == record_id, object_is(object_name))
    ).first()
    return found is not None


def _was_visible(
    service: RecordService,
    session: Session,
    principal: Principal,
    compiled: CompiledObject,
    permission: EffectivePermission,
    record_id: str,
    depth: int = 0,
) -> bool:
    """Whether the principal would have seen the deleted record ``record_id`` when it was
    deleted (False too when it was never deleted, or never was)."""
    deleted = session.execute(
        sa.select(change_log.c.before)
        .where(
            change_log.c.record_id == record_id,
            change_log.c.object == compiled.name,
            change_log.c.action == "delete",
        )
        .order_by(change_log.c.id.desc())
        .limit(1)
    ).first()
    if deleted is None or not isinstance(deleted[0], dict):
        return False
    data: dict[str, Any] = deleted[0]
    if permission.scope != "all" and not service._is_visible(
        compiled, permission, principal, data.get("owner"), data.get("territory")
    ):
        return False
    parent = compiled.parent
    if parent is None:
        return True
    if parent is ORPHAN or depth >= MAX_PARENTS:
        return False
    parent_permission = principal.permission(parent.name)
    parent_id = data.get(str(compiled.definition.parent))  # the field naming the parent
    if not parent_permission.can("read") or not isinstance(parent_id, str):
        return False
    if _exists(session, parent.name, parent_id):
        seen = service.visible_ids(session, parent, parent_permission, principal, [parent_id])
        return parent_id in seen
    return _was_visible(
        service, session, principal, parent, parent_permission, parent_id, depth + 1
    )
