"""compile_rule: every refusal with its exact message and position, variable extraction, the
cost model, evaluation with its input conversions and bounds, and runtime errors."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kindred.rules import (
    InputLimits,
    RuleCostError,
    RuleError,
    RuleEvaluationError,
    RuleSyntaxError,
    RuleTypeError,
    compile_rule,
)
from kindred.rules.compiler import COMPREHENSION_ITERATIONS

RECORD = ["record"]


def refusal(source: str, variables: list[str] | None = None, **options: Any) -> RuleError:
    with pytest.raises(RuleError) as caught:
        compile_rule(source, variables=RECORD if variables is None else variables, **options)
    return caught.value


def failure(source: str, activation: dict[str, Any], **options: Any) -> RuleError:
    rule = compile_rule(source, variables=list(activation) or RECORD, **options)
    with pytest.raises(RuleError) as caught:
        rule.evaluate(activation)
    return caught.value


# -- errors point at positions -------------------------------------------------------------


def test_a_syntax_error_carries_the_engine_message_and_position() -> None:
    error = refusal("record.amount > > 1")
    assert type(error) is RuleSyntaxError
    assert error.message == "syntax error: extraneous input '>' expecting an expression"
    assert (error.line, error.column, error.offset) == (1, 17, 16)
    assert error.to_dict() == {
        "expression": "record.amount > > 1",
        "message": "syntax error: extraneous input '>' expecting an expression",
        "line": 1,
        "column": 17,
        "offset": 16,
        "pointer": "record.amount > > 1\n                ^",
    }


def test_positions_count_lines_and_characters_not_bytes() -> None:
    error = refusal('record.name == "é" &&\n  record.b > > 1')
    assert (error.line, error.column, error.offset) == (2, 14, 35)
    assert error.pointer == "  record.b > > 1\n             ^"


def test_an_expression_that_ends_too_early() -> None:
    error = refusal("record.amount >")
    assert error.message == "syntax error: unexpected end of expression expecting an expression"
    assert (error.line, error.column) == (1, 16)
    assert error.pointer == "record.amount >\n               ^"


def test_an_empty_expression_is_refused() -> None:
    error = refusal("   ")
    assert (type(error), error.message, error.offset) == (
        RuleSyntaxError,
        "the expression is empty",
        3,
    )


def test_unknown_variables_point_at_their_first_use_and_suggest_a_name() -> None:
    error = refusal("record.a == 1 &&\n  recrod.b == 2 && recrod.c == 3")
    assert type(error) is RuleSyntaxError
    assert error.message == "unknown variable 'recrod' (did you mean 'record'?) (available: record)"
    assert (error.line, error.column) == (2, 3)


def test_the_first_unknown_variable_in_reading_order_is_reported() -> None:
    error = refusal("zeta > 1 && alpha > 2", variables=["record"])
    assert error.message == "unknown variable 'zeta' (available: record)"
    assert error.column == 1


def test_comprehension_variables_need_no_declaration_and_shadow_declared_ones() -> None:
    rule = compile_rule(
        "record.tags.exists(t, t == 'vip') && [1, 2].all(record, record > 0)", variables=RECORD
    )
    assert rule.variables_used == {"record", "record.tags"}
    error = refusal("record.tags.exists(t, t == 'vip') && t == 'x'")
    assert error.message == "unknown variable 't' (available: record)"
    assert error.column == 38


def test_unknown_functions_and_methods_are_refused_with_a_suggestion() -> None:
    error = refusal("record.name.startswith('A')")
    assert error.message == "unknown method 'startswith' (did you mean 'startsWith'?)"
    assert error.column == 13
    error = refusal("max(record.a, 1)")
    assert (error.message, error.column) == ("unknown function 'max'", 1)
    error = refusal("record.name.lowerAscii() == 'a'")
    assert (error.message, error.column) == ("unknown method 'lowerAscii'", 13)


def test_function_arity_is_checked() -> None:
    error = refusal("record.created.getHours('Asia/Shanghai') > 8")
    assert error.message == "getHours() takes 0 arguments (time zones are not supported)"
    assert error.column == 16
    error = refusal("record.name.startsWith()")
    assert (error.message, error.column) == ("startsWith() takes 1 argument", 13)
    error = refusal("has() || true")
    assert (error.message, error.column) == (
        "has() takes one field selection, e.g. has(record.field)",
        1,
    )
    error = refusal("record.tags.all(t, t > 1, 2)")
    assert (error.message, error.column) == ("all() takes a variable name and a condition", 13)


def test_unsupported_constructs_are_refused() -> None:
    error = refusal("Account{name: 'x'}.name == 'x'")
    assert error.message == (
        "not supported: message construction ('Account{…}'); rules have no message types"
    )
    assert error.column == 1
    error = refusal("record.a == .record.b")
    assert (error.message, error.column) == (
        "not supported: names with a leading dot ('.record')",
        13,
    )


def test_type_names_are_values_without_declaration() -> None:
    rule = compile_rule("type(record.amount) == double", variables=RECORD)
    assert rule.evaluate({"record": {"amount": 1.5}}) is True
    assert rule.variables_used == {"record", "record.amount"}


def test_a_rule_that_must_be_boolean_is_checked_when_the_syntax_tells() -> None:
    error = refusal("record.amount + 1.0", expect="bool")
    assert (type(error), error.message, error.column) == (
        RuleTypeError,
        "the rule must give true or false, but gives a double",
        15,
    )
    error = refusal("'yes'", expect="bool")
    assert error.message == "the rule must give true or false, but gives a string"
    error = refusal("size(record.tags)", expect="bool")
    assert error.message == "the rule must give true or false, but gives an int"
    # A bare field may be boolean: only evaluation can tell.
    assert compile_rule("record.active", variables=RECORD, expect="bool").cost == 2


# -- cost bounds ---------------------------------------------------------------------------


def test_the_length_limit() -> None:
    source = "record.a == 1 || " * 5 + "true"
    error = refusal(source, max_length=50)
    assert (type(error), error.message, error.offset) == (
        RuleCostError,
        "the expression is longer than 50 characters",
        50,
    )
    assert compile_rule(source, variables=RECORD, max_length=len(source)).source == source


def test_nesting_is_bounded_before_any_recursive_walk() -> None:
    error = refusal("!" * 60 + "true")
    assert (type(error), error.message, error.column) == (
        RuleCostError,
        "the expression nests deeper than 50 levels",
        51,
    )
    # The engine's own parser refuses deep parentheses first, as a syntax error.
    assert type(refusal("(" * 200 + "1" + ")" * 200)) is RuleSyntaxError


def test_long_chains_of_conditions_are_not_deep() -> None:
    source = " || ".join(f"record.tier == 'T{index}'" for index in range(150))
    rule = compile_rule(source, variables=RECORD)
    assert rule.evaluate({"record": {"tier": "T149"}}) is True


def test_the_cost_model_counts_nodes_and_multiplies_comprehension_bodies() -> None:
    assert compile_rule("record.amount > 1", variables=RECORD).cost == 4
    assert compile_rule("record.a && record.b && record.c", variables=RECORD).cost == 8
    # target 2 + macro 1 + 10 × body (t > 1 is 3)
    single = compile_rule("record.tags.all(t, t > 1)", variables=RECORD)
    assert single.cost == 3 + COMPREHENSION_ITERATIONS * 3
    # The inner comprehension costs 10 × 3 + 3 per outer iteration: quadratic.
    nested = compile_rule("record.tags.all(t, record.tags.exists(u, u > t))", variables=RECORD)
    assert nested.cost == 3 + COMPREHENSION_ITERATIONS * (3 + COMPREHENSION_ITERATIONS * 3)


def test_costly_expressions_are_refused_at_the_costliest_comprehension() -> None:
    source = "a.size() > 0 && a.all(x, a.exists(y, x + y > 1 && x - y < 9 && x * y != 3))"
    error = refusal(source, variables=["a"], max_cost=1000)
    assert type(error) is RuleCostError
    assert error.message == (
        "the expression is too costly to evaluate (cost 1727, limit 1000); "
        "simplify it or avoid nested comprehensions"
    )
    assert error.column == 19
    # && 1 + (size() > 0) 4 + all: 2 + 10 × (exists: 2 + 10 × (2 operators + 3 × 5))
    assert compile_rule(source, variables=["a"], max_cost=1727).cost == 1727


def test_comprehensions_nest_at_most_two_deep() -> None:
    error = refusal("a.all(x, a.all(y, a.all(z, z > x + y)))", variables=["a"])
    assert type(error) is RuleCostError
    assert error.message == (
        "comprehensions nest deeper than 2 levels (the cost grows with the list size to that power)"
    )
    assert error.column == 21


def test_evaluation_cost_uses_the_real_list_sizes() -> None:
    rule = compile_rule("record.items.all(i, record.items.exists(j, i == j))", variables=RECORD)
    assert rule.evaluate({"record": {"items": list(range(100))}}) is True
    with pytest.raises(RuleCostError) as caught:
        rule.evaluate({"record": {"items": list(range(1000))}})
    assert caught.value.message == (
        "evaluating this rule on this input would cost 3003003 (limit 500000): "
        "the lists it iterates are too long"
    )
    assert caught.value.column == 14
    lenient = compile_rule(
        "record.items.all(i, record.items.exists(j, i == j))",
        variables=RECORD,
        max_evaluation_cost=5_000_000,
    )
    assert lenient.evaluate({"record": {"items": list(range(1000))}}) is True


# -- variable extraction -------------------------------------------------------------------


def test_variables_and_field_paths_are_extracted() -> None:
    rule = compile_rule(
        "record.tags.exists(t, t == 'vip') && record.amount > 10.0 && has(record.owner)"
        " && record['tier'] == 'A' && record.address.city == user.city",
        variables=["record", "user"],
    )
    assert rule.variables_used == {
        "record",
        "user",
        "record.tags",
        "record.amount",
        "record.owner",
        "record.tier",
        "record.address.city",
        "user.city",
    }
    assert rule.field_paths("record") == {
        "record.tags",
        "record.amount",
        "record.owner",
        "record.tier",
        "record.address.city",
    }
    assert rule.field_paths("user") == {"user.city"}
    assert rule.field_paths("other") == set()


def test_a_variable_read_as_a_whole_is_its_own_path() -> None:
    rule = compile_rule("size(record) > 2 && record[key] == 1", variables=["record", "key"])
    assert rule.field_paths("record") == {"record"}
    assert rule.field_paths("key") == {"key"}


# -- evaluation ----------------------------------------------------------------------------


def test_evaluation_and_boolean_evaluation() -> None:
    rule = compile_rule(
        "record.amount > 50000.0 && record.stage in ['proposal', 'negotiation']",
        variables=RECORD,
    )
    assert rule.evaluate_bool({"record": {"amount": 60000.0, "stage": "proposal"}}) is True
    assert rule.evaluate_bool({"record": {"amount": 60000.0, "stage": "won"}}) is False
    total = compile_rule("record.amount + 1.0", variables=RECORD)
    assert total.evaluate({"record": {"amount": 1.5}}) == 2.5
    with pytest.raises(RuleEvaluationError) as caught:
        total.evaluate_bool({"record": {"amount": 1.5}})
    assert caught.value.message == "the rule must give true or false, not a double"
    assert caught.value.column == 15


def test_python_values_are_converted_as_documented() -> None:
    rule = compile_rule("record.value", variables=RECORD)

    def value(python_value: Any) -> Any:
        return rule.evaluate({"record": {"value": python_value}})

    class Tier(enum.StrEnum):
        GOLD = "gold"

    class Level(enum.IntEnum):
        HIGH = 3

    identifier = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert value(Decimal("12.50")) == 12.5
    assert type(value(Decimal("12.50"))) is float
    assert value(dt.date(2024, 3, 1)) == "2024-03-01"
    assert value(dt.time(9, 30)) == "09:30:00"
    assert value(dt.datetime(2024, 3, 1, 9, 30)) == dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert value(dt.datetime(2024, 3, 1, 9, 30, tzinfo=shanghai)) == dt.datetime(
        2024, 3, 1, 1, 30, tzinfo=dt.UTC
    )
    assert value(dt.timedelta(hours=2)) == dt.timedelta(hours=2)
    assert value((1, "a")) == [1, "a"]
    assert value(Tier.GOLD) == "gold"
    assert value(Level.HIGH) == 3
    assert value(identifier) == str(identifier)
    assert value({"nested": [Decimal("1.5")]}) == {"nested": [1.5]}


def test_dates_compare_as_iso_strings_and_datetimes_as_timestamps() -> None:
    rule = compile_rule(
        "record.closes >= '2024-03-01' && "
        "record.seen < timestamp('2024-03-01T12:00:00Z') && "
        "record.seen.getHours() == 9",
        variables=RECORD,
    )
    activation = {"record": {"closes": dt.date(2024, 3, 2), "seen": dt.datetime(2024, 3, 1, 9, 30)}}
    assert rule.evaluate_bool(activation) is True


def test_only_the_fields_a_rule_reads_are_converted() -> None:
    # An unsupported value in a field the rule does not read is never looked at.
    rule = compile_rule("record.amount > 1.0", variables=RECORD)
    assert rule.evaluate_bool({"record": {"amount": 2.0, "attachments": {object()}}}) is True
    # has() sees the projection exactly as it would see the record.
    rule = compile_rule("has(record.owner)", variables=RECORD)
    assert rule.evaluate_bool({"record": {"amount": 2.0}}) is False
    assert rule.evaluate_bool({"record": {"owner": None}}) is True


def test_compiled_rules_are_cached() -> None:
    first = compile_rule("record.cached_field == 1", variables=["record"])
    again = compile_rule("record.cached_field == 1", variables=("record",))
    assert first is again
    other = compile_rule("record.cached_field == 1", variables=["record", "user"])
    assert other is not first


# -- runtime errors ------------------------------------------------------------------------


def test_a_missing_field_points_at_the_field_that_is_missing() -> None:
    error = failure("record.a == 1 && record.amount > 1", {"record": {"a": 1}})
    assert type(error) is RuleEvaluationError
    assert error.message == "'record.amount' is not set (test it with has(record.amount) first)"
    assert (error.line, error.column) == (1, 25)


def test_a_short_circuit_that_spares_a_missing_field_is_not_blamed() -> None:
    error = failure("has(record.x) && record.x > 1 ||\n record.y.z == 2", {"record": {"y": {}}})
    assert error.message == "'record.y.z' is not set (test it with has(record.y.z) first)"
    assert (error.line, error.column) == (2, 11)


def test_no_such_overload_names_the_operand_types() -> None:
    error = failure("record.a == 1 && record.amount > 'x'", {"record": {"a": 1, "amount": 2.5}})
    assert (error.message, error.column) == ("no such overload: double > string", 32)
    error = failure("record.name.startsWith(1)", {"record": {"name": "x"}})
    assert (error.message, error.column) == ("no such overload: string.startsWith(int)", 13)
    error = failure("record.a.b", {"record": {"a": 1}})
    assert (error.message, error.column) == ("cannot select field 'b' from an int", 10)
    error = failure("record.seen + record.seen", {"record": {"seen": dt.datetime(2024, 1, 1)}})
    assert error.message == "no such overload: timestamp + timestamp"


def test_arithmetic_errors() -> None:
    error = failure("1 + 2 / record.zero", {"record": {"zero": 0}})
    assert (error.message, error.column) == ("division by zero", 7)
    error = failure("record.big + 1", {"record": {"big": 2**63 - 1}})
    assert error.message.startswith("integer overflow (Arithmetic overflow in 'add'")
    assert error.column == 12


def test_function_errors_keep_the_reason() -> None:
    error = failure("record.name.matches('(')", {"record": {"name": "x"}})
    assert (error.message, error.column) == ("matches(): '(' not a valid regex: unclosed group", 13)
    error = failure("int(record.code) > 1", {"record": {"code": "x"}})
    assert error.message == "int(): string parse error: invalid digit found in string"


def test_a_variable_without_a_value() -> None:
    error = failure("size(record.tags) > user.limit", {"record": {"tags": []}, "user": {}})
    assert error.message == "'user.limit' is not set (test it with has(user.limit) first)"
    rule = compile_rule("record.x > 1 || user.y", variables=["record", "user"])
    with pytest.raises(RuleEvaluationError) as caught:
        rule.evaluate({"record": {"x": 2}})
    assert (caught.value.message, caught.value.column) == (
        "no value given for variable 'user'",
        17,
    )


def test_input_the_engine_cannot_take_is_refused_with_its_path() -> None:
    error = failure("record.big > 1", {"record": {"big": 2**70}})
    assert type(error) is RuleEvaluationError
    assert error.message == (
        "record.big: the integer 1180591620717411303424 is outside the signed 64-bit range"
    )
    assert error.column == 1
    error = failure("record.items.size() > 0", {"record": {"items": [1, {"a": {2, 3}}]}})
    assert error.message == "record.items[1].a: a value of type set is not supported"
    error = failure("size(record) > 0", {"record": {("a", 1): 2}})
    assert error.message == "record: a map key of type tuple is not supported"


def test_input_size_is_bounded() -> None:
    limits = InputLimits(max_depth=3, max_values=20, max_text_length=10)
    error = failure("record.tags.size() > 0", {"record": {"tags": list(range(30))}}, limits=limits)
    assert type(error) is RuleCostError
    assert error.message == "record.tags[18]: the input has more than 20 values"
    error = failure("record.name == 'x'", {"record": {"name": "x" * 11}}, limits=limits)
    assert error.message == "record.name: a text value is longer than 10"
    error = failure("record.a.b == 1", {"record": {"a": {"b": [[1]]}}}, limits=limits)
    assert error.message == "record.a.b: the input nests deeper than 3"


def test_errors_in_comprehensions_point_at_the_comprehension() -> None:
    error = failure("record.items.all(i, i.price > 0)", {"record": {"items": [{"qty": 1}]}})
    assert (error.message, error.column) == ("no such key: 'price'", 14)
    error = failure("record.items.all(i, i > 0)", {"record": {}})
    assert (error.message, error.column) == (
        "'record.items' is not set (test it with has(record.items) first)",
        8,
    )


# -- robustness ----------------------------------------------------------------------------

TOKENS = [
    "record",
    ".",
    "amount",
    "tags",
    "name",
    "x",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "?",
    "!",
    "-",
    "+",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    ">=",
    "&&",
    "||",
    " in ",
    "1",
    "2.5",
    "3u",
    "'a'",
    '"b"',
    "b'c'",
    "true",
    "null",
    "has",
    "size",
    "all",
    "exists",
    "map",
    "startsWith",
    "matches",
    "timestamp",
    "int",
    "type",
    " ",
    "\n",
    "Msg",
    "é",
    "//c\n",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join) | st.text(max_size=40))
def test_any_input_is_compiled_or_refused_never_crashes(source: str) -> None:
    try:
        rule = compile_rule(source, variables=["record", "x"])
    except RuleError as error:
        assert 0 <= error.offset <= len(source)
        return
    try:
        rule.evaluate({"record": {"amount": 2.5, "tags": ["a"], "name": "n"}, "x": 1})
    except RuleError as error:
        assert 0 <= error.offset <= len(source)
