"""The matcher fires exactly the scenarios ``evaluate`` fires, with the same evaluations:
its equality index and fast predicates are shortcuts, never a second opinion."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from kindred.events.catalog import BUILTIN
from kindred.events.envelope import CloudEvent
from kindred.scenarios.definition import CompiledScenario, check_definition
from kindred.scenarios.evaluate import evaluate, event_activation, matches
from kindred.scenarios.matching import ScenarioMatcher

NOTIFY = [{"id": "tell", "action": "notify", "with": {"role": "ops", "title": "x"}}]
NOW = 1_780_000_000.0

# Shapes a business user writes: indexed equality, `in`, ranges with ints against doubles,
# `||`, negation, tests of fields some events lack, a condition reading `scenario`, lookups
# and windows (never on the fast path), a pattern in WHEN.
SHAPES: list[dict[str, Any]] = [
    {"when": {"events": ["iot.device.fault"], "filter": "event.data.severity == 'major'"}},
    {
        "when": {
            "events": ["iot.device.fault"],
            "filter": "event.data.severity in ['major', 'critical']",
        },
        "and": ["event.data.code == 'E42'", "event.data.site != 'plant-2'"],
    },
    {"when": {"events": ["iot.device.telemetry"], "filter": "event.data.metrics.temp_c > 40"}},
    {
        "when": {
            "events": ["iot.device.telemetry"],
            "filter": "event.data.site == 'plant-1' || event.data.metrics.temp_c < 15",
        },
    },
    {
        "when": {"events": ["iot.device.fault"], "filter": "!(event.data.code == 'E12')"},
        "and": ["event.data.extra == 1"],
    },
    {"when": {"events": ["iot.*"], "filter": "event.data.site == 'plant-3'"}},
    {
        "when": {"events": ["iot.device.fault"]},
        "and": ["scenario.name != 'nobody'", "event.data.code == 'E77'"],
    },
    {
        "when": {"events": ["iot.device.fault"], "filter": "event.data.site == 'plant-1'"},
        "lookups": [
            {"name": "asset", "object": "asset", "match": {"serial_number": "event.data.device_id"}}
        ],
        "and": ["asset != null", "asset.tier == 'gold'"],
    },
    {
        "when": {"events": ["iot.device.fault"]},
        "windows": [
            {"name": "faults", "events": ["iot.device.fault"], "size": "1h", "aggregate": "count"}
        ],
        "and": ["windows.faults >= 2", "event.data.site == 'plant-2'"],
    },
    {"when": {"events": ["iot.device.telemetry"], "filter": "event.data.level in [1, 2.0]"}},
    {
        "when": {
            "events": ["iot.device.fault", "iot.device.telemetry"],
            "filter": "event.data.firmware == '2.0.0'",
        }
    },
]


def known(name: str) -> bool:
    return any(matches([name], known) for known in BUILTIN)


def compiled_shapes() -> list[CompiledScenario]:
    scenarios = []
    for index, shape in enumerate(SHAPES * 3):  # repeats: several scenarios per index key
        raw = {"name": f"s-{index:02d}", "title": "t", "then": NOTIFY, **shape}
        compiled, errors = check_definition(raw, known_type=known)
        assert compiled is not None, errors
        scenarios.append(compiled)
    return scenarios


def engine_only(compiled: CompiledScenario) -> CompiledScenario:
    """The same scenario with the fast predicates switched off: the CEL engine's answers, the
    reference the shortcuts are held to."""
    # New rule objects: compiled rules are cached and shared, so never altered in place.
    return dataclasses.replace(
        compiled,
        filter=dataclasses.replace(compiled.filter, _fast=None) if compiled.filter else None,
        conditions=[(s, dataclasses.replace(r, _fast=None)) for s, r in compiled.conditions],
    )


def random_event(rng: random.Random, n: int) -> CloudEvent:
    kind = rng.choice(["iot.device.fault", "iot.device.telemetry", "iot.device.heartbeat"])
    data: dict[str, Any] = {
        "device_id": f"dev-{rng.randrange(6)}",
        "site": rng.choice(["plant-1", "plant-2", "plant-3", 3, None]),
        "firmware": rng.choice(["1.2.0", "2.0.0", 2.0]),
    }
    if kind == "iot.device.fault":
        data |= {
            "code": rng.choice(["E12", "E42", "E77"]),
            "severity": rng.choice(["minor", "major", "critical", True]),
        }
        if rng.random() < 0.3:
            data["extra"] = rng.choice([1, 1.0, "1", True])
    if kind == "iot.device.telemetry":
        data["metrics"] = rng.choice(
            [{"temp_c": rng.choice([10, 15.0, 40, 40.5, 80, float("nan"), 2**60])}, {}, "n/a"]
        )
        data["level"] = rng.choice([1, 2, 2.0, 1.5, True, "1"])
    for name in list(data):
        if rng.random() < 0.05:
            del data[name]  # some events lack a field a scenario tests
    return CloudEvent(
        id=f"e-{n}",
        source="urn:test",
        type=kind,
        data=data,
        partitionkey=str(data.get("device_id")),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_matcher_fires_what_evaluate_fires(seed: int) -> None:
    scenarios = compiled_shapes()
    reference = [engine_only(c) for c in compiled_shapes()]
    rng = random.Random(seed)
    assets = {
        f"dev-{i}": {
            "id": f"a{i}",
            "serial_number": f"dev-{i}",
            "tier": rng.choice(["gold", "basic"]),
        }
        for i in range(4)
    }

    def find(object_name: str, record_id: str | None, match: dict[str, Any] | None) -> Any:
        assert object_name == "asset" and match is not None
        return assets.get(match["serial_number"])

    def windows(compiled: CompiledScenario, key: str, now: float) -> dict[str, Any]:
        return {"faults": len(key) % 3} if compiled.definition.windows else {}

    matcher = ScenarioMatcher([(c, 2) for c in scenarios])
    fired = 0
    for n in range(600):
        event = random_event(rng, n)
        shared = event_activation(event, NOW)

        def evaluate_one(position: int, event: CloudEvent, shared: Any) -> Any:
            return evaluate(
                scenarios[position], 2, event, find=find, windows=windows, now=NOW, shared=shared
            )

        expected = []
        for position, compiled in enumerate(reference):
            if not matches(compiled.definition.when.events, event.type):
                continue
            evaluation = evaluate(
                compiled,
                2,
                event,
                find=find,
                windows=windows,
                now=NOW,
                shared=event_activation(event, NOW),
            )
            if evaluation.fires:
                expected.append((position, evaluation.to_dict()))
        got = [(p, e.to_dict()) for p, e in matcher.fire(event, shared, evaluate_one)]
        assert got == expected, (event.type, event.data)
        fired += len(got)
    assert fired > 200  # the mix really fires scenarios of every kind


def test_the_index_spares_scenarios_that_cannot_fire() -> None:
    scenarios = compiled_shapes()
    matcher = ScenarioMatcher([(c, 1) for c in scenarios])
    asked: list[int] = []

    def evaluate_one(position: int, event: CloudEvent, shared: Any) -> Any:
        asked.append(position)
        return evaluate(
            scenarios[position],
            1,
            event,
            find=lambda *a: None,
            windows=lambda *a: {},
            now=NOW,
            shared=shared,
        )

    event = CloudEvent(
        id="x",
        source="urn:test",
        type="iot.device.fault",
        data={
            "device_id": "d",
            "site": "plant-9",
            "firmware": "1.2.0",
            "code": "E12",
            "severity": "minor",
        },
    )
    assert matcher.fire(event, event_activation(event, NOW), evaluate_one) == []
    # 24 candidates by type; the index rules out every one testing site, severity or code
    # for other values (lookups and windows included), the fast checks the rest: the engine's
    # evaluate is not called at all.
    assert matcher.candidates("iot.device.fault") == 24
    assert asked == []
