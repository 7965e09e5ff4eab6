"""A direct Python evaluator for the simple rules most scenarios are made of.

``event.data.severity in ['major', 'critical'] && event.data.site == 'plant-3'`` costs the
CEL engine a few microseconds per call, most of it crossing into the engine; a scenario
engine checks such rules for every candidate scenario of every event. This module compiles
the common subset — field paths, literals, comparisons, ``in`` a list of literals, ``&&``,
``||``, ``!`` — into plain Python closures.

Exactness comes first: a fast predicate either gives exactly the answer the CEL engine
would give, or raises ``Unsure`` and the caller asks the engine. It is unsure whenever the
answer depends on rules it does not model: a missing field (the engine raises an error), a
value of another type than those compared here (int, double, string, bool, null), mixed
int/double comparisons beyond 2**53 (the engine compares in doubles, Python exactly). Rules
outside the subset are not compiled at all (``compile_predicate`` returns None).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from kindred.rules.syntax import Binary, Identifier, ListLiteral, Literal, Logical, Node, Select
from kindred.rules.syntax import Unary as UnaryNode

Predicate = Callable[[Mapping[str, Any]], bool]
_Getter = Callable[[Mapping[str, Any]], Any]

EXACT_FLOAT_INT = 2**53  # beyond this an int converted to a double may change value
_INT64 = 2**63 - 1
_NUMBERS = (int, float)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERED = {"<", "<=", ">", ">="}


class Unsure(Exception):
    """The fast evaluator cannot be sure of the engine's answer for this input."""


def field_path(node: Node) -> tuple[str, ...] | None:
    """``event.data.site`` → ("event", "data", "site"); None for anything else."""
    names: list[str] = []
    while isinstance(node, Select):
        names.append(node.field)
        node = node.operand
    if not isinstance(node, Identifier) or node.rooted:
        return None
    names.append(node.name)
    return tuple(reversed(names))


def literal_value(node: Node) -> tuple[bool, Any]:
    """(True, value) for an int, double, string, bool or null literal (a negated number
    included); (False, None) otherwise."""
    if isinstance(node, UnaryNode) and node.operator == "-":
        ok, value = literal_value(node.operand)
        if ok and type(value) in _NUMBERS:
            return True, -value
        return False, None
    if isinstance(node, Literal) and node.type_name in ("int", "double", "string", "bool", "null"):
        if node.type_name == "int" and abs(node.value) > _INT64:
            return False, None
        return True, node.value
    return False, None


def lookup(path: tuple[str, ...], activation: Mapping[str, Any]) -> Any:
    """The value at ``path``; raises Unsure where the engine would fail (missing key, not
    a map)."""
    try:
        value = activation[path[0]]
        for name in path[1:]:
            if type(value) is not dict:
                raise Unsure
            value = value[name]
    except KeyError:
        raise Unsure from None
    return value


def index_key(value: Any) -> tuple[str, Any] | None:
    """A hashable key under which two values are equal exactly when CEL says so; None when
    the value is not one this module is sure about.

    Python's own equality is not CEL's: ``True == 1`` in Python, not in CEL; ``1 == 1.0`` in
    both (numbers share one kind here), but only within 2**53.
    """
    kind = type(value)
    if kind is str:
        return ("s", value)
    if kind is bool:
        return ("b", value)
    if value is None:
        return ("n", None)
    if kind is int:
        return ("#", value) if -EXACT_FLOAT_INT <= value <= EXACT_FLOAT_INT else None
    if kind is float:
        if value != value or not -EXACT_FLOAT_INT <= value <= EXACT_FLOAT_INT:
            return None  # NaN equals nothing; huge doubles compare inexactly with ints
        return ("#", value)
    return None


def _comparable(left: Any, right: Any, ordered: bool) -> bool:
    """Whether Python's comparison of these two gives the engine's answer."""
    kind, other = type(left), type(right)
    if (kind is float and left != left) or (other is float and right != right):
        return False  # NaN: the engine refuses to order it
    if kind is other:
        if kind is int or kind is float or kind is str or kind is bool:
            return True
        return kind is type(None) and not ordered
    if kind in _NUMBERS and other in _NUMBERS:
        number = left if kind is int else right
        return bool(-EXACT_FLOAT_INT <= number <= EXACT_FLOAT_INT)
    return False


def compile_predicate(tree: Node) -> Predicate | None:
    """A Python predicate with the engine's answers for ``tree``, or None when the rule is
    outside the subset."""
    return _boolean(tree)


def _boolean(node: Node) -> Predicate | None:
    if isinstance(node, Logical):
        parts = [_boolean(operand) for operand in node.operands]
        if any(part is None for part in parts):
            return None
        return _logical(node.operator, parts)  # type: ignore[arg-type]
    if isinstance(node, UnaryNode) and node.operator == "!":
        inner = _boolean(node.operand)
        if inner is None:
            return None
        return lambda activation: not inner(activation)
    if isinstance(node, Binary):
        if node.operator in _COMPARE:
            return _comparison(node)
        if node.operator == "in":
            return _membership(node)
        return None
    ok, value = literal_value(node)
    if ok:
        if type(value) is not bool:
            return None
        return lambda activation: value
    path = field_path(node)
    if path is not None:

        def flag(activation: Mapping[str, Any]) -> bool:
            found = lookup(path, activation)
            if type(found) is not bool:
                raise Unsure
            return found

        return flag
    return None


def _logical(symbol: str, parts: list[Predicate]) -> Predicate:
    # CEL's && and || are commutative over errors: false && error is false, whichever side
    # fails. So a decisive operand decides even when another one is unsure.
    decisive = symbol == "||"

    def combined(activation: Mapping[str, Any]) -> bool:
        unsure = False
        for part in parts:
            try:
                if part(activation) is decisive:
                    return decisive
            except Unsure:
                unsure = True
        if unsure:
            raise Unsure
        return not decisive

    return combined


def _operand(node: Node) -> _Getter | None:
    """A literal or a field path as a getter; None for anything else."""
    ok, value = literal_value(node)
    if ok:
        return lambda activation: value
    path = field_path(node)
    if path is None:
        return None
    return lambda activation: lookup(path, activation)


def _comparison(node: Binary) -> Predicate | None:
    compare = _COMPARE[node.operator]
    ordered = node.operator in _ORDERED
    left_path, right_path = field_path(node.left), field_path(node.right)
    left_ok, left_value = literal_value(node.left)
    right_ok, right_value = literal_value(node.right)
    if left_path is not None and right_ok:
        return _path_against_literal(left_path, right_value, compare, ordered, flipped=False)
    if right_path is not None and left_ok:
        return _path_against_literal(right_path, left_value, compare, ordered, flipped=True)
    get_left, get_right = _operand(node.left), _operand(node.right)
    if get_left is None or get_right is None:
        return None

    def general(activation: Mapping[str, Any]) -> bool:
        left, right = get_left(activation), get_right(activation)
        if not _comparable(left, right, ordered):
            raise Unsure
        return bool(compare(left, right))

    return general


def _path_against_literal(
    path: tuple[str, ...],
    constant: Any,
    compare: Callable[[Any, Any], bool],
    ordered: bool,
    *,
    flipped: bool,
) -> Predicate | None:
    """The most common rule shape, ``event.data.x < 5``, in one closure."""
    if constant is None and ordered:
        return None  # null has no order: the engine fails, always
    kind = type(constant)
    numeric = kind in _NUMBERS
    if numeric and not -EXACT_FLOAT_INT <= constant <= EXACT_FLOAT_INT:
        return None
    first, *rest = path

    def check(activation: Mapping[str, Any]) -> bool:
        try:
            value = activation[first]
            for name in rest:
                if type(value) is not dict:
                    raise Unsure
                value = value[name]
        except KeyError:
            raise Unsure from None
        found = type(value)
        if found is float and value != value:
            raise Unsure  # NaN: the engine refuses to order it
        if found is not kind:
            if not (numeric and found in _NUMBERS) or found is bool:
                raise Unsure
            if found is int and not -EXACT_FLOAT_INT <= value <= EXACT_FLOAT_INT:
                raise Unsure
        elif value is None and ordered:
            raise Unsure
        return bool(compare(constant, value) if flipped else compare(value, constant))

    return check


def _membership(node: Binary) -> Predicate | None:
    """``path in [literal, …]``: equality against each item, as CEL defines ``in``."""
    path = field_path(node.left)
    if path is None or not isinstance(node.right, ListLiteral):
        return None
    keys = []
    for item in node.right.items:
        ok, value = literal_value(item)
        if not ok:
            return None
        key = index_key(value)
        if key is None:
            return None
        keys.append(key)
    wanted = frozenset(keys)
    first, *rest = path

    def member(activation: Mapping[str, Any]) -> bool:
        try:
            value = activation[first]
            for name in rest:
                if type(value) is not dict:
                    raise Unsure
                value = value[name]
        except KeyError:
            raise Unsure from None
        key = index_key(value)
        if key is None:
            raise Unsure
        return key in wanted

    return member


def equality_keys(tree: Node) -> list[tuple[tuple[str, ...], frozenset[tuple[str, Any]]]]:
    """For a rule that is a conjunction, its conjuncts of the form ``path == literal`` or
    ``path in [literals]``: (path, the index keys a value must have for the rule to hold).

    A scenario engine indexes scenarios by these: an event whose value at ``path`` has
    another key cannot satisfy the rule (it is false, never an error, for a sure key).
    """
    conjuncts = tree.operands if isinstance(tree, Logical) and tree.operator == "&&" else (tree,)
    found = []
    for conjunct in conjuncts:
        if not isinstance(conjunct, Binary):
            continue
        if conjunct.operator == "==":
            for path_node, literal_node in (
                (conjunct.left, conjunct.right),
                (conjunct.right, conjunct.left),
            ):
                path = field_path(path_node)
                ok, value = literal_value(literal_node)
                key = index_key(value) if ok else None
                if path is not None and key is not None:
                    found.append((path, frozenset([key])))
                    break
        elif conjunct.operator == "in" and isinstance(conjunct.right, ListLiteral):
            path = field_path(conjunct.left)
            keys = []
            for item in conjunct.right.items:
                ok, value = literal_value(item)
                key = index_key(value) if ok else None
                if key is None:
                    break
                keys.append(key)
            else:
                if path is not None and keys:
                    found.append((path, frozenset(keys)))
    return found
