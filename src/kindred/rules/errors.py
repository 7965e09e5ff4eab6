"""Errors of the rules sandbox. Every error points at a position in the expression."""

from __future__ import annotations

from typing import Any


class RuleError(Exception):
    """A CEL expression could not be compiled or evaluated.

    ``line`` and ``column`` are 1-based; ``offset`` is the 0-based character offset.
    """

    def __init__(self, expression: str, message: str, *, line: int = 1, column: int = 1) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.expression = expression
        self.message = message
        self.line = max(line, 1)
        self.column = max(column, 1)
        self.offset = _offset(expression, self.line, self.column)

    @property
    def pointer(self) -> str:
        lines = self.expression.splitlines() or [""]
        source = lines[min(self.line, len(lines)) - 1]
        return f"{source}\n{' ' * (self.column - 1)}^"

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
    """Parse errors, unknown variables or fields, and constructs a context does not allow."""


class RuleCostError(RuleError):
    """The expression is too long, too deep or too expensive to evaluate."""


class RuleEvaluationError(RuleError):
    """Evaluation failed (no such overload, missing field, wrong result type)."""


def _offset(expression: str, line: int, column: int) -> int:
    lines = expression.split("\n")
    before = sum(len(text) + 1 for text in lines[: line - 1])
    return min(before + column - 1, len(expression))
