"""The generic record service: create, read, update, delete, list and bulk-write records of
any object, standard or custom, under one permission model.

Every write validates everything first and writes nothing unless all of it is valid; the
change log and relation edges are written in the same transaction as the record. Reads pass
every returned record through the field-read hooks (consent enforcement plugs in there).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kindred.auth.permissions import EffectivePermission, Principal
from kindred.db import utcnow
from kindred.db.bulk import BulkInserter
from kindred.errors import (
    Conflict,
    MalformedRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ValidationFailed,
    field_error,
    pointer,
)
from kindred.ids import new_id
from kindred.records.fields import (
    FieldType,
    FieldValueError,
    build_checker,
    format_datetime,
)
from kindred.records.metadata import ORPHAN, CompiledObject, Registry, RegistryCache
from kindred.records.models import ChangeLogEntry, RecordLink, RecordRow
from kindred.records.query import (
    ListQuery,
    QueryCompiler,
    decode_cursor,
    encode_cursor,
    keyset_predicate,
    sort_signature,
)
from kindred.records.storage import (
    SYSTEM_RELATION_COLUMNS,
    SYSTEM_RELATION_TARGETS,
    field_expression,
    object_is,
)
from kindred.rules import RuleError

records: sa.Table = RecordRow.__table__  # type: ignore[assignment]
links: sa.Table = RecordLink.__table__  # type: ignore[assignment]
change_log: sa.Table = ChangeLogEntry.__table__  # type: ignore[assignment]

MAX_BULK = 10_000
RECORD_COLUMNS = (
    "id",
    "object",
    "data",
    "version",
    "owner_id",
    "territory_id",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
)
CHANGE_LOG_COLUMNS = (
    "object",
    "record_id",
    "action",
    "actor_id",
    "request_id",
    "before",
    "after",
    "created_at",
    "acting_for",
)
# Objects whose records shape who may do what: written only by principals who manage users.
SECURITY_OBJECTS = frozenset({"user", "territory"})


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, under which request id, and for what declared purpose.

    ``agent``: the agent acting (consents can name an agent as grantee); ``channel``: the
    read path (api, export, scenario, agent), recorded with every consent decision;
    ``source`` / ``legal_basis``: the provenance of values written.
    """

    principal: Principal
    request_id: str | None = None
    purpose: str | None = None
    agent: str | None = None
    channel: str = "api"
    # Where written values come from (provenance): the source system and the legal basis
    # for holding them; None → the defaults of the field's class.
    source: str = "crm"
    legal_basis: str | None = None
    # Automation acting with this principal's rights: what it is and why it acts, e.g.
    # {"scenario": …, "version": …, "run": …, "author": …, "event": {…}}; recorded with
    # every change it makes (change log and ledger).
    acting_for: dict[str, Any] | None = None


class FieldReadHook(Protocol):
    """Called with every batch of records about to leave the service.

    It may remove fields (and say why in ``record["meta"]["withheld"]``). Consent enforcement
    implements this; the default service has none.
    """

    def __call__(
        self,
        session: Session,
        context: RequestContext,
        compiled: CompiledObject,
        presented: list[dict[str, Any]],
    ) -> None: ...


class ChangeHook(Protocol):
    """Called after change-log rows are written, inside the same transaction (evidence)."""

    def __call__(self, session: Session, entries: list[dict[str, Any]]) -> None: ...


SEALED = "$sealed"  # a change-log value stored encrypted: {"$sealed": "<base64>"}


@dataclass
class Page:
    data: list[dict[str, Any]]
    next_cursor: str | None
    included: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Draft:
    """A record being written: its validated data plus where it came from in the request."""

    position: int
    record_id: str
    data: dict[str, Any]
    version: int = 1
    before: dict[str, Any] | None = None
    existing: bool = False
    changed: set[str] = field(default_factory=set)


Draft = _Draft  # what write hooks see of a record being written


class WriteHook(Protocol):
    """Called with the validated records of a write before anything is written, in the same
    transaction (``existing`` false: being created). It may add to the ``data`` of records
    being created what the platform issues to every new record of their kind (a customer's
    DID) and returns problems ``(position, field, code, message)``: any refuses the write."""

    def __call__(
        self, session: Session, compiled: CompiledObject, drafts: Sequence[Draft]
    ) -> list[tuple[int, str, str, str]]: ...


# What the server sets on every record: a PATCH naming any of them is refused, so a change
# that would be silently dropped is never answered 200 (the version is If-Match's).
READ_ONLY_FIELDS = ("object", "version", "created_at", "updated_at", "created_by", "updated_by")


def _refuse_read_only(patch: dict[str, Any], record_id: str) -> None:
    """A 422 naming each read-only member of ``patch`` (``meta`` too; ``id`` unless it is
    the record's own), so nothing of the patch is written."""
    named = [name for name in (*READ_ONLY_FIELDS, "meta") if name in patch]
    if "id" in patch and patch["id"] != record_id:
        named.insert(0, "id")
    if not named:
        return
    raise ValidationFailed(
        f"read-only fields cannot be changed: {', '.join(named)} (nothing was saved)",
        errors=[
            field_error(
                pointer(name),
                "read_only",
                "send If-Match to state the version you edited"
                if name == "version"
                else f"'{name}' is set by the server",
            )
            for name in named
        ],
    )


def _with_links(fields: list[str] | None, include: list[str] | None) -> list[str] | None:
    """A sparse fieldset plus the relations ``include`` follows: without their ids, the
    included records could not be matched to the records that point at them."""
    if fields is None:
        return None
    return [*fields, *(name for name in include or () if name not in fields)]


def _parse_timestamp(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


class RecordService:
    def __init__(
        self,
        cache: RegistryCache,
        read_hooks: Sequence[FieldReadHook] = (),
        change_hooks: Sequence[ChangeHook] = (),
    ) -> None:
        self.cache = cache
        self.read_hooks = list(read_hooks)
        self.change_hooks = list(change_hooks)
        # Called on change-log entries before they are written: may replace values by
        # sealed ones (customer data encrypted under the customer's own key).
        self.change_log_sealers: list[ChangeHook] = []
        # Called on every validated write before it is written (issued values: DIDs).
        self.write_hooks: list[WriteHook] = []

    # -- helpers ------------------------------------------------------------------------------

    def registry(self, session: Session) -> Registry:
        return self.cache.get(session)

    def _object(
        self, session: Session, context: RequestContext, name: str, action: str
    ) -> tuple[CompiledObject, EffectivePermission]:
        compiled = self.registry(session).get(name)
        permission = context.principal.permission(name)
        self._check_action(compiled, permission, context.principal, action)
        return compiled, permission

    @staticmethod
    def _check_action(
        compiled: CompiledObject, permission: EffectivePermission, principal: Principal, action: str
    ) -> None:
        label = compiled.definition.label_plural.lower()
        if not permission.can(action):  # type: ignore[arg-type]
            raise PermissionDenied(f"you may not {action} {label}")
        if (
            action != "read"
            and compiled.name in SECURITY_OBJECTS
            and not principal.can_manage_users
        ):
            # Users and territories decide who may do what: a grant on the object alone
            # (e.g. a role with "*") is not enough to change them.
            raise PermissionDenied(f"changing {label} needs permission to manage users")

    @staticmethod
    def visibility(
        compiled: CompiledObject,
        permission: EffectivePermission,
        principal: Principal,
        table: Any = None,
    ) -> sa.ColumnElement[bool] | None:
        """The SQL predicate limiting which records of this object the principal sees.

        ``table``: the records table or an alias of it the predicate is about. A child
        object's records are visible where their parent record is (and the principal may
        read the parent object); the child's own scope can only narrow that further.
        """
        rows = records if table is None else table
        own: sa.ColumnElement[bool] | None
        if permission.scope == "all":
            own = None
        elif permission.scope == "territory" and compiled.territorial:
            if principal.territory_ids:
                own = sa.or_(
                    rows.c.territory_id.in_(sorted(principal.territory_ids)),
                    rows.c.owner_id == principal.user_id,
                )
            else:
                own = rows.c.owner_id == principal.user_id
        elif permission.scope == "territory":
            own = None  # objects without territories are shared within the role
        else:
            own = rows.c.owner_id == principal.user_id
        parent = compiled.parent
        if parent is None:
            return own
        if parent is ORPHAN:
            return sa.false()
        parent_permission = principal.permission(parent.name)
        if not parent_permission.can("read"):
            return sa.false()
        parents = records.alias(f"parent_{parent.name}")
        parent_visible = RecordService.visibility(parent, parent_permission, principal, parents)
        if parent_visible is None:
            return own
        visible_parents = sa.select(parents.c.id).where(
            parents.c.object == parent.name, parent_visible
        )
        edge = sa.select(links.c.source_id).where(
            links.c.relation == compiled.parent_relation,
            links.c.target_id.in_(visible_parents),
        )
        inherited = rows.c.id.in_(edge)
        return inherited if own is None else sa.and_(own, inherited)

    def _is_visible(
        self,
        compiled: CompiledObject,
        permission: EffectivePermission,
        principal: Principal,
        owner_id: str | None,
        territory_id: str | None,
    ) -> bool:
        """Visibility of a record from its owner and territory columns (not for children:
        their visibility is their parent's, see ``visible_ids``)."""
        if permission.scope == "all":
            return True
        if owner_id == principal.user_id:
            return True
        if permission.scope == "territory":
            return not compiled.territorial or territory_id in principal.territory_ids
        return False

    def visible_ids(
        self,
        session: Session,
        compiled: CompiledObject,
        permission: EffectivePermission,
        principal: Principal,
        ids: Iterable[str],
    ) -> set[str]:
        """Which of these records of ``compiled`` the principal sees (one query per 900)."""
        wanted = sorted(set(ids))
        visible = self.visibility(compiled, permission, principal)
        if visible is None:
            return set(wanted)
        found: set[str] = set()
        for start in range(0, len(wanted), 900):
            found.update(
                session.execute(
                    sa.select(records.c.id).where(
                        object_is(compiled.name),
                        records.c.id.in_(wanted[start : start + 900]),
                        visible,
                    )
                ).scalars()
            )
        return found

    def present(
        self,
        compiled: CompiledObject,
        permission: EffectivePermission,
        row: Any,
        fields: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        data = row.data
        result: dict[str, Any] = {
            "id": row.id,
            "object": row.object,
            "version": row.version,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "created_by": row.created_by,
            "updated_by": row.updated_by,
        }
        wanted = set(fields) if fields is not None else None
        for definition in compiled.definition.fields:
            name = definition.name
            if (wanted is None or name in wanted) and permission.can_read_field(name):
                result[name] = data.get(name)
        return result

    def _run_read_hooks(
        self,
        session: Session,
        context: RequestContext,
        compiled: CompiledObject,
        presented: list[dict[str, Any]],
    ) -> None:
        for hook in self.read_hooks:
            hook(session, context, compiled, presented)

    # -- reads --------------------------------------------------------------------------------

    def get(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        record_id: str,
        *,
        fields: list[str] | None = None,
        include: list[str] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        compiled, permission = self._object(session, context, object_name, "read")
        self._check_field_names(compiled, permission, fields, "fields")
        row = self._load_visible(session, context, compiled, permission, record_id)
        presented = [self.present(compiled, permission, row, _with_links(fields, include))]
        self._run_read_hooks(session, context, compiled, presented)
        included = self._included(session, context, compiled, permission, [row], include or [])
        return presented[0], included

    def _load_visible(
        self,
        session: Session,
        context: RequestContext,
        compiled: CompiledObject,
        permission: EffectivePermission,
        record_id: str,
        *,
        for_update: bool = False,
    ) -> Any:
        statement = sa.select(records).where(records.c.id == record_id, object_is(compiled.name))
        visible = self.visibility(compiled, permission, context.principal)
        if visible is not None:
            statement = statement.where(visible)
        if for_update:
            statement = statement.with_for_update()
        row = session.execute(statement).first()
        if row is None:
            # Same answer for "absent" and "not yours": existence is not leaked.
            raise NotFound(f"no {compiled.name} with id '{record_id}'")
        return row

    def _check_field_names(
        self,
        compiled: CompiledObject,
        permission: EffectivePermission,
        names: list[str] | None,
        parameter: str,
    ) -> None:
        if not names:
            return
        unknown = [n for n in names if n not in compiled.fields]
        if unknown:
            raise ValidationFailed(
                f"unknown fields in {parameter}",
                errors=[
                    field_error(
                        f"/query/{parameter}",
                        "unknown_field",
                        f"'{compiled.name}' has no field '{n}'",
                    )
                    for n in unknown
                ],
            )
        hidden = [n for n in names if not permission.can_read_field(n)]
        if hidden:
            raise PermissionDenied(f"you may not read: {', '.join(hidden)}")

    @staticmethod
    def _queryable(
        compiled: CompiledObject, permission: EffectivePermission, context: RequestContext
    ) -> Any:
        """Which fields a caller may filter and sort by: those they may read, except
        customer-authorized ones — a filter would reveal values the consent check withholds
        (is there a contact with this email?). The system (acting on a customer's own
        request, or on its own lookups) may."""
        if context.principal.via == "system":
            return permission.can_read_field
        guarded = compiled.customer_authorized
        return lambda name: permission.can_read_field(name) and name not in guarded

    def list_records(
        self, session: Session, context: RequestContext, object_name: str, query: ListQuery
    ) -> Page:
        compiled, permission = self._object(session, context, object_name, "read")
        self._check_field_names(compiled, permission, query.fields, "fields")
        dialect = session.get_bind().dialect.name
        compiler = QueryCompiler(compiled, dialect, self._queryable(compiled, permission, context))
        statement = sa.select(records).where(object_is(compiled.name))
        visible = self.visibility(compiled, permission, context.principal)
        if visible is not None:
            statement = statement.where(visible)
        for item in query.filters:
            statement = statement.where(compiler.filter(item))
        if query.where:
            statement = statement.where(self._cel_filter(compiled, compiler, query.where))
        order: list[tuple[Any, bool]] = []
        for name, descending in query.sort:
            if name == "id":
                continue
            expression, kind = compiler.expression(name, purpose="sort")
            if kind in ("list", "json"):
                raise ValidationFailed(
                    f"cannot sort by '{name}'",
                    errors=[
                        field_error(
                            "/query/sort", "not_sortable", f"'{name}' holds a list or json value"
                        )
                    ],
                )
            order.append((expression, descending))
        explicit_id = [d for name, d in query.sort if name == "id"]
        # The id tiebreaker runs in the direction of the first sort key, so one backward or
        # forward walk of the (value, id) index yields rows already in order.
        id_descending = explicit_id[0] if explicit_id else bool(order and order[0][1])
        order.append((records.c.id, id_descending))
        labelled = [expression.label(f"sort_{i}") for i, (expression, _) in enumerate(order)]
        statement = statement.add_columns(*labelled)
        signature = sort_signature(query)
        if query.cursor:
            values = decode_cursor(query.cursor, signature, compiler.cursor_kinds(query.sort))
            if len(values) != len(order):
                raise MalformedRequest("the cursor does not match this query")
            statement = statement.where(
                keyset_predicate(order, values, nulls_first=dialect == "sqlite")
            )
        statement = statement.order_by(
            *[
                expression.desc() if descending else expression.asc()
                for expression, descending in order
            ]
        ).limit(query.limit + 1)
        rows = session.execute(statement).all()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        shown = _with_links(query.fields, query.include)
        presented = [self.present(compiled, permission, row, shown) for row in rows]
        self._run_read_hooks(session, context, compiled, presented)
        next_cursor = None
        if more and rows:
            last = rows[-1]._mapping
            next_cursor = encode_cursor(signature, [last[f"sort_{i}"] for i in range(len(order))])
        included = self._included(session, context, compiled, permission, rows, query.include)
        return Page(presented, next_cursor, included)

    def _cel_filter(
        self, compiled: CompiledObject, compiler: QueryCompiler, source: str
    ) -> sa.ColumnElement[bool]:
        from kindred.rules.sql import FieldRef, compile_filter

        def resolve(path: tuple[str, ...]) -> FieldRef | None:
            if len(path) != 1:
                return None
            name = path[0]
            if name not in compiled.fields and name not in ("id", "created_at", "updated_at"):
                return None
            expression, kind = compiler.expression(name, purpose="filter", at="/query/where")
            if kind == "json":
                return None
            if kind == "timestamp":
                return FieldRef(expression=expression, kind="datetime", normalize=_parse_timestamp)
            checker = compiled.checkers[name]
            definition = compiled.fields[name]

            def normalize(value: Any) -> Any:
                try:
                    return checker(value)
                except FieldValueError as error:
                    raise ValueError(error.message) from None

            if kind == "list":
                element = build_checker(
                    definition.model_copy(update={"cardinality": "one"})
                    if definition.type is FieldType.RELATION
                    else definition.model_copy(update={"type": FieldType.ENUM})
                )
                return FieldRef(
                    expression=expression,
                    kind="list",
                    contains=lambda value: compiler.list_contains(name, element(value)),
                )
            return FieldRef(
                expression=expression,
                kind=kind,  # type: ignore[arg-type]
                normalize=None if kind == "text" else normalize,
            )

        try:
            return compile_filter(source, resolve, root="record")
        except RuleError as error:
            raise ValidationFailed(
                "invalid where= filter",
                errors=[
                    field_error(
                        "/query/where",
                        "invalid_cel",
                        error.message,
                        **{k: v for k, v in error.to_dict().items() if k != "message"},
                    )
                ],
            ) from None

    def _included(
        self,
        session: Session,
        context: RequestContext,
        compiled: CompiledObject,
        permission: EffectivePermission,
        rows: Sequence[Any],
        include: list[str],
    ) -> list[dict[str, Any]]:
        if not include:
            return []
        targets: dict[str, set[str]] = defaultdict(set)
        for name in include:
            definition = compiled.fields.get(name)
            if definition is None or definition.type is not FieldType.RELATION:
                raise ValidationFailed(
                    f"cannot include '{name}'",
                    errors=[
                        field_error(
                            "/query/include",
                            "not_a_relation",
                            f"'{name}' is not a relation field of '{compiled.name}'",
                        )
                    ],
                )
            if not permission.can_read_field(name):
                raise PermissionDenied(f"you may not read '{name}'")
            for row in rows:
                value = row.data.get(name)
                values = value if isinstance(value, list) else [value]
                targets[str(definition.target)].update(i for i in values if i)
        included: list[dict[str, Any]] = []
        for target, ids in targets.items():
            target_compiled = self.registry(session).get(target)
            target_permission = context.principal.permission(target)
            if not target_permission.can("read") or not ids:
                continue
            statement = sa.select(records).where(object_is(target), records.c.id.in_(sorted(ids)))
            visible = self.visibility(target_compiled, target_permission, context.principal)
            if visible is not None:
                statement = statement.where(visible)
            found = session.execute(statement.order_by(records.c.id)).all()
            presented = [self.present(target_compiled, target_permission, r) for r in found]
            self._run_read_hooks(session, context, target_compiled, presented)
            included.extend(presented)
        return included

    # -- writes -------------------------------------------------------------------------------

    def create(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        payload: Any,
    ) -> dict[str, Any]:
        return self.bulk(session, context, object_name, "create", [payload], one=True)[0]

    def update(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        record_id: str,
        patch: Any,
        *,
        if_match: int | None,
    ) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise MalformedRequest("the request body must be a JSON object of field values")
        _refuse_read_only(patch, record_id)
        item = {**patch, "id": record_id}
        return self.bulk(
            session,
            context,
            object_name,
            "update",
            [item],
            if_match={record_id: if_match},
            one=True,
        )[0]

    def delete(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        record_id: str,
        *,
        if_match: int | None,
    ) -> None:
        compiled, permission = self._object(session, context, object_name, "delete")
        row = self._load_visible(session, context, compiled, permission, record_id, for_update=True)
        if if_match is not None and row.version != if_match:
            raise PreconditionFailed(
                f"{object_name} {record_id} is at version {row.version}, not {if_match}",
                current_version=row.version,
            )
        referencing = session.execute(
            sa.select(links.c.relation, sa.func.count())
            .where(links.c.target_id == record_id, links.c.source_id != record_id)
            .group_by(links.c.relation)
        ).all()
        counts = {relation: count for relation, count in referencing}
        for field_name, column in SYSTEM_RELATION_COLUMNS.items():
            if compiled.name == SYSTEM_RELATION_TARGETS[field_name]:
                owned = session.execute(
                    sa.select(sa.func.count())
                    .select_from(records)
                    .where(records.c[column] == record_id, records.c.id != record_id)
                ).scalar_one()
                if owned:
                    counts[f"*.{field_name}"] = owned
        if counts:
            described = ", ".join(f"{count} via {relation}" for relation, count in counts.items())
            raise Conflict(
                f"{object_name} {record_id} is still referenced ({described}); "
                "remove those references first",
                references=counts,
            )
        session.execute(sa.delete(links).where(links.c.source_id == record_id))
        session.execute(sa.delete(records).where(records.c.id == record_id))
        self._write_change_log(
            session,
            context,
            [
                {
                    "object": object_name,
                    "record_id": record_id,
                    "action": "delete",
                    "before": dict(row.data),
                    "after": None,
                }
            ],
        )

    def bulk(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        operation: Literal["create", "update", "upsert"],
        items: Sequence[Any],
        *,
        match_on: str = "id",
        if_match: dict[str, int | None] | None = None,
        present_results: bool = True,
        one: bool = False,
    ) -> list[dict[str, Any]]:
        """Validate every item, then write all of them, or raise and write none.

        Returns the written records as the caller may see them, or, with
        ``present_results=False`` (bulk loads), only ``{"id", "version"}`` of each.
        ``one``: the request's body is the one item (a create or a PATCH), so problems are
        placed at ``/<field>``; else at ``/records/<position>/<field>`` of a bulk body.
        """
        if operation not in ("create", "update", "upsert"):
            raise MalformedRequest(f"unknown bulk operation '{operation}'")
        if len(items) > MAX_BULK:
            raise MalformedRequest(f"at most {MAX_BULK} records per request (got {len(items)})")
        if not items:
            return []
        single = one and len(items) == 1

        def path(position: int, name: str = "") -> str:
            # A JSON Pointer into the request: the body of a single write, else
            # ``{"records": [...]}``.
            tokens: list[str | int] = [] if single else ["records", position]
            return pointer(*tokens, *([name] if name else []))

        compiled = self.registry(session).get(object_name)
        principal = context.principal
        permission = principal.permission(object_name)
        errors: list[dict[str, Any]] = []
        for position, item in enumerate(items):
            if not isinstance(item, dict):
                errors.append(field_error(path(position), "type", "expected a JSON object"))
        if errors:
            raise ValidationFailed("records must be JSON objects", errors=errors)

        # Which items update existing records?
        existing_rows: dict[str, Any] = {}
        keys: list[str | None] = []
        if operation in ("update", "upsert"):
            keys, existing_rows = self._match_existing(
                session, context, compiled, permission, items, match_on, operation, path
            )
        else:
            keys = [None] * len(items)
        needs = {"create"} if operation == "create" else set()
        if operation == "update":
            needs = {"update"}
        if operation == "upsert":
            needs = {"update" if k in existing_rows else "create" for k in keys}
        for action in sorted(needs):
            self._check_action(compiled, permission, context.principal, action)

        drafts: list[_Draft] = []
        for position, item in enumerate(items):
            key = keys[position]
            row = existing_rows.get(key) if key is not None else None
            draft = self._draft(
                compiled,
                permission,
                position,
                item,
                row,
                path,
                errors,
                match_on=match_on,
                self_id=None if principal.via == "system" else principal.user_id,
            )
            if draft is None:
                continue
            expected = if_match.get(row.id) if (row is not None and if_match) else None
            if row is not None and expected is not None and row.version != expected:
                raise PreconditionFailed(
                    f"{object_name} {row.id} is at version {row.version}, "
                    f"not {expected}; reload it and apply your change again",
                    current_version=row.version,
                )
            drafts.append(draft)
        if errors:
            raise ValidationFailed(self._summary(errors, len(items)), errors=errors)

        self._inherit_territory(session, compiled, drafts)
        self._check_relations(session, context, compiled, drafts, path, errors)
        self._check_rules(compiled, drafts, path, errors)
        self._check_unique(session, compiled, drafts, path, errors)
        self._check_visible_after_write(compiled, permission, principal, drafts, path, errors)
        if not errors:
            for position, name, code, message in self._run_write_hooks(session, compiled, drafts):
                errors.append(field_error(path(position, name), code, message))
        if errors:
            raise ValidationFailed(self._summary(errors, len(items)), errors=errors)
        rows = self._write(session, context, compiled, drafts, reload=present_results)
        if not present_results:
            return [
                {
                    "id": d.record_id,
                    "version": d.version + 1 if d.existing and d.changed else d.version,
                }
                for d in drafts
            ]
        presented = [self.present(compiled, permission, row) for row in rows]
        self._run_read_hooks(session, context, compiled, presented)
        return presented

    def _run_write_hooks(
        self, session: Session, compiled: CompiledObject, drafts: Sequence[Draft]
    ) -> list[tuple[int, str, str, str]]:
        problems: list[tuple[int, str, str, str]] = []
        for hook in self.write_hooks:
            problems.extend(hook(session, compiled, drafts))
            if problems:
                break  # what later hooks would issue is not issued for a refused write
        return problems

    def prepare_loaded(
        self, session: Session, object_name: str, created: Sequence[tuple[str, dict[str, Any]]]
    ) -> None:
        """For records a bulk load (the seed) writes around the service: run the write hooks
        on ``(id, data)`` of records about to be created, so they get what creation issues (a
        customer's DID) in the load's transaction; ``data`` is completed in place. Raises
        ``ValidationFailed`` if a hook refuses one (the loader made invalid data)."""
        compiled = self.registry(session).get(object_name)
        drafts = [
            Draft(position, record_id, data, changed=set(data))
            for position, (record_id, data) in enumerate(created)
        ]
        problems = self._run_write_hooks(session, compiled, drafts)
        if problems:
            raise ValidationFailed(
                f"{len(problems)} loaded {object_name} record(s) refused",
                errors=[
                    field_error(pointer("records", position, name), code, message)
                    for position, name, code, message in problems
                ],
            )

    def write_issued(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        values: dict[str, dict[str, Any]],
    ) -> int:
        """Set values the platform issues (record id → field → value; not a client's, so no
        validation applies) on existing records, like any update otherwise: the version moves
        on, the change is in the history and the change hooks run. For backfills of issued
        values (a customer's DID); returns how many records changed."""
        now = utcnow()
        log: list[dict[str, Any]] = []
        ids = sorted(values)
        statement = (
            sa.update(records)
            .where(records.c.id == sa.bindparam("b_id"))
            .values(
                data=sa.bindparam("b_data", type_=records.c.data.type),
                version=sa.bindparam("b_version"),
                updated_at=now,
                updated_by=context.principal.user_id,
            )
        )
        for start in range(0, len(ids), 900):
            rows = session.execute(
                sa.select(records.c.id, records.c.data, records.c.version)
                .where(object_is(object_name), records.c.id.in_(ids[start : start + 900]))
                .with_for_update()  # nobody changes them between this read and the write
            ).all()
            updates = []
            for row in rows:
                before = dict(row.data)
                changed = {k: v for k, v in values[row.id].items() if before.get(k) != v}
                if not changed:
                    continue
                updates.append(
                    {"b_id": row.id, "b_data": {**before, **changed}, "b_version": row.version + 1}
                )
                log.append(
                    {
                        "object": object_name,
                        "record_id": row.id,
                        "action": "update",
                        "before": {k: before.get(k) for k in sorted(changed)},
                        "after": {k: changed[k] for k in sorted(changed)},
                    }
                )
            if updates:
                session.execute(statement, updates)
        self._write_change_log(session, context, log)
        return len(log)

    @staticmethod
    def _summary(errors: list[dict[str, Any]], count: int) -> str:
        if count == 1:
            return f"the record is invalid ({len(errors)} problem{'s' if len(errors) > 1 else ''})"
        bad = len({e["path"].split("/")[2] for e in errors if e["path"].count("/") >= 2})
        return f"{bad} of {count} records are invalid; nothing was written"

    def _match_existing(
        self,
        session: Session,
        context: RequestContext,
        compiled: CompiledObject,
        permission: EffectivePermission,
        items: Sequence[dict[str, Any]],
        match_on: str,
        operation: str,
        path: Any,
    ) -> tuple[list[str | None], dict[str, Any]]:
        dialect = session.get_bind().dialect.name
        if match_on == "id":
            key_expression: Any = records.c.id
        else:
            definition = compiled.fields.get(match_on)
            if definition is None or not definition.unique:
                raise ValidationFailed(
                    f"match_on must be 'id' or a unique field of '{compiled.name}'",
                    errors=[
                        field_error(
                            "/match_on", "not_unique", f"'{match_on}' is not a unique field"
                        )
                    ],
                )
            key_expression = field_expression(dialect, match_on, definition.sql_kind)
        keys: list[str | None] = []
        errors: list[dict[str, Any]] = []
        for position, item in enumerate(items):
            key = item.get(match_on)
            if match_on != "id" and key is not None:
                try:
                    key = compiled.checkers[match_on](key)
                except FieldValueError as error:
                    errors.append(field_error(path(position, match_on), error.code, error.message))
                    key = None
            if key is None and operation == "update":
                errors.append(
                    field_error(
                        path(position, match_on),
                        "required",
                        f"'{match_on}' identifies the record to update",
                    )
                )
            keys.append(key)
        if errors:
            raise ValidationFailed("records to update must be identified", errors=errors)
        wanted = sorted({k for k in keys if k is not None})
        found: dict[str, Any] = {}
        for chunk_start in range(0, len(wanted), 900):
            chunk = wanted[chunk_start : chunk_start + 900]
            statement = sa.select(records, key_expression.label("match_key")).where(
                object_is(compiled.name), key_expression.in_(chunk)
            )
            statement = statement.with_for_update()
            for row in session.execute(statement).all():
                found[str(row.match_key)] = row
        visible_ids: dict[str, Any] = {}
        seen = (
            self.visible_ids(
                session, compiled, permission, context.principal, [r.id for r in found.values()]
            )
            if compiled.parent is not None
            else None
        )
        for key, row in found.items():
            if (
                row.id in seen
                if seen is not None
                else self._is_visible(
                    compiled, permission, context.principal, row.owner_id, row.territory_id
                )
            ):
                visible_ids[key] = row
            elif operation == "upsert":
                raise PermissionDenied(
                    f"a {compiled.name} with {match_on} '{key}' exists outside what you may see"
                )
        if operation == "update":
            missing = [
                field_error(
                    path(position, match_on),
                    "not_found",
                    f"no {compiled.name} with {match_on} '{key}'",
                )
                for position, key in enumerate(keys)
                if key not in visible_ids
            ]
            if missing:
                raise NotFound(f"{len(missing)} record(s) to update were not found", errors=missing)
        return keys, visible_ids

    def _draft(
        self,
        compiled: CompiledObject,
        permission: EffectivePermission,
        position: int,
        item: dict[str, Any],
        row: Any,
        path: Any,
        errors: list[dict[str, Any]],
        *,
        match_on: str,
        self_id: str | None,
    ) -> _Draft | None:
        start = len(errors)
        payload = dict(item)
        given_id = payload.pop("id", None)
        if (
            row is None
            and given_id is not None
            and match_on == "id"
            and not isinstance(given_id, str)
        ):
            errors.append(field_error(path(position, "id"), "type", "id must be a string"))
        payload.pop("version", None)  # informational in bodies; If-Match is authoritative
        for envelope in ("object", "created_at", "updated_at", "created_by", "updated_by", "meta"):
            payload.pop(envelope, None)
        data: dict[str, Any] = dict(row.data) if row is not None else {}
        changed: set[str] = set()
        for name, value in payload.items():
            definition = compiled.fields.get(name)
            if definition is None:
                errors.append(
                    field_error(
                        path(position, name),
                        "unknown_field",
                        f"'{compiled.name}' has no field '{name}'",
                    )
                )
                continue
            if not permission.can_write_field(name):
                errors.append(
                    field_error(
                        path(position, name), "forbidden_field", f"you may not write '{name}'"
                    )
                )
                continue
            if value is None:
                if data.get(name) is not None:
                    changed.add(name)
                data.pop(name, None)
                continue
            try:
                checked = compiled.checkers[name](value)
            except FieldValueError as error:
                errors.append(field_error(path(position, name), error.code, error.message))
                continue
            if data.get(name) != checked:
                changed.add(name)
            data[name] = checked
        if row is None:
            for definition in compiled.definition.fields:
                if definition.name not in data and definition.default is not None:
                    data[definition.name] = definition.default
            if "owner" in compiled.fields and not data.get("owner") and self_id:
                data["owner"] = self_id  # new records belong to whoever creates them
        for definition in compiled.definition.fields:
            if definition.required and data.get(definition.name) in (None, "", []):
                errors.append(
                    field_error(
                        path(position, definition.name),
                        "required",
                        f"'{definition.name}' is required",
                    )
                )
        if len(errors) > start:
            return None
        if row is None:
            record_id = given_id if isinstance(given_id, str) and match_on == "id" else None
            if record_id is not None:
                from kindred.records.fields import ID_PATTERN

                if not ID_PATTERN.match(record_id):
                    errors.append(
                        field_error(path(position, "id"), "format", "id must be a lowercase UUID")
                    )
                    return None
            return _Draft(position, record_id or new_id(), data, changed=set(data))
        return _Draft(
            position,
            row.id,
            data,
            version=row.version,
            before=dict(row.data),
            existing=True,
            changed=changed,
        )

    def _inherit_territory(
        self, session: Session, compiled: CompiledObject, drafts: list[_Draft]
    ) -> None:
        # A contact, ticket or order without a territory belongs where its account does.
        if not compiled.territorial or "account" not in compiled.fields:
            return
        wanted = {
            d.data["account"]
            for d in drafts
            if not d.data.get("territory") and d.data.get("account")
        }
        if not wanted:
            return
        territories = dict(
            session.execute(
                sa.select(records.c.id, records.c.territory_id).where(
                    records.c.id.in_(sorted(wanted))
                )
            ).all()
        )
        for draft in drafts:
            if not draft.data.get("territory") and draft.data.get("account"):
                territory = territories.get(draft.data["account"])
                if territory:
                    draft.data["territory"] = territory
                    draft.changed.add("territory")

    def _check_relations(
        self,
        session: Session,
        context: RequestContext,
        compiled: CompiledObject,
        drafts: list[_Draft],
        path: Any,
        errors: list[dict[str, Any]],
    ) -> None:
        for definition in compiled.relation_fields:
            name = definition.name
            wanted: set[str] = set()
            for draft in drafts:
                if name not in draft.changed:
                    continue
                value = draft.data.get(name)
                wanted.update(value if isinstance(value, list) else [value] if value else [])
            if not wanted:
                continue
            target = str(definition.target)
            target_compiled = self.registry(session).get(target)
            target_permission = context.principal.permission(target)
            statement = sa.select(records.c.id).where(
                object_is(target), records.c.id.in_(sorted(wanted))
            )
            visible = self.visibility(target_compiled, target_permission, context.principal)
            if visible is not None:
                statement = statement.where(visible)
            found = (
                set(session.execute(statement).scalars())
                if target_permission.can("read")
                else set()
            )
            # Records created in this same batch may be referenced too (self-relations), and
            # an authenticated principal's own user record always exists.
            if target == compiled.name:
                found |= {d.record_id for d in drafts}
            if target == "user":
                found.add(context.principal.user_id)
            for draft in drafts:
                if name not in draft.changed:
                    continue
                value = draft.data.get(name)
                for target_id in value if isinstance(value, list) else [value] if value else []:
                    if target_id not in found:
                        errors.append(
                            field_error(
                                path(draft.position, name),
                                "not_found",
                                f"no {target} with id '{target_id}'",
                            )
                        )

    def _check_rules(
        self,
        compiled: CompiledObject,
        drafts: list[_Draft],
        path: Any,
        errors: list[dict[str, Any]],
    ) -> None:
        if not compiled.rules:
            return
        for draft in drafts:
            activation = {"record": {**draft.data, "id": draft.record_id}}
            for rule, program in compiled.rules:
                try:
                    passed = program.evaluate_bool(activation)
                except RuleError as error:
                    errors.append(
                        field_error(
                            path(draft.position, rule.path.lstrip("/")),
                            "rule_error",
                            f"rule '{rule.name}' could not be evaluated: {error.message}",
                            rule=rule.name,
                        )
                    )
                    continue
                if not passed:
                    errors.append(
                        field_error(
                            path(draft.position, rule.path.lstrip("/")),
                            "rule_failed",
                            rule.message,
                            rule=rule.name,
                        )
                    )

    def _check_unique(
        self,
        session: Session,
        compiled: CompiledObject,
        drafts: list[_Draft],
        path: Any,
        errors: list[dict[str, Any]],
    ) -> None:
        dialect = session.get_bind().dialect.name
        for definition in compiled.definition.fields:
            if not definition.unique:
                continue
            name = definition.name
            seen: dict[Any, _Draft] = {}
            candidates: dict[Any, _Draft] = {}
            for draft in drafts:
                value = draft.data.get(name)
                if value is None or name not in draft.changed:
                    continue
                if value in seen and seen[value].record_id != draft.record_id:
                    errors.append(
                        field_error(
                            path(draft.position, name),
                            "duplicate",
                            f"'{value}' appears more than once in this request",
                        )
                    )
                    continue
                seen[value] = draft
                candidates[value] = draft
            if not candidates:
                continue
            expression = field_expression(dialect, name, definition.sql_kind)
            values = list(candidates)
            for start in range(0, len(values), 900):
                chunk = values[start : start + 900]
                clashes = session.execute(
                    sa.select(expression.label("value"), records.c.id).where(
                        object_is(compiled.name), expression.in_(chunk)
                    )
                ).all()
                for value, record_id in clashes:
                    value = (
                        int(value)
                        if hasattr(value, "is_integer")
                        and value == int(value)
                        and not isinstance(value, str)
                        else value
                    )
                    clash = candidates.get(value)
                    if clash is not None and clash.record_id != record_id:
                        errors.append(
                            field_error(
                                path(clash.position, name),
                                "unique",
                                f"another {compiled.name} already has {name} '{value}'",
                                conflicting_id=record_id,
                            )
                        )

    def _check_visible_after_write(
        self,
        compiled: CompiledObject,
        permission: EffectivePermission,
        principal: Principal,
        drafts: list[_Draft],
        path: Any,
        errors: list[dict[str, Any]],
    ) -> None:
        # Writing a record where you could not see it (another region, someone else's
        # ownership) would be a way around visibility; refuse it. A child's parent is a
        # relation, checked visible like every relation target (_check_relations).
        if permission.scope == "all" or compiled.parent is not None:
            return
        for draft in drafts:
            owner = draft.data.get("owner")
            if not self._is_visible(
                compiled, permission, principal, owner, draft.data.get("territory")
            ):
                errors.append(
                    field_error(
                        path(draft.position, "territory"),
                        "outside_scope",
                        "the record would be outside your territories and not owned by you",
                    )
                )

    def _write(
        self,
        session: Session,
        context: RequestContext,
        compiled: CompiledObject,
        drafts: list[_Draft],
        *,
        reload: bool = True,
    ) -> list[Any]:
        now = utcnow()
        actor = context.principal.user_id
        inserts = []
        log: list[dict[str, Any]] = []
        for draft in drafts:
            if draft.existing:
                if not draft.changed:
                    continue
                result = session.execute(
                    sa.update(records)
                    .where(records.c.id == draft.record_id, records.c.version == draft.version)
                    .values(
                        data=draft.data,
                        version=draft.version + 1,
                        owner_id=draft.data.get("owner"),
                        territory_id=draft.data.get("territory"),
                        updated_at=now,
                        updated_by=actor,
                    )
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    raise PreconditionFailed(
                        f"{compiled.name} {draft.record_id} changed while it was being saved; "
                        "reload it and try again"
                    )
                before = draft.before or {}
                log.append(
                    {
                        "object": compiled.name,
                        "record_id": draft.record_id,
                        "action": "update",
                        "before": {k: before.get(k) for k in sorted(draft.changed)},
                        "after": {k: draft.data.get(k) for k in sorted(draft.changed)},
                    }
                )
            else:
                inserts.append(
                    {
                        "id": draft.record_id,
                        "object": compiled.name,
                        "data": draft.data,
                        "version": 1,
                        "owner_id": draft.data.get("owner"),
                        "territory_id": draft.data.get("territory"),
                        "created_at": now,
                        "updated_at": now,
                        "created_by": actor,
                        "updated_by": actor,
                    }
                )
                log.append(
                    {
                        "object": compiled.name,
                        "record_id": draft.record_id,
                        "action": "create",
                        "before": None,
                        "after": draft.data,
                    }
                )
        driver_integrity = session.get_bind().dialect.loaded_dbapi.IntegrityError
        try:
            if inserts:
                BulkInserter(session).insert(
                    "records",
                    RECORD_COLUMNS,
                    [tuple(row[c] for c in RECORD_COLUMNS) for row in inserts],
                    json_columns=frozenset({"data"}),
                    time_columns=frozenset({"created_at", "updated_at"}),
                )
            self._write_links(session, compiled, drafts)
        except (IntegrityError, driver_integrity) as error:
            detail = str(getattr(error, "orig", error)).splitlines()[0]
            raise Conflict(
                "the write conflicts with existing data (a unique value or a reference "
                f"changed concurrently): {detail}"
            ) from None
        self._write_change_log(session, context, log)
        if not reload:
            return []
        ids = [d.record_id for d in drafts]
        by_id: dict[str, Any] = {}
        for start in range(0, len(ids), 900):
            for row in session.execute(
                sa.select(records).where(records.c.id.in_(ids[start : start + 900]))
            ).all():
                by_id[row.id] = row
        return [by_id[i] for i in ids]

    def _write_links(
        self, session: Session, compiled: CompiledObject, drafts: list[_Draft]
    ) -> None:
        for definition in compiled.relation_fields:
            if definition.name in SYSTEM_RELATION_COLUMNS:
                continue  # owner and territory live in indexed columns, not edges
            relation = f"{compiled.name}.{definition.name}"
            changed = [d for d in drafts if definition.name in d.changed]
            if not changed:
                continue
            existing_ids = [d.record_id for d in changed if d.existing]
            for start in range(0, len(existing_ids), 900):
                session.execute(
                    sa.delete(links).where(
                        links.c.relation == relation,
                        links.c.source_id.in_(existing_ids[start : start + 900]),
                    )
                )
            rows = []
            for draft in changed:
                value = draft.data.get(definition.name)
                for target in value if isinstance(value, list) else [value] if value else []:
                    rows.append(
                        {"relation": relation, "source_id": draft.record_id, "target_id": target}
                    )
            if rows:
                BulkInserter(session).insert(
                    "record_links",
                    ("relation", "source_id", "target_id"),
                    [(r["relation"], r["source_id"], r["target_id"]) for r in rows],
                )

    def _write_change_log(
        self, session: Session, context: RequestContext, entries: list[dict[str, Any]]
    ) -> None:
        if not entries:
            return
        for sealer in self.change_log_sealers:
            sealer(session, entries)
        now = utcnow()
        rows = [
            {
                **entry,
                "actor_id": context.principal.user_id,
                # Not a change-log column: for change hooks (field provenance).
                "source": context.source,
                "legal_basis": context.legal_basis,
                "request_id": context.request_id,
                "created_at": now,
                "acting_for": context.acting_for,
            }
            for entry in entries
        ]
        BulkInserter(session).insert(
            "change_log",
            CHANGE_LOG_COLUMNS,
            [tuple(row[c] for c in CHANGE_LOG_COLUMNS) for row in rows],
            json_columns=frozenset({"before", "after", "acting_for"}),
            time_columns=frozenset({"created_at"}),
        )
        for hook in self.change_hooks:
            hook(session, rows)

    # -- history ------------------------------------------------------------------------------

    def history(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        record_id: str,
        *,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """A record's changes, newest first, as the caller may see them — also after the
        record was deleted (see ``kindred.records.history``)."""
        from kindred.records.history import read_history

        compiled, permission = self._object(session, context, object_name, "read")
        return read_history(self, session, context, compiled, permission, record_id, limit)
