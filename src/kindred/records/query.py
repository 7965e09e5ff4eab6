"""List queries: field filters, a CEL filter, sorting, sparse fieldsets, includes and keyset
cursors — parsed from query-string style parameters into SQL over the ``records`` table."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from kindred.errors import (
    MalformedRequest,
    PermissionDenied,
    ValidationFailed,
    field_error,
    pointer,
)
from kindred.records.fields import FieldDefinition, FieldType, FieldValueError
from kindred.records.metadata import CompiledObject
from kindred.records.models import RecordLink, RecordRow
from kindred.records.storage import field_expression

records: sa.Table = RecordRow.__table__  # type: ignore[assignment]

OPERATORS = {
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "nin",
    "contains",
    "starts_with",
    "is_null",
    "has",
}
FILTER_PARAM = re.compile(r"^filter\[([a-z][a-z0-9_]*)\](?:\[([a-z_]+)\])?$")
# Envelope columns that behave like fields in filters and sorts.
SYSTEM_COLUMNS: dict[str, tuple[Any, str]] = {
    "id": (records.c.id, "text"),
    "created_at": (records.c.created_at, "timestamp"),
    "updated_at": (records.c.updated_at, "timestamp"),
    "created_by": (records.c.created_by, "text"),
    "updated_by": (records.c.updated_by, "text"),
}
# Fields mirrored in indexed columns: filters and sorts use the column, not the JSON value.
COLUMN_FIELDS: dict[str, Any] = {
    "owner": records.c.owner_id,
    "territory": records.c.territory_id,
}


@dataclass(frozen=True)
class FieldFilter:
    field: str
    operator: str
    value: str
    # The query parameter as sent (``filter[tier]`` or ``filter[tier][eq]``), for problems.
    param: str = ""

    @property
    def pointer(self) -> str:
        """Where a problem with this filter is in the request: ``/query/<parameter>``."""
        return pointer("query", self.param or f"filter[{self.field}][{self.operator}]")


@dataclass
class ListQuery:
    filters: list[FieldFilter] = field(default_factory=list)
    where: str | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int = 50
    cursor: str | None = None
    fields: list[str] | None = None
    include: list[str] = field(default_factory=list)


def parse_list_params(
    params: Sequence[tuple[str, str]], *, default_limit: int, max_limit: int
) -> ListQuery:
    """Parse ``filter[f][op]=v``, ``where=<CEL>``, ``sort=-a,b``, ``limit``, ``cursor``,
    ``fields=a,b`` and ``include=rel`` parameters. Unknown parameters are refused so typos
    do not silently return unfiltered data."""
    query = ListQuery(limit=default_limit)
    errors: list[dict[str, Any]] = []
    for key, value in params:
        match = FILTER_PARAM.match(key)
        if match:
            operator = match.group(2) or "eq"
            if operator not in OPERATORS:
                errors.append(
                    field_error(
                        pointer("query", key),
                        "unknown_operator",
                        f"unknown operator '{operator}'; use one of {sorted(OPERATORS)}",
                    )
                )
                continue
            query.filters.append(FieldFilter(match.group(1), operator, value, key))
        elif key == "where":
            query.where = value
        elif key == "sort":
            for part in filter(None, (p.strip() for p in value.split(","))):
                query.sort.append((part.lstrip("-+"), part.startswith("-")))
        elif key == "limit":
            if not value.isdigit() or not 1 <= int(value) <= max_limit:
                errors.append(
                    field_error(
                        "/query/limit", "range", f"limit must be an integer from 1 to {max_limit}"
                    )
                )
            else:
                query.limit = int(value)
        elif key == "cursor":
            query.cursor = value
        elif key == "fields":
            query.fields = [f.strip() for f in value.split(",") if f.strip()]
        elif key == "include":
            query.include = [f.strip() for f in value.split(",") if f.strip()]
        else:
            errors.append(
                field_error(
                    pointer("query", key),
                    "unknown_parameter",
                    f"unknown query parameter '{key}' "
                    "(filters are written filter[field][op]=value)",
                )
            )
    if len(query.sort) > 3:
        errors.append(field_error("/query/sort", "too_many", "sort by at most 3 fields"))
    if errors:
        raise MalformedRequest("invalid list parameters", errors=errors)
    return query


def _parse_scalar(field: FieldDefinition, raw: str, checker: Any, at: str) -> Any:
    """Turn a query-string value into the stored representation of ``field``."""
    try:
        if field.type in (FieldType.NUMBER, FieldType.MONEY, FieldType.PERCENT):
            try:
                number = float(raw)
            except ValueError:
                raise FieldValueError("type", f"'{raw}' is not a number") from None
            return checker(int(number) if number.is_integer() else number)
        if field.type is FieldType.BOOLEAN:
            if raw not in ("true", "false"):
                raise FieldValueError("type", f"'{raw}' is not true or false")
            return raw == "true"
        if field.type is FieldType.MULTI_ENUM:
            return checker([raw])[0]
        if field.type is FieldType.RELATION and field.cardinality == "many":
            return checker([raw])[0]
        return checker(raw)
    except FieldValueError as error:
        raise ValidationFailed(
            f"invalid filter value for '{field.name}'",
            errors=[field_error(at, error.code, error.message)],
        ) from None


class QueryCompiler:
    """Builds SQL predicates and orderings for one object, enforcing field permissions."""

    def __init__(self, compiled: CompiledObject, dialect: str, readable: Any) -> None:
        self.compiled = compiled
        self.dialect = dialect
        self.readable = readable  # callable(field_name) -> bool

    def expression(
        self, name: str, *, purpose: str, at: str | None = None
    ) -> tuple[ColumnElement[Any], str]:
        """The SQL of field ``name`` for ``purpose`` (filter, sort); ``at``: the pointer of
        the parameter naming it (default ``/query/<purpose>``)."""
        if name in SYSTEM_COLUMNS:
            column, kind = SYSTEM_COLUMNS[name]
            return column, kind
        definition = self.compiled.fields.get(name)
        if definition is None:
            raise ValidationFailed(
                f"unknown field '{name}' on '{self.compiled.name}'",
                errors=[
                    field_error(
                        at or f"/query/{purpose}",
                        "unknown_field",
                        f"'{self.compiled.name}' has no field '{name}'",
                    )
                ],
            )
        if not self.readable(name):
            raise PermissionDenied(
                f"you may not {purpose} by field '{name}' (you may not read it, or it is "
                "customer-authorized: filtering would reveal what consent withholds)"
            )
        if name in COLUMN_FIELDS and definition.sql_kind == "text":
            return COLUMN_FIELDS[name], "text"
        return field_expression(self.dialect, name, definition.sql_kind), definition.sql_kind

    def cursor_kinds(self, sort: Sequence[tuple[str, bool]]) -> list[str]:
        """What each value of a cursor for ``sort`` must be: the kind of each sort column,
        then ``id`` (the tiebreaker every order ends with). ``timestamp`` and ``id`` columns
        are never null."""
        kinds = [self.expression(name, purpose="sort")[1] for name, _ in sort if name != "id"]
        return [*kinds, "id"]

    def filter(self, item: FieldFilter) -> ColumnElement[bool]:
        at = item.pointer
        expression, kind = self.expression(item.field, purpose="filter", at=at)
        definition = self.compiled.fields.get(item.field)
        op = item.operator
        if op == "is_null":
            if item.value not in ("true", "false"):
                raise ValidationFailed(
                    "is_null takes true or false",
                    errors=[
                        field_error(
                            at,
                            "type",
                            "expected true or false",
                        )
                    ],
                )
            return expression.is_(None) if item.value == "true" else expression.is_not(None)
        if definition is None:
            # Built-in columns (id, created_at …): a comma list for in/nin, like fields.
            raw = item.value.split(",") if op in ("in", "nin") else [item.value]
            values: list[Any] = [self._column_value(kind, text, at) for text in raw]
            return self._compare(expression, op, values[0], values)
        checker = self.compiled.checkers[item.field]
        if kind == "list":
            if op not in ("has", "is_null"):
                raise ValidationFailed(
                    f"'{item.field}' holds a list; filter it with [has]",
                    errors=[
                        field_error(
                            at,
                            "operator",
                            "list fields support has and is_null",
                        )
                    ],
                )
            element = _parse_scalar(definition, item.value, checker, at)
            return self.list_contains(item.field, element)
        if op == "has":
            raise ValidationFailed(
                "[has] applies to list fields only",
                errors=[
                    field_error(
                        at,
                        "operator",
                        "use eq for single-valued fields",
                    )
                ],
            )
        if kind == "json":
            raise ValidationFailed(
                f"'{item.field}' is a json field and cannot be filtered with operators",
                errors=[
                    field_error(
                        at,
                        "operator",
                        "use a where= CEL filter on scalar fields",
                    )
                ],
            )
        if op in ("contains", "starts_with"):
            if kind != "text":
                raise ValidationFailed(
                    f"{op} applies to text fields",
                    errors=[
                        field_error(
                            at,
                            "operator",
                            f"'{item.field}' is not text",
                        )
                    ],
                )
            escaped = item.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%" if op == "contains" else f"{escaped}%"
            return expression.like(pattern, escape="\\")
        values = item.value.split(",") if op in ("in", "nin") else [item.value]
        parsed = [_parse_scalar(definition, raw, checker, at) for raw in values]
        if (
            definition.type is FieldType.RELATION
            and item.field not in COLUMN_FIELDS
            and op in ("eq", "in")
        ):
            # "Contacts of this account": walk the indexed edge table backwards.
            edges = RecordLink.__table__
            relation = f"{self.compiled.name}.{item.field}"
            return records.c.id.in_(
                sa.select(edges.c.source_id).where(
                    edges.c.relation == relation, edges.c.target_id.in_(parsed)
                )
            )
        return self._compare(expression, op, parsed[0], parsed)

    @staticmethod
    def _column_value(kind: str, text: str, at: str) -> Any:
        if kind != "timestamp":
            return text
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValidationFailed(
                f"'{text}' is not an ISO 8601 date-time",
                errors=[field_error(at, "format", "expected an ISO 8601 date-time")],
            ) from None
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)

    @staticmethod
    def _compare(
        expression: ColumnElement[Any], op: str, value: Any, values: list[Any]
    ) -> ColumnElement[bool]:
        match op:
            case "eq":
                return expression == value
            case "ne":
                return sa.or_(expression != value, expression.is_(None))
            case "lt":
                return expression < value
            case "lte":
                return expression <= value
            case "gt":
                return expression > value
            case "gte":
                return expression >= value
            case "in":
                return expression.in_(values)
            case "nin":
                return sa.or_(expression.not_in(values), expression.is_(None))
        raise MalformedRequest(f"operator '{op}' does not apply here")

    def list_contains(self, name: str, element: Any) -> ColumnElement[bool]:
        if self.dialect == "sqlite":
            each = sa.func.json_each(records.c.data, sa.literal_column(f"'$.{name}'")).table_valued(
                "value"
            )
            return sa.exists(sa.select(1).select_from(each).where(each.c.value == element))
        expression = field_expression(self.dialect, name, "list")
        # Bind as text and cast in SQL: binding through the JSON type would encode twice.
        needle = sa.bindparam(None, orjson.dumps([element]).decode(), type_=sa.Text())
        return expression.op("@>")(sa.cast(needle, JSONB()))


# -- keyset cursors ------------------------------------------------------------------------


# A cursor's values must fit the columns they are compared with: the signature only says the
# cursor belongs to this query (anyone can compute it), so a rebuilt cursor may carry any JSON.
# Python ints beyond this reach SQLite as an OverflowError; Decimals are kept to float range.
MAX_CURSOR_INT = 2**63 - 1
MAX_DECIMAL_DIGITS = 120


def encode_cursor(signature: str, values: list[Any]) -> str:
    # PASSTHROUGH: orjson would write datetimes as plain strings, which decode as text and
    # no longer compare with a timestamp column.
    payload = orjson.dumps(
        {"s": signature, "v": values},
        default=_json_default,
        option=orjson.OPT_PASSTHROUGH_DATETIME,
    )
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, Decimal):
        # Exact: PostgreSQL compares the numeric sort key with the decoded Decimal.
        return {"$dec": str(value)}
    return str(value)


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "$dt" in value:
            return dt.datetime.fromisoformat(value["$dt"])
        if "$dec" in value:
            return Decimal(value["$dec"])
    return value


def decode_cursor(cursor: str, signature: str, kinds: Sequence[str] | None = None) -> list[Any]:
    """The values of a cursor of the query with ``signature``; with ``kinds`` (one per sort
    column, ``QueryCompiler.cursor_kinds``) each value is checked to be one such a column
    holds, so a rebuilt cursor is a 400, never a failing statement."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded))
        if payload["s"] != signature:
            raise MalformedRequest(
                "this cursor belongs to a query with a different sort order or filter; "
                "start again without a cursor"
            )
        values = [_decode_value(v) for v in payload["v"]]
        if kinds is None:
            return values
        if not isinstance(payload["v"], list) or len(values) != len(kinds):
            raise ValueError("not one value per sort column")
        return [_cursor_value(value, kind) for value, kind in zip(values, kinds, strict=True)]
    except (binascii.Error, ValueError, KeyError, TypeError, ArithmeticError):
        raise MalformedRequest("the cursor is not valid; use next_cursor from a response") from None


def _cursor_value(value: Any, kind: str) -> Any:
    """``value`` as a column of ``kind`` holds it (see ``QueryCompiler.cursor_kinds``), or a
    ValueError. Nulls are allowed where the column may be null (field values)."""
    if value is None:
        if kind in ("id", "timestamp"):
            raise ValueError("this column is never null")
        return None
    if kind in ("id", "text", "date", "datetime"):
        # PostgreSQL text cannot hold NUL; no stored value contains one.
        if isinstance(value, str) and "\x00" not in value:
            return value
    elif kind == "timestamp":
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value
    elif kind == "boolean":
        # SQLite reads JSON booleans back as 0 and 1.
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
    elif kind == "number":
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        if isinstance(value, int) and abs(value) <= MAX_CURSOR_INT:
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        if (
            isinstance(value, Decimal)
            and value.is_finite()
            and len(value.as_tuple().digits) <= MAX_DECIMAL_DIGITS
            and abs(value.adjusted()) <= 400
        ):
            return value
    raise ValueError(f"not a {kind} value")


def keyset_predicate(
    columns: list[tuple[ColumnElement[Any], bool]], values: list[Any], nulls_first: bool
) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order given by ``columns`` (each (expr, desc)).

    Null handling follows the dialect's native ordering (``nulls_first`` for ascending on
    SQLite, last on PostgreSQL) so the query can be answered by walking an index.
    """
    clauses: list[ColumnElement[bool]] = []
    for position, (expression, descending) in enumerate(columns):
        equal_prefix = [_null_safe_equal(columns[i][0], values[i]) for i in range(position)]
        after = _after(expression, values[position], descending, nulls_first)
        if after is not None:
            clauses.append(sa.and_(*equal_prefix, after))
    return sa.or_(*clauses) if clauses else sa.false()


def _null_safe_equal(expression: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    return expression.is_(None) if value is None else expression == value


def _after(
    expression: ColumnElement[Any], value: Any, descending: bool, nulls_first: bool
) -> ColumnElement[bool] | None:
    # Where do nulls sit in this direction? nulls_first describes ascending order.
    nulls_at_start = nulls_first != descending
    if value is None:
        # Nulls at the start: everything non-null comes after. At the end: nothing does.
        return expression.is_not(None) if nulls_at_start else None
    strictly = expression < value if descending else expression > value
    if nulls_at_start:
        return strictly
    return sa.or_(strictly, expression.is_(None))


def sort_signature(query: ListQuery) -> str:
    parts = [f"{'-' if d else ''}{f}" for f, d in query.sort]
    filters = [f"{f.field}:{f.operator}:{f.value}" for f in query.filters]
    raw = orjson.dumps([parts, filters, query.where or ""])
    return hashlib.sha256(raw).hexdigest()[:16]
