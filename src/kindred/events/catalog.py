"""The event type catalog: built-in types (frozen, shipped in code) plus admin-defined ones.

Validation has two speeds. The fast path runs a ``fastjsonschema``-compiled validator (plain
Python code generated from the schema, a few microseconds per event). Only when that fails do
we run ``jsonschema``, which lists *every* violation with its path, because a producer fixing
a payload wants all of its mistakes at once, not one per round trip.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import fastjsonschema
import sqlalchemy as sa
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy.orm import Session

from kindred.errors import Conflict, NotFound, ValidationFailed, field_error
from kindred.events.catalog_data import BUILTIN_DOMAINS, BUILTIN_EVENT_TYPES
from kindred.events.envelope import TYPE_PATTERN, CloudEvent
from kindred.events.models import EventTypeVersion
from kindred.records.metadata import bump_generation, current_generation

EVENTS_COUNTER = 3  # metadata_state row: bumped on every catalog change
DOMAIN_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class EventType:
    type: str
    domain: str
    version: int
    description: str
    schema: dict[str, Any]
    partition_field: str | None = None
    builtin: bool = True
    _fast: list[Callable[[Any], Any]] = field(default_factory=list, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "domain": self.domain,
            "version": self.version,
            "description": self.description,
            "schema": self.schema,
            "partition_field": self.partition_field,
            "builtin": self.builtin,
        }

    def fill_partition_key(self, event: CloudEvent) -> None:
        """Key an event by the type's partition field when the producer sent no key."""
        if event.partitionkey is None and self.partition_field and isinstance(event.data, dict):
            value = event.data.get(self.partition_field)
            if isinstance(value, str | int):
                event.partitionkey = str(value)

    def violations(self, data: Any) -> list[dict[str, Any]]:
        """Every way ``data`` breaks the schema, as problem+json errors; [] when valid."""
        if not self._fast:
            # Compiled lazily: compiling all 200+ schemas at start-up would cost seconds.
            self._fast.append(fastjsonschema.compile(self.schema))
        try:
            self._fast[0](data)
            return []
        except fastjsonschema.JsonSchemaException:
            pass
        validator = Draft202012Validator(
            self.schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = []
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
            pointer = "/data" + "".join(f"/{part}" for part in error.absolute_path)
            errors.append(field_error(pointer, str(error.validator), error.message))
        return errors or [field_error("/data", "schema", "the data does not match the schema")]


def _builtin() -> MappingProxyType[str, EventType]:
    types: dict[str, EventType] = {}
    for raw in BUILTIN_EVENT_TYPES:
        if raw["type"] in types:  # a frozen registry refuses duplicates
            raise RuntimeError(f"duplicate built-in event type {raw['type']}")
        types[raw["type"]] = EventType(
            type=raw["type"],
            domain=raw["domain"],
            version=int(raw.get("version", 1)),
            description=raw["description"],
            schema=raw["schema"],
            partition_field=raw.get("partition_field"),
        )
    return MappingProxyType(types)


BUILTIN: MappingProxyType[str, EventType] = _builtin()


class EventCatalog:
    """Built-in plus custom types; custom ones are cached per process until the catalog
    generation counter moves (any process changing a type bumps it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._custom: dict[str, EventType] = {}
        self._generation = -1

    def _refresh(self, session: Session) -> None:
        generation = current_generation(session, EVENTS_COUNTER)
        if generation == self._generation:
            return
        rows = session.execute(
            sa.select(EventTypeVersion).order_by(EventTypeVersion.type, EventTypeVersion.version)
        ).scalars()
        # Ordered by version: the last one wins.
        custom = {row.type: _from_row(row) for row in rows}
        with self._lock:
            self._custom = custom
            self._generation = generation

    def get(self, session: Session, event_type: str) -> EventType | None:
        found = BUILTIN.get(event_type)
        if found is not None:
            return found
        self._refresh(session)
        return self._custom.get(event_type)

    def all(self, session: Session) -> list[EventType]:
        self._refresh(session)
        return sorted([*BUILTIN.values(), *self._custom.values()], key=lambda t: t.type)

    def domains(self, session: Session) -> dict[str, str]:
        found = dict(BUILTIN_DOMAINS)
        for item in self.all(session):
            found.setdefault(item.domain, "Admin-defined domain")
        return found

    def versions(self, session: Session, event_type: str) -> list[EventType]:
        if event_type in BUILTIN:
            return [BUILTIN[event_type]]
        rows = session.execute(
            sa.select(EventTypeVersion)
            .where(EventTypeVersion.type == event_type)
            .order_by(EventTypeVersion.version)
        ).scalars()
        return [_from_row(row) for row in rows]

    def define(
        self,
        session: Session,
        *,
        event_type: str,
        description: str,
        schema: dict[str, Any],
        partition_field: str | None = None,
        actor_id: str | None = None,
        replace: bool = False,
    ) -> EventType:
        """Add a type (or, with ``replace``, a new version of an admin-defined one)."""
        errors = _check_definition(event_type, description, schema, partition_field)
        if errors:
            raise ValidationFailed("the event type definition is invalid", errors=errors)
        if event_type in BUILTIN:
            raise Conflict(f"{event_type} is a built-in type and cannot be redefined")
        latest = session.execute(
            sa.select(sa.func.max(EventTypeVersion.version)).where(
                EventTypeVersion.type == event_type
            )
        ).scalar()
        if latest is not None and not replace:
            raise Conflict(
                f"{event_type} already exists (version {latest}); PUT to publish a new version"
            )
        if latest is None and replace:
            raise NotFound(f"no admin-defined event type {event_type}")
        row = EventTypeVersion(
            type=event_type,
            version=(latest or 0) + 1,
            domain=event_type.split(".", 1)[0],
            description=description,
            schema=schema,
            partition_field=partition_field,
            created_by=actor_id,
        )
        session.add(row)
        session.flush()
        bump_generation(session, EVENTS_COUNTER)
        self._generation = -1
        return _from_row(row)


def _from_row(row: EventTypeVersion) -> EventType:
    return EventType(
        row.type,
        row.domain,
        row.version,
        row.description,
        row.schema,
        row.partition_field,
        builtin=False,
    )


def _check_definition(
    event_type: str, description: str, schema: Any, partition_field: str | None
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if not TYPE_PATTERN.match(event_type or ""):
        errors.append(
            field_error(
                "/type",
                "pattern",
                "event types are named <domain>.<entity>.<action>: three lower-case words "
                "of letters, digits and underscores separated by dots",
            )
        )
    if not description or not description.strip():
        errors.append(field_error("/description", "required", "describe when the event happens"))
    if not isinstance(schema, dict):
        errors.append(field_error("/schema", "type", "the schema must be a JSON object"))
        return errors
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        pointer = "/schema" + "".join(f"/{p}" for p in error.absolute_path)
        errors.append(field_error(pointer, "schema", f"not a valid JSON Schema: {error.message}"))
        return errors
    if schema.get("type") not in ("object", None):
        errors.append(field_error("/schema/type", "type", "event data must be a JSON object"))
    try:
        fastjsonschema.compile(schema)
    except Exception as error:  # fastjsonschema rejects a few constructs jsonschema accepts
        errors.append(field_error("/schema", "schema", f"the schema cannot be compiled: {error}"))
    if partition_field is not None and not isinstance(partition_field, str):
        errors.append(field_error("/partition_field", "type", "must be a field name"))
    return errors


def search(types: Iterable[EventType], *, domain: str | None, text: str | None) -> list[EventType]:
    found = []
    needle = (text or "").lower()
    for item in types:
        if domain and item.domain != domain:
            continue
        if needle and needle not in item.type and needle not in item.description.lower():
            continue
        found.append(item)
    return found
