"""Each user's inbox of in-app notifications (``notify``), with read state per reader.

Who sees a notification: the user it was addressed to, or everyone who holds the role it was
addressed to when they read (a role notification is read or unread per person). Nobody else
learns it exists: asking for another's is a 404.

What a notification says is shown as far as the reader's own record reads allow. A ``notify``
step may name the record it is about (``record``, ``object``); it then stores which of that
record's fields its text quotes (values as the scenario read them, two characters or more,
found in the title, message or link). At read time the text, message and link are shown only
if the reader's own read of the record now (permissions, territory, consent and purpose, as
``GET …/records/{id}``: ``kindred.records.redaction``) shows the record and every quoted field;
otherwise they are withheld and ``withheld`` says why. A notification naming no record is
shown as written: a scenario whose text quotes record data should name the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kindred.auth.permissions import Principal
from kindred.db import UTCDateTime, insert_new, utcnow
from kindred.errors import NotFound
from kindred.records.query import decode_cursor, encode_cursor
from kindred.records.redaction import ENVELOPE, Redactor
from kindred.records.service import RequestContext
from kindred.records.storage import object_is, records
from kindred.scenarios.models import Notification, NotificationRead

if TYPE_CHECKING:
    from kindred.services import Kindred

MIN_QUOTE = 2  # shorter values ("5", "A") are not looked for in the text
NOT_VISIBLE = "it is about a record you may not see"


# -- sending (the notify action) ----------------------------------------------------------------


def find_user(kindred: Kindred, session: Session, value: str) -> str | None:
    """The id of the user with this id or email, or None."""
    value = value.strip()
    found = session.execute(
        sa.select(records.c.id).where(records.c.id == value, object_is("user"))
    ).scalar()
    if found is None and "@" in value:
        found = kindred.auth.find_user_id(session, value)
    return str(found) if found else None


def _pieces(value: Any) -> Iterable[str]:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if len(value.strip()) >= MIN_QUOTE:
            yield value.strip()
    elif isinstance(value, int | float | Decimal):
        yield str(value)
        if isinstance(value, float) and value.is_integer():
            yield str(int(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _pieces(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _pieces(item)


def quoted_fields(record: Mapping[str, Any], texts: Iterable[Any]) -> list[str]:
    """The fields of ``record`` whose values appear in the texts."""
    text = "\n".join(str(t) for t in texts if t)
    return sorted(
        name
        for name, value in record.items()
        if name not in ENVELOPE
        and name != "meta"
        and any(len(piece) >= MIN_QUOTE and piece in text for piece in _pieces(value))
    )


# -- reading --------------------------------------------------------------------------------------


def addressed_to(principal: Principal) -> sa.ColumnElement[bool]:
    """Notifications for this reader: to them by id, or to a role they hold now."""
    clauses: list[sa.ColumnElement[bool]] = [Notification.user_id == principal.user_id]
    if principal.roles:
        clauses.append(Notification.role.in_(list(principal.roles)))
    return sa.or_(*clauses)


def _with_read_state(principal: Principal) -> sa.Select[Notification, datetime | None]:
    return (
        sa.select(Notification, NotificationRead.read_at)
        .outerjoin(
            NotificationRead,
            sa.and_(
                NotificationRead.notification_id == Notification.id,
                NotificationRead.user_id == principal.user_id,
            ),
        )
        .where(addressed_to(principal))
    )


def withheld_because(redactor: Redactor, row: Notification) -> str | None:
    """Why the reader may not see the text (None: they may)."""
    if not row.record_id:
        return None
    seen = redactor.view(row.object or "account", row.record_id)
    if seen is None:
        return NOT_VISIBLE
    hidden = [name for name in row.quoted or [] if name not in seen]
    if hidden:
        return f"it quotes fields of the record you may not read: {', '.join(hidden)}"
    return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def present(row: Notification, read_at: datetime | None, redactor: Redactor) -> dict[str, Any]:
    withheld = withheld_because(redactor, row)
    scenario = row.source.split(":", 1)[1] if row.source.startswith("scenario:") else None
    return {
        "id": row.id,
        "title": None if withheld else row.title,
        "message": None if withheld else row.message,
        "link": None if withheld else row.link,
        "role": row.role,
        "about": {"object": row.object or "account", "id": row.record_id}
        if row.record_id
        else None,
        "source": row.source,
        "scenario": scenario,
        "run_id": row.run_id,
        "created_at": _iso(row.created_at),
        "read_at": _iso(read_at),
        "withheld": withheld,
    }


def unread_count(session: Session, principal: Principal) -> int:
    inner = _with_read_state(principal).where(NotificationRead.read_at.is_(None)).subquery()
    return int(session.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())


def inbox(
    kindred: Kindred,
    session: Session,
    context: RequestContext,
    *,
    unread: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The reader's notifications, newest first, a page at a time, with their unread count."""
    principal = context.principal
    signature = f"notifications:{'unread' if unread else 'all'}"
    query = _with_read_state(principal)
    if unread:
        query = query.where(NotificationRead.read_at.is_(None))
    if cursor:
        at, after = decode_cursor(cursor, signature, ["timestamp", "id"])
        query = query.where(
            sa.tuple_(Notification.created_at, Notification.id)
            < sa.tuple_(sa.literal(at, UTCDateTime()), sa.literal(after))
        )
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    rows = session.execute(query.limit(limit + 1)).all()
    redactor = Redactor(kindred.records, session, context)
    page = rows[:limit]
    next_cursor = (
        encode_cursor(signature, [page[-1][0].created_at, page[-1][0].id])
        if len(rows) > limit
        else None
    )
    return {
        "data": [present(row, read_at, redactor) for row, read_at in page],
        "next_cursor": next_cursor,
        "unread": unread_count(session, principal),
    }


def _one(session: Session, principal: Principal, notification_id: str) -> Any:
    found = session.execute(
        _with_read_state(principal).where(Notification.id == notification_id)
    ).first()
    if found is None:
        # Not 403: whether someone else was notified is not for this reader to learn.
        raise NotFound(f"no notification {notification_id}")
    return found


def mark(
    kindred: Kindred,
    session: Session,
    context: RequestContext,
    notification_id: str,
    *,
    read: bool,
) -> dict[str, Any]:
    """Mark one notification read (the first read time is kept) or unread, for this reader
    only; the notification as they now see it."""
    principal = context.principal
    _one(session, principal, notification_id)
    if read:
        insert_new(
            session,
            NotificationRead,
            {"notification_id": notification_id, "user_id": principal.user_id, "read_at": utcnow()},
        )
    else:
        session.execute(
            sa.delete(NotificationRead).where(
                NotificationRead.notification_id == notification_id,
                NotificationRead.user_id == principal.user_id,
            )
        )
    row, read_at = _one(session, principal, notification_id)
    return present(row, read_at, Redactor(kindred.records, session, context))


def mark_all_read(session: Session, context: RequestContext) -> dict[str, Any]:
    """Every notification of the reader's inbox unread until now becomes read (for them)."""
    principal = context.principal
    unread = (
        _with_read_state(principal)
        .where(NotificationRead.read_at.is_(None))
        .with_only_columns(
            Notification.id,
            sa.literal(principal.user_id, sa.String()),
            sa.literal(utcnow(), UTCDateTime()),
        )
    )
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        make(NotificationRead)
        .from_select(["notification_id", "user_id", "read_at"], unread)
        .on_conflict_do_nothing()
        .returning(NotificationRead.notification_id)
    )
    marked = len(session.execute(statement).all())
    return {"marked": marked, "unread": unread_count(session, principal)}


def about_record(
    kindred: Kindred,
    session: Session,
    context: RequestContext,
    object_name: str,
    record_id: str,
    *,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The reader's own notifications about one record (for its timeline), newest first."""
    rows = session.execute(
        _with_read_state(context.principal)
        .where(Notification.record_id == record_id, Notification.object == object_name)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    ).all()
    redactor = Redactor(kindred.records, session, context)
    return [present(row, read_at, redactor) for row, read_at in rows]


__all__ = [
    "about_record",
    "find_user",
    "inbox",
    "mark",
    "mark_all_read",
    "quoted_fields",
]
