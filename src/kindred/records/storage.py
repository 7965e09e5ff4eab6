"""SQL expressions for field values inside the JSON ``data`` column, per dialect, and the
expression indexes that make custom fields filterable and sortable at column speed.

Why literals, not bound parameters, for JSON paths: both SQLite and PostgreSQL only use an
expression index when the query's expression is textually the same as the index's, and a
bound parameter (``json_extract(data, ?)``) never is. Field names are validated identifiers
(``[a-z][a-z0-9_]*``), so rendering them as SQL literals is safe.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Boolean, Connection, Numeric, literal_column
from sqlalchemy.sql.elements import ColumnElement

from kindred.records.fields import IDENTIFIER, FieldDefinition, ObjectDefinition
from kindred.records.models import RecordRow

records: sa.Table = RecordRow.__table__  # type: ignore[assignment]
INDEX_PREFIX = "ix_rf_"
# Every territorial object has these relations; they are kept in indexed columns of
# ``records`` (visibility filters read them on every request) instead of as edges in
# ``record_links``, which would double the edge table for no new information.
SYSTEM_RELATION_COLUMNS = {"owner": "owner_id", "territory": "territory_id"}
SYSTEM_RELATION_TARGETS = {"owner": "user", "territory": "territory"}
UNIQUE_PREFIX = "ux_rf_"


def _checked(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a field identifier: {name!r}")
    return name


def field_expression(
    dialect: str, name: str, kind: str, table: sa.Table = records
) -> ColumnElement[Any]:
    """The SQL expression for field ``name`` stored with SQL ``kind`` (see ``SQL_KIND``)."""
    name = _checked(name)
    data = table.c.data
    if dialect == "sqlite":
        # json_extract returns native SQL values: numbers as numbers, booleans as 0/1,
        # arrays as JSON text.
        return sa.func.json_extract(data, literal_column(f"'$.{name}'"))
    if kind == "list" or kind == "json":
        return data.op("->")(literal_column(f"'{name}'"))
    # Typed as text, so text operators (LIKE for contains / starts_with) compile.
    text = data.op("->>", return_type=sa.Text)(literal_column(f"'{name}'"))
    if kind == "number":
        return sa.cast(text, Numeric)
    if kind == "boolean":
        return sa.cast(text, Boolean)
    return text


def _short(name: str) -> str:
    # PostgreSQL truncates identifiers at 63 bytes; keep names unique by hashing long ones.
    if len(name) <= 60:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[:49]}_{digest}"


def object_is(name: str) -> ColumnElement[bool]:
    """``records.object = '<name>'`` with the name as a literal: partial indexes are only
    used when the query repeats their WHERE clause verbatim, which a bound parameter
    (especially in a prepared, generic plan) does not."""
    return records.c.object == literal_column(f"'{_checked(name)}'")


def field_index_name(object_name: str, field: FieldDefinition) -> str:
    return _short(f"{INDEX_PREFIX}{object_name}_{field.name}")


def unique_index_name(object_name: str, field: FieldDefinition) -> str:
    return _short(f"{UNIQUE_PREFIX}{object_name}_{field.name}")


def _detached_table() -> sa.Table:
    # An Index built on a table's columns attaches itself to that table, and create_all would
    # then emit these dialect-specific indexes for every dialect. Build them on a copy.
    return records.to_metadata(sa.MetaData())


def field_index(dialect: str, object_name: str, field: FieldDefinition) -> sa.Index:
    """(value, id) over one object's rows: serves equality and range filters and keyset
    pagination sorted by the field. Partial, so writing a record touches only the indexes of
    its own object, not those of every object sharing the table."""
    table = _detached_table()
    expression = field_expression(dialect, field.name, field.sql_kind, table)
    where = table.c.object == literal_column(f"'{_checked(object_name)}'")
    return sa.Index(
        field_index_name(object_name, field),
        expression,
        table.c.id,
        sqlite_where=where,
        postgresql_where=where,
    )


def unique_index(dialect: str, object_name: str, field: FieldDefinition) -> sa.Index:
    table = _detached_table()
    expression = field_expression(dialect, field.name, field.sql_kind, table)
    where = table.c.object == literal_column(f"'{_checked(object_name)}'")
    return sa.Index(
        unique_index_name(object_name, field),
        expression,
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def existing_indexes(connection: Connection) -> set[str]:
    # Catalog queries, not SQLAlchemy reflection: reflection skips expression indexes.
    if connection.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'"
    else:
        query = (
            "SELECT indexname FROM pg_indexes "
            "WHERE tablename = 'records' AND schemaname = current_schema()"
        )
    return {str(row[0]) for row in connection.exec_driver_sql(query)}


def sync_indexes(connection: Connection, definitions: list[ObjectDefinition]) -> list[str]:
    """Create missing and drop unneeded field indexes so they match ``definitions``.

    Returns the names of indexes created or dropped. Safe to run repeatedly.
    """
    dialect = connection.dialect.name
    wanted: dict[str, sa.Index] = {}
    for definition in definitions:
        for field in definition.fields:
            if field.needs_index:
                index = field_index(dialect, definition.name, field)
                wanted[str(index.name)] = index
            if field.unique:
                index = unique_index(dialect, definition.name, field)
                wanted[str(index.name)] = index
    present = {
        name
        for name in existing_indexes(connection)
        if name.startswith((INDEX_PREFIX, UNIQUE_PREFIX))
    }
    changed: list[str] = []
    for name in sorted(present - wanted.keys()):
        connection.execute(sa.text(f'DROP INDEX IF EXISTS "{name}"'))
        changed.append(f"-{name}")
    for name in sorted(wanted.keys() - present):
        wanted[name].create(connection)
        changed.append(f"+{name}")
    if dialect == "postgresql":
        changed.extend(_sync_statistics(connection, definitions))
    if changed:
        refresh_statistics(connection)
    return changed


STATISTICS_PREFIX = "st_rf_"


def _sync_statistics(connection: Connection, definitions: list[ObjectDefinition]) -> list[str]:
    """PostgreSQL: extended statistics (most-common values) over (object, field value) for
    every indexed field.

    Why: PostgreSQL gathers no statistics for the expressions of *partial* indexes, so it
    guessed that ``kind = 'hospital'`` matches 0.5% of accounts (it matches 35%) and chose
    that index over the one that serves ORDER BY … LIMIT, 100× slower. With these statistics
    the estimates are right and the plan is an index walk of 50 rows.
    """
    wanted: dict[str, str] = {}
    for definition in definitions:
        for field in definition.fields:
            if not (field.needs_index or field.unique):
                continue
            expression = field_expression("postgresql", field.name, field.sql_kind)
            rendered = str(
                expression.compile(
                    dialect=connection.dialect, compile_kwargs={"literal_binds": True}
                )
            )
            name = _short(f"{STATISTICS_PREFIX}{definition.name}_{field.name}")
            wanted[name] = (
                f'CREATE STATISTICS IF NOT EXISTS "{name}" (mcv) ON object, ({rendered}) '
                "FROM records"
            )
    present = {
        str(row[0])
        for row in connection.exec_driver_sql(
            "SELECT stxname FROM pg_statistic_ext WHERE starts_with(stxname::text, 'st_rf_')"
        )
    }
    changed: list[str] = []
    for name in sorted(present - wanted.keys()):
        connection.exec_driver_sql(f'DROP STATISTICS IF EXISTS "{name}"')
        changed.append(f"-{name}")
    for name in sorted(wanted.keys() - present):
        connection.exec_driver_sql(wanted[name])
        changed.append(f"+{name}")
    return changed


def refresh_statistics(connection: Connection) -> None:
    """Update the planner's statistics for ``records``.

    Without them SQLite picks the first usable index instead of the one that also serves
    ORDER BY (a filtered, sorted page then sorts thousands of rows instead of reading 50).
    """
    if connection.dialect.name == "sqlite":
        # Sampled statistics: fast on large tables and good enough to rank indexes.
        connection.exec_driver_sql("PRAGMA analysis_limit=2000")
        connection.exec_driver_sql("ANALYZE records")
        connection.exec_driver_sql("ANALYZE record_links")
    else:
        connection.exec_driver_sql("ANALYZE records")
        connection.exec_driver_sql("ANALYZE record_links")
