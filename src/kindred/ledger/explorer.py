"""Reading the evidence log entry by entry, for people (the console's ledger explorer).

Every read path filters: a leaf holds no personal data and is shown as it is, but a payload
can (a user's email address in ``auth.rights.changed``), so the values of records the reader
may not read are left out and named by JSON Pointer in ``withheld``.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.auth.permissions import Principal
from kindred.errors import NotFound
from kindred.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerPayload
from kindred.ledger.note import NoteError, Verifier, split_note

# Payload kinds holding record values: where in each change the values are.
RECORD_VALUES = ("before", "after")


def _leaf(row: LedgerEntry) -> dict[str, Any]:
    try:
        parsed = orjson.loads(bytes(row.leaf))
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {}


def summary(row: LedgerEntry) -> dict[str, Any]:
    """An entry as its leaf states it (the stored columns where the leaf is unreadable:
    ``kindred ledger verify`` reports that damage)."""
    leaf = _leaf(row)
    at = leaf.get("at")
    if not isinstance(at, str):
        at = row.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    subjects = leaf.get("s")
    return {
        "index": row.index,
        "at": at,
        "kind": str(leaf.get("k") or row.kind),
        "subjects": [str(s) for s in subjects] if isinstance(subjects, list) else [],
        "leaf_hash": base64.b64encode(bytes(row.leaf_hash)).decode(),
    }


def page(session: Session, after: int | None, limit: int) -> dict[str, Any]:
    statement = sa.select(LedgerEntry).order_by(LedgerEntry.index).limit(limit + 1)
    if after is not None:
        statement = statement.where(LedgerEntry.index > after)
    rows = list(session.execute(statement).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    size = session.execute(sa.select(sa.func.count()).select_from(LedgerEntry)).scalar_one()
    return {
        "data": [summary(row) for row in rows],
        "size": int(size),
        "next_after": rows[-1].index if more and rows else None,
    }


def detail(session: Session, index: int, principal: Principal) -> dict[str, Any]:
    row = session.get(LedgerEntry, index)
    if row is None:
        raise NotFound(f"no ledger entry {index}")
    stored = session.get(LedgerPayload, index)
    leaf = _leaf(row)
    body = summary(row)
    payload: dict[str, Any] | None = None
    withheld: list[str] = []
    if stored is not None:
        payload, withheld = visible_payload(body["kind"], stored.payload, principal)
    body.update(
        {
            "leaf": base64.b64encode(bytes(row.leaf)).decode(),
            "commitment": str(leaf.get("c") or ""),
            "payload": payload,
            "payload_erased": stored is None,
            "withheld": withheld,
        }
    )
    return body


def visible_payload(
    kind: str, payload: Any, principal: Principal
) -> tuple[dict[str, Any] | None, list[str]]:
    """The payload without the record values ``principal`` may not read, and where those
    were (JSON Pointers). Payloads of other kinds hold ids, names and counts only."""
    if not isinstance(payload, dict):
        return ({"value": payload} if payload is not None else None), []
    if kind != "auth.rights.changed" or not isinstance(payload.get("changes"), list):
        return payload, []
    withheld: list[str] = []
    changes: list[Any] = []
    for position, change in enumerate(payload["changes"]):
        if not isinstance(change, dict):
            changes.append(change)
            continue
        permission = principal.permission(str(change.get("object")))
        shown = dict(change)
        for part in RECORD_VALUES:
            values = change.get(part)
            if not isinstance(values, dict):
                continue
            kept = {}
            for name, value in values.items():
                if permission.can_read_field(name):
                    kept[name] = value
                else:
                    withheld.append(f"/changes/{position}/{part}/{_escape(name)}")
            shown[part] = kept
        changes.append(shown)
    return {**payload, "changes": changes}, withheld


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def checkpoints(session: Session, limit: int) -> list[dict[str, Any]]:
    rows = session.execute(
        sa.select(LedgerCheckpoint)
        .order_by(LedgerCheckpoint.size.desc(), LedgerCheckpoint.id.desc())
        .limit(limit)
    ).scalars()
    return [
        {
            "size": row.size,
            "root": base64.b64encode(bytes(row.root)).decode(),
            "note": row.note,
            "key_id": row.key_id,
            "created_at": row.created_at.astimezone(dt.UTC).isoformat(),
        }
        for row in rows
    ]


def signing_key(note: str, keys: list[str]) -> str | None:
    """Which of ``keys`` (verifier keys) signed the checkpoint ``note``, by name and key id
    (the signature itself is for the verifier to check)."""
    try:
        _, signatures = split_note(note)
    except NoteError:
        return None
    signed_by: set[tuple[str, bytes]] = set()
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3:
            continue
        try:
            signed_by.add((parts[1], base64.b64decode(parts[2], validate=True)[:4]))
        except ValueError:
            continue
    for key in keys:
        verifier = Verifier.parse(key)
        if (verifier.name, verifier.key_id) in signed_by:
            return key
    return None
