"""CEL → SQL: filters run on real SQLite and PostgreSQL databases and select exactly the rows
for which the rules engine evaluates the same expression to true.

The table has plain columns of every kind, a JSON array column, and a JSON document whose
members are fields too (reached with json_extract on SQLite and ->> with casts on
PostgreSQL). The PostgreSQL text column uses an ICU collation, so that code-point ordering
(what CEL does) is actually tested rather than given by a C-collated test server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB

from kindred.db import Database, UTCDateTime
from kindred.rules import (
    RuleError,
    RuleEvaluationError,
    RuleSyntaxError,
    RuleTypeError,
    compile_rule,
)
from kindred.rules.sql import FieldRef, Resolver, compile_filter

metadata = sa.MetaData()
JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
rows_table = sa.Table(
    "rule_filter_rows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text().with_variant(sa.Text(collation="en-US-x-icu"), "postgresql")),
    sa.Column("amount", sa.Float),
    sa.Column("quantity", sa.BigInteger),
    sa.Column("active", sa.Boolean),
    sa.Column("tier", sa.String(10)),
    sa.Column("opened", sa.Date),
    sa.Column("seen", UTCDateTime()),
    sa.Column("tags", JSON_DOCUMENT),
    sa.Column("data", JSON_DOCUMENT),
)
COLUMN_KINDS = {
    "name": "text",
    "amount": "number",
    "quantity": "integer",
    "active": "boolean",
    "tier": "text",
    "opened": "date",
    "seen": "datetime",
    "tags": "list",
}
DOCUMENT_KINDS = {"score": "integer", "label": "text", "flag": "boolean", "labels": "list"}
SQL_TYPES: dict[str, Any] = {"integer": sa.BigInteger(), "boolean": sa.Boolean(), "text": sa.Text()}


def resolver(dialect: str) -> Resolver:
    data = rows_table.c.data

    def resolve(path: tuple[str, ...]) -> FieldRef | None:
        if len(path) == 1 and path[0] in COLUMN_KINDS:
            kind = COLUMN_KINDS[path[0]]
            element = "text" if kind == "list" else None
            return FieldRef(rows_table.c[path[0]], kind, element_kind=element)  # type: ignore[arg-type]
        if len(path) == 2 and path[0] == "data" and path[1] in DOCUMENT_KINDS:
            name, kind = path[1], DOCUMENT_KINDS[path[1]]
            expression: Any
            if dialect == "sqlite":
                expression = sa.func.json_extract(data, f"$.{name}")
            elif kind == "list":
                expression = data.op("->")(name)
            else:
                expression = sa.cast(data.op("->>")(name), SQL_TYPES[kind])
            return FieldRef(expression, kind)  # type: ignore[arg-type]
        raise KeyError(path)

    return resolve


def activation(row: dict[str, Any]) -> dict[str, Any]:
    """The record as rules see it: a missing (NULL) value is an absent key."""
    return {"record": {key: value for key, value in row.items() if value is not None}}


def cel_matches(source: str, rows: list[dict[str, Any]]) -> list[int]:
    rule = compile_rule(source, variables=["record"])
    matched = []
    for row in rows:
        try:
            if rule.evaluate_bool(activation(row)):
                matched.append(row["id"])
        except RuleEvaluationError:
            pass  # an error is "not matched", in a filter as in SQL
    return matched


def sql_matches(database: Database, source: str) -> list[int]:
    condition = compile_filter(source, resolver(database.dialect))
    statement = sa.select(rows_table.c.id).where(condition).order_by(rows_table.c.id)
    with database.read() as session:
        return list(session.execute(statement).scalars())


def replace_rows(database: Database, rows: list[dict[str, Any]]) -> None:
    with database.write() as session:
        session.execute(rows_table.delete())
        if rows:
            session.execute(rows_table.insert(), [{"data": {}, **row} for row in rows])


def at(hour: int, day: int = 1) -> dt.datetime:
    return dt.datetime(2024, 3, day, hour, 0, tzinfo=dt.UTC)


ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Ruijin",
        "amount": 10.0,
        "quantity": 3,
        "active": True,
        "tier": "A",
        "opened": dt.date(2024, 1, 5),
        "seen": at(9),
        "tags": ["vip", "north"],
        "data": {"score": 7, "label": "A", "flag": True, "labels": ["x"]},
    },
    {
        "id": 2,
        "name": "ruijin east",
        "amount": 250.5,
        "quantity": -7,
        "active": False,
        "tier": "B",
        "opened": dt.date(2024, 2, 29),
        "seen": at(18),
        "tags": [],
        "data": {"score": 1, "label": "B", "flag": False},
    },
    {
        "id": 3,
        "name": "Zhongshan 100%",
        "amount": 99.0,
        "quantity": 0,
        "active": True,
        "tier": "A",
        "opened": dt.date(2023, 12, 31),
        "seen": at(9, day=2),
        "tags": ["north"],
        "data": {"label": "C", "labels": []},
    },
    {
        "id": 4,
        "name": "Renji_East*[1]?",
        "amount": 0.0,
        "quantity": None,
        "active": None,
        "tier": "C",
        "opened": None,
        "seen": None,
        "tags": None,
        "data": {},
    },
    {
        "id": 5,
        "name": "Étoile",
        "amount": None,
        "quantity": 12,
        "active": True,
        "tier": None,
        "opened": dt.date(2024, 3, 1),
        "seen": at(0),
        "tags": ["vip"],
        "data": {"score": 12, "flag": True, "labels": ["x", "y"]},
    },
    {
        "id": 6,
        "name": None,
        "amount": -2.5,
        "quantity": 5,
        "active": False,
        "tier": "B",
        "opened": dt.date(2024, 1, 1),
        "seen": at(23),
        "tags": ["south", "vip"],
        "data": {"score": 5, "label": "b"},
    },
]


@pytest.fixture
def database(empty_database: Database) -> Iterator[Database]:
    metadata.create_all(empty_database.engine)
    replace_rows(empty_database, ROWS)
    yield empty_database


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("record.amount > 50.0", [2, 3]),
        ("record.amount >= 99 && record.tier == 'A'", [3]),
        ("50.0 < record.amount", [2, 3]),
        ("record.tier in ['A', 'C'] || !record.active", [1, 2, 3, 4, 6]),
        ("record.quantity in [0, 3.0, 12]", [1, 3, 5]),
        ("record.quantity in []", []),
        ("record.active", [1, 3, 5]),
        ("record.active == false", [2, 6]),
        ("record.amount * 2.0 > 150.0", [2, 3]),
        ("record.amount / 2.0 == 5.0 || -record.amount == 2.5", [1, 6]),
        ("record.quantity / 2 == -3 && record.quantity % 2 == -1", [2]),
        ("record.quantity - record.data.score == -8", [2]),
        ("record.amount > record.quantity", [1, 2, 3]),
        ("has(record.name) && size(record.name) > 12", [3, 4]),
        ("size(record.name) == 7", [5]),
        ("record.name + '!' == 'Ruijin!'", [1]),
        ("(record.amount < 5.0 ? 'low' : 'high') == 'low'", [4, 6]),
        ("(record.active ? record.quantity : 0) > 2", [1, 5]),
        ("record.opened >= '2024-01-01' && record.opened < '2024-03-01'", [1, 2, 6]),
        ("record.seen < timestamp('2024-03-01T12:00:00Z')", [1, 5]),
        (
            "record.seen > timestamp('2024-03-02T12:00:00+08:00') - duration('24h')",
            [1, 2, 3, 6],
        ),
        ("record.data.score >= 5", [1, 5, 6]),
        ("record.data.label == 'B' || record.data.flag", [1, 2, 5]),
        ("record.data.label == record.tier", [1, 2]),
        ("'vip' in record.tags", [1, 5, 6]),
        ("!('vip' in record.tags)", [2, 3]),
        ("size(record.tags) == 0", [2]),
        ("'x' in record.data.labels && size(record.data.labels) == 1", [1]),
        ("record.amount == null", [5]),
        ("record['tier'] != null && record.tier == 'C'", [4]),
        ("true", [1, 2, 3, 4, 5, 6]),
        ("1 == 2 || record.quantity == 12", [5]),
        ("has({'a': 1}.a) && record.quantity == 12", [5]),
    ],
)
def test_filters_select_the_rows_cel_selects(
    database: Database, source: str, expected: list[int]
) -> None:
    assert sql_matches(database, source) == expected
    if "== null" not in source and "!= null" not in source:
        assert cel_matches(source, ROWS) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("record.name.startsWith('Ren')", [4]),
        ("record.name.startsWith('ren')", []),
        ("record.name.startsWith('R')", [1, 4]),
        ("record.name.contains('100%')", [3]),
        ("record.name.contains('%')", [3]),
        ("record.name.contains('_')", [4]),
        ("record.name.endsWith('*[1]?')", [4]),
        ("record.name.contains('[1]')", [4]),
        ("record.name.contains('?')", [4]),
        ("record.name.contains('ruijin')", [2]),
        ("record.name.contains('')", [1, 2, 3, 4, 5]),
        ("record.name.endsWith('E')", []),
    ],
)
def test_text_matching_is_case_sensitive_and_escapes_wildcards(
    database: Database, source: str, expected: list[int]
) -> None:
    assert sql_matches(database, source) == expected
    assert cel_matches(source, ROWS) == expected


def test_text_is_ordered_by_code_point_whatever_the_collation(database: Database) -> None:
    # ICU (and most locales) put "Étoile" before "Zhongshan" and "ruijin" after "Ruijin"
    # regardless of case; CEL compares code points: "É" (U+00C9) > "r" > "Z" > "R".
    source = "record.name > 'Zhongshan 100%'"
    assert sql_matches(database, source) == [2, 5]
    assert cel_matches(source, ROWS) == [2, 5]
    assert sql_matches(database, "record.name > record.data.label") == [1, 2, 3]
    assert cel_matches("record.name > record.data.label", ROWS) == [1, 2, 3]


def test_a_missing_value_behaves_like_the_error_cel_raises(database: Database) -> None:
    # Row 4 has no quantity: CEL reports an error for it, under a negation too.
    assert sql_matches(database, "record.quantity == 3") == [1]
    assert sql_matches(database, "!(record.quantity == 3)") == [2, 3, 5, 6]
    assert cel_matches("!(record.quantity == 3)", ROWS) == [2, 3, 5, 6]
    # Saying what to do with the missing value includes it.
    included = "!has(record.quantity) || record.quantity != 3"
    assert sql_matches(database, included) == [2, 3, 4, 5, 6]
    assert cel_matches(included, ROWS) == [2, 3, 4, 5, 6]
    # An error is absorbed where CEL absorbs it: "true || error" is true.
    assert sql_matches(database, "record.tier == 'C' || record.quantity > 100") == [4]
    assert sql_matches(database, "!(record.tags.size() > 5)") == [1, 2, 3, 5, 6]
    # == null is true for a missing value (CEL would raise): it means !has().
    assert sql_matches(database, "record.quantity == null") == [4]
    assert sql_matches(database, "record.quantity != null") == [1, 2, 3, 5, 6]


def test_list_fields_can_build_membership_themselves(database: Database) -> None:
    built: list[Any] = []

    def contains(value: Any) -> sa.ColumnElement[bool]:
        built.append(value)
        return rows_table.c.tier == value.upper()

    def resolve(path: tuple[str, ...]) -> FieldRef | None:
        if path == ("tiers",):
            return FieldRef(rows_table.c.tier, "list", contains=contains)
        return None

    def matches(source: str) -> list[int]:
        condition = compile_filter(source, resolve)
        statement = sa.select(rows_table.c.id).where(condition).order_by(rows_table.c.id)
        with database.read() as session:
            return list(session.execute(statement).scalars())

    assert matches("'b' in record.tiers") == [2, 6]
    # NULL-guarded like the built-in membership: row 5 has no tier, so it is not "not in".
    assert matches("!('b' in record.tiers)") == [1, 3, 4]
    assert built == ["b", "b"]


def test_datetimes_stored_as_text_use_normalize(database: Database) -> None:
    stamps = {1: "2024-03-01T09:00:00.000Z", 2: "2024-03-01T18:00:00.000Z"}
    with database.write() as session:
        for identifier, stamp in stamps.items():
            session.execute(
                rows_table.update()
                .where(rows_table.c.id == identifier)
                .values(data={"when": stamp})
            )
    received: list[Any] = []

    def normalize(value: Any) -> str:
        received.append(value)
        moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def resolve(path: tuple[str, ...]) -> FieldRef | None:
        if path != ("when",):
            return None
        data = rows_table.c.data
        expression = (
            sa.func.json_extract(data, "$.when")
            if database.dialect == "sqlite"
            else data.op("->>")("when")
        )
        return FieldRef(expression, "datetime", normalize=normalize)

    condition = compile_filter("record.when > timestamp('2024-03-01T12:00:00+02:00')", resolve)
    with database.read() as session:
        ids = list(session.execute(sa.select(rows_table.c.id).where(condition)).scalars())
    assert ids == [2]
    assert received == ["2024-03-01T12:00:00+02:00"]


# -- refusals ------------------------------------------------------------------------------


def refusal(source: str) -> RuleError:
    with pytest.raises(RuleError) as caught:
        compile_filter(source, resolver("sqlite"))
    return caught.value


@pytest.mark.parametrize(
    ("source", "kind", "message", "column"),
    [
        ("record.amoutn > 1", RuleSyntaxError, "unknown field 'record.amoutn'", 1),
        ("record.data.nope == 1", RuleSyntaxError, "unknown field 'record.data.nope'", 1),
        (
            "recod.amount > 1",
            RuleSyntaxError,
            "unknown variable 'recod' (did you mean 'record'?) (filters read fields of 'record')",
            1,
        ),
        (
            "size(record) > 1",
            RuleSyntaxError,
            "name a field: record.<field> (a filter cannot use the whole record)",
            6,
        ),
        (
            "record.amount == 'abc'",
            RuleTypeError,
            "type mismatch: 'record.amount' is a number (double), ''abc'' is a string",
            18,
        ),
        (
            "record.name > 1",
            RuleTypeError,
            "type mismatch: 'record.name' is a text field, '1' is an int",
            15,
        ),
        (
            "record.active == record.tier",
            RuleTypeError,
            "type mismatch: 'record.active' is a boolean, 'record.tier' is a text field",
            15,
        ),
        (
            "record.opened > '2024/01/01'",
            RuleTypeError,
            "'record.opened' is a date: compare it with a 'YYYY-MM-DD' string",
            17,
        ),
        (
            "record.seen > '2024-01-01'",
            RuleTypeError,
            "type mismatch: 'record.seen' is a date-time, ''2024-01-01'' is a string",
            15,
        ),
        (
            "record.amount * 2 > 1.0",
            RuleTypeError,
            "'*' needs two numbers of one type: 'record.amount' is a number (double), '2' is "
            "an integer (write 2.0, not 2, next to a double)",
            15,
        ),
        (
            "record.amount % 2.0 == 1.0",
            RuleTypeError,
            "'%' needs integers (CEL has no double modulo)",
            15,
        ),
        (
            "record.quantity + 1u > 2",
            RuleTypeError,
            "unsigned integers (1u) cannot be combined with fields",
            17,
        ),
        (
            "record.name.matches('R.*')",
            RuleSyntaxError,
            "not supported in filters: matches() (regular expressions differ between the "
            "databases and the rules engine)",
            13,
        ),
        (
            "record.amount > 1.0 && record.tags.exists(t, t == 'vip')",
            RuleSyntaxError,
            "not supported in filters: exists() over fields (comprehensions)",
            36,
        ),
        (
            "record.name in [record.tier]",
            RuleSyntaxError,
            "list literals in filters may only hold constants",
            16,
        ),
        (
            "record.tier in record.tags",
            RuleSyntaxError,
            "'in' on a list field needs a constant on its left",
            13,
        ),
        (
            "1 in record.tags",
            RuleTypeError,
            "type mismatch: the elements of 'record.tags' are text fields, '1' is an int",
            1,
        ),
        (
            "record.tags == ['a']",
            RuleTypeError,
            "list fields support 'in' and size(), not comparisons",
            13,
        ),
        (
            "record.amount",
            RuleTypeError,
            "a filter condition must be true or false; 'record.amount' is a number (double)",
            8,
        ),
        ("'yes'", RuleTypeError, "a filter condition must be true or false, not string", 1),
        (
            "record.amount > 1.0 && 1 / 0 == 1",
            RuleEvaluationError,
            "division by zero",
            26,
        ),
        (
            "record.amount < null",
            RuleTypeError,
            "null can only be compared with == or !=",
            15,
        ),
        (
            "record.name.startsWith(record.tier)",
            RuleTypeError,
            "startsWith() in filters takes a text field and a constant string",
            13,
        ),
        ("int(record.name) == 1", RuleSyntaxError, "not supported in filters: int() on fields", 1),
        (
            "(record.active ? 1 : 'one') == 1",
            RuleTypeError,
            "both branches of '?:' must have the same type in filters",
            2,
        ),
        (
            "record.tier.size() + record.amount > 1.0",
            RuleTypeError,
            "'+' needs two numbers of one type: 'record.tier.size()' is an integer, "
            "'record.amount' is a number (double) (write 2.0, not 2, next to a double)",
            20,
        ),
        (
            "record.amount > > 1",
            RuleSyntaxError,
            "syntax error: extraneous input '>' expecting an expression",
            17,
        ),
        ("  ", RuleSyntaxError, "the filter is empty", 3),
        ("record.tier == string", RuleSyntaxError, "not supported in filters: type values", 16),
        (
            "record.active && has(size(record.name).x)",
            RuleSyntaxError,
            "not supported in filters: 'has(size(record.name).x)'",
            18,
        ),
    ],
)
def test_refusals_name_the_problem_and_its_position(
    source: str, kind: type[RuleError], message: str, column: int
) -> None:
    error = refusal(source)
    assert (type(error), error.message, error.column) == (kind, message, column)


def test_the_sql_is_dialect_specific_only_where_it_must_be() -> None:
    condition = compile_filter(
        "record.name.startsWith('a_%') && record.name < 'm' && 'vip' in record.tags",
        resolver("sqlite"),
    )
    as_sqlite = str(condition.compile(dialect=sqlite.dialect()))
    as_postgresql = str(condition.compile(dialect=postgresql.psycopg.dialect()))
    assert "GLOB" in as_sqlite and "COLLATE BINARY" in as_sqlite and "json_each" in as_sqlite
    assert "LIKE" in as_postgresql and 'COLLATE "C"' in as_postgresql and "@>" in as_postgresql
    params = condition.compile(dialect=sqlite.dialect()).params
    assert "a\\_\\%%" in params.values() and "a_%*" in params.values()


# -- SQL agrees with the engine on random filters over random rows ------------------------------

TEXTS = ["''", "'A'", "'B'", "'a'", "'Zoë'", "'zoe'", "'É'", "'100%'", "'x_y'", "'[a]'", "'*'"]
DOUBLES = ["-2.5", "0.0", "1.0", "2.5", "10.0", "99.5"]
INTEGERS = ["-3", "-1", "0", "1", "2", "5"]
COMPARISONS = ["==", "!=", "<", "<=", ">", ">="]
DOUBLE_TERMS = [
    "record.amount",
    "record.amount * 2.0",
    "record.amount + 1.5",
    "record.amount / 2.0",
    "-record.amount",
    "(record.amount - record.amount)",
]
INTEGER_TERMS = [
    "record.quantity",
    "record.quantity + 1",
    "record.quantity * 2",
    "record.quantity / 2",
    "record.quantity % 3",
    "record.quantity / 0",
    "record.data.score",
    "record.quantity - record.data.score",
    "size(record.name)",
    "size(record.tags)",
    "(record.active ? record.quantity : 0)",
]
TEXT_TERMS = [
    "record.name",
    "record.tier",
    "record.data.label",
    "record.name + 'x'",
    "(record.quantity > 1 ? record.tier : 'none')",
]
FIELDS = [*COLUMN_KINDS, "data.score", "data.label", "data.flag", "data.labels"]


def _formatted(pattern: str, *choices: list[str]) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from(choice) for choice in choices)).map(
        lambda parts: pattern.format(*parts)
    )


atoms = st.one_of(
    _formatted("{} {} {}", DOUBLE_TERMS, COMPARISONS, DOUBLES + INTEGERS),
    _formatted("{} {} {}", INTEGER_TERMS, COMPARISONS, INTEGERS + DOUBLES),
    _formatted("{} {} {}", DOUBLE_TERMS, COMPARISONS, INTEGER_TERMS),
    _formatted("{} {} {}", TEXT_TERMS, COMPARISONS, TEXTS),
    _formatted("{} {} {}", TEXT_TERMS, COMPARISONS, TEXT_TERMS),
    _formatted("({}).{}({})", TEXT_TERMS, ["startsWith", "endsWith", "contains"], TEXTS),
    _formatted("{} in [{}, {}]", TEXT_TERMS, TEXTS, TEXTS),
    _formatted("{} in [{}, {}]", INTEGER_TERMS, INTEGERS, DOUBLES),
    _formatted("{} in record.{}", ["'A'", "'B'", "'x'"], ["tags", "data.labels"]),
    _formatted("record.opened {} '{}'", COMPARISONS, ["2023-12-31", "2024-01-01", "2024-01-02"]),
    _formatted(
        "record.seen {} timestamp('{}')",
        COMPARISONS,
        ["2024-03-01T09:00:00Z", "2024-03-01T12:00:00+02:00", "2024-03-02T00:00:00Z"],
    ),
    _formatted("has(record.{})", FIELDS),
    st.sampled_from(
        [
            "record.active",
            "record.data.flag",
            "record.active == false",
            "record.active != record.data.flag",
            "true",
            "false",
        ]
    ),
)
expressions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda pair: f"({pair[0]} && {pair[1]})"),
        st.tuples(inner, inner).map(lambda pair: f"({pair[0]} || {pair[1]})"),
        inner.map(lambda expression: f"!({expression})"),
    ),
    max_leaves=5,
)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


row_values = st.fixed_dictionaries(
    {
        "name": _maybe(
            st.sampled_from(["Ruijin", "ruijin", "Zoë", "zoe", "É", "Z", "a", "100% sure", ""])
            | st.sampled_from(["x_y", "[a]*", "Ab", "A", "B", "none", "xx"])
        ),
        "amount": _maybe(st.sampled_from([-2.5, 0.0, 1.0, 2.0, 2.5, 10.0, 99.5, 250.0])),
        "quantity": _maybe(st.integers(-5, 5)),
        "active": _maybe(st.booleans()),
        "tier": _maybe(st.sampled_from(["A", "B", "C", "a"])),
        "opened": _maybe(st.dates(dt.date(2023, 12, 30), dt.date(2024, 1, 3))),
        "seen": _maybe(st.sampled_from([at(9), at(10), at(12), at(0, day=2), at(1, day=2)])),
        "tags": _maybe(st.lists(st.sampled_from(["A", "B", "C"]), max_size=3)),
        "data": st.fixed_dictionaries(
            {},
            optional={
                "score": st.integers(-3, 3),
                "label": st.sampled_from(["A", "B", "b", "Zoë"]),
                "flag": st.booleans(),
                "labels": st.lists(st.sampled_from(["x", "A"]), max_size=2),
            },
        ),
    }
)
row_lists = st.lists(row_values, max_size=8).map(
    lambda values: [{"id": index + 1, **row} for index, row in enumerate(values)]
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source=expressions, rows=row_lists)
def test_sql_selects_what_the_engine_selects(
    database: Database, source: str, rows: list[dict[str, Any]]
) -> None:
    replace_rows(database, rows)
    assert sql_matches(database, source) == cel_matches(source, rows), source


@pytest.fixture
def compiled_only() -> Callable[[str], str]:
    def render(source: str) -> str:
        return str(compile_filter(source, resolver("sqlite")).compile(dialect=sqlite.dialect()))

    return render


def test_constant_parts_are_evaluated_by_the_engine(compiled_only: Callable[[str], str]) -> None:
    assert compiled_only("record.quantity > size('abc') * 2") == "rule_filter_rows.quantity > ?"
    assert compiled_only("[1, 2].exists(x, x > 1) && record.active") == (
        "1 = 1 AND rule_filter_rows.active = 1"
    ) or compiled_only("[1, 2].exists(x, x > 1) && record.active") == (
        "rule_filter_rows.active = 1"
    )
