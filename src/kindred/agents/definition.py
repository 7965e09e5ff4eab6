"""Agent definitions: declarative, versioned, checked completely before anything is saved.

An agent is a small program a business analyst writes in JSON or YAML (against the published
JSON Schema): a role, the records it reads (``reads``), what it may touch (``grants``: objects
and fields; ``tools``: the tools by name), and ``steps`` of five kinds — ``rule`` (a CEL
decision table), ``tool`` (a typed tool call), ``llm`` (a prompt with a deterministic
fallback), ``human`` (a task for a person) and ``agent`` (another agent, for orchestration).
Steps form a graph through ``needs``: steps whose needs are met run in parallel (fan-out), a
step needing several waits for all of them (join), ``when`` makes an edge conditional.

```yaml
name: compliance_check
title: Compliance check
role: compliance
purpose: sales
inputs: {purchase_intent: {type: string, required: true}}
reads:
  - {name: intent, object: purchase_intent, id: inputs.purchase_intent}
  - {name: account, object: account, id: reads.intent.account}
grants: {purchase_intent: [account, product, quantity], account: [name, tax_id, city]}
tools: [insurance.qualification_check]
steps:
  - id: qualification
    kind: tool
    tool: insurance.qualification_check
    with: {credit_code: {cel: reads.account.tax_id}, product_category: imaging}
    timeout: 2s
    on_error:
      route: escalate
      task:
        title: "Check qualification by hand"
        # The step's output for each decision (a modification merges over `approved`).
        outcomes:
          approved: {qualified: true}
          rejected: {qualified: false}
  - id: decision
    kind: rule
    needs: [qualification]
    rules:
      - {when: "!steps.qualification.qualified", then: {decision: reject}}
    default: {decision: approve}
outputs:
  value: {decision: {cel: steps.decision.decision}}
```

``check_definition`` returns every problem at once, each with a JSON Pointer: structure,
every CEL expression compiled against the variables in scope at that point (with line and
column), templates parsed, tool names against the frozen registry and the agent's own
``tools`` list, tool arguments against each tool's input model, ``needs`` that exist and
form no cycle, objects and fields that exist, and output schemas that are valid JSON Schema.
A person's decision must always leave the step's output defined: a task's ``outcomes`` give
approved and rejected the same fields, and an escalated step declares them (or the fields a
person must give); :mod:`kindred.agents.checks` then checks every read of a decided step.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kindred.agents.checks import AgentOutputs, check_agent
from kindred.errors import field_error
from kindred.rules.compiler import CompiledRule
from kindred.scenarios.definition import (
    DefinitionChecker,
    Duration,
    Template,
    escape_pointer,
    json_pointer,
    load_text,
)
from kindred.sovereignty.purposes import PURPOSES

__all__ = ["AgentDefinition", "CompiledAgent", "check_definition", "definition_schema", "load_text"]

NAME = r"^[a-z][a-z0-9_]{1,62}$"
IDENTIFIER = r"^[a-z][a-z0-9_]{0,62}$"
RESERVED = frozenset({"inputs", "reads", "steps", "agent", "now", "run", "error"})
# What every decided task's step output holds, whatever its outcome.
DECISION_KEYS = frozenset({"outcome", "values", "comment", "by"})
MAX_STEPS = 100
STEP_KINDS = ("rule", "tool", "llm", "human", "agent")
INPUT_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
    "object": dict,
    "array": list,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class InputSpec(_Model):
    type: Literal["string", "number", "integer", "boolean", "object", "array"] = "string"
    required: bool = False
    description: str = ""
    default: Any = None


class Read(_Model):
    """A record (by id) or records (by field equality) the steps need, read through the
    record service as this agent — permissions, consent and the agent's grants apply."""

    name: str = Field(pattern=IDENTIFIER)
    object: str
    id: str | None = Field(default=None, description="CEL giving the record id")
    where: dict[str, str] | None = Field(
        default=None, description="field → CEL value: the records whose field equals it"
    )
    limit: int = Field(default=20, ge=1, le=200)
    optional: bool = Field(default=False, description="a missing record gives null, not an error")


class Trigger(_Model):
    kind: Literal["api", "manual", "scenario", "event"]
    events: list[str] = Field(default_factory=list, description="for kind event: event types")
    filter: str | None = Field(default=None, description="for kind event: CEL over `event`")
    inputs: dict[str, str] = Field(
        default_factory=dict, description="for kind event: input name → CEL over `event`"
    )


class Retry(_Model):
    attempts: int = Field(default=2, ge=1, le=10)
    backoff: Duration = "100ms"
    max_backoff: Duration = "5s"


class Assignee(_Model):
    user: str | None = None
    role: str | None = None


class TaskSpec(_Model):
    """A human task: who decides, by when, what they see."""

    title: str = Field(min_length=1, max_length=300, description="text or template")
    details: dict[str, Any] = Field(default_factory=dict, description="values shown with it")
    assignee: Assignee = Field(default_factory=lambda: Assignee(role="admin"))
    sla: Duration = "4h"
    # What happens when the SLA passes without a decision.
    on_timeout: Literal["escalate", "approve", "reject"] = "escalate"
    escalate_to: Assignee = Field(default_factory=lambda: Assignee(role="admin"))
    modifiable: list[str] = Field(
        default_factory=list, description="output fields the person may change (modify)"
    )
    outcomes: dict[Literal["approved", "rejected", "modified"], dict[str, Any]] = Field(
        default_factory=dict,
        description="decision → the step's output for it (values may be CEL); declare "
        "approved and rejected with the same fields; a modification merges the person's "
        "values over 'modified' (or 'approved')",
    )


class OnError(_Model):
    """Where a failed step goes (after its retries): fail the run, continue with a fallback
    value, or escalate to a person whose decision becomes the step's output."""

    route: Literal["fail", "fallback", "escalate"] = "fail"
    value: dict[str, Any] | None = Field(default=None, description="fallback output")
    task: TaskSpec | None = None


class RuleRow(_Model):
    when: str = Field(description="CEL condition")
    then: dict[str, Any] = Field(description="the output when it holds (values may be CEL)")
    note: str | None = None


class Compensation(_Model):
    tool: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")


class Step(_Model):
    id: str = Field(pattern=IDENTIFIER)
    kind: Literal["rule", "tool", "llm", "human", "agent"]
    title: str | None = None
    needs: list[str] = Field(default_factory=list, description="steps that must finish first")
    when: str | None = Field(default=None, description="CEL guard: the step is skipped if false")
    timeout: Duration | None = None
    retry: Retry | None = None
    on_error: OnError = Field(default_factory=OnError)
    # rule
    rules: list[RuleRow] = Field(default_factory=list)
    hit: Literal["first", "collect"] = "first"
    default: dict[str, Any] | None = None
    # tool
    tool: str | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    compensate: Compensation | None = None
    # llm
    system: str | None = None
    prompt: str | None = None
    fallback: str | None = Field(default=None, description="template used without an LLM")
    json_output: bool = Field(default=False, alias="json")
    language: Literal["zh", "en"] = "zh"
    max_tokens: int = Field(default=400, ge=1, le=8000)
    # human
    task: TaskSpec | None = None
    # agent
    agent: str | None = None


class Outputs(_Model):
    value: dict[str, Any] = Field(default_factory=dict, description="name → value (CEL/text)")
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


class AgentDefinition(_Model):
    name: str = Field(pattern=NAME, description="stable identifier (lower case, underscores)")
    title: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=64, description="what the agent is for")
    description: str = ""
    purpose: str = Field(default="sales", description="the purpose its record reads declare")
    triggers: list[Trigger] = Field(default_factory=lambda: [Trigger(kind="api")])
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    reads: list[Read] = Field(default_factory=list)
    grants: dict[str, list[str]] = Field(
        default_factory=dict, description="object → the fields the agent may read"
    )
    tools: list[str] = Field(default_factory=list, description="the tools it may call")
    steps: list[Step] = Field(min_length=1)
    outputs: Outputs = Field(default_factory=Outputs)
    timeout: Duration = Field(default="60s", description="the whole run's deadline")


def definition_schema() -> dict[str, Any]:
    schema = AgentDefinition.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Kindred agent definition"
    return schema


# -- compiled form -----------------------------------------------------------------------------


@dataclass
class CompiledRow:
    source: str
    rule: CompiledRule
    then: dict[str, Any]


@dataclass
class CompiledRead:
    read: Read
    id: CompiledRule | None
    where: dict[str, CompiledRule]


@dataclass
class CompiledStep:
    step: Step
    pointer: str
    guard: CompiledRule | None
    params: dict[str, Any] = field(default_factory=dict)  # literal, Template or CompiledRule
    rows: list[CompiledRow] = field(default_factory=list)
    default: dict[str, Any] | None = None
    timeout: float | None = None
    backoff: float = 0.1
    max_backoff: float = 5.0
    prompt: Template | None = None
    system: Template | None = None
    fallback: Template | None = None
    task_title: Template | None = None
    task_details: dict[str, Any] = field(default_factory=dict)
    sla: float = 4 * 3600.0
    error_value: dict[str, Any] | None = None
    error_task: tuple[Template, dict[str, Any], float] | None = None
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)  # its task's, compiled
    compensate: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.step.id


@dataclass
class CompiledAgent:
    definition: AgentDefinition
    reads: list[CompiledRead]
    steps: dict[str, CompiledStep]
    order: list[str]  # a topological order (ties in definition order)
    outputs: dict[str, Any]
    event_filters: list[tuple[int, CompiledRule | None, dict[str, CompiledRule]]]
    timeout: float

    @property
    def name(self) -> str:
        return self.definition.name

    def children(self) -> set[str]:
        return {s.step.agent for s in self.steps.values() if s.step.agent}


class _AgentChecker(DefinitionChecker):
    static = True  # also what a saved version need not meet again (see check_definition)

    def __init__(
        self,
        tools: Mapping[str, Any],
        known_object: Callable[[str], Mapping[str, Any] | None],
        known_agent: Callable[[str], bool],
        grants: Mapping[str, list[str]],
        known_type: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(known_type)
        self.tools = tools
        self.grants = grants
        self.known_object = known_object
        self.known_agent = known_agent

    def fields(self, object_name: str, names: list[str], path: str) -> None:
        fields = self.known_object(object_name)
        if fields is None:
            self.problem(path, "unknown-object", f"no object {object_name!r}")
            return
        for index, name in enumerate(names):
            if name not in fields and name != "id":
                self.problem(f"{path}/{index}", "unknown-field", f"{object_name} has no {name!r}")

    def tool(self, name: str | None, allowed: list[str], path: str) -> type[BaseModel] | None:
        if name is None:
            self.problem(path, "required", "a tool step names its 'tool'")
            return None
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self.tools))
            self.problem(path, "unknown-tool", f"no tool {name!r}; known: {known}")
            return None
        if name not in allowed:
            self.problem(path, "tool-not-granted", f"{name!r} is not in this agent's 'tools' list")
        for object_name in sorted(tool.objects):
            if object_name not in self.grants:
                self.problem(
                    path,
                    "object-not-granted",
                    f"{name!r} reads {object_name!r} records; grant the agent fields of it",
                )
        model: type[BaseModel] = tool.input
        return model

    def arguments(
        self, model: type[BaseModel], given: dict[str, Any], path: str, variables: frozenset[str]
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        # Definitions name arguments as the tool's JSON does (aliases: "with", not "with_").
        accepted = {info.alias or name: info for name, info in model.model_fields.items()}
        for name, value in given.items():
            pointer = f"{path}/{escape_pointer(name)}"
            if name not in accepted:
                known = ", ".join(accepted) or "none"
                self.problem(pointer, "unknown-param", f"the tool takes no {name!r} ({known})")
                continue
            params[name] = self.value(value, pointer, variables)
        for name, info in accepted.items():
            if info.is_required() and name not in given:
                self.problem(f"{path}/{name}", "required", f"the tool needs {name!r}")
        literal = {k: v for k, v in params.items() if not _computed(v)}
        try:
            # Literal arguments are checked now; computed ones when the step runs.
            model.model_validate(literal, strict=False)
        except ValidationError as error:
            for item in error.errors():
                loc = item["loc"]
                if item["type"] == "missing" or (loc and loc[0] not in literal):
                    continue
                self.problem(f"{path}{json_pointer(loc)}", item["type"], item["msg"])
        return params

    def task(
        self, task: TaskSpec, path: str, variables: frozenset[str]
    ) -> tuple[Template, dict[str, Any], float]:
        title = self.template(task.title, path + "/title")
        details = {
            k: self.value(v, f"{path}/details/{escape_pointer(k)}", variables)
            for k, v in task.details.items()
        }
        sla = self.duration(task.sla, path + "/sla") or 4 * 3600.0
        if task.assignee.user is None and task.assignee.role is None:
            self.problem(path + "/assignee", "required", "name a user or a role")
        if self.static and "outcomes" in task.details:
            self.problem(
                path + "/details/outcomes", "reserved", "the task shows its declared outcomes here"
            )
        return title, details, sla

    def outcomes(
        self, task: TaskSpec, path: str, variables: frozenset[str], *, escalation: bool
    ) -> dict[str, dict[str, Any]]:
        """The task's outcomes compiled; every decision must leave the step's output defined."""
        compiled: dict[str, dict[str, Any]] = {}
        for outcome, value in task.outcomes.items():
            opath = f"{path}/outcomes/{outcome}"
            for name in sorted(DECISION_KEYS & set(value)):
                self.problem(f"{opath}/{name}", "reserved", f"the decision itself sets {name!r}")
            compiled[outcome] = self.value(value, opath, variables)
        proposal = task.details.get("proposal")
        if task.outcomes:
            for outcome in ("approved", "rejected"):
                if outcome not in task.outcomes:
                    self.problem(
                        f"{path}/outcomes/{outcome}",
                        "required",
                        "declare the step's output for approved and for rejected "
                        "(a modification merges over 'modified' or 'approved')",
                    )
            every = set().union(*(set(v) for v in task.outcomes.values()))
            for outcome, value in task.outcomes.items():
                for name in sorted(every - set(value)):
                    self.problem(
                        f"{path}/outcomes/{outcome}",
                        "outcome-fields",
                        f"another outcome sets {name!r} and {outcome!r} does not: later steps "
                        "would find it unset",
                    )
            if "proposal" in task.details:
                self.problem(
                    path + "/details/proposal",
                    "shape",
                    "with 'outcomes' the proposal is the 'modified' (or 'approved') outcome",
                )
            base = task.outcomes.get("modified") or task.outcomes.get("approved") or {}
            for index, name in enumerate(task.modifiable):
                if name not in base:
                    self.problem(
                        f"{path}/modifiable/{index}",
                        "not-in-outcome",
                        f"{name!r} is not a field of the outcome a modification changes",
                    )
        elif escalation and self.static and not isinstance(proposal, dict):
            # Without outcomes only a modification giving every modifiable value decides it.
            if not task.modifiable:
                self.problem(
                    path + "/outcomes",
                    "required",
                    "a person's decision becomes this step's output: declare 'outcomes' "
                    "(approved, rejected) or the 'modifiable' fields they must give",
                )
            if task.on_timeout != "escalate":
                self.problem(
                    path + "/on_timeout",
                    "undefined-outcome",
                    f"deciding {task.on_timeout!r} at the SLA leaves the step's output unset: "
                    "declare 'outcomes'",
                )
        return compiled


def _computed(value: Any) -> bool:
    if isinstance(value, Template | CompiledRule):
        return True
    if isinstance(value, dict):
        return any(_computed(v) for v in value.values())
    if isinstance(value, list):
        return any(_computed(v) for v in value)
    return False


def check_definition(
    raw: Any,
    *,
    tools: Mapping[str, Any],
    known_object: Callable[[str], Mapping[str, Any] | None],
    known_agent: Callable[[str], bool] = lambda name: False,
    known_type: Callable[[str], bool] | None = None,
    agent_outputs: AgentOutputs | None = None,
    static: bool = True,
) -> tuple[CompiledAgent | None, list[dict[str, Any]]]:
    """Check a definition; returns (compiled, []) or (None, every problem).

    ``agent_outputs``: another agent's name → its ``outputs.value`` (None if unknown), for
    what its agent steps give; ``static``: also run :mod:`kindred.agents.checks` (at save
    and validate time; off when a saved version is loaded again).

    ``tools``: the tool registry (each with ``input`` model and ``objects``);
    ``known_object``: object name → its field
    names (None if unknown); ``known_agent``: whether another agent of that name exists.
    """
    if not isinstance(raw, Mapping):
        return None, [field_error("", "type", "an agent definition is a JSON/YAML object")]
    try:
        definition = AgentDefinition.model_validate(dict(raw))
    except ValidationError as error:
        return None, [
            field_error(json_pointer(item["loc"]), item["type"], item["msg"])
            for item in error.errors()
        ]
    checker = _AgentChecker(tools, known_object, known_agent, definition.grants, known_type)
    checker.static = static
    if definition.purpose not in PURPOSES:
        checker.problem("/purpose", "unknown-purpose", f"one of: {', '.join(PURPOSES)}")
    for name in definition.inputs:
        if name in RESERVED or not _identifier(name):
            checker.problem(f"/inputs/{escape_pointer(name)}", "name", "not a usable input name")
    for object_name, names in definition.grants.items():
        checker.fields(object_name, names, f"/grants/{escape_pointer(object_name)}")
    for index, tool in enumerate(definition.tools):
        if tool not in tools:
            checker.problem(f"/tools/{index}", "unknown-tool", f"no tool {tool!r}")

    event_filters = []
    for index, trigger in enumerate(definition.triggers):
        path = f"/triggers/{index}"
        if trigger.kind != "event":
            if trigger.events or trigger.filter or trigger.inputs:
                checker.problem(path, "shape", "events/filter/inputs belong to event triggers")
            continue
        if not trigger.events:
            checker.problem(path + "/events", "required", "an event trigger names event types")
        checker.event_types(trigger.events, path + "/events")
        event_only = frozenset({"event"})
        rule = (
            checker.cel(trigger.filter, path + "/filter", event_only, boolean=True)
            if trigger.filter
            else None
        )
        mapped = {}
        for name, source in trigger.inputs.items():
            pointer = f"{path}/inputs/{escape_pointer(name)}"
            if name not in definition.inputs:
                checker.problem(pointer, "unknown-input", f"the agent has no input {name!r}")
            compiled_rule = checker.cel(source, pointer, event_only)
            if compiled_rule is not None:
                mapped[name] = compiled_rule
        event_filters.append((index, rule, mapped))

    variables = frozenset({"inputs", "agent", "now", "run"})
    reads = []
    read_names: dict[str, str] = {}
    for index, read in enumerate(definition.reads):
        path = f"/reads/{index}"
        if read.name in read_names:
            checker.problem(
                path + "/name", "duplicate", f"{read.name!r} is read at {read_names[read.name]}"
            )
        read_names.setdefault(read.name, path)
        if (read.id is None) == (read.where is None):
            checker.problem(path, "shape", "a read gives either 'id' or 'where'")
        if read.object not in definition.grants:
            checker.problem(
                path + "/object",
                "object-not-granted",
                f"the agent reads {read.object!r} but 'grants' gives it no fields of it",
            )
        reader_vars = variables | {"reads"}
        id_rule = checker.cel(read.id, path + "/id", reader_vars) if read.id else None
        where = {}
        for field_name, source in (read.where or {}).items():
            pointer = f"{path}/where/{escape_pointer(field_name)}"
            fields = known_object(read.object)
            if fields is not None and field_name not in fields:
                checker.problem(pointer, "unknown-field", f"{read.object} has no {field_name!r}")
            compiled_rule = checker.cel(source, pointer, reader_vars)
            if compiled_rule is not None:
                where[field_name] = compiled_rule
        reads.append(CompiledRead(read, id_rule, where))

    step_vars = variables | {"reads", "steps"}
    steps: dict[str, CompiledStep] = {}
    seen: dict[str, str] = {}
    for index, step in enumerate(definition.steps):
        pointer = f"/steps/{index}"
        if step.id in seen:
            checker.problem(
                pointer + "/id", "duplicate", f"step id {step.id!r} is used at {seen[step.id]}"
            )
            continue
        seen[step.id] = pointer
        steps[step.id] = _check_step(checker, definition, step, pointer, step_vars)
    for step_id, compiled_step in steps.items():
        for index, need in enumerate(compiled_step.step.needs):
            if need not in steps:
                checker.problem(
                    f"{compiled_step.pointer}/needs/{index}", "unknown-step", f"no step {need!r}"
                )
            elif need == step_id:
                checker.problem(
                    f"{compiled_step.pointer}/needs/{index}", "cycle", "a step cannot need itself"
                )
    order: list[str] = []
    sorter = graphlib.TopologicalSorter(
        {sid: [n for n in s.step.needs if n in steps and n != sid] for sid, s in steps.items()}
    )
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as error:
        cycle = " → ".join(error.args[1])
        checker.problem("/steps", "cycle", f"the steps' needs form a cycle: {cycle}")

    outputs = {
        name: checker.value(value, f"/outputs/value/{escape_pointer(name)}", step_vars)
        for name, value in definition.outputs.value.items()
    }
    if definition.outputs.schema_ is not None:
        try:
            jsonschema.Draft202012Validator.check_schema(definition.outputs.schema_)
        except jsonschema.SchemaError as error:
            checker.problem(
                "/outputs/schema", "schema", f"not a valid JSON Schema: {error.message}"
            )
    timeout = checker.duration(definition.timeout, "/timeout") or 60.0
    if len(definition.steps) > MAX_STEPS:
        checker.problem("/steps", "too_many", f"an agent may have at most {MAX_STEPS} steps")
    if checker.errors:
        return None, checker.errors
    compiled = CompiledAgent(definition, reads, steps, order, outputs, event_filters, timeout)
    problems = check_agent(compiled, tools, agent_outputs) if static else []
    return (None, problems) if problems else (compiled, [])


def _identifier(name: str) -> bool:
    return re.fullmatch(IDENTIFIER, name) is not None


def _check_step(
    checker: _AgentChecker,
    definition: AgentDefinition,
    step: Step,
    pointer: str,
    variables: frozenset[str],
) -> CompiledStep:
    guard = (
        checker.cel(step.when, pointer + "/when", variables, boolean=True) if step.when else None
    )
    compiled = CompiledStep(step, pointer, guard)
    if step.timeout is not None:
        compiled.timeout = checker.duration(step.timeout, pointer + "/timeout")
    if step.retry is not None:
        compiled.backoff = checker.duration(step.retry.backoff, pointer + "/retry/backoff") or 0.1
        compiled.max_backoff = (
            checker.duration(step.retry.max_backoff, pointer + "/retry/max_backoff") or 5.0
        )

    def not_for(*names: str) -> None:
        for name in names:
            value = getattr(step, name)
            if value not in (None, [], {}, "first", False, "zh", 400):
                alias = {"with_": "with", "json_output": "json"}.get(name, name)
                checker.problem(
                    f"{pointer}/{alias}",
                    "shape",
                    f"'{alias}' does not belong to a {step.kind} step",
                )

    kind = step.kind
    if kind == "rule":
        not_for("tool", "with_", "compensate", "prompt", "system", "fallback", "task", "agent")
        if not step.rules and step.default is None:
            checker.problem(pointer + "/rules", "required", "a rule step needs rows or a default")
        for index, row in enumerate(step.rules):
            rule = checker.cel(row.when, f"{pointer}/rules/{index}/when", variables, boolean=True)
            then = checker.value(row.then, f"{pointer}/rules/{index}/then", variables)
            if rule is not None:
                compiled.rows.append(CompiledRow(row.when, rule, then))
        if step.default is not None:
            compiled.default = checker.value(step.default, pointer + "/default", variables)
    elif kind == "tool":
        not_for("rules", "default", "prompt", "system", "fallback", "task", "agent")
        model = checker.tool(step.tool, definition.tools, pointer + "/tool")
        if model is not None:
            compiled.params = checker.arguments(model, step.with_, pointer + "/with", variables)
        if step.compensate is not None:
            cpath = pointer + "/compensate"
            cmodel = checker.tool(step.compensate.tool, definition.tools, cpath + "/tool")
            if cmodel is not None:
                # The compensation also sees the step's own output as `output`.
                compiled.compensate = {
                    "tool": step.compensate.tool,
                    "params": checker.arguments(
                        cmodel, step.compensate.with_, cpath + "/with", variables | {"output"}
                    ),
                }
    elif kind == "llm":
        not_for("rules", "default", "tool", "with_", "compensate", "task", "agent")
        if step.prompt is None:
            checker.problem(pointer + "/prompt", "required", "an llm step needs a prompt")
        else:
            compiled.prompt = checker.template(step.prompt, pointer + "/prompt")
        if step.system is not None:
            compiled.system = checker.template(step.system, pointer + "/system")
        if step.fallback is None:
            checker.problem(
                pointer + "/fallback",
                "required",
                "an llm step declares a deterministic fallback (a template) for when no model "
                "is configured or it fails",
            )
        else:
            compiled.fallback = checker.template(step.fallback, pointer + "/fallback")
    elif kind == "human":
        not_for("rules", "default", "tool", "with_", "compensate", "prompt", "system", "agent")
        if step.task is None:
            checker.problem(pointer + "/task", "required", "a human step describes its task")
        else:
            compiled.task_title, compiled.task_details, compiled.sla = checker.task(
                step.task, pointer + "/task", variables
            )
            compiled.outcomes = checker.outcomes(
                step.task, pointer + "/task", variables, escalation=False
            )
    elif kind == "agent":
        not_for("rules", "default", "tool", "compensate", "prompt", "system", "task")
        if step.agent is None:
            checker.problem(pointer + "/agent", "required", "an agent step names the agent")
        elif step.agent == definition.name:
            checker.problem(pointer + "/agent", "cycle", "an agent cannot call itself")
        elif not checker.known_agent(step.agent):
            checker.problem(pointer + "/agent", "unknown-agent", f"no agent {step.agent!r}")
        compiled.params = {
            name: checker.value(value, f"{pointer}/with/{escape_pointer(name)}", variables)
            for name, value in step.with_.items()
        }
    on_error = step.on_error
    epath = pointer + "/on_error"
    if on_error.route == "fallback":
        if on_error.value is None:
            checker.problem(epath + "/value", "required", "a fallback route gives the value")
        else:
            compiled.error_value = checker.value(
                on_error.value, epath + "/value", variables | {"error"}
            )
    elif on_error.route == "escalate":
        task = on_error.task or TaskSpec(title=f"Step {step.id} failed: decide by hand")
        compiled.error_task = checker.task(task, epath + "/task", variables | {"error"})
        compiled.outcomes = checker.outcomes(
            task, epath + "/task", variables | {"error"}, escalation=True
        )
    elif on_error.value is not None or on_error.task is not None:
        checker.problem(epath, "shape", "'value'/'task' belong to the fallback/escalate routes")
    if kind == "human" and on_error.route == "escalate":
        checker.problem(epath + "/route", "shape", "a human step escalates through its task")
    return compiled


def input_errors(
    compiled: CompiledAgent, given: Mapping[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Inputs checked against the declared ones; returns (inputs with defaults, problems)."""
    specs = compiled.definition.inputs
    errors = []
    values: dict[str, Any] = {}
    for name in given:
        if name not in specs:
            errors.append(
                field_error(
                    f"/inputs/{escape_pointer(name)}",
                    "unknown-input",
                    f"the agent takes no input {name!r}",
                )
            )
    for name, spec in specs.items():
        if name not in given or given[name] is None:
            if spec.required:
                errors.append(
                    field_error(f"/inputs/{name}", "required", f"the agent needs {name!r}")
                )
            values[name] = spec.default
            continue
        value = given[name]
        expected = INPUT_TYPES[spec.type]
        if isinstance(value, bool) and spec.type in ("number", "integer"):
            ok = False
        else:
            ok = isinstance(value, expected)
        if not ok:
            errors.append(field_error(f"/inputs/{name}", "type", f"{name!r} must be {spec.type}"))
        values[name] = value
    return values, errors
