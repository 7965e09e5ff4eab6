"""The rules sandbox: every business rule is a CEL expression, compiled and checked at save
time with errors that point at the position, bounded in cost, and compilable to SQL."""

from kindred.rules.compiler import CompiledRule, compile_rule
from kindred.rules.errors import RuleCostError, RuleError, RuleEvaluationError, RuleSyntaxError

__all__ = [
    "CompiledRule",
    "RuleCostError",
    "RuleError",
    "RuleEvaluationError",
    "RuleSyntaxError",
    "compile_rule",
]
