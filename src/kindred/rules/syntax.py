"""Parse CEL into a small, typed syntax tree with positions.

Two parsers read every expression, for different reasons:

* the Rust engine (``cel.compile``) decides what is valid CEL, because it is the engine that
  will evaluate it; its error text carries the line and column we report;
* cel-python's Lark grammar (the one ``celpy.celparser.CELParser`` uses) gives the parse
  tree with positions that the static checks, the cost model and the SQL compiler walk.

The Lark tree has one node per grammar rule (an identifier sits under ten pass-through
levels), so it is rebuilt once into the dataclasses below: pass-through levels dropped,
``&&``/``||`` chains flattened (so a long chain of conditions does not count as deep nesting),
macros (``has``, ``all``, ``exists`` …) told apart from calls, literals decoded.

The rebuild is non-recursive (Lark's ``Transformer_NonRecursive``) and refuses trees nested
deeper than ``MAX_NESTING``, so every later recursive walk is safe from Python's recursion
limit, whatever the input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import cel
from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import LexError, ParseError, UnexpectedInput, VisitError
from lark.tree import Meta

from kindred.rules.errors import RuleCostError, RuleError, RuleSyntaxError

MAX_NESTING = 50
# Comprehension macros: the first argument names a variable bound inside the others.
COMPREHENSION_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_MACRO_ARITY = {"all": (2,), "exists": (2,), "exists_one": (2,), "filter": (2,), "map": (2, 3)}
_ENGINE_ERROR = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")
# The set of tokens that may start an operand, as the engine's parser lists it; shortened in
# messages to "an expression".
_OPERAND_START = re.compile(r"expecting \{'\[', '\{', '\('.*IDENTIFIER\}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A node of the syntax tree. ``start``/``end`` are 0-based character offsets of its
    source text (``end`` exclusive); ``depth`` is the nesting below and including it."""

    start: int
    end: int
    depth: int

    @property
    def position(self) -> int:
        """Where an error about this node points (the operator or name, if it has one)."""
        return self.start

    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Literal(Node):
    value: Any
    type_name: str  # "int", "uint", "double", "string", "bytes", "bool" or "null"


@dataclass(frozen=True, slots=True, kw_only=True)
class Identifier(Node):
    name: str
    rooted: bool = False  # written with a leading dot: ".name"


@dataclass(frozen=True, slots=True, kw_only=True)
class Select(Node):
    operand: Node
    field: str
    field_start: int

    @property
    def position(self) -> int:
        return self.field_start

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Presence(Node):
    """``has(a.b)``: whether field ``b`` is set on ``a``."""

    select: Select

    def children(self) -> tuple[Node, ...]:
        return (self.select,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Index(Node):
    operand: Node
    index: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand, self.index)


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Node):
    """``function(arguments)``, or ``target.function(arguments)`` for a method call."""

    function: str
    target: Node | None
    arguments: tuple[Node, ...]
    name_start: int
    rooted: bool = False

    @property
    def position(self) -> int:
        return self.name_start

    def children(self) -> tuple[Node, ...]:
        return ((self.target,) if self.target is not None else ()) + self.arguments


@dataclass(frozen=True, slots=True, kw_only=True)
class Comprehension(Node):
    """``target.macro(variable, arguments…)``; ``arguments`` see ``variable`` bound to each
    element (each key, for a map)."""

    macro: str
    target: Node
    variable: str
    arguments: tuple[Node, ...]
    name_start: int

    @property
    def position(self) -> int:
        return self.name_start

    def children(self) -> tuple[Node, ...]:
        return (self.target, *self.arguments)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unary(Node):
    operator: str  # "!" or "-"
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Binary(Node):
    operator: str  # == != < <= > >= in + - * / %
    left: Node
    right: Node
    operator_start: int

    @property
    def position(self) -> int:
        return self.operator_start

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True, kw_only=True)
class Logical(Node):
    operator: str  # "&&" or "||"
    operands: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.operands


@dataclass(frozen=True, slots=True, kw_only=True)
class Conditional(Node):
    condition: Node
    then: Node
    otherwise: Node

    def children(self) -> tuple[Node, ...]:
        return (self.condition, self.then, self.otherwise)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListLiteral(Node):
    items: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, slots=True, kw_only=True)
class MapLiteral(Node):
    entries: tuple[tuple[Node, Node], ...]

    def children(self) -> tuple[Node, ...]:
        return tuple(part for entry in self.entries for part in entry)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageLiteral(Node):
    """``Type{field: value}``: protobuf message construction (refused: no message types)."""

    type_name: str
    fields: tuple[tuple[str, Node], ...]

    def children(self) -> tuple[Node, ...]:
        return tuple(value for _, value in self.fields)


def walk(node: Node) -> Iterator[Node]:
    """Every node, parents before children, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


def path_of(node: Node) -> tuple[Identifier, tuple[str, ...]] | None:
    """``a.b["c"].d`` as (the identifier ``a``, ("b", "c", "d")); None if ``node`` is not a
    chain of field selections (or constant string indexes) on an identifier."""
    fields: list[str] = []
    while True:
        if isinstance(node, Select):
            fields.append(node.field)
            node = node.operand
        elif (
            isinstance(node, Index)
            and isinstance(node.index, Literal)
            and node.index.type_name == "string"
        ):
            fields.append(node.index.value)
            node = node.operand
        elif isinstance(node, Identifier) and not node.rooted:
            return node, tuple(reversed(fields))
        else:
            return None


def parse(source: str) -> Node:
    """Check ``source`` with the engine and return its syntax tree.

    Raises RuleSyntaxError for invalid CEL and RuleCostError for nesting deeper than
    ``MAX_NESTING``.
    """
    engine_check(source)
    try:
        tree = _grammar().parse(source)
    except (UnexpectedInput, LexError, ParseError) as error:
        # The engine accepted what the reference grammar refuses (rare: a few escapes and
        # number forms). Refusing is the safe side: the static checks need the tree.
        raise RuleSyntaxError(
            source,
            "syntax error: this form is not supported by the rules checker",
            line=getattr(error, "line", None) or 1,
            column=getattr(error, "column", None) or 1,
        ) from None
    try:
        root = _Builder(source).transform(tree)
    except VisitError as error:
        # Lark wraps what a callback raises; a RuleError is the builder refusing a form.
        if isinstance(error.orig_exc, RuleError):
            raise error.orig_exc from None
        raise
    if not isinstance(root, Node):  # pragma: no cover - the grammar's start rule is an expr
        raise RuleSyntaxError(source, "syntax error: not an expression")
    if root.depth > MAX_NESTING:
        raise RuleCostError(
            source,
            f"the expression nests deeper than {MAX_NESTING} levels",
            offset=_first_too_deep(root).position,
        )
    return root


@cache
def _grammar() -> Lark:
    """cel-python's Lark grammar for CEL, built as ``celpy.celparser.CELParser`` builds it
    except for the keyword callback: celpy's turns ``true``/``false`` into tokens without a
    position, and every node here needs one."""
    grammar = (resources.files("celpy") / "cel.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        start="expr",
        g_regex_flags=re.M,
        lexer_callbacks={"IDENT": _keyword_literal},
        propagate_positions=True,
        maybe_placeholders=False,
        priority="invert",
    )


def _keyword_literal(token: Token) -> Token:
    if token.value in ("true", "false"):
        return Token.new_borrow_pos("BOOL_LIT", token.value, token)
    return token


def engine_check(source: str) -> cel.Program:
    """Compile with the evaluating engine; its message and position are authoritative."""
    try:
        return cel.compile(source)
    except (ValueError, RuntimeError, TypeError) as error:
        text = str(error)
        match = _ENGINE_ERROR.search(text)
        if match is None:
            raise RuleSyntaxError(source, f"syntax error: {text.splitlines()[0]}") from None
        detail = match.group(3).split("\n")[0].strip().removeprefix("Syntax error: ")
        detail = _OPERAND_START.sub("expecting an expression", detail)
        detail = detail.replace("mismatched input '<EOF>'", "unexpected end of expression")
        raise RuleSyntaxError(
            source,
            f"syntax error: {detail}",
            line=int(match.group(1)),
            column=int(match.group(2)),
        ) from None


def _first_too_deep(root: Node) -> Node:
    """The node at nesting level MAX_NESTING + 1 on the deepest branch."""
    node, level = root, 1
    while level <= MAX_NESTING:
        node = max(node.children(), key=lambda child: child.depth)
        level += 1
    return node


# -- building the tree from Lark's ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Operator:
    """A binary operator node of the Lark tree (``relation_gt`` …): its left operand, with
    the right one still to come from the parent rule."""

    symbol: str
    left: Node
    end: int


@dataclass(frozen=True, slots=True)
class _UnaryOperator:
    symbol: str


@dataclass(frozen=True, slots=True)
class _Items:
    items: tuple[Any, ...]


def _depth(*children: Node) -> int:
    return 1 + max((child.depth for child in children), default=0)


def _operator(symbol: str) -> Any:
    def build(self: _Builder, meta: Meta, children: list[Any]) -> _Operator:
        return _Operator(symbol, children[0], meta.end_pos)

    return build


@v_args(meta=True)
class _Builder(Transformer_NonRecursive):
    def __init__(self, source: str) -> None:
        super().__init__(visit_tokens=False)
        self.source = source

    relation_lt = _operator("<")
    relation_le = _operator("<=")
    relation_gt = _operator(">")
    relation_ge = _operator(">=")
    relation_eq = _operator("==")
    relation_ne = _operator("!=")
    relation_in = _operator("in")
    addition_add = _operator("+")
    addition_sub = _operator("-")
    multiplication_mul = _operator("*")
    multiplication_div = _operator("/")
    multiplication_mod = _operator("%")

    def _binary(self, meta: Meta, children: list[Any]) -> Any:
        if len(children) == 1:
            return children[0]
        operator, right = children
        return Binary(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(operator.left, right),
            operator=operator.symbol,
            left=operator.left,
            right=right,
            operator_start=operator.end - len(operator.symbol),
        )

    relation = addition = multiplication = _binary

    def _logical(self, meta: Meta, operator: str, children: list[Any]) -> Any:
        if len(children) == 1:
            return children[0]
        left, right = children
        operands = (
            (*left.operands, right)
            if isinstance(left, Logical) and left.operator == operator
            else (left, right)
        )
        return Logical(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(*operands),
            operator=operator,
            operands=operands,
        )

    def conditionalor(self, meta: Meta, children: list[Any]) -> Any:
        return self._logical(meta, "||", children)

    def conditionaland(self, meta: Meta, children: list[Any]) -> Any:
        return self._logical(meta, "&&", children)

    def expr(self, meta: Meta, children: list[Any]) -> Any:
        if len(children) == 1:
            return children[0]
        condition, then, otherwise = children
        return Conditional(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(condition, then, otherwise),
            condition=condition,
            then=then,
            otherwise=otherwise,
        )

    def unary_not(self, meta: Meta, children: list[Any]) -> _UnaryOperator:
        return _UnaryOperator("!")

    def unary_neg(self, meta: Meta, children: list[Any]) -> _UnaryOperator:
        return _UnaryOperator("-")

    def unary(self, meta: Meta, children: list[Any]) -> Any:
        if len(children) == 1:
            return children[0]
        operator, operand = children
        return Unary(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(operand),
            operator=operator.symbol,
            operand=operand,
        )

    def _pass(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    member = primary = _pass

    def paren_expr(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    def member_dot(self, meta: Meta, children: list[Any]) -> Select:
        operand, name = children
        return Select(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(operand),
            operand=operand,
            field=str(name),
            field_start=name.start_pos,
        )

    def member_dot_arg(self, meta: Meta, children: list[Any]) -> Node:
        target, name = children[0], children[1]
        arguments = children[2].items if len(children) > 2 else ()
        function = str(name)
        if function in COMPREHENSION_MACROS:
            return self._comprehension(meta, target, name, arguments)
        return Call(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(target, *arguments),
            function=function,
            target=target,
            arguments=arguments,
            name_start=name.start_pos,
        )

    def _comprehension(
        self, meta: Meta, target: Node, name: Token, arguments: tuple[Node, ...]
    ) -> Comprehension:
        macro = str(name)
        variable = arguments[0] if arguments else None
        if len(arguments) not in _MACRO_ARITY[macro] or not (
            isinstance(variable, Identifier) and not variable.rooted
        ):
            shape = (
                "a variable name and one or two expressions"
                if macro == "map"
                else ("a variable name and a condition")
            )
            raise RuleSyntaxError(self.source, f"{macro}() takes {shape}", offset=name.start_pos)
        return Comprehension(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(target, *arguments),
            macro=macro,
            target=target,
            variable=variable.name,
            arguments=arguments[1:],
            name_start=name.start_pos or 0,
        )

    def member_index(self, meta: Meta, children: list[Any]) -> Index:
        operand, index = children
        return Index(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(operand, index),
            operand=operand,
            index=index,
        )

    def member_object(self, meta: Meta, children: list[Any]) -> MessageLiteral:
        operand = children[0]
        items = children[1].items if len(children) > 1 else ()
        fields = tuple((str(items[i]), items[i + 1]) for i in range(0, len(items), 2))
        type_name = self.source[operand.start : operand.end]
        return MessageLiteral(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(operand, *(value for _, value in fields)),
            type_name=type_name,
            fields=fields,
        )

    def ident(self, meta: Meta, children: list[Any]) -> Identifier:
        # Positions from the token: the grammar's keyword callback re-creates some tokens,
        # and a rule over a single such token can be left without a position.
        token = children[0]
        return Identifier(start=token.start_pos, end=token.end_pos, depth=1, name=str(token))

    def dot_ident(self, meta: Meta, children: list[Any]) -> Identifier:
        token = children[0]
        return Identifier(
            start=token.start_pos - 1 if meta.empty else meta.start_pos,
            end=token.end_pos,
            depth=1,
            name=str(token),
            rooted=True,
        )

    def ident_arg(self, meta: Meta, children: list[Any]) -> Node:
        name = children[0]
        arguments: tuple[Node, ...] = children[1].items if len(children) > 1 else ()
        if str(name) == "has":
            if len(arguments) != 1 or not isinstance(arguments[0], Select):
                raise RuleSyntaxError(
                    self.source,
                    "has() takes one field selection, e.g. has(record.field)",
                    offset=name.start_pos or 0,
                )
            select = arguments[0]
            return Presence(
                start=meta.start_pos, end=meta.end_pos, depth=_depth(select), select=select
            )
        return Call(
            start=meta.start_pos,
            end=meta.end_pos,
            depth=_depth(*arguments),
            function=str(name),
            target=None,
            arguments=arguments,
            name_start=name.start_pos,
        )

    def dot_ident_arg(self, meta: Meta, children: list[Any]) -> Call:
        call = self.ident_arg(meta, children)
        assert isinstance(call, Call)
        return Call(
            start=call.start,
            end=call.end,
            depth=call.depth,
            function=call.function,
            target=None,
            arguments=call.arguments,
            name_start=call.name_start,
            rooted=True,
        )

    def list_lit(self, meta: Meta, children: list[Any]) -> ListLiteral:
        items = children[0].items if children else ()
        return ListLiteral(
            start=meta.start_pos, end=meta.end_pos, depth=_depth(*items), items=items
        )

    def map_lit(self, meta: Meta, children: list[Any]) -> MapLiteral:
        items = children[0].items if children else ()
        entries = tuple((items[i], items[i + 1]) for i in range(0, len(items), 2))
        return MapLiteral(
            start=meta.start_pos, end=meta.end_pos, depth=_depth(*items), entries=entries
        )

    def _items(self, meta: Meta, children: list[Any]) -> _Items:
        return _Items(tuple(children))

    exprlist = fieldinits = mapinits = _items

    def literal(self, meta: Meta, children: list[Any]) -> Literal:
        token = children[0]
        value, type_name = _decode_literal(token)
        return Literal(
            start=token.start_pos, end=token.end_pos, depth=1, value=value, type_name=type_name
        )


def _decode_literal(token: Token) -> tuple[Any, str]:
    text = str(token)
    match token.type:
        case "INT_LIT":
            return _integer(text), "int"
        case "UINT_LIT":
            return _integer(text[:-1]), "uint"
        case "FLOAT_LIT":
            return float(text), "double"
        case "BOOL_LIT":
            return text == "true", "bool"
        case "NULL_LIT":
            return None, "null"
        case "BYTES_LIT":
            return cel.compile(text).execute({}), "bytes"
    # Strings: the engine decodes its own escapes, so the value is exactly what it evaluates.
    return cel.compile(text).execute({}), "string"


def _integer(text: str) -> int:
    # Not int(text, 0): CEL allows leading zeros in decimal literals ("007"), Python does not.
    return int(text, 16) if "x" in text.lower() else int(text, 10)
