"""Plain field paths ("reads.account.tax_id") are answered by walking the activation; the
answer must be exactly the CEL engine's, and everything else must still reach the engine."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindred.rules import RuleError, compile_rule

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=6,
)


def engine_only(source: str) -> Any:
    rule = compile_rule(source, variables=["r"])
    return dataclasses.replace(rule, _path=None)


def outcome(rule: Any, activation: dict[str, Any]) -> Any:
    try:
        value = rule.evaluate(activation)
    except RuleError as error:
        return ("error", type(error).__name__)
    if isinstance(value, float) and value != value:
        return ("nan",)
    return ("value", type(value).__name__, _comparable(value))


def _comparable(value: Any) -> Any:
    """NaN never equals itself: inside lists and maps it is compared as a marker."""
    if isinstance(value, float) and value != value:
        return "<nan>"
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    return value


@given(
    path=st.lists(st.sampled_from("abc"), min_size=1, max_size=3),
    data=st.dictionaries(st.sampled_from("abc"), VALUES, max_size=3),
)
def test_a_path_gives_exactly_what_the_engine_gives(path: list[str], data: dict[str, Any]) -> None:
    source = "r." + ".".join(path)
    fast = compile_rule(source, variables=["r"])
    assert fast._path == ("r", *path)
    assert outcome(fast, {"r": data}) == outcome(engine_only(source), {"r": data})


@pytest.mark.parametrize(
    "source", ["r.a + 1", "r.a == 1", "size(r.a)", "r['a']", "r.a.b > 0", " r .a"]
)
def test_anything_but_a_plain_path_goes_to_the_engine(source: str) -> None:
    try:
        rule = compile_rule(source, variables=["r"])
    except RuleError:
        return
    assert rule._path is None or source.strip().replace(" ", "") == "r.a"


def test_a_missing_field_is_the_engines_error() -> None:
    rule = compile_rule("r.a.b", variables=["r"])
    with pytest.raises(RuleError) as caught:
        rule.evaluate({"r": {"a": {}}})
    assert "b" in caught.value.message
