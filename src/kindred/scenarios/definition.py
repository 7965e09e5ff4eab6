"""Scenario definitions: WHEN event / AND conditions / THEN actions, as checked data.

A definition is written by a business user (JSON or YAML, against the published JSON
Schema) and checked *completely* before anything is saved: structure, event types against
the catalog, every CEL expression compiled with its position, every template parsed, every
action parameter against the action registry, unique step ids. ``check_definition`` returns
all problems at once, each with a JSON Pointer into the definition.

```yaml
name: device-fault-dispatch
title: Device fault → service dispatch
when:
  events: [iot.device.fault]
  filter: event.data.severity in ['major', 'critical']
lookups:
  - {name: asset, object: asset, match: {serial_number: event.data.device_id}}
windows:
  - {name: faults_1h, events: [iot.device.fault], size: 1h, aggregate: count}
and:
  - asset != null
then:
  - id: ticket
    action: create_ticket
    with: {subject: "Fault {{ event.data.code }} on {{ asset.name }}", asset: {cel: asset.id}}
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kindred.common.durations import parse_duration
from kindred.errors import field_error
from kindred.rules import RuleError, compile_rule
from kindred.rules.compiler import CompiledRule
from kindred.scenarios.actions import ACTIONS, ActionSpec, Param
from kindred.scenarios.messaging import check_template
from kindred.scenarios.windows import WindowSpec
from kindred.sovereignty.purposes import PURPOSES

NAME = r"^[a-z][a-z0-9-]{1,62}$"
IDENTIFIER = r"^[a-z][a-z0-9_]{0,62}$"
# Variables every expression of a scenario may read; lookups and windows add their names.
RESERVED = frozenset({"event", "windows", "steps", "now", "scenario", "absence"})
MAX_STEPS = 200

Duration = Annotated[str | float, Field(description="seconds, or text like 90s, 10m, 2h, 1d")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Absence(_Model):
    """Fire when a key that used to send these events has been silent this long."""

    events: list[str] = Field(min_length=1)
    after: Duration
    key_field: str | None = Field(default=None, description="data field naming the key")


class When(_Model):
    events: list[str] = Field(default_factory=list, description="event types or patterns (iot.*)")
    filter: str | None = Field(default=None, description="CEL over `event`")
    absence: Absence | None = None


class Lookup(_Model):
    """A record the conditions and actions need, found by id or by a field match."""

    name: str = Field(pattern=IDENTIFIER)
    object: str
    id: str | None = Field(default=None, description="CEL giving the record id")
    match: dict[str, str] | None = Field(default=None, description="field → CEL value")


class Window(_Model):
    name: str = Field(pattern=IDENTIFIER)
    events: list[str] = Field(min_length=1)
    size: Duration
    aggregate: Literal["count", "sum", "avg", "min", "max", "distinct"]
    kind: Literal["sliding", "tumbling"] = "sliding"
    field: str | None = Field(default=None, description="data field for sum/avg/min/max/distinct")
    key_field: str | None = Field(default=None, description="data field naming the key")
    where: str | None = Field(default=None, description="CEL over `event`")


class Condition(_Model):
    cel: str
    description: str | None = None


class Retry(_Model):
    attempts: int = Field(default=3, ge=1, le=20)
    backoff: Duration = "1s"
    max_backoff: Duration = "5m"


class Step(_Model):
    id: str = Field(pattern=IDENTIFIER)
    action: str | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    when: str | None = Field(default=None, description="CEL guard: the step is skipped if false")
    if_: str | None = Field(default=None, alias="if", description="CEL: a branch step")
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")
    retry: Retry | None = None
    timeout: Duration | None = None
    on_failure: list[Step] | Literal["stop", "continue"] = "stop"


class Impact(_Model):
    """Business impact value: what a run is worth, measured after it."""

    measure: Literal["order_value", "ticket_avoided", "fixed"] = "order_value"
    within: Duration = "30d"
    value: float | None = Field(default=None, description="for fixed: value per run")


class ScenarioDefinition(_Model):
    name: str = Field(pattern=NAME, description="stable identifier (lower case, dashes)")
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    when: When
    lookups: list[Lookup] = Field(default_factory=list)
    windows: list[Window] = Field(default_factory=list)
    and_: list[Condition | str] = Field(default_factory=list, alias="and")
    then: list[Step] = Field(min_length=1)
    impact: Impact | None = None
    max_chain_depth: int = Field(default=5, ge=1, le=50, description="loop protection")
    purpose: str | None = Field(
        default=None,
        description="the purpose the scenario's record lookups declare: customer-authorized "
        "values are seen only under the customer's consent for it (grantee: the agent "
        "'scenario:<name>' or the role the consent names)",
    )


def definition_schema() -> dict[str, Any]:
    """The published JSON Schema of a definition."""
    schema = ScenarioDefinition.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Kindred scenario definition"
    return schema


def load_text(text: str, media_type: str | None = None) -> Any:
    """JSON or YAML text → data; raises ValueError with the line of a syntax error."""
    try:
        return yaml.safe_load(text)  # YAML 1.1 is a superset of the JSON we accept
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ValueError(f"the definition is not valid YAML/JSON{where}: {problem}") from None


# -- compiled form -------------------------------------------------------------------------


@dataclass
class CompiledStep:
    step: Step
    pointer: str
    action: ActionSpec | None
    guard: CompiledRule | None
    branch: CompiledRule | None
    params: dict[str, Any]  # literal, Template(source) or CompiledRule
    then: list[CompiledStep] = field(default_factory=list)
    otherwise: list[CompiledStep] = field(default_factory=list)
    on_failure: list[CompiledStep] | str = "stop"
    timeout: float | None = None


@dataclass(frozen=True)
class Template:
    source: str


@dataclass
class CompiledScenario:
    definition: ScenarioDefinition
    filter: CompiledRule | None
    lookups: list[tuple[Lookup, CompiledRule | None, dict[str, CompiledRule]]]
    window_filters: dict[str, CompiledRule]
    conditions: list[tuple[str, CompiledRule]]
    steps: list[CompiledStep]
    window_sizes: dict[str, float]
    absence_after: float | None

    @property
    def name(self) -> str:
        return self.definition.name

    def window_specs(self, prefix: str = "") -> list[WindowSpec]:
        """The scenario's windows as the window store takes them. With a ``prefix`` (several
        scenarios sharing one store) a window is named ``<prefix><position>``: short and
        unique, where prefixing the author's name could exceed the store's name limit."""
        return [
            WindowSpec(
                name=f"{prefix}{position}" if prefix else window.name,
                event_types=tuple(window.events),
                size=self.window_sizes[window.name],
                aggregate=window.aggregate,
                kind=window.kind,
                field=window.field,
                key_field=window.key_field,
                where=self._where(window.name),
            )
            for position, window in enumerate(self.definition.windows)
        ]

    def _where(self, name: str) -> Callable[[Mapping[str, Any]], bool] | None:
        rule = self.window_filters.get(name)
        if rule is None:
            return None

        def check(data: Mapping[str, Any]) -> bool:
            return bool(rule.evaluate_bool({"event": {"data": dict(data)}}))

        return check

    def walk(self) -> Iterator[CompiledStep]:
        def visit(steps: list[CompiledStep]) -> Iterator[CompiledStep]:
            for step in steps:
                yield step
                yield from visit(step.then)
                yield from visit(step.otherwise)
                if isinstance(step.on_failure, list):
                    yield from visit(step.on_failure)

        return visit(self.steps)


class DefinitionChecker:
    def __init__(self, known_type: Callable[[str], bool] | None) -> None:
        self.known_type = known_type
        self.errors: list[dict[str, Any]] = []

    def problem(self, path: str, code: str, message: str, **extra: Any) -> None:
        self.errors.append(field_error(path, code, message, **extra))

    def cel(
        self, source: str, path: str, variables: frozenset[str], *, boolean: bool = False
    ) -> CompiledRule | None:
        try:
            return compile_rule(source, variables=variables, expect="bool" if boolean else "any")
        except RuleError as error:
            details = {k: v for k, v in error.to_dict().items() if k != "message"}
            self.problem(path, "invalid_cel", error.message, **details)
            return None

    def duration(self, value: Any, path: str) -> float | None:
        try:
            return parse_duration(value)
        except ValueError as error:
            self.problem(path, "duration", str(error))
            return None

    def event_types(self, types: list[str], path: str) -> None:
        for index, name in enumerate(types):
            if self.known_type is not None and not self.known_type(name):
                self.problem(
                    f"{path}/{index}",
                    "unknown_event_type",
                    f"no event type matches {name!r}; see GET /api/v1/event-types",
                )

    def template(self, source: str, path: str) -> Template:
        for problem in check_template(source):
            self.problem(
                path,
                "template",
                f"template error on line {problem['line']}: {problem['message']}",
                line=problem["line"],
            )
        return Template(source)

    def value(self, value: Any, path: str, variables: frozenset[str]) -> Any:
        """A parameter value: {"cel": …} → compiled, "…{{ }}…" → template, else literal
        (containers are walked, so templates may sit inside objects and lists)."""
        if isinstance(value, dict):
            if set(value) == {"cel"} and isinstance(value["cel"], str):
                return self.cel(value["cel"], path + "/cel", variables)
            return {
                k: self.value(v, f"{path}/{escape_pointer(str(k))}", variables)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v, f"{path}/{i}", variables) for i, v in enumerate(value)]
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            return self.template(value, path)
        return value

    def literal_kind(self, param: Param, value: Any, path: str) -> None:
        if isinstance(value, Template | CompiledRule) or value is None:
            return
        kind = param.kind
        wrong = (
            (kind == "text" and not isinstance(value, str))
            or (
                kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float))
            )
            or (kind == "boolean" and not isinstance(value, bool))
            or (kind == "object" and not isinstance(value, dict))
            or (kind == "list" and not isinstance(value, list))
        )
        if wrong:
            self.problem(path, "type", f"must be {_article(kind)} {kind}")
        elif kind == "duration":
            self.duration(value, path)
        elif param.choices and value not in param.choices:
            self.problem(path, "choice", f"must be one of {', '.join(param.choices)}")

    def steps(
        self, steps: list[Step], path: str, variables: frozenset[str], seen: dict[str, str]
    ) -> list[CompiledStep]:
        compiled = []
        for index, step in enumerate(steps):
            pointer = f"{path}/{index}"
            if step.id in seen:
                self.problem(
                    pointer + "/id", "duplicate", f"step id {step.id!r} is used at {seen[step.id]}"
                )
            seen.setdefault(step.id, pointer)
            compiled.append(self.step(step, pointer, variables, seen))
        return compiled

    def step(
        self, step: Step, pointer: str, variables: frozenset[str], seen: dict[str, str]
    ) -> CompiledStep:
        guard = (
            self.cel(step.when, pointer + "/when", variables, boolean=True) if step.when else None
        )
        branch = None
        action = None
        params: dict[str, Any] = {}
        if step.if_ is not None:
            if step.action is not None:
                self.problem(
                    pointer, "shape", "a step is either an action or a branch (if/then/else)"
                )
            branch = self.cel(step.if_, pointer + "/if", variables, boolean=True)
            if not step.then:
                self.problem(pointer + "/then", "required", "a branch needs steps under 'then'")
        elif step.action is None:
            self.problem(
                pointer, "required", "give the step an 'action' (or make it a branch with 'if')"
            )
        else:
            action = ACTIONS.get(step.action)
            if action is None:
                self.problem(
                    pointer + "/action",
                    "unknown_action",
                    f"unknown action {step.action!r}; known: {', '.join(sorted(ACTIONS))}",
                )
            elif not action.available:
                self.problem(
                    pointer + "/action",
                    "unavailable",
                    f"the action {action.name!r} is not available in this version of Kindred",
                )
            else:
                params = self.params(action, step.with_, pointer + "/with", variables)
            if step.then or step.else_:
                self.problem(pointer, "shape", "'then'/'else' belong to branch steps (with 'if')")
        timeout = self.duration(step.timeout, pointer + "/timeout") if step.timeout else None
        if step.retry is not None:
            self.duration(step.retry.backoff, pointer + "/retry/backoff")
            self.duration(step.retry.max_backoff, pointer + "/retry/max_backoff")
        compiled = CompiledStep(step, pointer, action, guard, branch, params, timeout=timeout)
        compiled.then = self.steps(step.then, pointer + "/then", variables, seen)
        compiled.otherwise = self.steps(step.else_, pointer + "/else", variables, seen)
        if isinstance(step.on_failure, list):
            compiled.on_failure = self.steps(
                step.on_failure, pointer + "/on_failure", variables, seen
            )
        else:
            compiled.on_failure = step.on_failure
        return compiled

    def params(
        self, action: ActionSpec, given: dict[str, Any], path: str, variables: frozenset[str]
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, value in given.items():
            spec = action.params.get(name)
            pointer = f"{path}/{escape_pointer(name)}"
            if spec is None:
                known = ", ".join(action.params) or "none"
                self.problem(
                    pointer, "unknown_param", f"{action.name} takes no {name!r} (it takes: {known})"
                )
                continue
            params[name] = self.value(value, pointer, variables)
            self.literal_kind(spec, params[name], pointer)
        for name, spec in action.params.items():
            if spec.required and name not in given:
                self.problem(f"{path}/{name}", "required", f"{action.name} needs {name!r}")
        for group in action.one_of:
            if not any(name in given for name in group):
                self.problem(path, "required", f"{action.name} needs one of: {', '.join(group)}")
        return params


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def json_pointer(location: tuple[Any, ...]) -> str:
    parts = [
        str(p)
        for p in location
        if not (isinstance(p, str) and p.startswith(("function-", "list[", "literal[")))
    ]
    # Pydantic names union members (e.g. "Condition", "str"): they are not JSON paths.
    parts = [p for p in parts if p not in {"Condition", "str", "float", "list[Step]"}]
    return "".join("/" + escape_pointer(p) for p in parts)


def check_definition(
    raw: Any, *, known_type: Callable[[str], bool] | None = None
) -> tuple[CompiledScenario | None, list[dict[str, Any]]]:
    """Check a definition; returns (compiled, []) or (None, every problem)."""
    if not isinstance(raw, Mapping):
        return None, [field_error("", "type", "a scenario definition is a JSON/YAML object")]
    try:
        definition = ScenarioDefinition.model_validate(dict(raw))
    except ValidationError as error:
        errors = []
        for item in error.errors():
            errors.append(field_error(json_pointer(item["loc"]), item["type"], item["msg"]))
        return None, errors
    checker = DefinitionChecker(known_type)
    when = definition.when
    if definition.purpose is not None and definition.purpose not in PURPOSES:
        checker.problem("/purpose", "unknown-purpose", f"one of: {', '.join(PURPOSES)}")
    if bool(when.events) == (when.absence is not None):
        checker.problem("/when", "shape", "WHEN needs either 'events' or 'absence' (not both)")
    checker.event_types(when.events, "/when/events")
    event_only = frozenset({"event"})
    filter_rule = (
        checker.cel(when.filter, "/when/filter", event_only, boolean=True) if when.filter else None
    )
    absence_after = None
    if when.absence is not None:
        checker.event_types(when.absence.events, "/when/absence/events")
        absence_after = checker.duration(when.absence.after, "/when/absence/after")
        if when.filter:
            checker.problem("/when/filter", "shape", "an absence trigger has no event to filter")
    names: dict[str, str] = {}

    def claim(name: str, path: str) -> None:
        if name in RESERVED:
            checker.problem(path, "reserved", f"{name!r} is reserved; choose another name")
        elif name in names:
            checker.problem(path, "duplicate", f"{name!r} is already used at {names[name]}")
        names.setdefault(name, path)

    variables = frozenset({"event", "now", "scenario"} | ({"absence"} if when.absence else set()))
    lookups = []
    for index, lookup in enumerate(definition.lookups):
        path = f"/lookups/{index}"
        claim(lookup.name, path + "/name")
        if (lookup.id is None) == (lookup.match is None):
            checker.problem(path, "shape", "a lookup gives either 'id' or 'match'")
        id_rule = checker.cel(lookup.id, path + "/id", variables) if lookup.id else None
        match_rules = {}
        for field_name, source in (lookup.match or {}).items():
            rule = checker.cel(source, f"{path}/match/{escape_pointer(field_name)}", variables)
            if rule is not None:
                match_rules[field_name] = rule
        lookups.append((lookup, id_rule, match_rules))
        variables = variables | {lookup.name}
    window_filters = {}
    window_sizes = {}
    for index, window in enumerate(definition.windows):
        path = f"/windows/{index}"
        claim(window.name, path + "/name")
        checker.event_types(window.events, path + "/events")
        size = checker.duration(window.size, path + "/size")
        if size is not None:
            window_sizes[window.name] = size
        if window.aggregate != "count" and not window.field:
            checker.problem(path + "/field", "required", f"{window.aggregate} needs a data field")
        if window.where:
            rule = checker.cel(window.where, path + "/where", event_only, boolean=True)
            if rule is not None:
                window_filters[window.name] = rule
    variables = variables | {"windows"}
    conditions = []
    for index, condition in enumerate(definition.and_):
        source = condition if isinstance(condition, str) else condition.cel
        path = f"/and/{index}" + ("" if isinstance(condition, str) else "/cel")
        rule = checker.cel(source, path, variables, boolean=True)
        if rule is not None:
            conditions.append((source, rule))
    step_variables = variables | {"steps"}
    steps = checker.steps(definition.then, "/then", step_variables, {})
    if (
        definition.impact
        and definition.impact.measure == "fixed"
        and definition.impact.value is None
    ):
        checker.problem("/impact/value", "required", "a fixed impact needs a value per run")
    if definition.impact:
        checker.duration(definition.impact.within, "/impact/within")
    compiled = CompiledScenario(
        definition,
        filter_rule,
        lookups,
        window_filters,
        conditions,
        steps,
        window_sizes,
        absence_after,
    )
    if sum(1 for _ in compiled.walk()) > MAX_STEPS:
        checker.problem("/then", "too_many", f"a scenario may have at most {MAX_STEPS} steps")
    if checker.errors:
        return None, checker.errors
    return compiled, []


Step.model_rebuild()
ScenarioDefinition.model_rebuild()
