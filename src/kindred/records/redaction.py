"""Stored copies of record data, shown to a reader only as far as a record read would show it.

Automation keeps what it saw: a scenario run stores its lookups (whole records) and its
triggering event, an agent trace stores its reads. Whoever reads such a history later must
not see more than their own record reads would show them (issue 16: a service engineer
read another territory's account and a hidden contract value in a run's variables). So:

- a stored record (a dict with ``id``, ``object`` and ``version``) is checked against the
  reader's own read of that record now — permissions, visibility and consent — and keeps
  only the stored values of the fields that read shows; a record the reader cannot see is
  replaced by a stub saying it was withheld;
- event data that refers to records (``account_id``, ``contract_id``, … — ``<object>_id``)
  keeps its values only where the reader sees the record, and of the record's fields only
  those the reader's read shows (a contract's ``value`` hidden from the service role stays
  hidden in ``contract.contract.expiring``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from kindred.errors import NotFound, PermissionDenied
from kindred.records.service import RecordService, RequestContext

ENVELOPE = ("id", "object", "version", "created_at", "updated_at", "created_by", "updated_by")
WITHHELD = "withheld"


class Redactor:
    """One reader's view, memoized for one history read (a run reads a record many times)."""

    def __init__(self, records: RecordService, session: Session, context: RequestContext) -> None:
        self.records = records
        self.session = session
        self.context = context
        self._views: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._objects = set(records.registry(session).objects)

    def view(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """The reader's own read of a record now, or None where they may not see it."""
        key = (object_name, record_id)
        if key not in self._views:
            try:
                record, _ = self.records.get(self.session, self.context, object_name, record_id)
            except (NotFound, PermissionDenied):
                record = None
            self._views[key] = record
        return self._views[key]

    def is_record(self, value: Mapping[str, Any]) -> bool:
        return (
            isinstance(value.get("id"), str)
            and value.get("object") in self._objects
            and "version" in value
        )

    def record(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        seen = self.view(str(stored["object"]), str(stored["id"]))
        if seen is None:
            return {
                "id": stored["id"],
                "object": stored["object"],
                WITHHELD: "this record is not visible to you",
            }
        shown = {k: v for k, v in stored.items() if k in ENVELOPE}
        for name, value in stored.items():
            if name in ENVELOPE or name == "meta":
                continue
            if name in seen:
                shown[name] = self.value(value)
        withheld = sorted(set(stored) - set(shown) - {"meta"})
        if withheld:
            shown["meta"] = {WITHHELD: withheld}
        return shown

    def value(self, value: Any) -> Any:
        """Any stored JSON with every record in it redacted."""
        if isinstance(value, dict):
            if self.is_record(value):
                return self.record(value)
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def event_data(self, data: Any) -> Any:
        """Event data as far as the reader sees the records it refers to."""
        if not isinstance(data, dict):
            return data
        referenced = [
            (key[: -len("_id")], value)
            for key, value in data.items()
            if key.endswith("_id")
            and isinstance(value, str)
            and key[: -len("_id")] in self._objects
        ]
        if not referenced:
            return self.value(data)
        views = [(name, self.view(name, record_id)) for name, record_id in referenced]
        hidden = [name for name, seen in views if seen is None]
        if hidden:
            return {WITHHELD: f"refers to records not visible to you ({', '.join(hidden)})"}
        registry = self.records.registry(self.session)
        shown: dict[str, Any] = {}
        withheld: list[str] = []
        for key, value in data.items():
            # A value named like a field of a record the event is about is that record's
            # value: shown only where the reader's own read shows that field.
            owners = [seen for name, seen in views if key in registry.get(name).fields and seen]
            if owners and not all(key in seen for seen in owners):
                withheld.append(key)
                continue
            shown[key] = self.value(value)
        if withheld:
            shown["meta"] = {WITHHELD: sorted(withheld)}
        return shown

    def event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A stored CloudEvent (``to_dict`` form) with its data redacted."""
        shown = dict(event)
        if "data" in shown:
            shown["data"] = self.event_data(shown["data"])
        return shown
