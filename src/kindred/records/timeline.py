"""A record's timeline: its change history, the events keyed by it, the scenario and agent
runs about it, the tags and notifications scenarios wrote about it and its customer's
consents, merged newest first.

Each source is read as its own endpoint reads it, for the same reader: the change history as
``history`` shows it (fields the role may read), further cut to what the record read shows
now (a value consent withholds is withheld in the history too); events only for roles that
may read the event log; scenario runs of the scenarios the reader stewards; agent runs the
reader started (auditors: all); tags as ``…/tags`` lists them (expired ones too); only the
reader's own notifications about the record, as their inbox shows them; consents as the staff
consent view lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from kindred.errors import NotFound
from kindred.records.redaction import Redactor
from kindred.records.service import SEALED, RequestContext

# Who may read the event log (api/events.py READERS) and every agent run (api/agents.py).
EVENT_READERS = frozenset({"admin", "integration", "analyst", "compliance"})
RUN_AUDITORS = frozenset({"admin", "compliance"})


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return str(value)


def _item(kind: str, id_: str, at: Any, title: str, **rest: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": str(id_),
        "at": _iso(at),
        "title": title,
        "status": rest.get("status"),
        "actor": rest.get("actor"),
        "detail": rest.get("detail"),
        "changes": rest.get("changes", []),
    }


def _sealed(value: Any) -> bool:
    return isinstance(value, Mapping) and SEALED in value


def change_items(
    history: Iterable[Mapping[str, Any]],
    withheld: Mapping[str, str],
    names: Mapping[str, str | None],
) -> list[dict[str, Any]]:
    """Change-log entries as timeline items: the fields each changed, with values the record
    read withholds (``withheld``: field → reason) and sealed values shown as withheld."""
    items = []
    for entry in history:
        before = entry.get("before") or {}
        after = entry.get("after") or {}
        changes = []
        for field in sorted(set(before) | set(after)):
            old, new = before.get(field), after.get(field)
            # Sealed values cannot be compared: the log kept them because they changed.
            if old == new and not (_sealed(old) or _sealed(new)):
                continue
            reason = withheld.get(field) or ("sealed" if _sealed(old) or _sealed(new) else None)
            changes.append(
                {
                    "field": field,
                    "before": None if reason else old,
                    "after": None if reason else new,
                    "withheld": reason,
                }
            )
        actor = entry.get("actor_id")
        items.append(
            _item(
                "change",
                entry["id"],
                entry["at"],
                entry["action"],
                actor=(names.get(actor) or actor) if actor else None,
                changes=changes,
            )
        )
    return items


def event_items(stored: Iterable[Any]) -> list[dict[str, Any]]:
    items = []
    for one in stored:
        event = one.event
        at = event.time or datetime.fromtimestamp(one.stored_at, UTC)
        items.append(_item("event", event.id, at, event.type, actor=event.source))
    return items


def scenario_run_items(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        _item(
            "scenario_run",
            run["id"],
            run["started_at"],
            run["scenario"],
            status=run["status"],
            actor=(run.get("event") or {}).get("type"),
            detail=run.get("error"),
        )
        for run in runs
    ]


def agent_run_items(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        _item(
            "agent_run",
            run["id"],
            run["started_at"],
            run["agent"],
            status=run["status"],
            actor=run.get("started_by"),
            detail=run.get("error"),
        )
        for run in runs
        if run.get("started_at")
    ]


def consent_items(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Consent rows (as the staff consent list reads them): granted or revoked, for which
    purpose, to whom, over which dimensions."""
    return [
        _item(
            "consent",
            row.id,
            row.revoked_at or row.valid_from,
            row.purpose,
            status=row.state,
            actor=f"{row.grantee_kind}:{row.grantee_id}",
            detail=", ".join(row.dimensions or []),
        )
        for row in rows
    ]


def tag_items(tags: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tags set on the record (``kindred.scenarios.tags``): valid or expired, who set them."""
    return [
        _item(
            "tag",
            tag["id"],
            tag["set_at"],
            tag["tag"],
            status="expired" if tag["expired"] else "valid",
            actor=tag["source"],
            detail=tag["note"],
        )
        for tag in tags
    ]


def notification_items(notes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The reader's own notifications about the record (``kindred.scenarios.inbox``), their
    text withheld as the inbox withholds it."""
    return [
        _item(
            "notification",
            note["id"],
            note["created_at"],
            note["title"] if note["title"] is not None else "notification",
            status="read" if note["read_at"] else "unread",
            actor=note["source"],
            detail=note["message"] if note["withheld"] is None else f"withheld: {note['withheld']}",
        )
        for note in notes
    ]


def merge(items: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Newest first (ties: by kind, then id, so the order is stable)."""
    ordered = sorted(items, key=lambda i: (i["kind"], i["id"]))
    ordered.sort(key=lambda i: _sortable(i["at"]), reverse=True)
    return ordered[:limit]


def _sortable(at: str) -> float:
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return 0.0
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def user_names(
    redactor: Redactor, session: Session, ids: Iterable[str | None]
) -> dict[str, str | None]:
    """Display names of the users who made changes, where the reader may read that user."""
    names: dict[str, str | None] = {}
    for user_id in {i for i in ids if i}:
        view = redactor.view("user", user_id)
        name = view.get("name") if view else None
        names[user_id] = name if isinstance(name, str) and name else None
    return names


def record_timeline(
    kindred: Any,
    session: Session,
    context: RequestContext,
    object_name: str,
    record_id: str,
    events: list[Any] | None,
    *,
    limit: int = 100,
) -> dict[str, Any]:
    """The merged timeline; ``events`` None when the reader may not read the event log."""
    from kindred.scenarios.inbox import about_record
    from kindred.scenarios.service import list_runs
    from kindred.scenarios.tags import TAGGED_OBJECT, tag_public, tags_of

    record, _ = kindred.records.get(session, context, object_name, record_id)
    withheld = {w["field"]: w["reason"] for w in (record.get("meta") or {}).get("withheld", [])}
    redactor = Redactor(kindred.records, session, context)
    history = kindred.records.history(session, context, object_name, record_id, limit=limit)
    names = user_names(redactor, session, (h.get("actor_id") for h in history))
    items = change_items(history, withheld, names)
    omitted: list[dict[str, str]] = []

    if events is None:
        omitted.append(
            {
                "source": "events",
                "reason": "reading the event log needs the admin, integration, analyst or "
                "compliance role",
            }
        )
    else:
        items += event_items(events)

    runs = list_runs(session, context.principal, key=record_id, limit=limit)
    items += scenario_run_items(runs)
    # What scenarios wrote about it: its tags (expired too) and the reader's notifications.
    if object_name == TAGGED_OBJECT:
        now = datetime.now(UTC)
        rows = tags_of(session, record_id, include_expired=True, limit=limit)
        items += tag_items(tag_public(row, now) for row in rows)
    items += notification_items(
        about_record(kindred, session, context, object_name, record_id, limit=limit)
    )

    agent_runs = kindred.agents.runs(session, customer=record_id, limit=limit)
    if not RUN_AUDITORS & set(context.principal.roles):
        agent_runs = [r for r in agent_runs if r["started_by"] == context.principal.user_id]
    items += agent_run_items(agent_runs)

    try:
        identity = kindred.identities.of_subject(session, object_name, record_id)
    except NotFound:
        identity = None
    if identity is not None:
        items += consent_items(kindred.consents.of(session, identity.did))
    return {"data": merge(items, limit), "omitted": omitted}


async def events_about(bus: Any, key: str, *, keep: int = 100, pages: int = 20) -> list[Any]:
    """The latest ``keep`` events partitioned by ``key`` (the log is read oldest first)."""
    found: list[Any] = []
    cursor: str | None = None
    for _ in range(pages):
        page, cursor = await bus.read(after=cursor, key=key, limit=500)
        found.extend(page)
        found = found[-keep:]
        if not page or cursor is None:
            break
    return found


__all__ = ["EVENT_READERS", "events_about", "record_timeline"]
