"""The CEL spec's conformance vectors, run through compile_rule/evaluate.

The vectors are read from the shared folder, never copied. Every runnable case of the files
below is run; the failures must be exactly the known ones listed here with their reasons, so
a regression fails the test, and so does a known failure that starts passing (update the list:
the engine improved).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rules.conformance import passes, read_cases

FILES = [
    "basic",
    "comparisons",
    "conversions",
    "fp_math",
    "integer_math",
    "lists",
    "logic",
    "macros",
    "parse",
    "plumbing",
    "string",
    "timestamps",
]
RUNNABLE = 1054
PASSED = 951


def _cases(prefix: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{prefix}/{name}" for name in names)


# Why each known case fails. "By design" cases are refused on purpose; "engine" cases are
# differences of the Rust engine from the specification, which Kindred inherits.
KNOWN_FAILURES: dict[str, tuple[str, ...]] = {
    # By design: an undeclared variable or function is refused when the rule is saved; the
    # spec expects a run-time error that "|| true" then absorbs.
    "undeclared names are refused at compile time": (
        "basic/variables/unbound_is_runtime_error",
        "basic/functions/unbound_is_runtime_error",
        *_cases(
            "parse/receiver_function_names",
            "as",
            "break",
            "const",
            "continue",
            "else",
            "for",
            "function",
            "if",
            "import",
            "let",
            "loop",
            "package",
            "namespace",
            "return",
            "var",
            "void",
            "while",
        ),
    ),
    # By design: rules have no protobuf message types, so message construction is refused.
    "protobuf messages and wrapper types": (
        "comparisons/eq_literal/eq_dyn_json_null",
        *_cases(
            "comparisons/eq_wrapper",
            *(
                f"eq_{kind}{suffix}"
                for kind in (
                    "bool",
                    "bytes",
                    "double",
                    "float",
                    "int32",
                    "int64",
                    "string",
                    "uint32",
                    "uint64",
                )
                for suffix in ("", "_empty", "_not_null")
            ),
        ),
        *_cases("parse/whitespace", "spaces", "tabs", "new_lines", "new_pages", "carriage_returns"),
        "parse/comments/new_line_terminated",
        "timestamps/timestamp_conversions/type_comparison",
        "timestamps/duration_conversions/type_comparison",
    ),
    # By design: the engine's accessors take no time zone; refused at compile time.
    "time zone arguments of timestamp accessors": _cases(
        "timestamps/timestamp_selectors_tz",
        "getDate",
        "getDayOfMonth_name_pos",
        "getDayOfMonth_numerical_pos",
        "getDayOfMonth_numerical_neg",
        "getDayOfMonth_name_neg",
        "getDayOfWeek",
        "getDayOfYear",
        "getFullYear",
        "getHours",
        "getMinutes",
        "getMonth",
        "getSeconds",
    ),
    "engine: no bool() conversion": (
        *_cases(
            "conversions/bool",
            *(
                f"string_{value}"
                for value in (
                    "1",
                    "t",
                    "true_lowercase",
                    "true_uppercase",
                    "true_pascalcase",
                    "0",
                    "f",
                    "false_lowercase",
                    "false_uppercase",
                    "false_pascalcase",
                )
            ),
        ),
        "conversions/identity/bool",
    ),
    "engine: no int <-> timestamp conversions": (
        "comparisons/eq_literal/not_eq_dyn_timestamp_null",
        "conversions/int/timestamp",
        "conversions/identity/timestamp",
        "timestamps/timestamp_conversions/toInt_timestamp",
    ),
    "engine: string() of timestamps and durations uses another format": (
        "timestamps/timestamp_conversions/toString_timestamp",
        "timestamps/timestamp_conversions/toString_timestamp_nanos",
        "timestamps/duration_conversions/toString_duration",
    ),
    "engine: timestamp and duration range checks are missing": (
        "timestamps/timestamp_range/sub_time_duration_over",
        "timestamps/timestamp_range/sub_time_duration_under",
        *_cases(
            "timestamps/duration_range",
            "from_string_under",
            "from_string_over",
            "add_under",
            "add_over",
            "sub_under",
            "sub_over",
        ),
    ),
    "engine: duration + timestamp (the operands swapped) has no overload": (
        "timestamps/timestamp_arithmetic/add_time_to_duration",
    ),
    "engine: getMilliseconds() of a duration gives the total, not the component": (
        "timestamps/duration_converters/get_milliseconds",
    ),
    "engine: size() of a string counts UTF-8 bytes, not code points": (
        "string/size/one_unicode",
        "string/size/unicode",
    ),
    "engine: all() does not absorb an element's error when another element is false": (
        "macros/all/list_elem_error_shortcircuit",
    ),
    "engine: -false is accepted, -(-2^63) does not overflow": (
        "integer_math/int64_math/unary_minus_not_bool",
        "integer_math/int64_math/int64_min_negate",
    ),
    "engine: string() accepts bytes that are not UTF-8": ("conversions/string/bytes_invalid",),
    "engine: map keys of different numeric types are not equal": (
        "comparisons/eq_literal/eq_map_mixed_type_numbers",
    ),
    "engine: a list index must be an int (the spec allows an integral double)": (
        "lists/index/zero_based_double",
    ),
}


@pytest.fixture(scope="module")
def vectors(shared_dir: Path) -> Path:
    return shared_dir / "vectors" / "cel-spec" / "tests" / "simple" / "testdata"


def test_cel_conformance_vectors(vectors: Path) -> None:
    known = {case for cases in KNOWN_FAILURES.values() for case in cases}
    runnable = failed = 0
    failures: set[str] = set()
    for name in FILES:
        cases, _not_runnable = read_cases(vectors / f"{name}.textproto")
        runnable += len(cases)
        for case in cases:
            if not passes(case):
                failed += 1
                failures.add(case.identifier)
    assert sorted(failures - known) == [], "conformance regressions"
    assert sorted(known - failures) == [], "known failures that now pass: update the list"
    assert (runnable, runnable - failed) == (RUNNABLE, PASSED)
    assert PASSED / RUNNABLE > 0.90


def test_the_reader_understands_bindings_and_expected_errors(vectors: Path) -> None:
    cases, not_runnable = read_cases(vectors / "basic.textproto")
    by_name = {case.identifier: case for case in cases}
    bound = by_name["basic/variables/self_eval_bound_lookup"]
    assert (bound.expression, bound.variables, bound.bindings, bound.expected) == (
        "x",
        ("x",),
        {"x": 123},
        123,
    )
    escaped = by_name["basic/self_eval_nonzeroish/self_eval_string_escape"]
    assert (escaped.expression, escaped.expected) == ("'\\''", "'")
    assert not_runnable == []
