"""Static checks on an agent definition that compiled: no path may read a value it left unset,
and the values the outputs take from literals must fit the declared output schema.

``check_definition`` calls :func:`check_agent` once a definition is well formed (at save and
validate time; versions already saved are not checked again when they load, so an upgrade
never stops an agent that is running). Each finding is a problem with a JSON Pointer into the
definition, in the same form as the structural ones.

How a step leaves its output is modelled as *shapes*, one per way it can end: a rule step
ends in one of its rows or its default; a tool step with the tool's output model (every field
is always present: the runtime dumps the model) or, when it fails, its ``on_error`` fallback
value; an llm step with the labelled text; an agent step with the child's ``outputs.value``
(its latest version); a human or escalated step with what each decision leaves (the task's
``outcomes``, else its proposal); a step with ``when`` may not run at all, and one outside a
step's ``needs`` may not have run yet. Every ``steps.<id>.<key>`` an expression reads (CEL
through :mod:`kindred.rules.syntax`, templates through Jinja's parser) must then be set by
every shape the read can meet, unless ``has()`` (``is defined`` in a template) guards it. A
rule row is not met under a shape when an earlier row certainly matches there (``!steps.
payments.known`` when the fallback says ``known: false``), which a small three-valued
evaluation of the rows' conditions over the shape's literal values decides.

Beside the reads: a key without a value that reads like text (``{reason: qualified, in stock
and compatible}`` is YAML for two keys) is refused as the slip it is, and every literal an
output can take (written in the outputs, or in the rule rows an output reads) must fit that
output's ``outputs.schema``. These checks run only on a definition the structural ones
passed; the runtime still validates the outputs it computes against the schema.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jinja2
import jsonschema
from jinja2 import nodes

from kindred.errors import field_error
from kindred.rules.compiler import CompiledRule
from kindred.rules.errors import RuleError
from kindred.rules.syntax import (
    Binary,
    Comprehension,
    Conditional,
    Index,
    ListLiteral,
    Logical,
    Node,
    Presence,
    Select,
    Unary,
    parse,
    path_of,
)
from kindred.rules.syntax import Literal as LiteralNode
from kindred.scenarios.definition import Template, escape_pointer

if TYPE_CHECKING:
    from kindred.agents.definition import CompiledAgent, CompiledStep

__all__ = ["AgentOutputs", "check_agent"]

UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()
LLM_KEYS = ("text", "body", "label", "metadata")  # llm.LabelledText.to_dict()
SLIP = "this looks like an unquoted comma in a text value; quote the text"
Path = tuple[str, ...]  # under `steps`: (step,) or (step, key, …)
Facts = frozenset[Path]  # paths known to be set
AgentOutputs = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Shape:
    """One way a step can leave its output: the keys it sets (values: literal or UNKNOWN).
    ``closed``: exactly these keys; an open shape (computed as a whole) is not checked."""

    fields: Mapping[str, Any]
    closed: bool
    label: str


OPEN = Shape({}, False, "")


@dataclass(frozen=True)
class Site:
    """An expression and what holds wherever it is evaluated: the step it belongs to (None:
    the outputs), the facts its position guarantees, and — for rule rows — when it is met."""

    pointer: str
    value: CompiledRule | Template
    owner: str | None
    facts: Facts
    met: Callable[[str, Shape], bool]


def _always(_step: str, _shape: Shape) -> bool:
    return True


def check_agent(
    compiled: CompiledAgent,
    tools: Mapping[str, Any],
    agent_outputs: AgentOutputs | None = None,
) -> list[dict[str, Any]]:
    """Every static problem of ``compiled``: reads of values some path leaves unset, steps
    read before they surely ran, YAML slips, and literal outputs outside the output schema."""
    return _Checks(compiled, tools, agent_outputs).run()


class _Checks:
    def __init__(
        self,
        compiled: CompiledAgent,
        tools: Mapping[str, Any],
        agent_outputs: AgentOutputs | None,
    ) -> None:
        self.compiled = compiled
        self.tools = tools
        self.agent_outputs = agent_outputs
        self.problems: list[dict[str, Any]] = []
        self._seen: set[tuple[str, str, str]] = set()
        self.shapes = {sid: self._shapes(step) for sid, step in compiled.steps.items()}
        self.ancestors = _ancestors(compiled)

    def problem(self, path: str, code: str, message: str) -> None:
        if (path, code, message) not in self._seen:
            self._seen.add((path, code, message))
            self.problems.append(field_error(path, code, message))

    def run(self) -> list[dict[str, Any]]:
        self.slips()
        for site in self.sites():
            self.check_reads(site)
        self.output_values()
        return self.problems

    # -- how steps end ---------------------------------------------------------------------

    def _shapes(self, compiled: CompiledStep) -> list[Shape]:
        step, pointer = compiled.step, compiled.pointer
        shapes: list[Shape] = []
        if step.kind == "rule":
            for index, row in enumerate(compiled.rows):
                where = f"{pointer}/rules/{index}/then"
                shapes.append(_shape_of(row.then, f"ends in row {index} ({where})"))
            if step.hit == "collect":
                label = "has matching rows (with hit: collect it gives only 'hits')"
                shapes = [Shape({"hits": UNKNOWN}, True, label)]
            if compiled.default is not None:
                where = f"{pointer}/default"
                shapes.append(_shape_of(compiled.default, f"ends in its default ({where})"))
        elif step.kind == "tool":
            model = getattr(self.tools.get(step.tool or ""), "output", None)
            fields = getattr(model, "model_fields", None)
            if fields is None:
                shapes.append(OPEN)
            else:
                label = f"succeeds (the output of {step.tool} has no such field)"
                shapes.append(Shape(dict.fromkeys(fields, UNKNOWN), True, label))
        elif step.kind == "llm":
            label = "runs (an llm step gives text, body, label and metadata)"
            shapes.append(Shape(dict.fromkeys(LLM_KEYS, UNKNOWN), True, label))
        elif step.kind == "agent":
            outputs = self.agent_outputs(step.agent or "") if self.agent_outputs else None
            if outputs is None:
                shapes.append(OPEN)
            else:
                values = {k: _raw_literal(v) for k, v in outputs.items()}
                label = f"succeeds (agent {step.agent}'s outputs.value has no such output)"
                shapes.append(Shape(values, True, label))
        else:  # human: what a decision leaves is the task's to define (see _decision_shapes)
            shapes.extend(_decision_shapes(compiled, "task"))
        route = step.on_error.route
        if route == "fallback" and compiled.error_value is not None:
            where = f"{pointer}/on_error/value"
            label = f"fails and its fallback value is used ({where})"
            shapes.append(_shape_of(compiled.error_value, label))
        elif route == "escalate" and step.kind != "human":
            shapes.extend(_decision_shapes(compiled, "on_error/task"))
        return shapes

    # -- where expressions are evaluated ---------------------------------------------------

    def sites(self) -> Iterator[Site]:
        for sid, compiled in self.compiled.steps.items():
            yield from self._step_sites(sid, compiled)
        for name, value in self.compiled.outputs.items():
            pointer = f"/outputs/value/{escape_pointer(name)}"
            for where, expression in _expressions(value, pointer):
                yield Site(where, expression, None, frozenset(), _always)

    def _step_sites(self, sid: str, compiled: CompiledStep) -> Iterator[Site]:
        pointer = compiled.pointer
        guard: Node | None = None
        if compiled.guard is not None:
            guard = _tree(compiled.guard.source)
            yield Site(f"{pointer}/when", compiled.guard, sid, frozenset(), _always)
        # What the step's own `when` guarantees holds for everything it evaluates.
        base = _facts(guard, True) if guard is not None else frozenset()

        def runs(step: str, shape: Shape, base_met: Callable[[str, Shape], bool]) -> bool:
            return (guard is None or _evaluate(guard, step, shape) is not False) and base_met(
                step, shape
            )

        def site(
            where: str,
            value: CompiledRule | Template,
            facts: Facts,
            met: Callable[[str, Shape], bool],
        ) -> Site:
            return Site(where, value, sid, base | facts, lambda s, h: runs(s, h, met))

        if compiled.step.kind == "rule":
            first = compiled.step.hit == "first"
            trees = [_tree(row.rule.source) for row in compiled.rows]
            before: Facts = frozenset()
            for index, row in enumerate(compiled.rows):
                earlier = trees[:index] if first else []
                reached = _reached(earlier)
                when = f"{pointer}/rules/{index}/when"
                yield site(when, row.rule, before if first else frozenset(), reached)
                holds = _facts(trees[index], True) | (before if first else frozenset())
                chosen = _chosen(earlier, trees[index])
                for where, value in _expressions(row.then, f"{pointer}/rules/{index}/then"):
                    yield site(where, value, holds, chosen)
                before = before | _facts(trees[index], False)
            if compiled.default is not None:
                reached = _reached(trees)
                for where, value in _expressions(compiled.default, f"{pointer}/default"):
                    yield site(where, value, before, reached)
        values: list[tuple[str, Any]] = [
            (f"{pointer}/with", compiled.params),
            (f"{pointer}/prompt", compiled.prompt),
            (f"{pointer}/system", compiled.system),
            (f"{pointer}/fallback", compiled.fallback),
            (f"{pointer}/task/title", compiled.task_title),
            (f"{pointer}/task/details", compiled.task_details),
            (f"{pointer}/on_error/value", compiled.error_value),
        ]
        if compiled.error_task is not None:
            title, details, _sla = compiled.error_task
            values += [(f"{pointer}/on_error/task/title", title)]
            values += [(f"{pointer}/on_error/task/details", details)]
        if compiled.outcomes:
            where = "task" if compiled.step.kind == "human" else "on_error/task"
            values.append((f"{pointer}/{where}/outcomes", compiled.outcomes))
        if compiled.compensate is not None:
            values.append((f"{pointer}/compensate/with", compiled.compensate["params"]))
        for where, value in values:
            for at, expression in _expressions(value, where):
                yield site(at, expression, frozenset(), _always)

    # -- reads -----------------------------------------------------------------------------

    def check_reads(self, site: Site) -> None:
        for path, facts in _reads(site.value):
            facts = facts | site.facts
            step = path[0]
            if step not in self.compiled.steps:
                known = ", ".join(self.compiled.steps)
                self.problem(site.pointer, "unknown-step", f"no step {step!r}; steps: {known}")
                continue
            if (step,) not in facts and self._maybe_absent(site, step):
                continue
            if len(path) < 2 or path[:2] in facts:
                continue
            key = path[1]
            missing = [
                shape.label
                for shape in self.shapes[step]
                if shape.closed and key not in shape.fields and site.met(step, shape)
            ]
            if missing:
                self.problem(
                    site.pointer,
                    "unset-value",
                    f"steps.{step}.{key} is not set when {step} "
                    + ", or when it ".join(missing)
                    + f"; set {key!r} on every path, or guard the read with "
                    f"has(steps.{step}.{key})",
                )

    def _maybe_absent(self, site: Site, step: str) -> bool:
        """Report (and say True) when ``steps.<step>`` may not be set where ``site`` reads it."""
        owner = site.owner
        if owner is not None and step not in self.ancestors[owner]:
            what = "its own output" if step == owner else f"steps.{step}"
            self.problem(
                site.pointer,
                "step-not-needed",
                f"step {owner!r} reads {what}, but {step!r} is not among its needs (directly "
                f"or through them), so it may not have run yet: add {step!r} to 'needs'",
            )
            return True
        when = self.compiled.steps[step].step.when
        if when is not None:
            self.problem(
                site.pointer,
                "step-maybe-skipped",
                f"step {step!r} is skipped when its 'when' ({when}) is false, and then "
                f"steps.{step} is not set: guard the read with has(steps.{step})",
            )
            return True
        return False

    # -- YAML slips ------------------------------------------------------------------------

    def slips(self) -> None:
        for compiled in self.compiled.steps.values():
            step, pointer = compiled.step, compiled.pointer
            mappings: list[tuple[str, Any]] = [
                (f"{pointer}/rules/{i}/then", row.then) for i, row in enumerate(step.rules)
            ]
            if step.default is not None:
                mappings.append((f"{pointer}/default", step.default))
            outputs = [m for _, m in mappings]
            for where, mapping in mappings:
                others = [m for m in outputs if m is not mapping]
                self._slip(mapping, where, others)
            if step.on_error.value is not None:
                self._slip(step.on_error.value, f"{pointer}/on_error/value", None)
            for task, where in ((step.task, "task"), (step.on_error.task, "on_error/task")):
                if task is not None:
                    self._slip(task.details, f"{pointer}/{where}/details", None)
                    self._slip(task.outcomes, f"{pointer}/{where}/outcomes", None)
        self._slip(self.compiled.definition.outputs.value, "/outputs/value", None)

    def _slip(self, mapping: Any, pointer: str, others: list[Any] | None) -> None:
        """``{reason: qualified, in stock}`` is YAML for reason "qualified" plus a key
        "in stock" without a value: refuse a null key that reads like text (spaces, a comma),
        or — in a rule step — one that no other row or default sets."""
        if not isinstance(mapping, dict) or set(mapping) == {"cel"}:
            return
        previous: tuple[str, Any] | None = None
        for key, value in mapping.items():
            where = f"{pointer}/{escape_pointer(str(key))}"
            if isinstance(value, dict):
                self._slip(value, where, None)
            textual = isinstance(key, str) and (" " in key.strip() or "," in key)
            lonely = (
                others is not None
                and len(others) > 0
                and previous is not None
                and not any(isinstance(o, dict) and key in o for o in others)
            )
            if value is None and (textual or lonely):
                hint = ""
                if previous is not None and isinstance(previous[1], str):
                    hint = f', e.g. {previous[0]}: "{previous[1]}, {key}"'
                self.problem(where, "unquoted-comma", f"{key!r} has no value: {SLIP}{hint}")
            previous = (str(key), value)

    # -- outputs against their schema ------------------------------------------------------

    def output_values(self) -> None:
        outputs = self.compiled.definition.outputs
        schema = outputs.schema_
        if not isinstance(schema, dict):
            return
        for index, name in enumerate(schema.get("required") or []):
            if isinstance(name, str) and name not in outputs.value:
                self.problem(
                    f"/outputs/schema/required/{index}",
                    "output-schema",
                    f"the schema requires output {name!r}, but outputs.value does not give it",
                )
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return
        for name, value in self.compiled.outputs.items():
            subschema = properties.get(name)
            if not isinstance(subschema, dict | bool):
                continue
            validator = jsonschema.Draft202012Validator(subschema)
            origin = f"/outputs/value/{escape_pointer(name)}"
            for where, literal in self._literals(value, origin, 0):
                error = jsonschema.exceptions.best_match(validator.iter_errors(literal))
                if error is not None:
                    self.problem(
                        where,
                        "output-schema",
                        f"{literal!r} becomes output {name!r} ({origin}), which the output "
                        f"schema refuses: {error.message}",
                    )

    def _literals(self, value: Any, pointer: str, depth: int) -> Iterator[tuple[str, Any]]:
        """The literal values ``value`` can take, each with where it is written: literals,
        both arms of a conditional, and ``steps.<id>.<key>`` followed into rule rows."""
        if depth > len(self.compiled.steps):
            return
        if isinstance(value, Template):
            return
        if not isinstance(value, CompiledRule):
            if _literal(value) is not UNKNOWN:
                yield pointer, value
            return
        yield from self._node_literals(_tree(value.source), pointer + "/cel", depth)

    def _node_literals(self, node: Node, pointer: str, depth: int) -> Iterator[tuple[str, Any]]:
        if isinstance(node, Conditional):
            yield from self._node_literals(node.then, pointer, depth)
            yield from self._node_literals(node.otherwise, pointer, depth)
            return
        if isinstance(node, LiteralNode) and node.type_name != "bytes":
            yield pointer, node.value
            return
        found = path_of(node)
        if found is None or found[0].name != "steps" or len(found[1]) != 2:
            return
        step, key = found[1]
        compiled = self.compiled.steps.get(step)
        if compiled is None or compiled.step.kind != "rule":
            return
        sources = [
            (f"{compiled.pointer}/rules/{i}/then", r.then) for i, r in enumerate(compiled.rows)
        ]
        if compiled.default is not None:
            sources.append((f"{compiled.pointer}/default", compiled.default))
        if compiled.error_value is not None:
            sources.append((f"{compiled.pointer}/on_error/value", compiled.error_value))
        for where, mapping in sources:
            if isinstance(mapping, dict) and key in mapping:
                at = f"{where}/{escape_pointer(key)}"
                yield from self._literals(mapping[key], at, depth + 1)


# -- shapes ------------------------------------------------------------------------------------


def _literal(value: Any) -> Any:
    """``value`` when nothing in it is computed, else UNKNOWN."""
    if isinstance(value, CompiledRule | Template):
        return UNKNOWN
    if isinstance(value, dict):
        parts = {k: _literal(v) for k, v in value.items()}
        return UNKNOWN if any(v is UNKNOWN for v in parts.values()) else parts
    if isinstance(value, list):
        items = [_literal(v) for v in value]
        return UNKNOWN if any(v is UNKNOWN for v in items) else items
    return value


def _raw_literal(value: Any) -> Any:
    """The same for a definition as written (``{cel: …}``, templates as text)."""
    if isinstance(value, dict) and set(value) == {"cel"}:
        return UNKNOWN
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return UNKNOWN
    if isinstance(value, dict):
        parts = {k: _raw_literal(v) for k, v in value.items()}
        return UNKNOWN if any(v is UNKNOWN for v in parts.values()) else parts
    return value


def _shape_of(value: Any, label: str) -> Shape:
    if not isinstance(value, dict):
        return OPEN  # computed as a whole (one CEL expression)
    return Shape({k: _literal(v) for k, v in value.items()}, True, label)


def _decision_shapes(compiled: CompiledStep, where: str) -> list[Shape]:
    """What a person's decision leaves as the step's output (``runtime.decided_output``):
    the task's declared outcome for approved/rejected; for a modification its values (a
    subset of ``modifiable``) over the 'modified' or 'approved' outcome; without outcomes
    the literal ``details.proposal`` (an escalation without either can only be decided by
    a modification that gives every modifiable value); then ``outcome``, ``values``,
    ``comment`` and ``by``."""
    escalation = where != "task"
    task = compiled.step.on_error.task if escalation else compiled.step.task
    if escalation and compiled.error_task is not None:
        details = compiled.error_task[1]
    else:
        details = compiled.task_details
    modifiable = list(task.modifiable) if task is not None else []
    outcomes: dict[str, Any] = compiled.outcomes
    pointer = f"{compiled.pointer}/{where}"
    shapes = []
    for decision in ("approved", "rejected", "modified"):
        changed: list[str] = []
        if outcomes:
            if decision == "modified":
                base, changed = outcomes.get("modified", outcomes.get("approved")), modifiable
            else:
                base = outcomes.get(decision)
            label = f"is decided {decision!r} ({pointer}/outcomes)"
        elif isinstance(details.get("proposal"), dict):
            base = details["proposal"]
            changed = modifiable if decision == "modified" else []
            label = f"is decided {decision!r} ({pointer}/details/proposal)"
        elif escalation:
            if decision != "modified":
                continue  # refused when deciding: no output is defined for it
            base, label = dict.fromkeys(modifiable, UNKNOWN), f"is decided ({pointer})"
        else:
            base, label = {}, f"is decided {decision!r} ({pointer}: no outcomes declared)"
        shape = _shape_of(base if base is not None else {}, label)
        if not shape.closed:
            shapes.append(OPEN)
            continue
        fields = {**shape.fields, **dict.fromkeys(changed, UNKNOWN), "outcome": decision}
        fields.update(dict.fromkeys(("values", "comment", "by"), UNKNOWN))
        shapes.append(Shape(fields, True, label))
    return shapes


def _ancestors(compiled: CompiledAgent) -> dict[str, frozenset[str]]:
    found: dict[str, frozenset[str]] = {}
    for sid in compiled.order:
        needs = [n for n in compiled.steps[sid].step.needs if n in compiled.steps]
        found[sid] = frozenset(needs).union(*(found.get(n, frozenset()) for n in needs))
    return found


def _expressions(value: Any, pointer: str) -> Iterator[tuple[str, CompiledRule | Template]]:
    if isinstance(value, CompiledRule):
        yield pointer + "/cel", value
    elif isinstance(value, Template):
        yield pointer, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _expressions(item, f"{pointer}/{escape_pointer(str(key))}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _expressions(item, f"{pointer}/{index}")


# -- reading expressions -----------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _tree(source: str) -> Node:
    return parse(source)


def _reads(value: CompiledRule | Template) -> Iterator[tuple[Path, Facts]]:
    if isinstance(value, Template):
        yield from _template_reads(value.source)
        return
    try:
        tree = _tree(value.source)
    except RuleError:  # pragma: no cover - it compiled, so it parses
        return
    yield from _cel_reads(tree, frozenset())


def _steps_path(node: Node) -> Path | None:
    found = path_of(node)
    if found is None or found[0].name != "steps" or not found[1]:
        return None
    return found[1]


def _cel_reads(node: Node, facts: Facts) -> Iterator[tuple[Path, Facts]]:
    if isinstance(node, Presence):
        path = _steps_path(node.select)
        if path is not None:
            if len(path) > 1:
                yield path[:-1], facts
            return
    elif isinstance(node, Select | Index):
        path = _steps_path(node)
        if path is not None:
            yield path, facts
            return
    elif isinstance(node, Logical):
        # CEL's && and || are commutative (an error on one side is absorbed when the other
        # decides), so every operand is guarded by what the others guarantee.
        truth = node.operator == "||"
        for index, operand in enumerate(node.operands):
            others = [o for j, o in enumerate(node.operands) if j != index]
            guard = frozenset().union(*(_facts(o, not truth) for o in others))
            yield from _cel_reads(operand, facts | guard)
        return
    elif isinstance(node, Conditional):
        yield from _cel_reads(node.condition, facts)
        yield from _cel_reads(node.then, facts | _facts(node.condition, True))
        yield from _cel_reads(node.otherwise, facts | _facts(node.condition, False))
        return
    elif isinstance(node, Comprehension) and node.variable == "steps":
        yield from _cel_reads(node.target, facts)
        return  # `steps` is the loop variable inside
    for child in node.children():
        yield from _cel_reads(child, facts)


def _facts(node: Node, truth: bool) -> Facts:
    """The ``steps`` paths certainly set when ``node`` evaluates to ``truth``."""
    if isinstance(node, Presence) and truth:
        path = _steps_path(node.select)
        if path is None:
            return frozenset()
        return frozenset(path[:length] for length in range(1, len(path) + 1))
    if isinstance(node, Unary) and node.operator == "!":
        return _facts(node.operand, not truth)
    if isinstance(node, Logical) and (node.operator == "&&") == truth:
        return frozenset().union(*(_facts(o, truth) for o in node.operands))
    return frozenset()


@lru_cache(maxsize=1024)
def _template_reads_cached(source: str) -> tuple[tuple[Path, Facts], ...]:
    try:
        tree = jinja2.Environment(autoescape=False).parse(source)  # parsed, never rendered
    except jinja2.TemplateSyntaxError:  # pragma: no cover - it was checked already
        return ()
    defined: set[Path] = set()
    for test in tree.find_all(nodes.Test):
        if test.name == "defined":
            path = _jinja_path(test.node)
            if path:
                defined.update(path[:length] for length in range(1, len(path) + 1))
    facts = frozenset(defined)
    return tuple((path, facts) for path in _jinja_reads(tree) if path)


def _template_reads(source: str) -> Iterator[tuple[Path, Facts]]:
    yield from _template_reads_cached(source)


def _jinja_reads(node: nodes.Node) -> Iterator[Path]:
    path = _jinja_path(node)
    if path is not None:
        yield path
        return
    for child in node.iter_child_nodes():
        yield from _jinja_reads(child)


def _jinja_path(node: nodes.Node) -> Path | None:
    """``steps.a.b`` / ``steps["a"]`` as ("a", "b"); None if not a path under ``steps``."""
    fields: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            fields.append(node.attr)
            node = node.node
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            fields.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name) and node.name == "steps" and node.ctx == "load":
            return tuple(reversed(fields))
        else:
            return None


# -- three-valued evaluation under one step's shape -------------------------------------------


def _reached(earlier: list[Node]) -> Callable[[str, Shape], bool]:
    """Met unless one of the earlier rows certainly matches under the shape."""

    def met(step: str, shape: Shape) -> bool:
        return all(_evaluate(tree, step, shape) is not True for tree in earlier)

    return met


def _chosen(earlier: list[Node], own: Node) -> Callable[[str, Shape], bool]:
    reached = _reached(earlier)

    def met(step: str, shape: Shape) -> bool:
        return reached(step, shape) and _evaluate(own, step, shape) is not False

    return met


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _evaluate(node: Node, step: str, shape: Shape) -> Any:
    """``node``'s value when ``steps.<step>`` has ``shape`` and nothing else is known:
    a plain value, or UNKNOWN."""
    if isinstance(node, LiteralNode):
        if node.type_name in ("int", "double", "string", "bool", "null"):
            return node.value
        return UNKNOWN
    if isinstance(node, Unary):
        value = _evaluate(node.operand, step, shape)
        if node.operator == "!" and isinstance(value, bool):
            return not value
        if node.operator == "-" and _number(value):
            return -value
        return UNKNOWN
    if isinstance(node, Logical):
        values = [_evaluate(o, step, shape) for o in node.operands]
        decisive = node.operator == "||"
        if decisive in values:
            return decisive
        return (not decisive) if all(v is (not decisive) for v in values) else UNKNOWN
    if isinstance(node, Conditional):
        condition = _evaluate(node.condition, step, shape)
        if isinstance(condition, bool):
            return _evaluate(node.then if condition else node.otherwise, step, shape)
        return UNKNOWN
    if isinstance(node, Binary):
        return _binary(node, step, shape)
    if isinstance(node, Presence):
        path = _steps_path(node.select)
        if path is None or path[0] != step or not shape.closed:
            return UNKNOWN
        if len(path) == 1:
            return True
        parent = _lookup(path, shape)
        return path[-1] in parent if isinstance(parent, Mapping) else UNKNOWN
    if isinstance(node, Select | Index):
        path = _steps_path(node)
        if path is None or path[0] != step or len(path) < 2:
            return UNKNOWN
        return _lookup(path, shape, whole=True)
    return UNKNOWN


def _lookup(path: Path, shape: Shape, *, whole: bool = False) -> Any:
    """The literal at ``path`` (or, without ``whole``, its parent), or UNKNOWN."""
    value: Any = shape.fields
    for part in path[1:] if whole else path[1:-1]:
        if not isinstance(value, Mapping) or part not in value:
            return UNKNOWN
        value = value[part]
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _binary(node: Binary, step: str, shape: Shape) -> Any:
    left = _evaluate(node.left, step, shape)
    if node.operator == "in" and isinstance(node.right, ListLiteral):
        items = [_evaluate(i, step, shape) for i in node.right.items]
        if left is UNKNOWN or any(i is UNKNOWN for i in items):
            return UNKNOWN
        if not all(_comparable(left, i) for i in items):
            return UNKNOWN
        return left in items
    right = _evaluate(node.right, step, shape)
    compare = _COMPARE.get(node.operator)
    if compare is None or left is UNKNOWN or right is UNKNOWN or not _comparable(left, right):
        return UNKNOWN
    if node.operator in ("==", "!="):
        return compare(left, right)
    if left is None or isinstance(left, bool | dict | list):
        return UNKNOWN
    with contextlib.suppress(TypeError):
        return compare(left, right)
    return UNKNOWN


def _comparable(left: Any, right: Any) -> bool:
    """Whether Python compares these as CEL does (same kind; numbers with numbers)."""
    if _number(left) and _number(right):
        return True
    if left is None or right is None:
        return True  # x == null is plain in CEL
    return type(left) is type(right) and not isinstance(left, dict | list)
