"""RuleError positions: offset, line and column agree, and the pointer shows the line."""

from __future__ import annotations

from kindred.rules import RuleCostError, RuleEvaluationError, RuleSyntaxError, RuleTypeError
from kindred.rules.errors import RuleError


def test_a_position_given_as_offset_gives_line_and_column() -> None:
    error = RuleError("a &&\n  b > > 1", "bad", offset=11)
    assert (error.line, error.column, error.offset) == (2, 7, 11)
    assert error.pointer == "  b > > 1\n      ^"
    assert str(error) == "bad (line 2, column 7)"


def test_a_position_given_as_line_and_column_gives_the_offset() -> None:
    error = RuleError("a &&\n  b > > 1", "bad", line=2, column=7)
    assert error.offset == 11
    assert error.to_dict() == {
        "expression": "a &&\n  b > > 1",
        "message": "bad",
        "line": 2,
        "column": 7,
        "offset": 11,
        "pointer": "  b > > 1\n      ^",
    }


def test_positions_are_clamped_into_the_expression() -> None:
    assert RuleError("abc", "end", offset=99).offset == 3
    assert RuleError("abc", "start").offset == 0
    assert RuleError("abc", "line", line=5, column=2).offset == 1
    assert RuleError("abc", "column", line=1, column=40).offset == 3
    assert RuleError("", "empty").pointer == "\n^"


def test_the_error_kinds() -> None:
    assert issubclass(RuleTypeError, RuleSyntaxError)
    for kind in (RuleSyntaxError, RuleCostError, RuleEvaluationError):
        assert issubclass(kind, RuleError)
        assert not issubclass(kind, RuleTypeError)
