"""Compile, check, bound and evaluate CEL expressions.

The Rust ``cel`` engine (package ``common-expression-language``) evaluates; the pure-Python
``celpy`` parser gives the parse tree used for static checks: which variables and fields an
expression reads (the change-impact graph uses this), and a cost bound.

Cost model (documented in docs/rules.md): every node of the parse tree costs 1; the body of a
comprehension macro (``all``, ``exists``, ``exists_one``, ``map``, ``filter``) costs
``COMPREHENSION_FACTOR`` times its size per nesting level, because it runs once per element.
More than ``MAX_COMPREHENSION_DEPTH`` nested comprehensions are refused outright.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

import cel
from celpy.celparser import CELParseError, CELParser
from lark import Token, Tree

from kindred.rules.errors import (
    RuleCostError,
    RuleEvaluationError,
    RuleSyntaxError,
)

COMPREHENSION_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
COMPREHENSION_FACTOR = 10
MAX_COMPREHENSION_DEPTH = 2
DEFAULT_MAX_COST = 5_000
DEFAULT_MAX_LENGTH = 4_096
_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")
_parser = CELParser()


def parse_tree(source: str) -> Tree[Any]:
    """The celpy parse tree, or RuleSyntaxError with the parser's position."""
    try:
        return _parser.parse(source)
    except CELParseError as error:
        line, column = getattr(error, "line", 1) or 1, getattr(error, "column", 1) or 1
        raise RuleSyntaxError(
            source,
            f"syntax error: {error.args[0] if error.args else error}",
            line=line,
            column=column,
        ) from None


def syntax_check(source: str) -> cel.Program:
    """Compile with the evaluating engine; its message and position are the most precise."""
    try:
        return cel.compile(source)
    except (ValueError, RuntimeError, TypeError) as error:
        text = str(error)
        match = _POSITION.search(text)
        if match:
            message = match.group(3).split("\n")[0].strip()
            raise RuleSyntaxError(
                source, message, line=int(match.group(1)), column=int(match.group(2))
            ) from None
        raise RuleSyntaxError(source, text.split("\n")[0]) from None


def position(node: Tree[Any] | Token) -> tuple[int, int]:
    if isinstance(node, Token):
        return (node.line or 1, node.column or 1)
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return (meta.line, meta.column)
    for child in node.children:
        if isinstance(child, Tree | Token):
            line, column = position(child)
            if line:
                return line, column
    return (1, 1)


@dataclass
class _Analysis:
    variables: dict[str, tuple[int, int]] = field(default_factory=dict)  # first occurrence
    paths: set[str] = field(default_factory=set)
    cost: int = 0
    max_depth: int = 0


def dotted_path(node: Tree[Any]) -> list[str] | None:
    """``record.a.b`` as ["record", "a", "b"], or None if the node is not a plain path."""
    if node.data == "ident":
        return [str(node.children[0])]
    if node.data == "member_dot":
        base = _unwrap(node.children[0])
        prefix = dotted_path(base) if isinstance(base, Tree) else None
        return None if prefix is None else [*prefix, str(node.children[1])]
    return None


PASS_THROUGH = frozenset(
    {
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
        "primary",
    }
)


def _unwrap(node: Any) -> Any:
    while isinstance(node, Tree) and node.data in PASS_THROUGH and len(node.children) == 1:
        node = node.children[0]
    return node


def _analyse(node: Any, bound: frozenset[str], depth: int, result: _Analysis) -> int:
    """Walk the tree; return the cost of this subtree."""
    node = _unwrap(node)
    if isinstance(node, Token):
        return 0
    result.max_depth = max(result.max_depth, depth)
    path = dotted_path(node)
    if path is not None:
        name = path[0]
        if name not in bound and name not in result.variables:
            result.variables[name] = position(node)
        if name not in bound:
            result.paths.add(".".join(path))
        return len(path)
    if node.data == "member_dot_arg":
        method = str(node.children[1])
        if method in COMPREHENSION_MACROS and len(node.children) > 2:
            arguments = [_unwrap(a) for a in node.children[2].children]
            target = _analyse(node.children[0], bound, depth, result)
            variable = arguments[0]
            name = str(variable.children[0]) if isinstance(variable, Tree) else ""
            body = sum(_analyse(a, bound | {name}, depth + 1, result) for a in arguments[1:])
            return 1 + target + body * COMPREHENSION_FACTOR
    if node.data == "ident_arg" and str(node.children[0]) == "has":
        arguments = node.children[1].children if len(node.children) > 1 else []
        return 1 + sum(_analyse(a, bound, depth, result) for a in arguments)
    return 1 + sum(_analyse(c, bound, depth, result) for c in node.children)


def analyse(source: str) -> _Analysis:
    result = _Analysis()
    result.cost = _analyse(parse_tree(source), frozenset(), 0, result)
    return result


def _to_cel(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _to_cel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_cel(v) for v in value]
    return value


def _needs_conversion(value: Any) -> bool:
    if isinstance(value, Decimal | dt.date | tuple):
        return True
    if isinstance(value, Mapping):
        return any(_needs_conversion(v) for v in value.values())
    if isinstance(value, list):
        return any(_needs_conversion(v) for v in value)
    return False


@dataclass(frozen=True)
class CompiledRule:
    """A checked CEL expression, ready to evaluate many times."""

    source: str
    variables_used: frozenset[str]
    paths: frozenset[str]
    cost: int
    program: Any = field(repr=False, compare=False)

    def field_paths(self, root: str) -> set[str]:
        """Dotted paths under ``root`` the expression reads, e.g. {"amount", "tier"}."""
        prefix = root + "."
        return {p[len(prefix) :] for p in self.paths if p.startswith(prefix)}

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        context = _to_cel(activation) if _needs_conversion(activation) else dict(activation)
        try:
            return self.program.execute(context)
        except KeyError as error:
            raise RuleEvaluationError(
                self.source, f"no value for {error.args[0]!r} (use has() for optional fields)"
            ) from None
        except Exception as error:  # the engine raises several kinds; all mean "failed"
            message = str(error).split("\n")[0]
            if "No such key" in message or "Undefined variable" in message:
                message = f"a value the rule reads is missing: {message}"
            raise RuleEvaluationError(self.source, message) from None

    def evaluate_bool(self, activation: Mapping[str, Any]) -> bool:
        result = self.evaluate(activation)
        if not isinstance(result, bool):
            raise RuleEvaluationError(
                self.source, f"the rule must give true or false, not {type(result).__name__}"
            )
        return result


def compile_rule(
    source: str,
    *,
    variables: Collection[str],
    max_length: int = DEFAULT_MAX_LENGTH,
    max_cost: int = DEFAULT_MAX_COST,
    expect: Literal["bool", "any"] = "any",
) -> CompiledRule:
    """Compile and check ``source``; raise a RuleError that points at the problem."""
    return _compile(source, frozenset(variables), max_length, max_cost, expect)


@lru_cache(maxsize=4096)
def _compile(
    source: str, variables: frozenset[str], max_length: int, max_cost: int, expect: str
) -> CompiledRule:
    if not source.strip():
        raise RuleSyntaxError(source, "the expression is empty")
    if len(source) > max_length:
        line = source.count("\n", 0, max_length) + 1
        column = max_length - (source.rfind("\n", 0, max_length) + 1) + 1
        raise RuleCostError(
            source,
            f"the expression is longer than {max_length} characters",
            line=line,
            column=column,
        )
    program = syntax_check(source)
    analysis = analyse(source)
    for name, (line, column) in analysis.variables.items():
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise RuleSyntaxError(
                source, f"unknown variable '{name}' (available: {known})", line=line, column=column
            )
    if analysis.max_depth > MAX_COMPREHENSION_DEPTH:
        raise RuleCostError(
            source, f"comprehensions nest deeper than {MAX_COMPREHENSION_DEPTH} levels"
        )
    if analysis.cost > max_cost:
        raise RuleCostError(
            source,
            f"the expression is too costly to evaluate (cost {analysis.cost}, "
            f"limit {max_cost}); simplify it or avoid nested comprehensions",
        )
    if expect == "bool":
        tree = _unwrap(parse_tree(source))
        if isinstance(tree, Tree) and tree.data == "literal":
            token = tree.children[0]
            if isinstance(token, Token) and token.type != "BOOL_LIT":
                raise RuleSyntaxError(source, "the expression must give true or false")
    return CompiledRule(
        source=source,
        variables_used=frozenset(analysis.variables),
        paths=frozenset(analysis.paths),
        cost=analysis.cost,
        program=program,
    )
