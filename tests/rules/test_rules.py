"""The rules sandbox: compile-time checks with positions, cost bounds, evaluation, the CEL
conformance vectors, and the CEL → SQL compiler checked against CEL itself on both dialects."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindred.db import Database
from kindred.rules import (
    RuleCostError,
    RuleEvaluationError,
    RuleSyntaxError,
    compile_rule,
)
from kindred.rules.sql import FieldRef, compile_filter
from tests.rules.conformance import read_cases

CONFORMANCE_FILES = [
    "basic",
    "comparisons",
    "logic",
    "string",
    "plumbing",
    "macros",
    "integer_math",
    "lists",
    "conversions",
    "fp_math",
]
# Cases the Rust engine (or this project's textproto reader) does not pass, known and kept
# visible: proto wrapper types, unicode escapes the reader does not decode, bool/string
# conversions the engine lacks, and JSON-null equality.
KNOWN_FAILURES = frozenset(
    __import__("ast").literal_eval((Path(__file__).with_name("known_failures.txt")).read_text())
)


def test_syntax_errors_point_at_the_position() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        compile_rule("record.amount > > 1", variables=["record"])
    error = caught.value
    assert (error.line, error.column, error.offset) == (1, 17, 16)
    assert error.to_dict()["pointer"] == "record.amount > > 1\n                ^"
    with pytest.raises(RuleSyntaxError) as caught:
        compile_rule("record.a == 1 &&\n  recrod.b == 2", variables=["record"])
    assert caught.value.message == "unknown variable 'recrod' (available: record)"
    assert (caught.value.line, caught.value.column) == (2, 3)
    with pytest.raises(RuleSyntaxError, match="empty"):
        compile_rule("   ", variables=["record"])


def test_macro_variables_are_not_unknown_and_paths_are_extracted() -> None:
    rule = compile_rule(
        "record.tags.exists(t, t == 'vip') && record.amount > 10.0 && has(record.owner)",
        variables=["record"],
    )
    assert rule.variables_used == {"record"}
    assert rule.field_paths("record") == {"tags", "amount", "owner"}
    assert rule.evaluate_bool({"record": {"tags": ["vip"], "amount": 11.0, "owner": "u"}})
    assert not rule.evaluate_bool({"record": {"tags": [], "amount": 11.0, "owner": "u"}})


def test_cost_bounds() -> None:
    with pytest.raises(RuleCostError, match="longer than 50"):
        compile_rule("record.a == 1 || " * 5 + "true", variables=["record"], max_length=50)
    with pytest.raises(RuleCostError, match="nest deeper"):
        compile_rule("a.all(x, a.all(y, a.all(z, z > x + y)))", variables=["a"])
    with pytest.raises(RuleCostError, match="too costly"):
        compile_rule(
            "a.all(x, a.exists(y, x + y > 1 && x - y < 9 && x * y != 3))",
            variables=["a"],
            max_cost=100,
        )


def test_evaluation_errors_are_rule_errors() -> None:
    rule = compile_rule("record.amount > 10", variables=["record"])
    with pytest.raises(RuleEvaluationError, match="no value for 'amount'"):
        rule.evaluate_bool({"record": {}})
    with pytest.raises(RuleEvaluationError, match="true or false"):
        compile_rule("record.amount + 1", variables=["record"]).evaluate_bool(
            {"record": {"amount": 1}}
        )
    with pytest.raises(RuleEvaluationError):
        compile_rule("1 / record.zero", variables=["record"]).evaluate({"record": {"zero": 0}})


def test_cel_conformance_vectors(shared_dir: Path) -> None:
    directory = shared_dir / "vectors" / "cel-spec" / "tests" / "simple" / "testdata"
    failures: list[str] = []
    passed = 0
    for name in CONFORMANCE_FILES:
        cases, _ = read_cases(directory / f"{name}.textproto")
        for case in cases:
            try:
                result = compile_rule(case.expression, variables=[]).evaluate({})
                good = type(result) is type(case.expected) and (
                    result == case.expected
                    or (
                        isinstance(result, float)
                        and math.isnan(result)
                        and math.isnan(case.expected)
                    )
                )
            except (RuleSyntaxError, RuleEvaluationError, RuleCostError):
                good = False
            if good:
                passed += 1
            else:
                failures.append(f"{case.file}/{case.name}")
    unexpected = sorted(set(failures) - KNOWN_FAILURES)
    assert unexpected == [], f"conformance regressions: {unexpected}"
    assert passed >= 557


# -- CEL → SQL ------------------------------------------------------------------------------

metadata = sa.MetaData()
items = sa.Table(
    "filter_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("amount", sa.Float),
    sa.Column("active", sa.Boolean),
    sa.Column("tier", sa.String(5)),
)
KINDS = {"name": "text", "amount": "number", "active": "boolean", "tier": "text"}


def resolve(path: tuple[str, ...]) -> FieldRef | None:
    if len(path) != 1 or path[0] not in KINDS:
        return None
    return FieldRef(expression=items.c[path[0]], kind=KINDS[path[0]])  # type: ignore[arg-type]


ROWS = [
    {"id": 1, "name": "Ruijin", "amount": 10.0, "active": True, "tier": "A"},
    {"id": 2, "name": "Huashan", "amount": 250.5, "active": False, "tier": "B"},
    {"id": 3, "name": "Zhongshan 100%", "amount": 99.0, "active": True, "tier": "A"},
    {"id": 4, "name": "Renji_East", "amount": 0.0, "active": False, "tier": "C"},
    {"id": 5, "name": "Xinhua", "amount": 1000.0, "active": True, "tier": "B"},
]


@pytest.fixture
def loaded(empty_database: Database) -> Database:
    metadata.create_all(empty_database.engine)
    with empty_database.write() as session:
        session.execute(items.insert(), ROWS)
    return empty_database


def matching(database: Database, source: str) -> list[int]:
    condition = compile_filter(source, resolve)
    with database.read() as session:
        return list(
            session.execute(sa.select(items.c.id).where(condition).order_by(items.c.id)).scalars()
        )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("record.amount > 50.0", [2, 3, 5]),
        ("record.amount >= 99 && record.tier == 'A'", [3]),
        ("record.tier in ['A', 'C'] || !record.active", [1, 2, 3, 4]),
        ("record.name.startsWith('Ren')", [4]),
        ("record.name.contains('100%')", [3]),
        ("record.name.endsWith('_East')", [4]),
        ("record.active", [1, 3, 5]),
        ("record.amount * 2.0 > 500.0", [2, 5]),
        ("has(record.name) && size(record.name) > 7", [3, 4]),
        ("(record.amount < 5.0 ? 'low' : 'high') == 'low'", [4]),
        ("1000.0 <= record.amount", [5]),
    ],
)
def test_filters_select_the_right_rows(loaded: Database, source: str, expected: list[int]) -> None:
    assert matching(loaded, source) == expected


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        ("record.amont > 1", "unknown field 'record.amont'", 1),
        ("other.amount > 1", "unknown variable 'other'", 1),
        ("record.amount == 'lots'", "type mismatch: a number field compared with a str", 1),
        ("record.name.matches('R.*')", "not supported in filters: .matches()", 1),
        ("record.amount > 1 && [1, 2].exists(x, x > record.amount)", "not supported", 22),
        ("1 == 1", "compare a field with a value", 1),
    ],
)
def test_unsupported_filters_are_refused_with_positions(
    source: str, message: str, column: int
) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        compile_filter(source, resolve)
    assert message in caught.value.message
    assert caught.value.column == column


comparison = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
atom = st.one_of(
    st.builds(
        lambda op, v: f"record.amount {op} {v!r}",
        comparison,
        st.sampled_from([0.0, 10.0, 99.0, 250.5, 500.0]),
    ),
    st.builds(
        lambda op, v: f"record.tier {op} '{v}'",
        st.sampled_from(["==", "!="]),
        st.sampled_from(["A", "B", "C", "D"]),
    ),
    st.sampled_from(
        [
            "record.active",
            "!record.active",
            "record.name.startsWith('R')",
            "record.tier in ['A', 'B']",
        ]
    ),
)
expressions = st.recursive(
    atom,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} && {b})", inner, inner),
        st.builds(lambda a, b: f"({a} || {b})", inner, inner),
        st.builds(lambda a: f"!({a})", inner),
    ),
    max_leaves=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(source=expressions)
def test_sql_agrees_with_cel_evaluation(loaded: Database, source: str) -> None:
    rule = compile_rule(source, variables=["record"])
    expected = [row["id"] for row in ROWS if rule.evaluate_bool({"record": row})]
    assert matching(loaded, source) == expected, source


def test_list_membership_uses_the_field_contains_hook(loaded: Any) -> None:
    seen: list[Any] = []

    def contains(value: Any) -> Any:
        seen.append(value)
        return items.c.tier == value

    def list_resolve(path: tuple[str, ...]) -> FieldRef | None:
        if path == ("tags",):
            return FieldRef(expression=items.c.tier, kind="list", contains=contains)
        return None

    condition = compile_filter("'B' in record.tags", list_resolve)
    with loaded.read() as session:
        ids = list(session.execute(sa.select(items.c.id).where(condition)).scalars())
    assert sorted(ids) == [2, 5] and seen == ["B"]
