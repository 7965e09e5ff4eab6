"""Evaluating a scenario against one event: WHEN → lookups → windows → AND → the THEN plan.

The same code answers a dry run ("what would happen?") and feeds the live engine, so a dry
run shows exactly what the engine would do: which conditions hold, with which values, which
branch is taken and every action's parameters rendered — without acting.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kindred.common.failures import ActionFailed
from kindred.common.jsonvalues import plain_json
from kindred.events.envelope import CloudEvent
from kindred.rules import RuleError
from kindred.rules.compiler import CompiledRule, SharedActivation, share
from kindred.scenarios.definition import CompiledScenario, CompiledStep, Template
from kindred.scenarios.messaging import render

# Looks a record up: (object, id) → record or None; (object, {field: value}) → first match.
RecordFinder = Callable[[str, str | None, dict[str, Any] | None], dict[str, Any] | None]
# Window values for one key: name → value (the engine's live store, or the log for dry runs).
WindowSource = Callable[[CompiledScenario, str, float], dict[str, Any]]


class StepError(Exception):
    """A parameter could not be computed (template or CEL failed at run time)."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer}: {message}")
        self.pointer = pointer
        self.message = message


def event_variable(event: CloudEvent) -> dict[str, Any]:
    """What rules see as ``event``."""
    return {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": event.time,
        "subject": event.subject,
        "key": event.key,
        "data": event.data if isinstance(event.data, dict) else {},
    }


def event_activation(event: CloudEvent, now: float) -> SharedActivation | None:
    """The event and ``now`` as rules see them, converted once for many scenarios."""
    return share(
        {
            "event": event_variable(event),
            "now": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
        }
    )


def matches(patterns: list[str], event_type: str) -> bool:
    return any(p == event_type or fnmatch.fnmatchcase(event_type, p) for p in patterns)


@dataclass
class ConditionResult:
    source: str
    result: bool | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"cel": self.source, "result": self.result, "error": self.error}


@dataclass
class PlannedStep:
    id: str
    pointer: str
    action: str | None
    status: str  # would_run | skipped | branch | failed
    params: dict[str, Any] = field(default_factory=dict)
    branch: str | None = None  # then | else
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "pointer": self.pointer, "status": self.status}
        if self.action:
            body["action"] = self.action
            body["params"] = self.params
        if self.branch:
            body["branch"] = self.branch
        if self.error:
            body["error"] = self.error
        return body


@dataclass
class Evaluation:
    scenario: str
    version: int
    matched: bool
    reason: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    conditions: list[ConditionResult] = field(default_factory=list)
    plan: list[PlannedStep] = field(default_factory=list)

    @property
    def fires(self) -> bool:
        return self.matched and all(c.result is True for c in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "version": self.version,
            "matched": self.matched,
            "fires": self.fires,
            "reason": self.reason,
            "lookups": {
                k: v for k, v in self.variables.items() if k not in ("event", "now", "scenario")
            },
            "conditions": [c.to_dict() for c in self.conditions],
            "plan": [p.to_dict() for p in self.plan],
        }


def evaluate(
    compiled: CompiledScenario,
    version: int,
    event: CloudEvent,
    *,
    find: RecordFinder,
    windows: WindowSource,
    now: float | None = None,
    shared: SharedActivation | None = None,
) -> Evaluation:
    """WHEN, lookups, windows and AND for one event; ``plan`` is left for the caller.

    ``shared``: the event (and ``now``) converted once for every candidate scenario — see
    ``event_activation``; built here when the caller has none.
    """
    moment = time.time() if now is None else now
    report = Evaluation(compiled.name, version, matched=False)
    when = compiled.definition.when
    if when.absence is None and not matches(when.events, event.type):
        report.reason = f"{event.type} is not one of the WHEN events"
        return report
    if shared is not None and {"event", "now"} <= shared.names:
        # Built once per event by the caller: the same values for every candidate.
        variables: dict[str, Any] = {
            "event": shared.prepared["event"],
            "now": shared.prepared["now"],
            "scenario": {"name": compiled.name, "version": version},
        }
    else:
        variables = {
            "event": event_variable(event),
            "now": datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z"),
            "scenario": {"name": compiled.name, "version": version},
        }
    if when.absence is not None:
        # The engine's synthetic event for a silence carries the key and when it was last heard.
        variables["absence"] = event_variable(event)["data"]
    report.variables = variables
    if shared is None:
        shared = share({"event": variables["event"], "now": variables["now"]})
    if compiled.filter is not None:
        try:
            passed = compiled.filter.evaluate_bool(variables, shared)
        except RuleError as error:
            report.reason = f"the WHEN filter failed: {error.message}"
            return report
        if not passed:
            report.reason = "the WHEN filter is false for this event"
            return report
    report.matched = True
    for lookup, id_rule, match_rules in compiled.lookups:
        try:
            if id_rule is not None:
                found_id = id_rule.evaluate(variables)
                variables[lookup.name] = (
                    find(lookup.object, str(found_id), None) if found_id not in (None, "") else None
                )
            else:
                wanted = {name: rule.evaluate(variables) for name, rule in match_rules.items()}
                variables[lookup.name] = (
                    None
                    if any(v is None for v in wanted.values())
                    else find(lookup.object, None, wanted)
                )
        except RuleError as error:
            rules = [id_rule] if id_rule is not None else list(match_rules.values())
            if any(_reads_missing(rule, variables) for rule in rules if rule is not None):
                # Built on a record that was not found: this one is not found either.
                variables[lookup.name] = None
                continue
            report.conditions.append(
                ConditionResult(f"lookup {lookup.name}", None, f"lookup failed: {error.message}")
            )
            return report
    variables["windows"] = windows(compiled, event.key, moment)
    if compiled.conditions and (compiled.lookups or compiled.definition.windows):
        # Conditions read lookups and windows too: convert this scenario's inputs once.
        shared = share(variables)
    for source, rule in compiled.conditions:
        try:
            report.conditions.append(ConditionResult(source, rule.evaluate_bool(variables, shared)))
        except RuleError as error:
            report.conditions.append(ConditionResult(source, None, error.message))
            break
        if report.conditions[-1].result is False:
            break  # AND: later conditions cannot change the answer
    return report


def fired(compiled: CompiledScenario, version: int, shared: SharedActivation) -> Evaluation:
    """The evaluation ``evaluate`` gives when a scenario without lookups or windows fires:
    for callers that established that cheaply (kindred.scenarios.matching)."""
    report = Evaluation(compiled.name, version, matched=True)
    report.variables = {
        "event": shared.prepared["event"],
        "now": shared.prepared["now"],
        "scenario": {"name": compiled.name, "version": version},
        "windows": {},
    }
    report.conditions = [ConditionResult(source, True) for source, _ in compiled.conditions]
    return report


def _reads_missing(rule: CompiledRule, variables: Mapping[str, Any]) -> bool:
    return any(
        name in variables and variables[name] is None
        for name in (path.split(".", 1)[0] for path in rule.variables_used)
    )


# -- parameters and the dry-run plan ----------------------------------------------------------


def render_value(value: Any, variables: Mapping[str, Any], pointer: str) -> Any:
    """Compute a parameter: templates rendered, CEL evaluated, containers walked."""
    if isinstance(value, Template):
        try:
            return render(value.source, variables)
        except ActionFailed as error:
            raise StepError(pointer, error.detail) from None
    if isinstance(value, CompiledRule):
        try:
            return plain_json(value.evaluate(variables))
        except RuleError as error:
            raise StepError(pointer, f"CEL failed: {error.message}") from None
    if isinstance(value, dict):
        return {k: render_value(v, variables, f"{pointer}/{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables, f"{pointer}/{i}") for i, v in enumerate(value)]
    return value


def render_params(step: CompiledStep, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: render_value(value, variables, f"{step.pointer}/with/{name}")
        for name, value in step.params.items()
    }


def plan(evaluation: Evaluation, compiled: CompiledScenario) -> list[PlannedStep]:
    """The steps a run would take, with rendered parameters; nothing is executed.

    Outputs of earlier steps (``steps.<id>``) are not known without acting; in the plan each
    would-run step contributes ``{"dry_run": true}``.
    """
    variables = dict(evaluation.variables)
    outputs: dict[str, Any] = {}
    variables["steps"] = outputs
    planned: list[PlannedStep] = []
    stopped = False

    def walk(steps: list[CompiledStep]) -> None:
        nonlocal stopped
        for step in steps:
            if stopped:
                return
            entry = PlannedStep(step.step.id, step.pointer, step.step.action, "would_run")
            planned.append(entry)
            try:
                if step.guard is not None and not step.guard.evaluate_bool(variables):
                    entry.status = "skipped"
                    continue
                if step.branch is not None:
                    taken = step.branch.evaluate_bool(variables)
                    entry.status, entry.branch = "branch", "then" if taken else "else"
                    walk(step.then if taken else step.otherwise)
                    continue
                entry.params = render_params(step, variables)
                outputs[step.step.id] = {"dry_run": True}
            except (RuleError, StepError) as error:
                entry.status = "failed"
                entry.error = error.message
                if isinstance(step.on_failure, list):
                    walk(step.on_failure)
                elif step.on_failure == "stop":
                    stopped = True

    walk(compiled.steps)
    return planned
