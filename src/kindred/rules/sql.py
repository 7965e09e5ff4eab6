"""Compile a filter subset of CEL to a SQLAlchemy boolean expression.

Used for API ``where=`` filters and (later) backtests of rule changes over history, so a
filter runs inside the database, over indexes, instead of evaluating CEL row by row.

Supported: literals (int, double, string, bool, null, lists), field paths under the root
variable, ``== != < <= > >=``, ``&& || !``, parentheses, ``x in [...]``, ``"v" in
record.list_field``, ``startsWith`` / ``endsWith`` / ``contains`` on text, ``has(field)``,
``size(text)``, ``timestamp("…")``, arithmetic ``+ - * /`` on numbers and ``c ? a : b``.
Anything else is refused with its position.

Null semantics (the one difference from CEL evaluation): a comparison with a missing field is
false, and so is its negation (SQL three-valued logic); CEL would raise an error for the
missing field instead, which a filter also treats as "not matched".
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

import sqlalchemy as sa
from lark import Token, Tree
from sqlalchemy.sql.elements import ColumnElement

from kindred.rules.compiler import (
    COMPREHENSION_MACROS,
    _unwrap,
    dotted_path,
    parse_tree,
    position,
    syntax_check,
)
from kindred.rules.errors import RuleSyntaxError

Kind = Literal["text", "number", "integer", "boolean", "date", "datetime", "list"]


@dataclass(frozen=True)
class FieldRef:
    """How one field looks in SQL.

    ``normalize`` turns a literal into the stored representation (e.g. a date-time literal
    into the canonical fixed-width string) and raises ValueError if it cannot. ``contains``
    builds "list field holds this element" for ``kind == "list"``.
    """

    expression: ColumnElement[Any]
    kind: Kind
    normalize: Callable[[Any], Any] | None = None
    contains: Callable[[Any], ColumnElement[bool]] | None = None


Resolver = Callable[[tuple[str, ...]], FieldRef | None]


@dataclass
class _Value:
    sql: Any  # ColumnElement or a Python literal
    kind: str  # a Kind, or "literal:<type>", or "bool_expr"
    field: FieldRef | None = None

    @property
    def is_literal(self) -> bool:
        return self.kind.startswith("literal")


COMPARISONS = {
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
}
ARITHMETIC = {
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
}


class _Compiler:
    def __init__(self, source: str, resolve: Resolver, root: str) -> None:
        self.source = source
        self.resolve = resolve
        self.root = root

    def fail(self, node: Any, message: str) -> RuleSyntaxError:
        line, column = position(node)
        return RuleSyntaxError(self.source, message, line=line, column=column)

    def boolean(self, node: Any) -> ColumnElement[bool]:
        value = self.value(node)
        if value.kind == "bool_expr":
            return value.sql
        if value.kind == "boolean":
            return value.sql == sa.true()
        if value.kind == "literal:bool":
            return sa.true() if value.sql else sa.false()
        raise self.fail(node, "this filter must give true or false")

    def value(self, node: Any) -> _Value:
        node = _unwrap(node)
        if isinstance(node, Token):
            raise self.fail(node, f"not supported in filters: {node.value}")
        kind = node.data
        if kind == "paren_expr":
            return self.value(node.children[0])
        path = dotted_path(node)
        if path is not None:
            return self.field(node, path)
        if kind == "literal":
            return self.literal(node)
        if kind == "list_lit":
            items = [self.value(c) for c in (node.children[0].children if node.children else [])]
            if not all(i.is_literal for i in items):
                raise self.fail(node, "list literals in filters may only hold constants")
            return _Value([i.sql for i in items], "literal:list")
        if kind == "conditionalor":
            return _Value(
                sa.or_(self.boolean(node.children[0]), self.boolean(node.children[1])), "bool_expr"
            )
        if kind == "conditionaland":
            return _Value(
                sa.and_(self.boolean(node.children[0]), self.boolean(node.children[1])), "bool_expr"
            )
        if kind == "unary":
            operator = _unwrap(node.children[0])
            if isinstance(operator, Tree) and operator.data == "unary_not":
                return _Value(sa.not_(self.boolean(node.children[1])), "bool_expr")
            if isinstance(operator, Tree) and operator.data == "unary_neg":
                operand = self.value(node.children[1])
                if operand.kind in ("literal:int", "literal:float"):
                    return _Value(-operand.sql, operand.kind)
                if operand.kind in ("number", "integer"):
                    return _Value(-operand.sql, operand.kind)
                raise self.fail(node, "'-' applies to numbers")
        if kind == "relation":
            return self.relation(node)
        if kind in ("addition", "multiplication"):
            return self.arithmetic(node)
        if kind == "member_dot_arg":
            return self.method(node)
        if kind == "ident_arg":
            return self.function(node)
        if kind == "expr" and len(node.children) == 3:
            condition = self.boolean(node.children[0])
            then, otherwise = self.value(node.children[1]), self.value(node.children[2])
            result_kind = then.kind if not then.is_literal else otherwise.kind
            result_kind = {
                "literal:str": "text",
                "literal:int": "number",
                "literal:float": "number",
                "literal:bool": "boolean",
            }.get(result_kind, result_kind)
            return _Value(sa.case((condition, then.sql), else_=otherwise.sql), result_kind)
        raise self.fail(node, f"not supported in filters: {kind.replace('_', ' ')}")

    def field(self, node: Tree[Any], path: list[str]) -> _Value:
        if path[0] != self.root:
            raise self.fail(node, f"unknown variable '{path[0]}' (filters use '{self.root}')")
        if len(path) == 1:
            raise self.fail(node, f"name a field: {self.root}.<field>")
        try:
            reference = self.resolve(tuple(path[1:]))
        except KeyError:
            reference = None
        if reference is None:
            raise self.fail(node, f"unknown field '{'.'.join(path)}'")
        return _Value(reference.expression, reference.kind, reference)

    def literal(self, node: Tree[Any]) -> _Value:
        token = cast(Token, node.children[0])
        text = str(token)
        match token.type:
            case "INT_LIT":
                return _Value(int(text, 0), "literal:int")
            case "UINT_LIT":
                return _Value(int(text.rstrip("uU"), 0), "literal:int")
            case "FLOAT_LIT":
                return _Value(float(text), "literal:float")
            case "BOOL_LIT":
                return _Value(text == "true", "literal:bool")
            case "NULL_LIT":
                return _Value(None, "literal:null")
            case "STRING_LIT" | "MLSTRING_LIT":
                try:
                    value = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise self.fail(node, "this string literal is not supported") from None
                return _Value(str(value), "literal:str")
        raise self.fail(node, f"not supported in filters: {token.type.lower()}")

    def coerce(self, node: Any, field: _Value, literal: _Value) -> Any:
        """The literal in the field's stored representation, or a type error."""
        value = literal.sql
        expected = {
            "text": ("literal:str",),
            "number": ("literal:int", "literal:float"),
            "integer": ("literal:int", "literal:float"),
            "boolean": ("literal:bool",),
            "date": ("literal:str", "literal:timestamp"),
            "datetime": ("literal:str", "literal:timestamp"),
        }.get(field.kind, ())
        if literal.kind not in expected:
            shown = literal.kind.removeprefix("literal:")
            raise self.fail(node, f"type mismatch: a {field.kind} field compared with a {shown}")
        if field.field is not None and field.field.normalize is not None:
            try:
                return field.field.normalize(value)
            except (ValueError, TypeError) as error:
                raise self.fail(node, f"invalid {field.kind} value {value!r}: {error}") from None
        return value

    def relation(self, node: Tree[Any]) -> _Value:
        operator_node = node.children[0]
        operator = operator_node.data
        left = self.value(operator_node.children[0])
        right = self.value(node.children[1])
        if operator == "relation_in":
            return self.membership(node, left, right)
        symbol = COMPARISONS.get(operator)
        if symbol is None:
            raise self.fail(node, f"not supported in filters: {operator}")
        if right.kind == "literal:null" or left.kind == "literal:null":
            other = left if right.kind == "literal:null" else right
            if symbol not in ("==", "!="):
                raise self.fail(node, "null can only be compared with == or !=")
            test = other.sql.is_(None) if symbol == "==" else other.sql.is_not(None)
            return _Value(test, "bool_expr")
        if left.is_literal and right.is_literal:
            raise self.fail(node, "compare a field with a value, not two constants")
        if left.is_literal:
            left, right = right, left
            symbol = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(symbol, symbol)
        if right.is_literal:
            if left.kind in ("list", "json"):
                raise self.fail(node, "list fields support 'in', not comparisons")
            constant = self.coerce(node, left, right)
            return _Value(_compare(left.sql, symbol, constant), "bool_expr")
        if _family(left.kind) != _family(right.kind):
            raise self.fail(node, f"type mismatch: {left.kind} compared with {right.kind}")
        return _Value(_compare(left.sql, symbol, right.sql), "bool_expr")

    def membership(self, node: Tree[Any], element: _Value, container: _Value) -> _Value:
        if container.kind == "literal:list":
            if element.is_literal:
                raise self.fail(node, "'in' needs a field on one side")
            values = [
                self.coerce(node, element, _Value(v, _literal_kind(v))) for v in container.sql
            ]
            return _Value(element.sql.in_(values), "bool_expr")
        if container.kind == "list" and container.field is not None:
            if not element.is_literal or container.field.contains is None:
                raise self.fail(node, "'in' on a list field needs a constant element")
            return _Value(container.field.contains(element.sql), "bool_expr")
        raise self.fail(node, "'in' needs a list of constants or a list field")

    def arithmetic(self, node: Tree[Any]) -> _Value:
        operator_node = node.children[0]
        symbol = ARITHMETIC.get(operator_node.data)
        if symbol is None:
            raise self.fail(node, f"not supported in filters: {operator_node.data}")
        left, right = self.value(operator_node.children[0]), self.value(node.children[1])
        numeric = ("number", "integer", "literal:int", "literal:float")
        if left.kind not in numeric or right.kind not in numeric:
            raise self.fail(node, f"'{symbol}' applies to numbers in filters")
        a, b = left.sql, right.sql
        result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[
            symbol
        ]()
        kind = "number" if not (left.is_literal and right.is_literal) else "literal:float"
        return _Value(result, kind)

    def method(self, node: Tree[Any]) -> _Value:
        name = str(node.children[1])
        if name in COMPREHENSION_MACROS:
            raise self.fail(node, f"not supported in filters: .{name}() (comprehensions)")
        target = self.value(node.children[0])
        arguments = [
            self.value(a) for a in (node.children[2].children if len(node.children) > 2 else [])
        ]
        if name in ("startsWith", "endsWith", "contains"):
            if target.kind != "text" or len(arguments) != 1 or arguments[0].kind != "literal:str":
                raise self.fail(node, f"{name}() in filters takes a text field and a string")
            text = str(arguments[0].sql)
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = {
                "startsWith": f"{escaped}%",
                "endsWith": f"%{escaped}",
                "contains": f"%{escaped}%",
            }[name]
            return _Value(target.sql.like(pattern, escape="\\"), "bool_expr")
        if name == "size" and not arguments and target.kind == "text":
            return _Value(sa.func.length(target.sql), "integer")
        raise self.fail(node, f"not supported in filters: .{name}()")

    def function(self, node: Tree[Any]) -> _Value:
        name = str(node.children[0])
        raw = node.children[1].children if len(node.children) > 1 else []
        if name == "has":
            if len(raw) != 1:
                raise self.fail(node, "has() takes one field")
            argument = self.value(raw[0])
            if argument.is_literal:
                raise self.fail(node, "has() takes a field")
            return _Value(argument.sql.is_not(None), "bool_expr")
        arguments = [self.value(a) for a in raw]
        if name == "size" and len(arguments) == 1 and arguments[0].kind == "text":
            return _Value(sa.func.length(arguments[0].sql), "integer")
        if name == "timestamp" and len(arguments) == 1 and arguments[0].kind == "literal:str":
            try:
                moment = dt.datetime.fromisoformat(str(arguments[0].sql))
            except ValueError:
                raise self.fail(node, "timestamp() needs an ISO 8601 date-time") from None
            if moment.tzinfo is None:
                raise self.fail(node, "timestamp() needs a timezone (Z or ±hh:mm)")
            return _Value(moment.isoformat(), "literal:timestamp")
        if name in ("int", "double") and len(arguments) == 1:
            return arguments[0]
        raise self.fail(node, f"not supported in filters: {name}()")


def _literal_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "literal:bool"
    if isinstance(value, int):
        return "literal:int"
    if isinstance(value, float):
        return "literal:float"
    if value is None:
        return "literal:null"
    return "literal:str"


def _family(kind: str) -> str:
    return "number" if kind in ("number", "integer") else kind


def _compare(left: Any, symbol: str, right: Any) -> ColumnElement[bool]:
    match symbol:
        case "==":
            return left == right
        case "!=":
            return left != right
        case "<":
            return left < right
        case "<=":
            return left <= right
        case ">":
            return left > right
    return left >= right


def compile_filter(source: str, resolve: Resolver, *, root: str = "record") -> ColumnElement[bool]:
    """Compile CEL ``source`` to SQL. Raises RuleSyntaxError pointing at what is wrong."""
    if not source.strip():
        raise RuleSyntaxError(source, "the filter is empty")
    syntax_check(source)
    tree = parse_tree(source)
    return _Compiler(source, resolve, root).boolean(tree)
