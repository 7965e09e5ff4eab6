"""Tags on a record as ``set_tag`` wrote them, with their provenance and validity.

Each tag setting is listed on its own — the scenario version, run and run-as principal that
set it, when, and until when it is valid — newest first; expired ones only when asked for.
The reader must be able to read the record (``RecordService.get``: permissions, territory,
consent), so a record they may not see answers 404 here as it does there. Only accounts
carry tags (``set_tag`` tags a customer account); any other readable record has none.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.db import UTCDateTime, utcnow
from kindred.records.query import decode_cursor, encode_cursor
from kindred.records.service import RequestContext
from kindred.scenarios.models import CustomerTag

if TYPE_CHECKING:
    from kindred.services import Kindred

TAGGED_OBJECT = "account"
# The source tags were stamped with before their provenance had columns of its own.
_SOURCE = re.compile(r"^scenario:(?P<scenario>[^@]+)@v(?P<version>\d+)$")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def tag_public(row: CustomerTag, now: datetime) -> dict[str, Any]:
    scenario, version = row.scenario, row.version
    if scenario is None and (parsed := _SOURCE.match(row.source)):
        scenario, version = parsed["scenario"], int(parsed["version"])
    return {
        "id": row.id,
        "tag": row.tag,
        "note": row.note,
        "set_at": _iso(row.set_at),
        "valid_until": _iso(row.valid_until),
        "expired": row.valid_until is not None and row.valid_until <= now,
        "source": row.source,
        "scenario": scenario,
        "version": version,
        "run_id": row.run_id,
        "set_by": row.set_by,
    }


def tags_of(
    session: Session,
    record_id: str,
    *,
    include_expired: bool = False,
    limit: int | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[CustomerTag]:
    """Tag rows of an account, newest first (no permission check: callers read the record)."""
    query = sa.select(CustomerTag).where(CustomerTag.account_id == record_id)
    if not include_expired:
        query = query.where(
            sa.or_(CustomerTag.valid_until.is_(None), CustomerTag.valid_until > utcnow())
        )
    if after is not None:
        query = query.where(
            sa.tuple_(CustomerTag.set_at, CustomerTag.id)
            < sa.tuple_(sa.literal(after[0], UTCDateTime()), sa.literal(after[1]))
        )
    query = query.order_by(CustomerTag.set_at.desc(), CustomerTag.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def record_tags(
    kindred: Kindred,
    session: Session,
    context: RequestContext,
    object_name: str,
    record_id: str,
    *,
    include_expired: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of the record's tags, as far as the reader may read the record."""
    # Not found or not allowed: said exactly as a record read says it, before anything else.
    kindred.records.get(session, context, object_name, record_id, fields=[])
    signature = f"tags:{object_name}:{record_id}:{'all' if include_expired else 'valid'}"
    after = None
    if cursor:
        at, last = decode_cursor(cursor, signature, ["timestamp", "id"])
        after = (at, last)
    rows = (
        tags_of(session, record_id, include_expired=include_expired, limit=limit + 1, after=after)
        if object_name == TAGGED_OBJECT
        else []
    )
    page = rows[:limit]
    now = utcnow()
    return {
        "data": [tag_public(row, now) for row in page],
        "next_cursor": encode_cursor(signature, [page[-1].set_at, page[-1].id])
        if len(rows) > limit
        else None,
    }


__all__ = ["record_tags", "tag_public", "tags_of"]
