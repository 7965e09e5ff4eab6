"""Compile a filter subset of CEL to a SQLAlchemy boolean expression.

Used for API ``where=`` filters and for backtests of rule changes over history: the filter
runs inside the database, over its indexes, instead of evaluating CEL row by row. A filter
selects exactly the rows for which the ``cel`` engine would evaluate it to ``true`` (a
hypothesis test checks this on SQLite and PostgreSQL); where the two cannot agree, the
construct is refused with its position rather than compiled to something close.

Supported: literals (int, uint, double, string, bool, null, lists of them); ``record.f`` (and
``record.f.g``, ``record["f"]``) resolved by the caller; ``== != < <= > >=``; ``&& || !``;
``x in [constants]``; ``constant in record.list_field``; ``startsWith`` / ``endsWith`` /
``contains`` with a constant; ``has(record.f)``; ``size()`` of text and list fields;
``+ - * / %`` on numbers and ``+`` on text; ``c ? a : b``. Any subexpression without fields is
evaluated by the engine at compile time, so ``timestamp("…")``, ``duration`` arithmetic on
constants, ``size("abc")`` and the like all work as constants.

Missing values: a field that is NULL (absent from the record) behaves like the error CEL
raises when it reads a missing field. SQL's three-valued logic over NULL is exactly CEL's
error logic: ``false && error`` is false, ``true || error`` is true, ``!error`` is an error,
and a row whose filter ends as an error (NULL) is not selected. So ``!(record.x == 1)`` does
*not* select rows without ``x`` (CEL reports an error for them); write
``!has(record.x) || record.x != 1`` to include them. Two deliberate exceptions:
``record.x == null`` / ``!= null`` mean ``!has(record.x)`` / ``has(record.x)``, and a field
holding JSON null counts as absent (CEL would see a null value).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from kindred.rules.compiler import (
    DEFAULT_MAX_LENGTH,
    TYPE_NAMES,
    _suggestion,
    compile_rule,
    static_type,
)
from kindred.rules.errors import RuleError, RuleSyntaxError, RuleTypeError
from kindred.rules.syntax import (
    Binary,
    Call,
    Comprehension,
    Conditional,
    Identifier,
    Index,
    ListLiteral,
    Logical,
    MapLiteral,
    Node,
    Presence,
    Select,
    Unary,
    parse,
    path_of,
    walk,
)

Kind = Literal["text", "number", "integer", "boolean", "date", "datetime", "list"]
ElementKind = Literal["text", "number", "integer", "boolean"]


@dataclass(frozen=True)
class FieldRef:
    """How one field looks in SQL; what a resolver returns.

    ``expression`` gives the field's value, NULL when the record has none. Per ``kind``:

    * ``text``: a string. ``number``: a double in CEL (Decimal values are presented to CEL as
      doubles); ``integer``: an int. ``boolean``: SQL boolean (SQLite: 0/1).
    * ``date``: CEL sees ``"YYYY-MM-DD"`` strings; SQL holds a DATE, or that ISO text.
    * ``datetime``: CEL sees timestamps; SQL holds a DateTime (an aware or UTC one), or
      fixed-width ISO text if ``normalize`` renders literals the same way.
    * ``list``: a JSON array *document*: on SQLite JSON text (a JSON column, or
      ``json_extract(col, '$.tags')``), on PostgreSQL ``jsonb`` (or ``json``/text holding
      JSON; it is cast to ``jsonb``). ``"v" in record.tags`` compiles to
      ``EXISTS (SELECT 1 FROM json_each(…) WHERE value = ?)`` on SQLite and to
      ``CAST(… AS JSONB) @> '["v"]'`` on PostgreSQL; ``size(record.tags)`` to the array
      length. ``element_kind`` types the elements (literals of another type are refused;
      None accepts any scalar).

    ``normalize`` (optional) turns a literal compared with the field into the stored
    representation and raises ValueError if it cannot; it receives the literal as CEL has it,
    except timestamps, which it receives as ISO 8601 strings. ``contains`` (optional, lists
    only) builds "the list holds this element" itself instead of the JSON forms above.
    """

    expression: ColumnElement[Any]
    kind: Kind
    element_kind: ElementKind | None = None
    normalize: Callable[[Any], Any] | None = None
    contains: Callable[[Any], ColumnElement[bool]] | None = None


Resolver = Callable[[tuple[str, ...]], FieldRef | None]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMERIC = ("integer", "number")
_ORDERING = ("<", "<=", ">", ">=")
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
# The SQL kind a constant of a CEL type can be compared with.
_KIND_OF_CONSTANT = {
    "string": "text",
    "int": "integer",
    "uint": "integer",
    "double": "number",
    "bool": "boolean",
    "timestamp": "datetime",
}
_NOT_IN_FILTERS = "not supported in filters"


def compile_filter(
    source: str,
    resolve: Resolver,
    *,
    root: str = "record",
    max_length: int = DEFAULT_MAX_LENGTH,
) -> ColumnElement[bool]:
    """Compile CEL ``source`` to a SQL condition over the fields ``resolve`` describes.

    ``resolve`` gets the path after ``root`` (``("amount",)`` for ``record.amount``) and
    returns a FieldRef, or None / raises KeyError for an unknown field. Raises
    RuleSyntaxError (RuleTypeError for type mismatches) pointing at the problem.
    """
    if len(source) > max_length:
        raise RuleSyntaxError(
            source, f"the filter is longer than {max_length} characters", offset=max_length
        )
    if not source.strip():
        raise RuleSyntaxError(source, "the filter is empty", offset=len(source))
    return _FilterCompiler(source, resolve, root).condition(_parse(source))


# The same filters come back with every page of a list; the tree is immutable.
_parse = lru_cache(maxsize=1024)(parse)


# -- what a subexpression compiles to --------------------------------------------------------


@dataclass(frozen=True)
class _Constant:
    """A subexpression without fields, evaluated by the engine at compile time."""

    value: Any
    cel_type: str  # "int", "uint", "double", "string", "bool", "null", "timestamp", "list"
    node: Node


@dataclass(frozen=True)
class _Sql:
    expression: ColumnElement[Any]
    kind: str  # a Kind
    node: Node
    field: FieldRef | None = None
    # A comparison, has() … rather than a value: usable as a condition as it is.
    predicate: bool = False


_Operand = _Constant | _Sql


def _cel_type(value: Any) -> str:
    match value:
        case bool():
            return "bool"
        case int():
            return "int"
        case float():
            return "double"
        case str():
            return "string"
        case None:
            return "null"
        case dt.datetime():
            return "timestamp"
        case list():
            return "list"
        case dt.timedelta():
            return "duration"
        case bytes():
            return "bytes"
        case dict():
            return "map"
    return type(value).__name__


class _FilterCompiler:
    def __init__(self, source: str, resolve: Resolver, root: str) -> None:
        self.source = source
        self.resolve = resolve
        self.root = root

    def refuse(
        self, node: Node, message: str, error: type[RuleError] = RuleSyntaxError
    ) -> RuleError:
        return error(self.source, message, offset=node.position)

    def text_of(self, node: Node) -> str:
        return self.source[node.start : node.end]

    # -- conditions and operands -----------------------------------------------------------

    def condition(self, node: Node) -> ColumnElement[bool]:
        operand = self.operand(node)
        if isinstance(operand, _Constant):
            if operand.cel_type == "bool":
                return sa.true() if operand.value else sa.false()
            raise self.refuse(
                node,
                f"a filter condition must be true or false, not {operand.cel_type}",
                RuleTypeError,
            )
        if operand.predicate:
            return operand.expression
        if operand.kind == "boolean":
            return cast(ColumnElement[bool], operand.expression == sa.true())
        raise self.refuse(
            node,
            f"a filter condition must be true or false; '{self.text_of(node)}' is "
            f"{_kind_phrase(operand.kind)}",
            RuleTypeError,
        )

    def operand(self, node: Node) -> _Operand:
        if self.is_constant(node):
            return self.fold(node)
        match node:
            case Select() | Index() | Identifier() if path_of(node) is not None:
                return self.field(node)
            case Presence() if path_of(node.select) is not None:
                reference = self.field(node.select)
                return _Sql(reference.expression.is_not(None), "boolean", node, predicate=True)
            case Logical():
                parts = [self.condition(operand) for operand in node.operands]
                joined = sa.and_(*parts) if node.operator == "&&" else sa.or_(*parts)
                return _Sql(joined, "boolean", node, predicate=True)
            case Unary(operator="!"):
                return _Sql(sa.not_(self.condition(node.operand)), "boolean", node, predicate=True)
            case Unary():
                return self.negative(node)
            case Binary(operator="==" | "!=" | "<" | "<=" | ">" | ">="):
                return self.comparison(node)
            case Binary(operator="in"):
                return self.membership(node)
            case Binary():
                return self.arithmetic(node)
            case Conditional():
                return self.conditional(node)
            case Call():
                return self.call(node)
            case Comprehension():
                raise self.refuse(
                    node, f"{_NOT_IN_FILTERS}: {node.macro}() over fields (comprehensions)"
                )
            case ListLiteral():
                raise self.refuse(node, "list literals in filters may only hold constants")
            case MapLiteral():
                raise self.refuse(node, f"{_NOT_IN_FILTERS}: maps")
            case Index():
                raise self.refuse(node, f"{_NOT_IN_FILTERS}: indexing with a computed key")
        raise self.refuse(node, f"{_NOT_IN_FILTERS}: '{self.text_of(node)}'")

    def is_constant(self, node: Node) -> bool:
        return not _free_names(node, frozenset()) - (TYPE_NAMES - {self.root})

    def fold(self, node: Node) -> _Constant:
        """Evaluate a field-free subexpression with the engine, checked like any rule."""
        for part in walk(node):
            # The engine returns type values as their names: "int" would pass for a string.
            if (isinstance(part, Identifier) and part.name in TYPE_NAMES) or (
                isinstance(part, Call) and part.function == "type"
            ):
                raise self.refuse(part, f"{_NOT_IN_FILTERS}: type values")
        text = self.text_of(node)
        try:
            value = compile_rule(text, variables=()).evaluate({})
        except RuleError as error:
            raise type(error)(
                self.source, error.message, offset=node.start + error.offset
            ) from None
        cel_type = _cel_type(value)
        if cel_type == "int" and static_type(node) == "uint":
            cel_type = "uint"
        return _Constant(value, cel_type, node)

    def field(self, node: Node) -> _Sql:
        found = path_of(node)
        assert found is not None
        identifier, fields = found
        if identifier.name != self.root:
            raise RuleSyntaxError(
                self.source,
                f"unknown variable '{identifier.name}'{_suggestion(identifier.name, [self.root])}"
                f" (filters read fields of '{self.root}')",
                offset=identifier.start,
            )
        if not fields:
            raise RuleSyntaxError(
                self.source,
                f"name a field: {self.root}.<field> (a filter cannot use the whole record)",
                offset=identifier.start,
            )
        dotted = ".".join((identifier.name, *fields))
        try:
            reference = self.resolve(fields)
        except KeyError:
            reference = None
        if reference is None:
            raise RuleSyntaxError(self.source, f"unknown field '{dotted}'", offset=node.start)
        return _Sql(reference.expression, reference.kind, node, reference)

    # -- comparisons ---------------------------------------------------------------------

    def comparison(self, node: Binary) -> _Sql:
        operator = node.operator
        left, right = self.operand(node.left), self.operand(node.right)
        if isinstance(left, _Constant):
            # The constant on the right from here on; "5 < x" is "x > 5".
            left, right, operator = right, left, _MIRRORED[operator]
        assert isinstance(left, _Sql)
        if isinstance(right, _Constant) and right.cel_type == "null":
            if operator not in ("==", "!="):
                raise self.refuse(node, "null can only be compared with == or !=", RuleTypeError)
            test = left.expression.is_(None) if operator == "==" else left.expression.is_not(None)
            return _Sql(test, "boolean", node, predicate=True)
        if left.kind == "list":
            raise self.refuse(
                node, "list fields support 'in' and size(), not comparisons", RuleTypeError
            )
        if isinstance(right, _Constant):
            other = self.bind(left, right)
        else:
            if _family(left.kind) != _family(right.kind):
                raise self.refuse(
                    node,
                    f"type mismatch: '{self.text_of(left.node)}' is {_kind_phrase(left.kind)}, "
                    f"'{self.text_of(right.node)}' is {_kind_phrase(right.kind)}",
                    RuleTypeError,
                )
            other = right.expression
        subject = left.expression
        if left.kind == "text" and operator in _ORDERING:
            # CEL orders strings by code point; PostgreSQL by the column's collation.
            subject = _CodePointOrder(subject)
        return _Sql(_compare(subject, operator, other), "boolean", node, predicate=True)

    def bind(self, target: _Sql, constant: _Constant) -> ColumnElement[Any]:
        """``constant`` as a SQL literal of ``target``'s kind, or a type error."""
        value = self.check_constant(target, constant)
        reference = target.field
        if reference is not None and reference.normalize is not None:
            shown = value.isoformat() if isinstance(value, dt.datetime) else value
            try:
                value = reference.normalize(shown)
            except (ValueError, TypeError) as error:
                raise self.refuse(
                    constant.node,
                    f"invalid value for '{self.text_of(target.node)}': {error}",
                    RuleTypeError,
                ) from None
        elif target.kind == "date" and _has_type(target.expression, sa.Date):
            value = dt.date.fromisoformat(value)
        elif target.kind == "datetime" and not _has_type(target.expression, sa.DateTime):
            value = value.isoformat()
        return _literal(value, target.expression)

    def check_constant(self, target: _Sql, constant: _Constant) -> Any:
        kind, cel_type, value = target.kind, constant.cel_type, constant.value
        accepted = {
            "text": ("string",),
            "number": ("int", "uint", "double"),
            "integer": ("int", "uint", "double"),
            "boolean": ("bool",),
            "date": ("string",),
            "datetime": ("timestamp",),
        }.get(kind, ())
        if cel_type not in accepted:
            raise self.refuse(
                constant.node,
                f"type mismatch: '{self.text_of(target.node)}' is {_kind_phrase(kind)}, "
                f"'{self.text_of(constant.node)}' is {_article(cel_type)}",
                RuleTypeError,
            )
        if kind == "date" and not _ISO_DATE.fullmatch(value):
            raise self.refuse(
                constant.node,
                f"'{self.text_of(target.node)}' is a date: compare it with a 'YYYY-MM-DD' string",
                RuleTypeError,
            )
        return value

    def membership(self, node: Binary) -> _Sql:
        element, container = self.operand(node.left), self.operand(node.right)
        if isinstance(container, _Constant):
            if container.cel_type != "list":
                raise self.refuse(
                    node, f"'in' needs a list, not {_article(container.cel_type)}", RuleTypeError
                )
            assert isinstance(element, _Sql)
            if element.kind == "list":
                raise self.refuse(node, "a list field cannot be 'in' a list", RuleTypeError)
            options = [
                self.bind(element, _Constant(value, _cel_type(value), container.node))
                for value in container.value
            ]
            if not options:
                return _Sql(
                    _unknown_if_null(element.expression, sa.false()),
                    "boolean",
                    node,
                    predicate=True,
                )
            return _Sql(element.expression.in_(options), "boolean", node, predicate=True)
        if container.kind != "list":
            raise self.refuse(
                node,
                f"'in' needs a list; '{self.text_of(container.node)}' is "
                f"{_kind_phrase(container.kind)}",
                RuleTypeError,
            )
        if not isinstance(element, _Constant):
            raise self.refuse(
                node, "'in' on a list field needs a constant on its left", RuleSyntaxError
            )
        return _Sql(self.list_contains(container, element), "boolean", node, predicate=True)

    def list_contains(self, container: _Sql, element: _Constant) -> ColumnElement[bool]:
        reference = container.field
        element_kind = reference.element_kind if reference is not None else None
        allowed = ("string", "int", "uint", "double", "bool")
        if element.cel_type not in allowed or (
            element_kind is not None
            and _KIND_OF_CONSTANT.get(element.cel_type) not in _family_members(element_kind)
        ):
            expected = _kind_phrase(element_kind) if element_kind else "a scalar"
            raise self.refuse(
                element.node,
                f"type mismatch: the elements of '{self.text_of(container.node)}' are "
                f"{expected.removeprefix('a ').removeprefix('an ')}s, "
                f"'{self.text_of(element.node)}' is {_article(element.cel_type)}",
                RuleTypeError,
            )
        value = element.value
        if reference is not None and reference.contains is not None:
            try:
                built = reference.contains(value)
            except (ValueError, TypeError) as error:
                raise self.refuse(
                    element.node,
                    f"invalid value for '{self.text_of(container.node)}': {error}",
                    RuleTypeError,
                ) from None
            return _unknown_if_null(container.expression, built)
        return _JsonArrayContains(
            container.expression,
            _literal(value, None),
            sa.literal(json.dumps([value]), sa.Text()),
        )

    # -- values --------------------------------------------------------------------------

    def negative(self, node: Unary) -> _Sql:
        operand = self.operand(node.operand)
        assert isinstance(operand, _Sql)
        if operand.kind not in _NUMERIC:
            raise self.refuse(
                node, f"'-' needs a number, not {_kind_phrase(operand.kind)}", RuleTypeError
            )
        return _Sql(-operand.expression, operand.kind, node)

    def arithmetic(self, node: Binary) -> _Sql:
        left, right = self.operand(node.left), self.operand(node.right)
        kinds = [_operand_kind(side) for side in (left, right)]
        if kinds == ["text", "text"] and node.operator == "+":
            joined = self.sql(left, "text").op("||")(self.sql(right, "text"))
            return _Sql(joined, "text", node)
        if any(isinstance(side, _Constant) and side.cel_type == "uint" for side in (left, right)):
            raise self.refuse(
                node, "unsigned integers (1u) cannot be combined with fields", RuleTypeError
            )
        if any(kind not in _NUMERIC for kind in kinds):
            shown = next(kind for kind in kinds if kind not in _NUMERIC)
            raise self.refuse(
                node,
                f"'{node.operator}' needs numbers in filters, not {_kind_phrase(shown)}",
                RuleTypeError,
            )
        if kinds[0] != kinds[1]:
            # CEL has no int + double overload: the engine would fail on every row.
            raise self.refuse(
                node,
                f"'{node.operator}' needs two numbers of one type: "
                f"'{self.text_of(node.left)}' is {_kind_phrase(kinds[0])}, "
                f"'{self.text_of(node.right)}' is {_kind_phrase(kinds[1])} "
                "(write 2.0, not 2, next to a double)",
                RuleTypeError,
            )
        kind = kinds[0]
        a: ColumnElement[Any]
        b: ColumnElement[Any]
        result: ColumnElement[Any]
        if kind == "number":
            # Doubles, as CEL computes them: a numeric column would compute exactly.
            a = sa.cast(self.sql(left, kind), sa.Float())
            b = sa.cast(self.sql(right, kind), sa.Float())
        else:
            a, b = self.sql(left, kind), self.sql(right, kind)
        match node.operator:
            case "+":
                result = a + b
            case "-":
                result = a - b
            case "*":
                result = a * b
            case "/" if kind == "number":
                # Division by zero: CEL gives ±infinity for doubles, PostgreSQL raises; NULL
                # (no match) is the portable middle. op("/"): SQLAlchemy's own "/" adds
                # casts for Python-style true division that these doubles do not need.
                result = a.op("/")(sa.func.nullif(b, _literal(0.0, None), type_=sa.Float()))
            case "/":
                result = _IntegerDivide(a, sa.func.nullif(b, _literal(0, None)))
            case _ if kind == "number":
                raise self.refuse(
                    node, "'%' needs integers (CEL has no double modulo)", RuleTypeError
                )
            case _:
                result = _IntegerModulo(a, sa.func.nullif(b, _literal(0, None)))
        return _Sql(result, kind, node)

    def sql(self, operand: _Operand, kind: str) -> ColumnElement[Any]:
        if isinstance(operand, _Sql):
            return operand.expression
        value = operand.value
        if kind == "number":
            value = float(value)
        return _literal(value, None)

    def conditional(self, node: Conditional) -> _Sql:
        condition = self.condition(node.condition)
        then, otherwise = self.operand(node.then), self.operand(node.otherwise)
        kinds = {_operand_kind(then), _operand_kind(otherwise)}
        if len(kinds) != 1:
            raise self.refuse(
                node, "both branches of '?:' must have the same type in filters", RuleTypeError
            )
        (kind,) = kinds
        pattern = next((side for side in (then, otherwise) if isinstance(side, _Sql)), None)
        branches = []
        for side in (then, otherwise):
            if isinstance(side, _Sql):
                branches.append(side.expression)
            elif pattern is not None:
                branches.append(self.bind(pattern, side))
            else:
                branches.append(self.sql(side, kind))
        # No ELSE: when the condition is NULL (an error in CEL), so is the result.
        expression = sa.case((condition, branches[0]), (sa.not_(condition), branches[1]))
        return _Sql(
            expression,
            kind,
            node,
            pattern.field if pattern is not None else None,
            predicate=kind == "boolean",
        )

    def call(self, node: Call) -> _Sql:
        name = node.function
        if name == "matches":
            raise self.refuse(
                node,
                f"{_NOT_IN_FILTERS}: matches() (regular expressions differ between the "
                "databases and the rules engine)",
            )
        if name == "size" and len(node.arguments) == (0 if node.target is not None else 1):
            subject = self.operand(node.target or node.arguments[0])
            if isinstance(subject, _Sql) and subject.kind == "text":
                return _Sql(_ByteLength(subject.expression), "integer", node)
            if isinstance(subject, _Sql) and subject.kind == "list":
                return _Sql(_JsonArrayLength(subject.expression), "integer", node)
            raise self.refuse(node, "size() in filters takes a text or list field", RuleTypeError)
        if name in ("startsWith", "endsWith", "contains") and node.target is not None:
            target = self.operand(node.target)
            argument = self.operand(node.arguments[0]) if len(node.arguments) == 1 else None
            if (
                not isinstance(target, _Sql)
                or target.kind != "text"
                or not isinstance(argument, _Constant)
                or argument.cel_type != "string"
            ):
                raise self.refuse(
                    node,
                    f"{name}() in filters takes a text field and a constant string",
                    RuleTypeError,
                )
            return _Sql(
                _text_match(name, target.expression, argument.value),
                "boolean",
                node,
                predicate=True,
            )
        raise self.refuse(node, f"{_NOT_IN_FILTERS}: {name}() on fields")


# -- helpers -------------------------------------------------------------------------------


def _free_names(node: Node, bound: frozenset[str]) -> set[str]:
    if isinstance(node, Identifier):
        return set() if node.name in bound else {node.name}
    if isinstance(node, Comprehension):
        inner = bound | {node.variable}
        names = _free_names(node.target, bound)
        for argument in node.arguments:
            names |= _free_names(argument, inner)
        return names
    names = set()
    for child in node.children():
        names |= _free_names(child, bound)
    return names


def _family(kind: str) -> str:
    return "number" if kind in _NUMERIC else kind


def _family_members(kind: str) -> tuple[str, ...]:
    return _NUMERIC if kind in _NUMERIC else (kind,)


def _operand_kind(operand: _Operand) -> str:
    if isinstance(operand, _Sql):
        return operand.kind
    return _KIND_OF_CONSTANT.get(operand.cel_type, operand.cel_type)


def _article(name: str) -> str:
    return f"an {name}" if name[:1] in ("a", "e", "i", "o", "u") else f"a {name}"


def _kind_phrase(kind: str | None) -> str:
    phrases = {
        "text": "a text field",
        "number": "a number (double)",
        "integer": "an integer",
        "boolean": "a boolean",
        "date": "a date",
        "datetime": "a date-time",
        "list": "a list",
    }
    return phrases.get(kind or "", _article(kind or "value"))


def _has_type(expression: ColumnElement[Any], kind: type[sa.types.TypeEngine[Any]]) -> bool:
    type_ = expression.type
    # A TypeDecorator (e.g. kindred.db.UTCDateTime) stores through its ``impl``.
    return isinstance(type_, kind) or isinstance(getattr(type_, "impl", None), kind)


def _literal(value: Any, expression: ColumnElement[Any] | None) -> ColumnElement[Any]:
    """A bound literal typed by its Python value. Typing matters: the psycopg dialect casts
    every parameter to its type, and 10.5 bound as the column's INTEGER would become 11."""
    type_: sa.types.TypeEngine[Any] | None
    match value:
        case bool():
            type_ = sa.Boolean()
        case int():
            type_ = sa.BigInteger()
        case float():
            type_ = sa.Float()
        case Decimal():
            type_ = sa.Numeric()
        case str():
            type_ = sa.String()
        case dt.datetime():
            # The column's own type knows its storage (SQLite keeps naive UTC text).
            if expression is not None and _has_type(expression, sa.DateTime):
                type_ = expression.type
            else:
                type_ = sa.DateTime(timezone=True)
        case dt.date():
            if expression is not None and _has_type(expression, sa.Date):
                type_ = expression.type
            else:
                type_ = sa.Date()
        case _:
            type_ = None
    return sa.literal(value, type_)


def _compare(left: Any, operator: str, right: Any) -> ColumnElement[bool]:
    match operator:
        case "==":
            return cast(ColumnElement[bool], left == right)
        case "!=":
            return cast(ColumnElement[bool], left != right)
        case "<":
            return cast(ColumnElement[bool], left < right)
        case "<=":
            return cast(ColumnElement[bool], left <= right)
        case ">":
            return cast(ColumnElement[bool], left > right)
    return cast(ColumnElement[bool], left >= right)


def _unknown_if_null(
    subject: ColumnElement[Any], value: ColumnElement[bool]
) -> ColumnElement[bool]:
    """``value``, but NULL when ``subject`` is: keeps CEL's "missing field is an error"
    through a negation where the plain SQL form would say false."""
    return cast(ColumnElement[bool], sa.case((subject.is_(None), sa.null()), else_=value))


def _text_match(method: str, subject: ColumnElement[Any], needle: str) -> ColumnElement[bool]:
    like = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    glob = re.sub(r"([*?\[])", r"[\1]", needle)
    match method:
        case "startsWith":
            like, glob = f"{like}%", f"{glob}*"
        case "endsWith":
            like, glob = f"%{like}", f"*{glob}"
        case _:
            like, glob = f"%{like}%", f"*{glob}*"
    return _TextMatch(subject, sa.literal(like, sa.String()), sa.literal(glob, sa.String()))


# -- dialect-specific SQL ------------------------------------------------------------------
# The filter is built once, dialect-neutral; these constructs render per dialect when the
# statement is compiled, so callers need not say which database they run on.


def _rendered(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


class _TextMatch(FunctionElement[bool]):
    """Case-sensitive LIKE: SQLite's LIKE ignores ASCII case, so it uses GLOB there.
    Clauses: the text, the LIKE pattern (escaped with a backslash), the GLOB pattern."""

    type = sa.Boolean()
    inherit_cache = True
    name = "kindred_text_match"


@compiles(_TextMatch)
def _text_match_default(element: _TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    subject, like, _glob = _rendered(element, compiler, **kw)
    return f"({subject} LIKE {like} ESCAPE '\\')"


@compiles(_TextMatch, "sqlite")
def _text_match_sqlite(element: _TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    subject, _like, glob = _rendered(element, compiler, **kw)
    return f"({subject} GLOB {glob})"


class _CodePointOrder(FunctionElement[str]):
    """A string compared by code point, as CEL compares strings, whatever the collation."""

    type = sa.String()
    inherit_cache = True
    name = "kindred_code_point_order"


@compiles(_CodePointOrder)
def _code_point_order_default(element: _CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    (subject,) = _rendered(element, compiler, **kw)
    return subject


@compiles(_CodePointOrder, "sqlite")
def _code_point_order_sqlite(element: _CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    (subject,) = _rendered(element, compiler, **kw)
    return f"({subject} COLLATE BINARY)"


@compiles(_CodePointOrder, "postgresql")
def _code_point_order_postgresql(element: _CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    (subject,) = _rendered(element, compiler, **kw)
    return f'({subject} COLLATE "C")'


class _ByteLength(FunctionElement[int]):
    """size() of a string. The rules engine counts UTF-8 bytes (the CEL specification says
    code points); filters follow the engine so that backtests predict real outcomes."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "kindred_byte_length"


@compiles(_ByteLength)
def _byte_length_default(element: _ByteLength, compiler: SQLCompiler, **kw: Any) -> str:
    (subject,) = _rendered(element, compiler, **kw)
    return f"octet_length({subject})"


@compiles(_ByteLength, "sqlite")
def _byte_length_sqlite(element: _ByteLength, compiler: SQLCompiler, **kw: Any) -> str:
    (subject,) = _rendered(element, compiler, **kw)
    return f"length(CAST({subject} AS BLOB))"


class _JsonArrayLength(FunctionElement[int]):
    type = sa.BigInteger()
    inherit_cache = True
    name = "kindred_json_array_length"


@compiles(_JsonArrayLength)
def _json_array_length_default(element: _JsonArrayLength, compiler: SQLCompiler, **kw: Any) -> str:
    (array,) = _rendered(element, compiler, **kw)
    return f"json_array_length({array})"


@compiles(_JsonArrayLength, "postgresql")
def _json_array_length_postgresql(
    element: _JsonArrayLength, compiler: SQLCompiler, **kw: Any
) -> str:
    (array,) = _rendered(element, compiler, **kw)
    return f"jsonb_array_length(CAST({array} AS JSONB))"


class _JsonArrayContains(FunctionElement[bool]):
    """``element in array`` for a JSON array document; NULL when the array is NULL.

    Clauses: the array, the element as a scalar parameter (SQLite compares it with
    ``json_each.value``), and the element as a one-element JSON array (PostgreSQL's ``@>``).
    """

    type = sa.Boolean()
    inherit_cache = True
    name = "kindred_json_array_contains"


@compiles(_JsonArrayContains)
def _json_array_contains_default(
    element: _JsonArrayContains, compiler: SQLCompiler, **kw: Any
) -> str:
    array, scalar, _needle = _rendered(element, compiler, **kw)
    return (
        f"(CASE WHEN {array} IS NULL THEN NULL ELSE EXISTS (SELECT 1 FROM "
        f"json_each({array}) WHERE json_each.value = {scalar}) END)"
    )


@compiles(_JsonArrayContains, "postgresql")
def _json_array_contains_postgresql(
    element: _JsonArrayContains, compiler: SQLCompiler, **kw: Any
) -> str:
    array, _scalar, needle = _rendered(element, compiler, **kw)
    return f"(CAST({array} AS JSONB) @> CAST({needle} AS JSONB))"


class _IntegerDivide(FunctionElement[int]):
    """CEL's int / int: truncates toward zero (PostgreSQL's / on numeric would not)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "kindred_integer_divide"


@compiles(_IntegerDivide)
def _integer_divide_default(element: _IntegerDivide, compiler: SQLCompiler, **kw: Any) -> str:
    left, right = _rendered(element, compiler, **kw)
    return f"div({left}, {right})"


@compiles(_IntegerDivide, "sqlite")
def _integer_divide_sqlite(element: _IntegerDivide, compiler: SQLCompiler, **kw: Any) -> str:
    left, right = _rendered(element, compiler, **kw)
    return f"(CAST({left} AS INTEGER) / CAST({right} AS INTEGER))"


class _IntegerModulo(FunctionElement[int]):
    """CEL's int % int: the sign of the dividend, like both databases' own."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "kindred_integer_modulo"


@compiles(_IntegerModulo)
def _integer_modulo_default(element: _IntegerModulo, compiler: SQLCompiler, **kw: Any) -> str:
    left, right = _rendered(element, compiler, **kw)
    return f"mod({left}, {right})"


@compiles(_IntegerModulo, "sqlite")
def _integer_modulo_sqlite(element: _IntegerModulo, compiler: SQLCompiler, **kw: Any) -> str:
    left, right = _rendered(element, compiler, **kw)
    return f"(CAST({left} AS INTEGER) % CAST({right} AS INTEGER))"
