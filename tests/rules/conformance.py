"""Runs the CEL spec's "simple" conformance cases through ``compile_rule``/``evaluate``.

A case is *runnable* here when it needs nothing Kindred's rules do not have: no protobuf
message values or types, no custom functions, no name-resolution container, no disabled
macros or check-only runs, no partial-evaluation (unknown) results. Runnable cases are run
and either pass or fail; the test pins the exact set of failures.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kindred.rules import RuleCostError, RuleError, compile_rule
from tests.rules.textproto import Message, Scalar, parse


class NotRunnable(Exception):
    """The case needs something the rules sandbox deliberately does not have."""


@dataclass(frozen=True)
class TypeName:
    """A CEL type value (``type(1)`` is ``int``); the engine returns it as its name."""

    name: str


ERROR = object()  # the case expects an evaluation error
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Case:
    identifier: str  # file/section/name
    expression: str
    variables: tuple[str, ...]
    bindings: dict[str, Any]
    expected: Any  # a value, or ERROR


def read_cases(path: Path) -> tuple[list[Case], list[str]]:
    """(runnable cases, identifiers of cases that are not runnable here)."""
    document = parse(path.read_text(encoding="utf-8"))
    runnable: list[Case] = []
    skipped: list[str] = []
    for section in document.get("section", []):
        for test in section.get("test", []):
            identifier = f"{path.stem}/{_string(section['name'][0])}/{_string(test['name'][0])}"
            try:
                runnable.append(_case(identifier, test))
            except NotRunnable:
                skipped.append(identifier)
    return runnable, skipped


def _case(identifier: str, test: Message) -> Case:
    for unsupported in ("disable_macros", "check_only", "unknown", "any_unknowns"):
        if unsupported in test and _text(test[unsupported][0]) != "false":
            raise NotRunnable(unsupported)
    if test.get("container") and _string(test["container"][0]):
        raise NotRunnable("container")
    declared: list[str] = []
    for declaration in test.get("type_env", []):
        if "function" in declaration:
            raise NotRunnable("custom function")
        declared.append(_string(declaration["name"][0]))
    bindings: dict[str, Any] = {}
    for entry in test.get("bindings", []):
        name = _string(entry["key"][0])
        bindings[name] = _value(entry["value"][0]["value"][0])
        declared.append(name)
    if "eval_error" in test or "any_eval_errors" in test:
        expected: Any = ERROR
    elif "value" in test:
        expected = _value(test["value"][0])
    elif "typed_result" in test:
        expected = _value(test["typed_result"][0]["result"][0])
    else:
        expected = True  # the schema's default matcher
    return Case(
        identifier, _string(test["expr"][0]), tuple(dict.fromkeys(declared)), bindings, expected
    )


def _text(scalar: Scalar | Message) -> str:
    if not isinstance(scalar, Scalar) or scalar.text is None:
        raise NotRunnable("unexpected shape")
    return scalar.text


def _string(scalar: Scalar | Message) -> str:
    if not isinstance(scalar, Scalar) or scalar.data is None:
        raise NotRunnable("unexpected shape")
    try:
        return scalar.data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotRunnable("a string that is not UTF-8") from None


def _value(value: Message) -> Any:
    """A ``cel.expr.Value`` message as the Python value the engine returns for it."""
    if not value:
        raise NotRunnable("empty value")
    ((kind, (content,)),) = value.items()
    match kind:
        case "null_value":
            return None
        case "bool_value":
            return _text(content) == "true"
        case "int64_value" | "uint64_value":
            return int(_text(content))
        case "double_value":
            return float(_text(content))
        case "string_value":
            return _string(content)
        case "bytes_value":
            assert isinstance(content, Scalar) and content.data is not None
            return content.data
        case "type_value":
            return TypeName(_string(content))
        case "list_value":
            return [_value(item) for item in content.get("values", [])]
        case "map_value":
            return {
                _value(entry["key"][0]): _value(entry["value"][0])
                for entry in content.get("entries", [])
            }
        case "object_value":
            return _well_known(content)
    raise NotRunnable(kind)


def _well_known(any_value: Message) -> Any:
    """Timestamps and durations, the only message values rules have."""
    ((type_url, (message,)),) = any_value.items()
    seconds = int(_text(message["seconds"][0])) if "seconds" in message else 0
    nanos = int(_text(message["nanos"][0])) if "nanos" in message else 0
    # Python keeps microseconds; the engine truncates nanoseconds the same way.
    delta = dt.timedelta(seconds=seconds, microseconds=nanos // 1000)
    if type_url.endswith("google.protobuf.Timestamp]"):
        return EPOCH + delta
    if type_url.endswith("google.protobuf.Duration]"):
        return delta
    raise NotRunnable(type_url)


def same(actual: Any, expected: Any) -> bool:
    """Equality as the conformance suite defines it: exact types, NaN equals NaN, maps
    unordered."""
    if isinstance(expected, TypeName):
        return isinstance(actual, str) and actual == expected.name
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, float) and math.isnan(expected):
        return math.isnan(actual)
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(map(same, actual, expected))
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            same(actual[key], expected[key]) for key in expected
        )
    return bool(actual == expected)


def passes(case: Case) -> bool:
    try:
        rule = compile_rule(case.expression, variables=case.variables)
        result = rule.evaluate(case.bindings)
    except RuleCostError:
        return False
    except RuleError:
        # Refused when compiled or failed when evaluated: both are the error CEL expects.
        return case.expected is ERROR
    return case.expected is not ERROR and same(result, case.expected)
