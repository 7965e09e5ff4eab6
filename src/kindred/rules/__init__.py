"""The rules sandbox: every business rule is a CEL expression, compiled and checked at save
time with errors that point at the position, bounded in cost, and compilable to SQL."""

from kindred.rules.compiler import CompiledRule, InputLimits, compile_rule
from kindred.rules.errors import (
    RuleCostError,
    RuleError,
    RuleEvaluationError,
    RuleSyntaxError,
    RuleTypeError,
)

__all__ = [
    "CompiledRule",
    "InputLimits",
    "RuleCostError",
    "RuleError",
    "RuleEvaluationError",
    "RuleSyntaxError",
    "RuleTypeError",
    "compile_rule",
]
