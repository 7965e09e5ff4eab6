"""Compile, check, bound and evaluate CEL rules.

``compile_rule`` refuses, with the position of the problem, anything that would only fail
later: invalid syntax, variables the context does not declare, functions the engine lacks,
constructs Kindred has no use for, expressions that are too long, too deeply nested or too
costly. What it returns (``CompiledRule``) knows which variables and field paths the rule
reads (the change-impact graph uses them) and evaluates with the Rust ``cel`` engine.

Cost model (the static bound ``max_cost`` applies to it):

* every node of the syntax tree costs 1 (a literal, a name, a field selection, an operator, a
  call; a chain ``a && b && c`` costs one per operator);
* a comprehension (``all``, ``exists``, ``exists_one``, ``map``, ``filter``) costs its target
  plus ``COMPREHENSION_ITERATIONS`` (10) times its body, because the body runs once per
  element; a comprehension inside a comprehension therefore costs 100 times its body;
* comprehensions nested deeper than ``MAX_COMPREHENSION_NESTING`` (2) are refused outright,
  whatever their cost: their run time grows with the input's size to that power.

At evaluation the same model is applied again with the real sizes of the lists the
comprehensions run over, and refused above ``max_evaluation_cost``; see ``InputLimits`` for
the bounds on the input itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import enum
import math
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

import cel

from kindred.rules.errors import (
    RuleCostError,
    RuleError,
    RuleEvaluationError,
    RuleSyntaxError,
    RuleTypeError,
)
from kindred.rules.fast import Predicate, Unsure, compile_predicate
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
    MessageLiteral,
    Node,
    Presence,
    Select,
    Unary,
    parse,
    path_of,
)
from kindred.rules.syntax import (
    Literal as LiteralNode,
)

_PLAIN_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_SAFE_INT = 2**53

DEFAULT_MAX_LENGTH = 4_096
DEFAULT_MAX_COST = 5_000
DEFAULT_MAX_EVALUATION_COST = 500_000
COMPREHENSION_ITERATIONS = 10
MAX_COMPREHENSION_NESTING = 2

# The functions the Rust engine implements natively (its optional Python "stdlib" extras are
# not enabled: they run as Python callbacks and are not part of the CEL standard).
GLOBAL_FUNCTIONS = frozenset(
    {"size", "int", "uint", "double", "string", "bytes", "timestamp", "duration", "type", "dyn"}
)
TIME_ACCESSORS = frozenset(
    {
        "getFullYear",
        "getMonth",
        "getDayOfYear",
        "getDayOfMonth",
        "getDate",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)
METHODS = frozenset({"size", "contains", "startsWith", "endsWith", "matches"}) | TIME_ACCESSORS
# Type names are values in CEL (``type(x) == int``); they need no declaration.
TYPE_NAMES = frozenset(
    {"bool", "int", "uint", "double", "string", "bytes", "list", "map", "null_type", "type"}
)
_INT64 = (-(2**63), 2**63 - 1)
_READABLE_TYPES = {"google.protobuf.Timestamp": "timestamp", "google.protobuf.Duration": "duration"}


@dataclass(frozen=True)
class InputLimits:
    """Bounds on one evaluation's input, checked while it is converted for the engine.

    Only the variables (and, for maps read field by field, only the fields) the rule reads
    are converted and counted, so a wide record costs what the rule reads of it.
    """

    max_depth: int = 32  # nesting of maps and lists
    max_values: int = 100_000  # scalars, lists and maps, all counted
    max_text_length: int = 1_000_000  # characters of a string, bytes of a bytes value


DEFAULT_INPUT_LIMITS = InputLimits()


# -- compilation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Loop:
    """A comprehension as the cost model sees it."""

    node: Comprehension
    range_path: tuple[str, ...] | None  # (variable, field, …) when it runs over input
    body: _CostPlan


@dataclass(frozen=True, slots=True)
class _CostPlan:
    """Cost of a subtree: ``base`` plus, per comprehension, iterations times its body."""

    base: int
    loops: tuple[_Loop, ...] = ()

    def cost(self, iterations: Callable[[_Loop], int]) -> int:
        return self.base + sum(iterations(loop) * loop.body.cost(iterations) for loop in self.loops)


def _static_iterations(_loop: _Loop) -> int:
    return COMPREHENSION_ITERATIONS


def _combine(own: int, plans: Collection[_CostPlan]) -> _CostPlan:
    return _CostPlan(
        own + sum(plan.base for plan in plans), tuple(loop for plan in plans for loop in plan.loops)
    )


class _Analysis:
    """One walk over the tree: free variables, field paths, problems, cost plan."""

    def __init__(self, source: str, declared: frozenset[str]) -> None:
        self.source = source
        self.declared = declared
        self.first_use: dict[str, int] = {}  # free variable → offset of its first use
        self.paths: dict[str, int] = {}  # dotted path → offset of its first use
        # variable → the first-level fields read, or None when the value is used as a whole
        self.projection: dict[str, set[str] | None] = {}
        self.problems: list[RuleError] = []

    def problem(self, error_type: type[RuleError], message: str, offset: int) -> None:
        self.problems.append(error_type(self.source, message, offset=offset))

    def use(self, identifier: Identifier, fields: tuple[str, ...]) -> None:
        name = identifier.name
        if name in TYPE_NAMES and name not in self.declared and not fields:
            return
        self.first_use.setdefault(name, identifier.start)
        dotted = ".".join((name, *fields))
        self.paths.setdefault(dotted, identifier.start)
        if not fields:
            self.projection[name] = None
        elif name not in self.projection:
            self.projection[name] = {fields[0]}
        else:
            selected = self.projection[name]
            if selected is not None:
                selected.add(fields[0])

    def visit(self, node: Node, bound: frozenset[str], nesting: int) -> _CostPlan:
        if isinstance(node, Select | Index | Identifier):
            found = path_of(node)
            if found is not None:
                identifier, fields = found
                if identifier.name not in bound:
                    self.use(identifier, fields)
                return _CostPlan(1 + len(fields))
        if isinstance(node, Identifier):
            self.problem(
                RuleSyntaxError,
                f"not supported: names with a leading dot ('.{node.name}')",
                node.start,
            )
            return _CostPlan(1)
        if isinstance(node, Presence):
            return _combine(1, [self.visit(node.select, bound, nesting)])
        if isinstance(node, Call):
            self.check_function(node)
        if isinstance(node, MessageLiteral):
            self.problem(
                RuleSyntaxError,
                f"not supported: message construction ('{node.type_name}{{…}}'); "
                "rules have no message types",
                node.start,
            )
        if isinstance(node, Comprehension):
            return self.visit_comprehension(node, bound, nesting)
        # One per node; a flattened chain "a && b && c" costs one per operator.
        own = len(node.operands) - 1 if isinstance(node, Logical) else 1
        return _combine(own, [self.visit(child, bound, nesting) for child in node.children()])

    def visit_comprehension(
        self, node: Comprehension, bound: frozenset[str], nesting: int
    ) -> _CostPlan:
        if nesting >= MAX_COMPREHENSION_NESTING:
            self.problem(
                RuleCostError,
                f"comprehensions nest deeper than {MAX_COMPREHENSION_NESTING} levels "
                "(the cost grows with the list size to that power)",
                node.position,
            )
        target = self.visit(node.target, bound, nesting)
        inner = bound | {node.variable}
        body = _combine(
            0, [self.visit(argument, inner, nesting + 1) for argument in node.arguments]
        )
        found = path_of(node.target)
        range_path = None
        if found is not None and found[0].name not in bound:
            range_path = (found[0].name, *found[1])
        return _CostPlan(1 + target.base, (*target.loops, _Loop(node, range_path, body)))

    def check_function(self, node: Call) -> None:
        known = METHODS if node.target is not None else GLOBAL_FUNCTIONS
        if node.rooted:
            self.problem(
                RuleSyntaxError,
                f"not supported: names with a leading dot ('.{node.function}')",
                node.start,
            )
        elif node.function not in known:
            kind = "method" if node.target is not None else "function"
            self.problem(
                RuleSyntaxError,
                f"unknown {kind} '{node.function}'{_suggestion(node.function, known)}",
                node.position,
            )
        elif len(node.arguments) != (expected := _arity(node)):
            detail = " (time zones are not supported)" if node.function in TIME_ACCESSORS else ""
            self.problem(
                RuleSyntaxError,
                f"{node.function}() takes {expected} argument{'s' if expected != 1 else ''}"
                f"{detail}",
                node.position,
            )


def _arity(node: Call) -> int:
    """Arguments a known function takes, besides the target of a method call."""
    if node.target is not None and (node.function == "size" or node.function in TIME_ACCESSORS):
        return 0
    return 1


def _suggestion(name: str, candidates: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def static_type(node: Node) -> str | None:
    """The CEL type ``node`` evaluates to when the syntax alone tells, else None (dyn)."""
    match node:
        case LiteralNode():
            return "null_type" if node.type_name == "null" else node.type_name
        case Logical() | Presence():
            return "bool"
        case Unary(operator="!"):
            return "bool"
        case Unary():
            return static_type(node.operand)
        case Binary(operator="==" | "!=" | "<" | "<=" | ">" | ">=" | "in"):
            return "bool"
        case Binary():
            # Arithmetic has overloads only for two operands of one type (timestamps and
            # durations aside), so one known side tells the result.
            known = {static_type(node.left), static_type(node.right)} - {None}
            if len(known) == 1 and not known & {"timestamp", "duration"}:
                return known.pop()
            return None
        case Comprehension(macro="all" | "exists" | "exists_one"):
            return "bool"
        case Comprehension() | ListLiteral():
            return "list"
        case MapLiteral():
            return "map"
        case Call(function="contains" | "startsWith" | "endsWith" | "matches"):
            return "bool"
        case Call(function="size"):
            return "int"
        case Call(function="int" | "uint" | "double" | "string" | "bytes"):
            return node.function
        case Call(function="timestamp" | "duration"):
            return node.function
        case Call(function=name) if name in TIME_ACCESSORS:
            return "int"
        case Conditional():
            then, otherwise = static_type(node.then), static_type(node.otherwise)
            return then if then == otherwise else None
    return None


def compile_rule(
    source: str,
    *,
    variables: Collection[str],
    max_length: int = DEFAULT_MAX_LENGTH,
    max_cost: int = DEFAULT_MAX_COST,
    expect: Literal["bool", "any"] = "any",
    max_evaluation_cost: int = DEFAULT_MAX_EVALUATION_COST,
    limits: InputLimits = DEFAULT_INPUT_LIMITS,
) -> CompiledRule:
    """Compile and check ``source``; raise a RuleError that points at the problem.

    ``variables`` are the names the rule may read (comprehension variables need no
    declaration). Compiled rules are cached by all arguments, so calling this on a hot path
    costs a dictionary lookup.
    """
    if isinstance(variables, str):
        # A string is a collection of one-letter names: always a mistake for ("record",).
        raise TypeError(f"variables must be a collection of names, not the string {variables!r}")
    return _compile(
        source,
        frozenset(variables),
        max_length,
        max_cost,
        expect,
        max_evaluation_cost,
        limits,
    )


@lru_cache(maxsize=4096)
def _compile(
    source: str,
    variables: frozenset[str],
    max_length: int,
    max_cost: int,
    expect: str,
    max_evaluation_cost: int,
    limits: InputLimits,
) -> CompiledRule:
    if len(source) > max_length:
        raise RuleCostError(
            source, f"the expression is longer than {max_length} characters", offset=max_length
        )
    if not source.strip():
        raise RuleSyntaxError(source, "the expression is empty", offset=len(source))
    tree = parse(source)
    analysis = _Analysis(source, variables)
    plan = analysis.visit(tree, frozenset(), 0)
    for name, offset in analysis.first_use.items():
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            analysis.problem(
                RuleSyntaxError,
                f"unknown variable '{name}'{_suggestion(name, variables)} (available: {known})",
                offset,
            )
    if analysis.problems:
        # Report the first problem in reading order: the one a person would fix first.
        raise min(analysis.problems, key=lambda error: error.offset)
    cost = plan.cost(_static_iterations)
    if cost > max_cost:
        raise RuleCostError(
            source,
            f"the expression is too costly to evaluate (cost {cost}, limit {max_cost}); "
            "simplify it or avoid nested comprehensions",
            offset=_costliest(plan, _static_iterations),
        )
    if expect == "bool":
        result_type = static_type(tree)
        if result_type is not None and result_type != "bool":
            raise RuleTypeError(
                source,
                f"the rule must give true or false, but gives {_article(result_type)}",
                offset=tree.position,
            )
    return CompiledRule(
        source=source,
        variables_used=frozenset(analysis.first_use) | frozenset(analysis.paths),
        cost=cost,
        _tree=tree,
        _program=cel.compile(source),
        _first_use=dict(analysis.first_use),
        _paths=dict(analysis.paths),
        _projection={
            name: None if fields is None else tuple(sorted(fields))
            for name, fields in analysis.projection.items()
        },
        _plan=plan,
        _max_evaluation_cost=max_evaluation_cost,
        _limits=limits,
        _fast=compile_predicate(tree),
        _path=tuple(source.strip().split(".")) if _PLAIN_PATH.fullmatch(source.strip()) else None,
    )


def _costliest(plan: _CostPlan, iterations: Callable[[_Loop], int]) -> int:
    """Offset of the comprehension that contributes most to the cost, else 0."""
    best: tuple[int, int] | None = None
    for loop in plan.loops:
        contribution = iterations(loop) * loop.body.cost(iterations)
        if best is None or contribution > best[0]:
            best = (contribution, loop.node.position)
    return 0 if best is None else best[1]


def _article(type_name: str) -> str:
    return f"an {type_name}" if type_name[0] in "aeiou" else f"a {type_name}"


# -- evaluation ----------------------------------------------------------------------------


class _InputError(Exception):
    """Input the engine cannot take; ``path`` is filled in while unwinding."""

    def __init__(self, message: str, cost: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.cost = cost
        self.path: list[str] = []


class _Converter:
    """Converts input to what the engine takes, counting it against InputLimits.

    Conversions (documented in docs/rules.md): Decimal → double; date → "YYYY-MM-DD"
    string; time → "HH:MM:SS[.ffffff]" string; naive datetime → timestamp, taken as UTC;
    aware datetime → timestamp; timedelta → duration; tuple → list; str-valued enum → its
    value; UUID → string. Sets and other objects are refused, as are integers outside the
    signed 64-bit range (the engine would silently turn them into doubles).
    """

    __slots__ = ("count", "largest", "limits")

    def __init__(self, limits: InputLimits) -> None:
        self.limits = limits
        self.count = 0
        self.largest = 0  # the longest list or map seen

    def convert(self, value: Any, depth: int) -> Any:
        self.count += 1
        if self.count > self.limits.max_values:
            raise _InputError(f"the input has more than {self.limits.max_values} values", True)
        kind = type(value)
        if kind is str or kind is bytes:
            if len(value) > self.limits.max_text_length:
                raise _InputError(
                    f"a text value is longer than {self.limits.max_text_length}", True
                )
            return value
        if kind is bool or kind is float or value is None:
            return value
        if kind is int:
            if not _INT64[0] <= value <= _INT64[1]:
                raise _InputError(f"the integer {value} is outside the signed 64-bit range")
            return value
        # Exact-type checks first: an isinstance() against the Mapping ABC costs more than
        # converting a typical value.
        is_map = kind is dict or (kind is not list and isinstance(value, Mapping))
        if is_map or kind is list or kind is tuple:
            if depth >= self.limits.max_depth:
                raise _InputError(f"the input nests deeper than {self.limits.max_depth}", True)
            if len(value) > self.largest:
                self.largest = len(value)
            if is_map:
                return self.convert_map(value, depth + 1)
            return self.convert_list(value, depth + 1)
        return self.convert_other(value, depth)

    def convert_map(self, value: Mapping[Any, Any], depth: int) -> dict[Any, Any]:
        converted = {}
        limits = self.limits
        for key, item in value.items():
            if type(key) is not str and type(key) not in (int, bool):
                raise _InputError(f"a map key of type {type(key).__name__} is not supported")
            kind = type(item)
            # Plain text, numbers, bools and nulls inline (as ``convert`` takes them): event
            # data is mostly these, and a call per value is most of the cost of sharing.
            if (
                (kind is str and len(item) <= limits.max_text_length)
                or (kind is int and _INT64[0] <= item <= _INT64[1])
                or kind is float
                or kind is bool
                or item is None
            ):
                self.count += 1
                if self.count <= limits.max_values:
                    converted[key] = item
                    continue
            try:
                converted[key] = self.convert(item, depth)
            except _InputError as error:
                error.path.append(str(key))
                raise
        return converted

    def convert_list(self, value: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        converted = []
        for position, item in enumerate(value):
            try:
                converted.append(self.convert(item, depth))
            except _InputError as error:
                error.path.append(f"[{position}]")
                raise
        return converted

    def convert_other(self, value: Any, depth: int) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dt.datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        if isinstance(value, dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, dt.timedelta):
            return value
        if isinstance(value, str):  # str subclasses, StrEnum included
            return self.convert(str(value), depth)
        if isinstance(value, enum.Enum):
            return self.convert(value.value, depth)
        if isinstance(value, int):  # int subclasses (IntEnum is caught above)
            return self.convert(int(value), depth)
        if isinstance(value, uuid.UUID):
            return str(value)
        raise _InputError(f"a value of type {type(value).__name__} is not supported")


class SharedActivation:
    """An activation converted once, for evaluating many rules on the same input."""

    __slots__ = ("_context", "limits", "names", "prepared")

    def __init__(self, prepared: dict[str, Any], limits: InputLimits) -> None:
        self.prepared = prepared
        self.limits = limits
        self.names = frozenset(prepared)
        self._context: Any = None

    @property
    def context(self) -> Any:
        # Built on first use: rules the fast evaluator answers never need the engine's form.
        if self._context is None:
            self._context = cel.Context(self.prepared)
        return self._context


def share(
    activation: Mapping[str, Any], limits: InputLimits = DEFAULT_INPUT_LIMITS
) -> SharedActivation | None:
    """Convert ``activation`` once (within ``limits``); None when it exceeds them — the
    rules then convert only the fields each reads, as ``evaluate`` does."""
    converter = _Converter(limits)
    try:
        prepared = {name: converter.convert(value, 1) for name, value in activation.items()}
    except _InputError:
        return None
    return SharedActivation(prepared, limits)


def _failure_signature(error: BaseException) -> tuple[str, str]:
    text = str(error).splitlines()[0] if str(error) else ""
    return type(error).__name__, text


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A checked CEL expression, ready to evaluate many times (safe across threads)."""

    source: str
    # Top-level variables and dotted field paths the rule reads, e.g. {"record",
    # "record.amount", "record.tier"}; see field_paths().
    variables_used: frozenset[str]
    cost: int
    _tree: Node = field(repr=False)
    _program: Any = field(repr=False)
    _first_use: dict[str, int] = field(repr=False)
    _paths: dict[str, int] = field(repr=False)
    _projection: dict[str, tuple[str, ...] | None] = field(repr=False)
    _plan: _CostPlan = field(repr=False)
    _max_evaluation_cost: int = field(repr=False)
    _limits: InputLimits = field(repr=False)
    _subprograms: dict[tuple[int, int], Any] = field(default_factory=dict, repr=False)
    # The rule as a plain Python predicate when it is in the simple subset (kindred.rules.fast).
    _fast: Predicate | None = field(default=None, repr=False)
    # A plain field path ("reads.account.tax_id"): answered by walking the activation when it
    # leads to a plain scalar (most parameter values are such paths).
    _path: tuple[str, ...] | None = field(default=None, repr=False)

    def field_paths(self, root: str) -> set[str]:
        """The dotted paths under variable ``root`` the rule reads, e.g. {"record.amount"}.

        A path is read as a whole: "record.address" covers "record.address.city". The
        variable's own name ("record") is in the set when the rule reads it as a whole or
        by a key only known at run time (``record[key]``, ``size(record)``), i.e. when any
        of its fields may matter.
        """
        prefix = root + "."
        return {path for path in self._paths if path == root or path.startswith(prefix)}

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """Evaluate with ``activation`` (variable name → value); see _Converter for how
        Python values are presented to CEL. Raises RuleEvaluationError or RuleCostError."""
        if self._path is not None:
            value: Any = activation
            for part in self._path:
                if type(value) is not dict or part not in value:
                    break
                value = value[part]
            else:
                # Exactly what the engine gives back for these; anything else (containers,
                # big ints, odd types, a missing key's error) is the engine's to answer.
                kind = type(value)
                if (
                    value is None
                    or kind is str
                    or kind is bool
                    or (kind is int and -_SAFE_INT <= value <= _SAFE_INT)
                    or (kind is float and math.isfinite(value))
                ):
                    return value
        converter = _Converter(self._limits)
        prepared = self._prepare(activation, converter)
        if self._plan.loops:
            self._check_evaluation_cost(prepared, converter)
        try:
            return self._program.execute(prepared)
        except Exception as error:  # the engine raises many kinds; all mean "failed"
            raise self._failure(error, prepared) from None

    def evaluate_shared(
        self, shared: SharedActivation | None, activation: Mapping[str, Any]
    ) -> Any:
        """``evaluate``, reusing an activation converted once for many rules.

        Converting the input is most of the cost of a cheap rule; a scenario checks a
        filter and several conditions against the same event, so converting it once (into a
        reusable engine context) instead of once per rule pays. Falls back to ``evaluate``
        where the shared form does not apply (loops need the cost check on projected input;
        other limits; a variable the shared activation lacks).
        """
        if (
            shared is None
            or self._plan.loops
            or shared.limits is not self._limits
            or not shared.names.issuperset(self._projection)
        ):
            return self.evaluate(activation)
        try:
            return self._program.execute(shared.context)
        except Exception as error:  # the engine raises many kinds; all mean "failed"
            raise self._failure(error, shared.prepared) from None

    def fast_for(
        self, names: Collection[str], limits: InputLimits = DEFAULT_INPUT_LIMITS
    ) -> Predicate | None:
        """The rule as a Python predicate over ``share(activation, limits).prepared`` for
        activations that hold ``names``; it raises ``kindred.rules.fast.Unsure`` where only
        the engine can answer. None when the rule is outside the fast subset or reads
        variables beyond ``names``."""
        if self._fast is None or limits is not self._limits:
            return None
        if not set(self._projection) <= set(names):
            return None
        return self._fast

    def evaluate_bool(
        self, activation: Mapping[str, Any], shared: SharedActivation | None = None
    ) -> bool:
        fast = self._fast
        if (
            fast is not None
            and shared is not None
            and shared.limits is self._limits
            and shared.names.issuperset(self._projection)
        ):
            # Input that passed the limits, answered in Python when the answer is certain.
            with contextlib.suppress(Unsure):
                return fast(shared.prepared)
        result = (
            self.evaluate(activation)
            if shared is None
            else self.evaluate_shared(shared, activation)
        )
        if not isinstance(result, bool):
            raise RuleEvaluationError(
                self.source,
                f"the rule must give true or false, not {_python_type_name(result)}",
                offset=self._tree.position,
            )
        return result

    # -- input ---------------------------------------------------------------------------

    def _prepare(self, activation: Mapping[str, Any], converter: _Converter) -> dict[str, Any]:
        prepared: dict[str, Any] = {}
        for name, fields in self._projection.items():
            if name not in activation:
                raise RuleEvaluationError(
                    self.source,
                    f"no value given for variable '{name}'",
                    offset=self._first_use[name],
                )
            value = activation[name]
            try:
                if fields is not None and isinstance(value, Mapping):
                    # Only the fields the rule reads: converting a wide record costs the
                    # engine about a microsecond per field.
                    converter.count += 1
                    prepared[name] = projected = {}
                    for field_name in fields:
                        if field_name in value:
                            try:
                                projected[field_name] = converter.convert(value[field_name], 2)
                            except _InputError as error:
                                error.path.append(field_name)
                                raise
                else:
                    prepared[name] = converter.convert(value, 1)
            except _InputError as error:
                error.path.append(name)
                raise self._input_failure(error) from None
        return prepared

    def _input_failure(self, error: _InputError) -> RuleError:
        parts = list(reversed(error.path))
        offset = 0
        # Point at the longest path the rule reads that leads to the bad value.
        for length in range(len(parts), 0, -1):
            candidate = ".".join(parts[:length])
            if candidate in self._paths:
                offset = self._paths[candidate]
                break
        shown = "".join(part if part.startswith("[") else f".{part}" for part in parts)[1:]
        error_type = RuleCostError if error.cost else RuleEvaluationError
        return error_type(self.source, f"{shown}: {error.message}", offset=offset)

    def _check_evaluation_cost(self, prepared: dict[str, Any], converter: _Converter) -> None:
        def iterations(loop: _Loop) -> int:
            if loop.range_path is not None:
                value: Any = prepared
                for part in loop.range_path:
                    value = value.get(part) if isinstance(value, dict) else None
                if isinstance(value, list | dict):
                    return len(value)
            if isinstance(loop.node.target, ListLiteral):
                return len(loop.node.target.items)
            if isinstance(loop.node.target, MapLiteral):
                return len(loop.node.target.entries)
            # A computed list (a concatenation, a map() result …): its size is bounded by
            # what the input holds.
            return max(converter.count, converter.largest)

        cost = self._plan.cost(iterations)
        if cost > self._max_evaluation_cost:
            raise RuleCostError(
                self.source,
                f"evaluating this rule on this input would cost {cost} "
                f"(limit {self._max_evaluation_cost}): the lists it iterates are too long",
                offset=_costliest(self._plan, iterations),
            )

    # -- failures ------------------------------------------------------------------------

    def _run(self, node: Node, prepared: dict[str, Any], wrap: str = "") -> tuple[bool, Any]:
        """Evaluate the subexpression ``node`` alone: (succeeded, value or exception)."""
        key = (node.start, node.end) if not wrap else (-node.start - 1, node.end)
        program = self._subprograms.get(key)
        if program is None:
            text = self.source[node.start : node.end]
            try:
                program = cel.compile(f"{wrap}({text})" if wrap else text)
            except Exception as error:  # pragma: no cover - every subtree is valid CEL
                return False, error
            self._subprograms[key] = program
        try:
            return True, program.execute(prepared)
        except Exception as error:
            return False, error

    def _locate(self, signature: tuple[str, str], prepared: dict[str, Any]) -> Node:
        """The smallest subexpression that fails alone the way the whole rule failed.

        Top-down, so a subexpression that fails only because a short-circuit did not spare
        it (``has(r.x) && r.x > 1`` evaluated on its own) is never blamed: its parent
        succeeded, or failed differently.
        """
        node = self._tree
        while True:
            for child in node.children():
                succeeded, outcome = self._run(child, prepared)
                if not succeeded and _failure_signature(outcome) == signature:
                    node = child
                    break
            else:
                return node

    def _failure(self, error: BaseException, prepared: dict[str, Any]) -> RuleEvaluationError:
        node = self._locate(_failure_signature(error), prepared)
        return RuleEvaluationError(
            self.source, self._describe(error, node, prepared), offset=node.position
        )

    def _type_of(self, node: Node, prepared: dict[str, Any]) -> str | None:
        succeeded, outcome = self._run(node, prepared, wrap="type")
        return _READABLE_TYPES.get(outcome, outcome) if succeeded else None

    def _describe(self, error: BaseException, node: Node, prepared: dict[str, Any]) -> str:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if isinstance(error, KeyError):
            found = path_of(node)
            if found is not None and found[1]:
                dotted = ".".join((found[0].name, *found[1]))
                return f"'{dotted}' is not set (test it with has({dotted}) first)"
            return f"no such key: {error.args[0]!r}"
        if isinstance(error, ZeroDivisionError):
            return text.removesuffix(" in CEL expression")
        if isinstance(error, OverflowError):
            return f"integer overflow ({text})"
        if isinstance(error, IndexError):
            return text
        if isinstance(error, TypeError):
            return self._describe_overload(node, prepared)
        if text.startswith("Undefined variable or function") and isinstance(node, Call):
            # The engine has the function, but not for these argument types.
            return self._describe_overload(node, prepared)
        if text.startswith("Function '"):
            # "Function 'matches' error: '(' not a valid regex:\nregex parse error: …\n
            # error: unclosed group. Check function arguments and their types."
            function, _, detail = text.removeprefix("Function '").partition("' error: ")
            reason = [line for line in str(error).splitlines() if line.startswith("error: ")]
            if reason:
                detail = f"{detail.rstrip(':')}: {reason[-1].removeprefix('error: ')}"
            detail = detail.split(". Check function arguments")[0].rstrip(".")
            return f"{function}(): {detail}"
        return text

    def _describe_overload(self, node: Node, prepared: dict[str, Any]) -> str:
        types = [self._type_of(child, prepared) for child in node.children()]
        shown = [name or "?" for name in types]
        match node:
            case Binary():
                return f"no such overload: {shown[0]} {node.operator} {shown[1]}"
            case Unary():
                return f"no such overload: {node.operator}{shown[0]}"
            case Select():
                return f"cannot select field '{node.field}' from {_article(shown[0])}"
            case Index():
                return f"no such overload: {shown[0]}[{shown[1]}]"
            case Call(target=None):
                return f"no such overload: {node.function}({', '.join(shown)})"
            case Call():
                return f"no such overload: {shown[0]}.{node.function}({', '.join(shown[1:])})"
            case Logical():
                return f"'{node.operator}' needs true or false, not {_article(shown[0])}"
            case Conditional():
                return f"the condition of '?:' must be true or false, not {_article(shown[0])}"
            case Comprehension():
                return f"{node.macro}() cannot run over {_article(shown[0])}"
        return "no such overload for these operand types"


def _python_type_name(value: Any) -> str:
    names = {
        int: "an int",
        float: "a double",
        str: "a string",
        bytes: "bytes",
        list: "a list",
        dict: "a map",
        type(None): "null",
        dt.datetime: "a timestamp",
        dt.timedelta: "a duration",
    }
    return names.get(type(value), type(value).__name__)
