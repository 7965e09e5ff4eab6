"""Errors of the rules sandbox. Every error points at a position in the expression.

A position is kept three ways because its readers differ: people read ``line``/``column``
(1-based, counted in characters, as the CEL parser reports them), programs slice with
``offset`` (0-based character offset), and the API shows ``pointer``, the offending line with a
caret under the column, like the ``cel`` command-line tool does.
"""

from __future__ import annotations

from typing import Any


class RuleError(Exception):
    """A CEL expression could not be compiled, checked or evaluated.

    Give the position either as ``offset`` or as ``line``/``column``; the other form is
    derived. Without either, the error points at the start of the expression.
    """

    def __init__(
        self,
        expression: str,
        message: str,
        *,
        offset: int | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        if offset is None:
            offset = offset_of(expression, line or 1, column or 1)
        offset = min(max(offset, 0), len(expression))
        self.expression = expression
        self.message = message
        self.offset = offset
        self.line, self.column = line_and_column(expression, offset)
        super().__init__(f"{message} (line {self.line}, column {self.column})")

    @property
    def pointer(self) -> str:
        lines = expression_lines(self.expression)
        return f"{lines[self.line - 1]}\n{' ' * (self.column - 1)}^"

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "offset": self.offset,
            "pointer": self.pointer,
        }


class RuleSyntaxError(RuleError):
    """The expression is not valid here: a parse error, an unknown variable, field or function,
    or a construct the context does not allow (e.g. a comprehension in a SQL filter)."""


class RuleTypeError(RuleSyntaxError):
    """A type error found before evaluation: a rule that cannot give true or false, a field
    compared with a value of another type. A kind of syntax error, so callers that only tell
    "refused when saved" from "failed when run" need not know it."""


class RuleCostError(RuleError):
    """The expression, or one evaluation of it on given input, is too long, too deeply nested,
    too costly, or its input is too large."""


class RuleEvaluationError(RuleError):
    """Evaluation failed: no such overload, a missing field, division by zero, a result of the
    wrong type, or input the engine cannot represent."""


def expression_lines(expression: str) -> list[str]:
    # Only "\n" ends a line: it is what the CEL parser counts, and a "\r" before it stays
    # part of the line (invisible under the caret).
    return expression.split("\n")


def line_and_column(expression: str, offset: int) -> tuple[int, int]:
    line = expression.count("\n", 0, offset) + 1
    column = offset - (expression.rfind("\n", 0, offset) + 1) + 1
    return line, column


def offset_of(expression: str, line: int, column: int) -> int:
    lines = expression_lines(expression)
    line = min(max(line, 1), len(lines))
    before = sum(len(text) + 1 for text in lines[: line - 1])
    return before + min(max(column, 1), len(lines[line - 1]) + 1) - 1
