"""The fast evaluator never disagrees with the CEL engine: for every rule and input it either
gives the engine's exact answer or says it is unsure (and the engine answers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindred.rules import RuleError, compile_rule
from kindred.rules.compiler import share
from kindred.rules.fast import Unsure, compile_predicate, equality_keys, index_key

FIELDS = ["a", "b", "c", "missing"]

scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, -1, 2**53, 2**53 + 1, -(2**53) - 1, 5]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, -0.0, 1.5, 2.0**53, 2.0**60, float("nan")]),
    st.text(max_size=3),
    st.sampled_from(["x", "y", ""]),
    st.booleans(),
    st.none(),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=2),
    st.dictionaries(st.text(max_size=1), scalars, max_size=2),
)


def literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "1.5"
        text = repr(value)
        return text if ("." in text or "e" in text) else text + ".0"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


literals = st.one_of(
    st.sampled_from([0, 1, -1, 5, 2**53, 2**53 + 1, 1.0, 1.5, -0.0, 2.0**60, "x", "", True, None]),
    st.integers(min_value=-(2**62), max_value=2**62),
).map(literal)
paths = st.sampled_from(["e.a", "e.b", "e.c", "e.missing", "e.d.a", "e.d.z", "e"])
operators = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    shape = draw(st.integers(0, 4))
    if shape == 0:
        return f"{draw(paths)} {draw(operators)} {draw(literals)}"
    if shape == 1:
        return f"{draw(literals)} {draw(operators)} {draw(paths)}"
    if shape == 2:
        return f"{draw(paths)} {draw(operators)} {draw(paths)}"
    if shape == 3:
        items = draw(st.lists(literals, min_size=1, max_size=3))
        return f"{draw(paths)} in [{', '.join(items)}]"
    return draw(st.sampled_from(["e.a", "e.d.a", "true", "false"]))


def expressions() -> st.SearchStrategy[str]:
    leaf = comparisons()
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda e: f"!({e})"),
        ),
        max_leaves=4,
    )


activations = st.fixed_dictionaries(
    {
        "a": values,
        "b": scalars,
        "c": scalars,
        "d": st.one_of(st.fixed_dictionaries({"a": scalars}), scalars),
    }
)


def engine_answer(rule: Any, activation: dict[str, Any]) -> tuple[str, Any]:
    shared = share({"e": activation})
    try:
        return "value", rule.evaluate(
            {"e": activation}
        ) if shared is None else rule.evaluate_shared(shared, {"e": activation})
    except RuleError:
        return "error", None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=expressions(), activation=activations)
def test_fast_answers_are_the_engines_answers(source: str, activation: dict[str, Any]) -> None:
    try:
        rule = compile_rule(source, variables=["e"])
    except RuleError:
        return  # not a valid rule (e.g. a type clash the checker sees statically)
    predicate = compile_predicate(rule._tree)
    if predicate is None:
        return
    shared = share({"e": activation})
    if shared is None:
        return
    try:
        fast = predicate(shared.prepared)
    except Unsure:
        return
    kind, value = engine_answer(rule, activation)
    assert (kind, value) == ("value", fast), (source, activation)


def test_the_common_shapes_are_compiled_and_answered() -> None:
    # The rule shapes scenarios are made of must take the fast path, or it buys nothing.
    event = {"data": {"severity": "major", "site": "plant-3", "total": 120.5, "n": 3}}
    sure = {
        "event.data.severity in ['major', 'critical']": True,
        "event.data.site == 'plant-4'": False,
        "event.data.total > 100": True,  # a double against an int literal
        "event.data.n <= 2.5": False,
        "event.data.severity != 'minor' && event.data.n >= -1": True,
        "!(event.data.site == 'plant-3') || event.data.total < 0.0": False,
    }
    shared = share({"event": event})
    assert shared is not None
    for source, expected in sure.items():
        rule = compile_rule(source, variables=["event"], expect="bool")
        predicate = compile_predicate(rule._tree)
        assert predicate is not None, source
        assert predicate(shared.prepared) is expected, source
        assert rule.evaluate({"event": event}) is expected, source


@pytest.mark.parametrize(
    "source",
    [
        "event.data.missing == 'x'",  # the engine fails: no such key
        "event.data.site < 3",  # no overload for string < int
        "event.data.big == 9007199254740993.0",  # beyond 2**53
        "event.data.flag",  # not a bool
    ],
)
def test_unsure_where_the_engine_fails_or_differs(source: str) -> None:
    event = {"data": {"site": "plant-3", "big": 2**53 + 1, "flag": "yes"}}
    shared = share({"event": event})
    assert shared is not None
    rule = compile_rule(source, variables=["event"])
    predicate = compile_predicate(rule._tree)
    assert predicate is not None
    with pytest.raises(Unsure):
        predicate(shared.prepared)


def test_a_decisive_operand_decides_despite_an_unsure_one() -> None:
    # CEL: false && error is false, error || true is true — on either side.
    shared = share({"event": {"data": {"n": 1}}})
    assert shared is not None
    for source, expected in {
        "event.data.missing == 1 && event.data.n == 2": False,
        "event.data.n == 1 || event.data.missing == 1": True,
    }.items():
        rule = compile_rule(source, variables=["event"])
        predicate = compile_predicate(rule._tree)
        assert predicate is not None
        assert predicate(shared.prepared) is expected
        assert rule.evaluate({"event": {"data": {"n": 1}}}) is expected


def test_outside_the_subset_nothing_is_compiled() -> None:
    for source in [
        "size(event.data) > 2",
        "event.data.tags.exists(t, t == 'x')",
        "event.data.n + 1 > 2",
    ]:
        rule = compile_rule(source, variables=["event"])
        assert compile_predicate(rule._tree) is None, source


def test_index_keys_follow_cel_equality() -> None:
    assert index_key(1) == index_key(1.0)  # 1 == 1.0 in CEL
    assert index_key(True) != index_key(1)  # true != 1 in CEL, unlike Python
    assert index_key(2**53 + 1) is None and index_key(float("nan")) is None
    rule = compile_rule(
        "event.data.site == 'plant-3' && event.data.level in [1, 2] && event.data.n > 3",
        variables=["event"],
    )
    assert equality_keys(rule._tree) == [
        (("event", "data", "site"), frozenset([("s", "plant-3")])),
        (("event", "data", "level"), frozenset([("#", 1), ("#", 2)])),
    ]
