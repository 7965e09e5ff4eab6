"""Which enabled scenarios fire for an event, found without evaluating every one of them.

With a hundred scenarios on, each event has a dozen or more candidates by type; most of them
test the same fields against different values (``event.data.site == 'plant-3'``). As in the
alpha network of a Rete engine, the matcher indexes scenarios per event type by one equality
test each (``path == literal`` or ``path in [literals]`` anywhere in their filter or AND
conditions): the event's value at that path is looked up once, and only the scenarios
expecting that value are evaluated. A scenario whose test is false for the event cannot
fire — the whole conjunction is false, whatever else holds.

Scenarios without lookups or windows whose rules are in the fast subset
(kindred.rules.fast) are then checked in Python; the engine's ``evaluate`` handles the rest,
and any input the fast path is unsure about. The outcome is exactly what calling
``evaluate`` on every candidate gives (tests/scenarios/test_matching.py holds it to that).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kindred.events.envelope import CloudEvent
from kindred.rules.compiler import SharedActivation
from kindred.rules.fast import Predicate, Unsure, equality_keys, index_key, lookup
from kindred.scenarios.definition import CompiledScenario
from kindred.scenarios.evaluate import Evaluation, fired, matches

# The live engine's evaluate, bound to its lookups and windows: (position, event) → result.
Evaluate = Callable[[int, CloudEvent, SharedActivation | None], Evaluation]
SHARED_NAMES = frozenset({"event", "now"})  # what event_activation holds


@dataclass(frozen=True)
class _Candidate:
    position: int  # in the scenario list the matcher was built from
    compiled: CompiledScenario
    version: int
    # The filter, then each AND condition, as fast predicates; None: evaluate() decides.
    checks: tuple[Predicate, ...] | None
    keys: list[tuple[tuple[str, ...], frozenset[tuple[str, Any]]]]


@dataclass
class _Group:
    path: tuple[str, ...]
    by_key: dict[tuple[str, Any], list[_Candidate]] = field(default_factory=dict)
    members: list[_Candidate] = field(default_factory=list)


@dataclass
class _TypePlan:
    groups: list[_Group]
    unindexed: list[_Candidate]


class ScenarioMatcher:
    """Built once per set of enabled scenarios; safe to use from one thread at a time."""

    def __init__(self, scenarios: Sequence[tuple[CompiledScenario, int]]) -> None:
        self._candidates = [
            self._candidate(position, compiled, version)
            for position, (compiled, version) in enumerate(scenarios)
            if compiled.definition.when.absence is None  # silences come from the tracker
        ]
        self._plans: dict[str, _TypePlan] = {}

    @staticmethod
    def _candidate(position: int, compiled: CompiledScenario, version: int) -> _Candidate:
        rules = [compiled.filter] if compiled.filter is not None else []
        rules += [rule for _, rule in compiled.conditions]
        keys = [key for rule in rules for key in equality_keys(rule._tree)]
        checks: tuple[Predicate, ...] | None = None
        if not compiled.lookups and not compiled.definition.windows:
            predicates = [rule.fast_for(SHARED_NAMES) for rule in rules]
            if all(p is not None for p in predicates):
                checks = tuple(p for p in predicates if p is not None)
        return _Candidate(position, compiled, version, checks, keys)

    def plan(self, event_type: str) -> _TypePlan:
        found = self._plans.get(event_type)
        if found is None:
            found = self._plans[event_type] = self._build(event_type)
        return found

    def candidates(self, event_type: str) -> int:
        """How many scenarios an event of this type is a candidate for (by WHEN)."""
        plan = self.plan(event_type)
        return len(plan.unindexed) + sum(len(g.members) for g in plan.groups)

    def _build(self, event_type: str) -> _TypePlan:
        candidates = [
            c for c in self._candidates if matches(c.compiled.definition.when.events, event_type)
        ]
        # Each scenario is indexed by its test on the path most scenarios test: fewer
        # groups, so fewer lookups per event.
        popularity = Counter(path for c in candidates for path, _ in c.keys)
        groups: dict[tuple[str, ...], _Group] = {}
        unindexed = []
        for candidate in candidates:
            if not candidate.keys:
                unindexed.append(candidate)
                continue
            path, keys = max(candidate.keys, key=lambda item: popularity[item[0]])
            group = groups.setdefault(path, _Group(path))
            group.members.append(candidate)
            for key in keys:
                group.by_key.setdefault(key, []).append(candidate)
        return _TypePlan(list(groups.values()), unindexed)

    def fire(
        self, event: CloudEvent, shared: SharedActivation | None, evaluate: Evaluate
    ) -> list[tuple[int, Evaluation]]:
        """(position, evaluation) of every scenario that fires for ``event``, in position
        order. ``shared`` is ``event_activation(event, now)``; ``evaluate`` is called for
        the candidates the matcher cannot decide by itself."""
        plan = self.plan(event.type)
        if shared is None or not shared.names >= SHARED_NAMES:
            # The event exceeded the input limits: every candidate the slow, exact way.
            everyone = plan.unindexed + [c for g in plan.groups for c in g.members]
            return self._decide(everyone, event, None, evaluate)
        prepared = shared.prepared
        chosen: list[_Candidate] = list(plan.unindexed)
        for group in plan.groups:
            try:
                key = index_key(lookup(group.path, prepared))
            except Unsure:
                key = None
            if key is None:
                chosen += group.members  # not sure what equality says: no pruning
            else:
                chosen += group.by_key.get(key, ())
        if len(plan.groups) > 1 or (plan.unindexed and plan.groups):
            chosen.sort(key=lambda c: c.position)
        return self._decide(chosen, event, shared, evaluate)

    @staticmethod
    def _decide(
        chosen: list[_Candidate],
        event: CloudEvent,
        shared: SharedActivation | None,
        evaluate: Evaluate,
    ) -> list[tuple[int, Evaluation]]:
        results = []
        prepared = shared.prepared if shared is not None else None
        for candidate in chosen:
            checks = candidate.checks
            if checks is not None and prepared is not None and shared is not None:
                try:
                    for check in checks:
                        if not check(prepared):
                            break
                    else:
                        evaluation = fired(candidate.compiled, candidate.version, shared)
                        results.append((candidate.position, evaluation))
                    continue
                except Unsure:
                    pass  # the engine answers
            evaluation = evaluate(candidate.position, event, shared)
            if evaluation.fires:
                results.append((candidate.position, evaluation))
        return results
