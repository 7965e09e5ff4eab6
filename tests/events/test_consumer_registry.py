"""The bus never imports its consumers: the composition root registers them in a
:class:`ConsumerRegistry`, and the runtime runs what its registry holds — consumers and
retention tasks alike."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import kindred.events
from kindred.events.bus import Delivery, GroupSpec
from kindred.events.consumers import ConsumerDefinition, ConsumerRegistry, RetentionTask
from kindred.events.runtime import EventRuntime, RuntimeJobs
from kindred.scenarios.models import ScenarioRun
from tests.events.test_runtime import wait_for

CONSUMER_PACKAGES = ("kindred.scenarios", "kindred.agents")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_the_events_package_imports_none_of_its_consumers() -> None:
    root = Path(kindred.events.__file__).parent
    offending = {
        f"{path.relative_to(root)}: {name}"
        for path in root.rglob("*.py")
        for name in _imports(path)
        if name.startswith(CONSUMER_PACKAGES)
    }
    assert offending == set()


def _probe(name: str, seen: list[str]) -> ConsumerDefinition:
    async def handle(batch: Sequence[Delivery]) -> None:
        seen.extend(d.event.id for d in batch)

    return ConsumerDefinition(
        GroupSpec(name, ("*",), ack_wait=30.0), lambda member: (handle, None), "test probe"
    )


def test_a_registry_refuses_a_second_consumer_or_task_under_one_name() -> None:
    registry = ConsumerRegistry()
    first = _probe("probe", [])
    registry.register("probe", first)
    registry.add_retention(RetentionTask("things", lambda now: 0))

    with pytest.raises(ValueError, match="already registered"):
        registry.register("probe", _probe("probe", []))
    with pytest.raises(ValueError, match="has group 'other'"):
        registry.register("probe-2", _probe("other", []))
    with pytest.raises(ValueError, match="already registered"):
        registry.add_retention(RetentionTask("things", lambda now: 1))

    # Refused registrations changed nothing.
    assert registry["probe"] is first
    assert registry.names() == ["probe"]
    assert [task.name for task in registry.retention] == ["things"]
    assert registry.unknown(["probe", "probe-2", "timeline"]) == ["probe-2", "timeline"]


def test_the_composition_root_registers_the_timeline_scenarios_and_agents(kindred: Any) -> None:
    assert kindred.consumers.names() == ["agents", "scenarios", "timeline"]
    assert [task.name for task in kindred.consumers.retention] == [
        "scenario_runs",
        "passport_challenges",
    ]
    assert kindred.consumers["timeline"].per_partition
    assert kindred.consumers["scenarios"].per_partition is False
    assert "scenario_engine" not in kindred.extras


def test_the_runtime_runs_the_registry_it_is_given(kindred: Any) -> None:
    seen: list[str] = []
    registry = ConsumerRegistry()
    registry.register("probe", _probe("probe", seen))
    # A name only the default registry knows is unknown to this runtime: it reads no other.
    with pytest.raises(ValueError, match=r"unknown consumer.*timeline; known: probe"):
        EventRuntime(kindred, RuntimeJobs(consumers=("timeline",)), consumers=registry)

    events = [
        {
            "specversion": "1.0",
            "id": f"p-{index}",
            "source": "urn:test",
            "type": "iot.device.heartbeat",
            "data": {"device_id": f"dev-{index}"},
        }
        for index in range(5)
    ]

    async def main() -> list[str]:
        runtime = EventRuntime(kindred, RuntimeJobs(consumers=("probe",)), consumers=registry)
        await runtime.start()
        try:
            await kindred.events.ingest(events, channel="test")

            async def all_seen() -> bool:
                return len(seen) >= 5

            await wait_for(all_seen)
            return [g.name for g in await kindred.events.bus.groups()]
        finally:
            await runtime.stop()
            await kindred.events.close()

    groups = asyncio.run(main())
    assert sorted(seen) == [f"p-{index}" for index in range(5)]
    assert groups == ["probe"]


def _finished_run(identifier: str, started: datetime) -> ScenarioRun:
    return ScenarioRun(
        id=identifier,
        scenario="old",
        version=1,
        status="succeeded",
        key="k",
        event={},
        variables={},
        chain_depth=0,
        started_at=started,
        event_at=started.timestamp(),
        finished_at=started,
    )


def test_retention_runs_the_registered_tasks(kindred: Any) -> None:
    now = datetime.now(UTC)
    days = kindred.settings.scenario_run_retention_days
    with kindred.database.write() as session:
        session.add(_finished_run("old-run", now - timedelta(days=days + 1)))
        session.add(_finished_run("new-run", now - timedelta(days=days - 1)))

    report = asyncio.run(EventRuntime(kindred, RuntimeJobs(retention=True)).run_retention_once())
    assert report["scenario_runs"] == 1
    with kindred.database.read() as session:
        kept = session.execute(sa.select(ScenarioRun.id)).scalars().all()
    assert kept == ["new-run"]

    # Another registry: its own task runs, with the pass's clock; the scenario one does not.
    calls: list[datetime] = []
    registry = ConsumerRegistry()
    registry.add_retention(RetentionTask("widgets", lambda moment: calls.append(moment) or 7))
    runtime = EventRuntime(kindred, RuntimeJobs(retention=True), consumers=registry)
    report = asyncio.run(runtime.run_retention_once())
    assert report["widgets"] == 7 and "scenario_runs" not in report
    assert len(calls) == 1 and calls[0] >= now
