"""Runtime metadata: define objects and fields while the system runs.

Admins add custom objects and custom fields, change flags (required, unique, indexed) and
validation rules through this service. Every change bumps the object's version, is written to
``metadata_changes`` with before/after, and bumps a global generation counter that tells every
process to reload its cached registry. Rules are compiled at save time, so a broken CEL
expression is refused with its position instead of failing at the first record save.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.db import driver_rows
from kindred.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    field_error,
    pointer,
)
from kindred.records.fields import (
    ENVELOPE_NAMES,
    Checker,
    FieldDefinition,
    FieldType,
    ObjectDefinition,
    SovereigntyClass,
    ValidationRule,
    build_checker,
)
from kindred.records.models import (
    MetadataChange,
    MetadataState,
    ObjectDefinitionRow,
    RecordLink,
    RecordRow,
)
from kindred.records.standard import STANDARD_OBJECTS, fill_missing_labels
from kindred.records.storage import field_expression, object_is, sync_indexes
from kindred.rules import RuleError, compile_rule

RULE_VARIABLES = ("record",)


@dataclass(frozen=True)
class CompiledObject:
    """An object definition with everything precomputed that a record write needs."""

    definition: ObjectDefinition
    checkers: dict[str, Checker]
    rules: tuple[tuple[ValidationRule, Any], ...]
    fields: dict[str, FieldDefinition]
    # Customer-authorized fields, in definition order: every read of the object asks.
    customer_authorized: tuple[str, ...] = ()
    # A child object's parent, linked by the registry: its records are visible where the
    # parent record is (order lines inherit their order's territory and owner).
    parent: CompiledObject | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def parent_relation(self) -> str:
        """The edge name (``record_links.relation``) from a child record to its parent."""
        return f"{self.definition.name}.{self.definition.parent}"

    @property
    def territorial(self) -> bool:
        return "territory" in self.fields

    @property
    def relation_fields(self) -> list[FieldDefinition]:
        return [f for f in self.definition.fields if f.type is FieldType.RELATION]


def compile_object(definition: ObjectDefinition) -> CompiledObject:
    rules = []
    errors: list[dict[str, Any]] = []
    for position, rule in enumerate(definition.validation_rules):
        try:
            rules.append((rule, compile_rule(rule.expression, variables=RULE_VARIABLES)))
        except RuleError as error:
            errors.append(
                field_error(
                    f"/validation_rules/{position}/expression",
                    "invalid_cel",
                    error.message,
                    **{k: v for k, v in error.to_dict().items() if k != "message"},
                )
            )
    if errors:
        raise ValidationFailed(
            f"object '{definition.name}' has invalid validation rules", errors=errors
        )
    return CompiledObject(
        definition=definition,
        checkers={f.name: build_checker(f) for f in definition.fields},
        rules=tuple(rules),
        fields=definition.field_map,
        customer_authorized=tuple(
            f.name
            for f in definition.fields
            if f.sovereignty == SovereigntyClass.CUSTOMER_AUTHORIZED
        ),
    )


# The parent of a child whose parent object is missing: no record of it is visible.
ORPHAN = compile_object(ObjectDefinition(name="orphan", label="Orphan", label_plural="Orphans"))


def link_parents(objects: dict[str, CompiledObject]) -> dict[str, CompiledObject]:
    """Each child object linked to its (linked) parent; a parent that is missing or part of
    a cycle leaves the child with no record visible to scoped readers (see visibility)."""
    linked: dict[str, CompiledObject] = {}

    def link(name: str, trail: tuple[str, ...]) -> CompiledObject:
        if name in linked:
            return linked[name]
        compiled = objects[name]
        parent_name = compiled.definition.parent
        target = compiled.fields[parent_name].target if parent_name else None
        if target is None:
            linked[name] = compiled
        elif target not in objects or target in trail:
            # Refused on save; if it ever happens, fail closed: an orphan link.
            linked[name] = dataclasses.replace(compiled, parent=ORPHAN)
        else:
            linked[name] = dataclasses.replace(compiled, parent=link(target, (*trail, name)))
        return linked[name]

    for name in objects:
        link(name, ())
    return linked


class Registry:
    """An immutable snapshot of every object definition at one metadata generation."""

    def __init__(self, objects: dict[str, CompiledObject], generation: int) -> None:
        self.objects = link_parents(objects)
        self.generation = generation

    def get(self, name: str) -> CompiledObject:
        try:
            return self.objects[name]
        except KeyError:
            raise NotFound(
                f"unknown object '{name}'",
                known_objects=sorted(self.objects),
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self.objects

    def definitions(self) -> list[ObjectDefinition]:
        return [o.definition for o in self.objects.values()]


def load_definitions(session: Session) -> list[ObjectDefinition]:
    rows = session.execute(sa.select(ObjectDefinitionRow).order_by(ObjectDefinitionRow.name))
    return [
        ObjectDefinition.model_validate({**row.definition, "version": row.version})
        for row in rows.scalars()
    ]


METADATA_COUNTER = 1
AUTH_COUNTER = 2  # users, territories, roles and API keys: invalidates cached principals


# How long a process trusts its last reading of the counters. Changes made by this process
# are seen at once (see ``bump_generation``); changes made by another process are seen
# within this many seconds.
GENERATION_TTL_SECONDS = 0.5


class _GenerationClock:
    """Reads all counters in one query, at most every ``GENERATION_TTL_SECONDS``.

    Why: checking two counters on every request cost two round trips, more than the rest
    of a GET by id.
    """

    def __init__(self) -> None:
        self._values: dict[int, int] = {}
        self._read_at = -1e9
        self._lock = threading.Lock()

    def read(self, session: Session, counter: int) -> int:
        now = time.monotonic()
        if now - self._read_at > GENERATION_TTL_SECONDS:
            rows = session.execute(sa.select(MetadataState.id, MetadataState.generation)).all()
            with self._lock:
                self._values = {int(row[0]): int(row[1]) for row in rows}
                self._read_at = now
        return self._values.get(counter, 0)

    def expire(self, *_: Any) -> None:
        self._read_at = -1e9


generation_clock = _GenerationClock()


def current_generation(session: Session, counter: int = METADATA_COUNTER) -> int:
    return generation_clock.read(session, counter)


def read_generation(session: Session, counter: int) -> int:
    """The counter as the database has it now (no TTL): for caches that must see another
    process's change on the very next read (consent decisions)."""
    rows = driver_rows(session, "SELECT generation FROM metadata_state WHERE id = ?", [counter])
    return int(rows[0][0]) if rows else 0


def bump_generation(session: Session, counter: int = METADATA_COUNTER) -> None:
    """Tell every process that its cache keyed on ``counter`` is stale (after commit).

    A fresh random value, not +1: a transaction that read (and so cached) its own uncommitted
    changes under the new value and then rolled back must never see that value come back
    with the next commit — with +1 it would, and the cache would serve what never happened.
    Caches only compare values for equality.
    """
    state = session.get(MetadataState, counter, with_for_update=True)
    value = secrets.randbits(62)
    if state is None:
        session.add(MetadataState(id=counter, generation=value))
    else:
        state.generation = value
    session.flush()
    # This process sees its own change immediately: expire now (no stale re-read can be
    # cached past commit, because we expire again once the commit is done).
    generation_clock.expire()
    if not sa.event.contains(session, "after_commit", generation_clock.expire):
        sa.event.listen(session, "after_commit", generation_clock.expire, once=True)


class RegistryCache:
    """Per-process cache of the registry, reloaded when the generation counter moves.

    Checking the counter costs one primary-key read per request; reloading happens only
    after a metadata change, in whichever process notices first.
    """

    def __init__(self) -> None:
        self._registry: Registry | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> Registry:
        generation = current_generation(session)
        registry = self._registry
        if registry is not None and registry.generation == generation:
            return registry
        with self._lock:
            registry = self._registry
            if registry is None or registry.generation != generation:
                compiled = {d.name: compile_object(d) for d in load_definitions(session)}
                registry = Registry(compiled, generation)
                self._registry = registry
        return registry

    def invalidate(self) -> None:
        self._registry = None


def _dump(definition: ObjectDefinition) -> dict[str, Any]:
    data = definition.model_dump(mode="json", exclude={"version"})
    return data


def _validation_failed(error: Exception, prefix: str = "") -> ValidationFailed:
    """Turn a pydantic ValidationError into our problem shape with JSON Pointer paths."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        errors = []
        for item in error.errors():
            # A model validator's location is the body itself: "".
            path = prefix + pointer(*item["loc"])
            message = str(item["msg"]).removeprefix("Value error, ")
            errors.append(field_error(path, str(item["type"]), message))
        return ValidationFailed("the definition is invalid", errors=errors)
    return ValidationFailed(str(error))


def _refuse_envelope_names(fields: list[tuple[str, str]]) -> None:
    """Refuse new fields named like a response envelope key; ``fields`` holds (JSON Pointer
    of the name, name) pairs."""
    errors = [
        field_error(
            path,
            "reserved",
            f"'{name}' is reserved: it is a key of the API's responses around records",
        )
        for path, name in fields
        if name in ENVELOPE_NAMES
    ]
    if errors:
        raise ValidationFailed("the definition is invalid", errors=errors)


class MetadataService:
    """Changes object definitions. Every method runs inside the caller's write session."""

    def __init__(
        self,
        cache: RegistryCache,
        on_change: Callable[[Session, MetadataChange], None] | None = None,
    ) -> None:
        self.cache = cache
        # Evidence hook: the ledger records every metadata change (see kindred.app wiring).
        self.on_change = on_change

    # -- bootstrap -------------------------------------------------------------------------

    def install_standard_objects(self, session: Session, actor_id: str | None = None) -> int:
        """Create missing standard objects, add standard fields new in this release to
        existing ones and give their fields and options the shipped Chinese labels they lack,
        keeping admins' custom fields and labels. Returns how many changes it recorded."""
        existing = {d.name: d for d in load_definitions(session)}
        changed = 0
        for standard in STANDARD_OBJECTS:
            current = existing.get(standard.name)
            if current is None:
                self._save(session, None, standard, "install", "standard object", actor_id, None)
                changed += 1
                continue
            known = {f.name for f in current.fields}
            missing = [f for f in standard.fields if f.name not in known]
            if missing:
                updated = current.model_copy(update={"fields": current.fields + tuple(missing)})
                summary = "standard fields added: " + ", ".join(f.name for f in missing)
                self._save(session, current, updated, "upgrade", summary, actor_id, None)
                current = updated.model_copy(update={"version": current.version + 1})
                changed += 1
            if current.parent != standard.parent:
                # Child objects inherit their parent's visibility (a security fix: order
                # lines were readable across territories).
                updated = current.model_copy(update={"parent": standard.parent})
                summary = f"parent: {standard.parent}"
                self._save(session, current, updated, "upgrade", summary, actor_id, None)
                current = updated.model_copy(update={"version": current.version + 1})
                changed += 1
            # Chinese labels shipped after the database was made fill only the gaps: a label
            # an admin set is kept.
            updated, filled = fill_missing_labels(current, standard)
            if filled:
                summary = "standard Chinese labels added: " + ", ".join(filled)
                self._save(session, current, updated, "upgrade", summary, actor_id, None)
                changed += 1
        if changed:
            sync_indexes(session.connection(), load_definitions(session))
        return changed

    # -- queries ----------------------------------------------------------------------------

    def registry(self, session: Session) -> Registry:
        return self.cache.get(session)

    def history(self, session: Session, object_name: str) -> list[MetadataChange]:
        self.registry(session).get(object_name)
        rows = session.execute(
            sa.select(MetadataChange)
            .where(MetadataChange.object == object_name)
            .order_by(MetadataChange.version)
        )
        return list(rows.scalars())

    # -- objects ----------------------------------------------------------------------------

    def create_object(
        self,
        session: Session,
        payload: dict[str, Any],
        *,
        actor_id: str | None,
        request_id: str | None,
    ) -> ObjectDefinition:
        payload = {**payload, "standard": False}
        payload.pop("version", None)
        try:
            definition = ObjectDefinition.model_validate(payload)
        except Exception as error:
            raise _validation_failed(error) from None
        _refuse_envelope_names(
            [(f"/fields/{i}/name", field.name) for i, field in enumerate(definition.fields)]
        )
        registry = self.registry(session)
        if definition.name in registry:
            raise Conflict(f"object '{definition.name}' already exists")
        definition = definition.model_copy(
            update={
                "fields": tuple(f.model_copy(update={"standard": False}) for f in definition.fields)
            }
        )
        self._check_relations(registry, definition, extra_objects={definition.name})
        compile_object(definition)
        self._save(session, None, definition, "create", "object created", actor_id, request_id)
        sync_indexes(session.connection(), [*registry.definitions(), definition])
        return self._reloaded(session, definition.name)

    def update_object(
        self,
        session: Session,
        name: str,
        changes: dict[str, Any],
        *,
        expected_version: int | None,
        actor_id: str | None,
        request_id: str | None,
    ) -> ObjectDefinition:
        """Change labels, description, title field or the validation rules."""
        allowed = {
            "label",
            "label_plural",
            "label_zh",
            "description",
            "title_field",
            "validation_rules",
        }
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValidationFailed(
                "these properties cannot be changed here",
                errors=[
                    field_error(
                        f"/{key}",
                        "not_updatable",
                        "fields are changed through the fields endpoints"
                        if key == "fields"
                        else f"'{key}' cannot be changed",
                    )
                    for key in unknown
                ],
            )
        current = self._current(session, name, expected_version)
        try:
            updated = ObjectDefinition.model_validate({**_dump(current), **changes})
        except Exception as error:
            raise _validation_failed(error) from None
        compile_object(updated)
        summary = "changed: " + ", ".join(sorted(changes))
        self._save(session, current, updated, "update", summary, actor_id, request_id)
        return self._reloaded(session, name)

    def delete_object(
        self, session: Session, name: str, *, actor_id: str | None, request_id: str | None
    ) -> None:
        current = self._current(session, name, None)
        if current.standard:
            raise PermissionDenied(f"'{name}' is a standard object and cannot be deleted")
        count = session.execute(
            sa.select(sa.func.count()).select_from(RecordRow).where(object_is(name))
        ).scalar_one()
        if count:
            raise Conflict(
                f"object '{name}' still has {count} records; delete them first", records=count
            )
        for other in self.registry(session).definitions():
            for field in other.fields:
                if field.type is FieldType.RELATION and field.target == name and other.name != name:
                    raise Conflict(
                        f"field '{other.name}.{field.name}' points at '{name}'; remove it first"
                    )
        session.execute(sa.delete(ObjectDefinitionRow).where(ObjectDefinitionRow.name == name))
        self._log(
            session,
            current,
            None,
            "delete",
            "object deleted",
            actor_id,
            request_id,
            current.version + 1,
        )
        remaining = [d for d in load_definitions(session) if d.name != name]
        sync_indexes(session.connection(), remaining)

    # -- fields -----------------------------------------------------------------------------

    def add_field(
        self,
        session: Session,
        object_name: str,
        payload: dict[str, Any],
        *,
        expected_version: int | None,
        actor_id: str | None,
        request_id: str | None,
    ) -> ObjectDefinition:
        current = self._current(session, object_name, expected_version)
        try:
            field = FieldDefinition.model_validate({**payload, "standard": False})
        except Exception as error:
            raise _validation_failed(error) from None
        _refuse_envelope_names([("/name", field.name)])
        if current.field(field.name):
            raise Conflict(f"field '{object_name}.{field.name}' already exists")
        updated = current.model_copy(update={"fields": (*current.fields, field)})
        registry = self.registry(session)
        # Only the new field can point nowhere: its target is the body's /target.
        self._check_relations(registry, updated, at=lambda _: "/target")
        dialect = session.get_bind().dialect.name
        expression = field_expression(dialect, field.name, field.sql_kind)
        if field.required:
            missing = self._count_missing(session, object_name, expression)
            if missing and field.default is None:
                raise Conflict(
                    f"{missing} existing {object_name} records have no value for the new "
                    f"required field '{field.name}'; give it a default to fill them in",
                    records=missing,
                )
            if missing:
                self._backfill(session, object_name, field.name, field.default)
        self._save(
            session,
            current,
            updated,
            "add_field",
            f"field '{field.name}' added",
            actor_id,
            request_id,
        )
        sync_indexes(session.connection(), [*registry.definitions(), updated])
        return self._reloaded(session, object_name)

    def update_field(
        self,
        session: Session,
        object_name: str,
        field_name: str,
        changes: dict[str, Any],
        *,
        expected_version: int | None,
        actor_id: str | None,
        request_id: str | None,
    ) -> ObjectDefinition:
        current = self._current(session, object_name, expected_version)
        field = current.field(field_name)
        if field is None:
            raise NotFound(f"unknown field '{object_name}.{field_name}'")
        immutable = {"name", "type", "target", "cardinality", "standard"}
        blocked = sorted(k for k in changes if k in immutable and changes[k] != getattr(field, k))
        if blocked:
            raise ValidationFailed(
                "a field's name, type and relation target cannot change; add a new field and "
                "copy the data instead",
                errors=[field_error(f"/{k}", "immutable", f"'{k}' cannot change") for k in blocked],
            )
        try:
            new_field = FieldDefinition.model_validate({**field.model_dump(mode="json"), **changes})
        except Exception as error:
            raise _validation_failed(error) from None
        dialect = session.get_bind().dialect.name
        expression = field_expression(dialect, field.name, field.sql_kind)
        if new_field.unique and not field.unique:
            duplicates = self._duplicates(session, object_name, expression)
            if duplicates:
                raise Conflict(
                    f"cannot make '{object_name}.{field_name}' unique: "
                    f"{len(duplicates)} values occur more than once",
                    duplicate_values=duplicates[:20],
                )
        if new_field.required and not field.required:
            missing = self._count_missing(session, object_name, expression)
            if missing:
                raise Conflict(
                    f"cannot make '{object_name}.{field_name}' required: {missing} records "
                    "have no value",
                    records=missing,
                )
        removed_options = {o.value for o in field.options} - {o.value for o in new_field.options}
        if removed_options:
            in_use = self._options_in_use(session, object_name, field, removed_options)
            if in_use:
                raise Conflict(
                    f"options still in use cannot be removed: {', '.join(sorted(in_use))}"
                )
        fields = tuple(new_field if f.name == field_name else f for f in current.fields)
        updated = current.model_copy(update={"fields": fields})
        compile_object(updated)
        self._save(
            session,
            current,
            updated,
            "update_field",
            f"field '{field_name}' changed: {', '.join(sorted(changes))}",
            actor_id,
            request_id,
        )
        sync_indexes(session.connection(), self._definitions_with(session, updated))
        return self._reloaded(session, object_name)

    def delete_field(
        self,
        session: Session,
        object_name: str,
        field_name: str,
        *,
        expected_version: int | None,
        actor_id: str | None,
        request_id: str | None,
    ) -> ObjectDefinition:
        current = self._current(session, object_name, expected_version)
        field = current.field(field_name)
        if field is None:
            raise NotFound(f"unknown field '{object_name}.{field_name}'")
        if field.standard:
            raise PermissionDenied(f"'{object_name}.{field_name}' is a standard field")
        for rule in current.validation_rules:
            if f"record.{field_name}" in rule.expression:
                raise Conflict(
                    f"validation rule '{rule.name}' uses '{field_name}'; change it first"
                )
        if current.title_field == field_name:
            raise Conflict(f"'{field_name}' is the title field; choose another title first")
        fields = tuple(f for f in current.fields if f.name != field_name)
        updated = current.model_copy(update={"fields": fields})
        # Remove stored values too, so re-adding a field of that name starts empty.
        dialect = session.get_bind().dialect.name
        records: sa.Table = RecordRow.__table__  # type: ignore[assignment]
        new_data: Any
        if dialect == "sqlite":
            new_data = sa.func.json_remove(records.c.data, sa.literal_column(f"'$.{field_name}'"))
        else:
            new_data = records.c.data.op("-")(sa.literal_column(f"'{field_name}'"))
        session.execute(sa.update(records).where(object_is(object_name)).values(data=new_data))
        if field.type is FieldType.RELATION:
            session.execute(
                sa.delete(RecordLink).where(RecordLink.relation == f"{object_name}.{field_name}")
            )
        self._save(
            session,
            current,
            updated,
            "delete_field",
            f"field '{field_name}' deleted",
            actor_id,
            request_id,
        )
        sync_indexes(session.connection(), self._definitions_with(session, updated))
        return self._reloaded(session, object_name)

    # -- internals --------------------------------------------------------------------------

    def _current(
        self, session: Session, name: str, expected_version: int | None
    ) -> ObjectDefinition:
        row = session.get(ObjectDefinitionRow, name, with_for_update=True)
        if row is None:
            known = sorted(self.registry(session).objects)
            raise NotFound(f"unknown object '{name}'", known_objects=known)
        if expected_version is not None and row.version != expected_version:
            from kindred.errors import PreconditionFailed

            raise PreconditionFailed(
                f"object '{name}' is at version {row.version}, not {expected_version}; "
                "reload it and apply your change again",
                current_version=row.version,
            )
        return ObjectDefinition.model_validate({**row.definition, "version": row.version})

    def _definitions_with(
        self, session: Session, updated: ObjectDefinition
    ) -> list[ObjectDefinition]:
        return [updated if d.name == updated.name else d for d in load_definitions(session)]

    def _check_relations(
        self,
        registry: Registry,
        definition: ObjectDefinition,
        extra_objects: set[str] | None = None,
        at: Callable[[int], str] = lambda position: f"/fields/{position}/target",
    ) -> None:
        known = set(registry.objects) | (extra_objects or set())
        errors = [
            field_error(
                at(position),
                "unknown_object",
                f"relation target '{field.target}' is not an object",
            )
            for position, field in enumerate(definition.fields)
            if field.type is FieldType.RELATION and field.target not in known
        ]
        if errors:
            raise ValidationFailed("relation fields point at unknown objects", errors=errors)

    def _count_missing(self, session: Session, object_name: str, expression: Any) -> int:
        return int(
            session.execute(
                sa.select(sa.func.count())
                .select_from(RecordRow)
                .where(object_is(object_name), expression.is_(None))
            ).scalar_one()
        )

    def _backfill(self, session: Session, object_name: str, name: str, value: Any) -> None:
        records: sa.Table = RecordRow.__table__  # type: ignore[assignment]
        rows = session.execute(
            sa.select(records.c.id, records.c.data).where(object_is(object_name))
        ).all()
        for record_id, data in rows:
            if data.get(name) is None:
                session.execute(
                    sa.update(records)
                    .where(records.c.id == record_id)
                    .values(data={**data, name: value}, version=records.c.version + 1)
                )

    def _duplicates(self, session: Session, object_name: str, expression: Any) -> list[Any]:
        rows = session.execute(
            sa.select(expression)
            .where(object_is(object_name), expression.is_not(None))
            .group_by(expression)
            .having(sa.func.count() > 1)
        )
        return [row[0] for row in rows]

    def _options_in_use(
        self, session: Session, object_name: str, field: FieldDefinition, values: set[str]
    ) -> set[str]:
        rows = session.execute(sa.select(RecordRow.data).where(object_is(object_name))).scalars()
        used: set[str] = set()
        for data in rows:
            value = data.get(field.name)
            found = set(value) if isinstance(value, list) else {value}
            used |= found & values
        return used

    def _save(
        self,
        session: Session,
        before: ObjectDefinition | None,
        after: ObjectDefinition,
        action: str,
        summary: str,
        actor_id: str | None,
        request_id: str | None,
    ) -> None:
        version = 1 if before is None else before.version + 1
        row = session.get(ObjectDefinitionRow, after.name)
        if row is None:
            session.add(
                ObjectDefinitionRow(
                    name=after.name,
                    definition=_dump(after),
                    standard=after.standard,
                    version=version,
                )
            )
        else:
            row.definition = _dump(after)
            row.version = version
        session.flush()
        self._log(session, before, after, action, summary, actor_id, request_id, version)

    def _log(
        self,
        session: Session,
        before: ObjectDefinition | None,
        after: ObjectDefinition | None,
        action: str,
        summary: str,
        actor_id: str | None,
        request_id: str | None,
        version: int,
    ) -> None:
        name = (after or before).name  # type: ignore[union-attr]
        change = MetadataChange(
            object=name,
            version=version,
            action=action,
            summary=summary,
            actor_id=actor_id,
            request_id=request_id,
            before=_dump(before) if before else None,
            after=_dump(after) if after else None,
        )
        session.add(change)
        bump_generation(session, METADATA_COUNTER)
        if self.on_change is not None:
            self.on_change(session, change)

    def _reloaded(self, session: Session, name: str) -> ObjectDefinition:
        return self.registry(session).get(name).definition
