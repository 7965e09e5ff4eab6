"""Runs made only of local actions execute inside the consumer's transaction: the run, its
steps and its effects are written together while the batch is handled. A run that fails
there leaves nothing behind and takes the durable path (step by step, with its errors in the
history); the other runs of the batch are not disturbed and act exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from kindred.events.bus import GroupSpec
from kindred.scenarios.engine import ScenarioEngine
from kindred.scenarios.models import CustomerTag, ScenarioRun
from tests.scenarios.test_engine import SYSTEM, runs, save, steps, until

TOUCH = """
name: tag-and-touch
title: Tag the account, then rename it
when: {events: [iot.device.fault]}
then:
  - id: tag
    action: set_tag
    with: {account: {cel: event.data.device_id}, tag: seen}
  - id: touch
    action: update_record
    with:
      object: account
      id: {cel: event.data.device_id}
      values: {name: "{{ event.data.label }}"}
"""


def touched(event_id: str, account: str, label: str | None = None) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:plant",
        "type": "iot.device.fault",
        # The device reports under its customer's account id (what the scenario touches);
        # the label becomes the account's name (too long a label fails that step).
        "data": {
            "device_id": account,
            "code": "E42",
            "severity": "major",
            "label": label or f"Touched {event_id}",
        },
    }


def tags(kindred: Any) -> dict[str, int]:
    with kindred.database.read() as session:
        rows = session.execute(sa.select(CustomerTag.account_id)).scalars().all()
    return {account: rows.count(account) for account in set(rows)}


def account(kindred: Any, identifier: str) -> tuple[str, int]:
    with kindred.database.read() as session:
        record, _ = kindred.records.get(session, SYSTEM, "account", identifier)
    return record["name"], int(record["version"])


def test_a_batch_runs_inline_and_a_failing_run_takes_the_durable_path(kindred: Any) -> None:
    with kindred.database.write() as session:
        accounts = [
            kindred.records.create(session, SYSTEM, "account", {"name": f"A{i}"})["id"]
            for i in range(5)
        ]
    accounts, others = accounts[:3], accounts[3:]
    save(kindred, TOUCH)
    good = [touched(f"ok-{i}", a) for i, a in enumerate(accounts)]
    # The tag succeeds, the rename fails (a name longer than a text field holds).
    bad = [touched(f"bad-{i}", a, "x" * 300) for i, a in enumerate(others)]
    batch = [good[0], bad[0], good[1], bad[1], good[2]]

    async def main() -> None:
        await kindred.events.start()
        engine = ScenarioEngine(kindred, "test-member")
        handler, executor = engine.handle, engine.run_forever
        await kindred.events.ingest(batch, channel="test")
        consumer = await kindred.events.bus.consumer(GroupSpec("scenarios", ("*",)), "m")
        deliveries = await consumer.fetch(100, 2.0)
        assert len(deliveries) == 5
        await handler(deliveries)  # the consumer's work only: the executor is not running
        await consumer.ack(deliveries)

        # Handled: the good runs are finished, with their effects, exactly once each — the
        # batch's first attempt (rolled back when a bad run failed) left nothing behind.
        status = {r.event["id"]: r.status for r in runs(kindred)}
        assert status == {
            "ok-0": "succeeded",
            "ok-1": "succeeded",
            "ok-2": "succeeded",
            "bad-0": "running",
            "bad-1": "running",
        }
        for index, identifier in enumerate(accounts):
            assert account(kindred, identifier) == (f"Touched ok-{index}", 2)
        assert tags(kindred) == {identifier: 1 for identifier in accounts}
        done = next(r for r in runs(kindred) if r.event["id"] == "ok-1")
        history = steps(kindred, done.id)
        assert {n: (s.status, s.attempts) for n, s in history.items()} == {
            "tag": ("succeeded", 1),
            "touch": ("succeeded", 1),
        }
        assert history["touch"].input["values"] == {"name": "Touched ok-1"}
        assert done.finished_at is not None and done.duration_ms is not None

        # The failed inline attempts left no tag; the executor now runs them step by step.
        assert engine._queue.qsize() == 2
        task = asyncio.create_task(executor())
        try:
            await until(lambda: all(r.status in ("succeeded", "failed") for r in runs(kindred)), 15)
        finally:
            engine.stop()
            await task
        await consumer.close()
        await kindred.events.close()

    asyncio.run(main())
    failed = [r for r in runs(kindred) if r.status == "failed"]
    assert sorted(r.event["id"] for r in failed) == ["bad-0", "bad-1"]
    for run in failed:
        history = steps(kindred, run.id)
        assert history["tag"].status == "succeeded"
        assert history["touch"].status == "failed" and history["touch"].error
        assert run.error and "touch" in run.error
    assert tags(kindred) == {identifier: 1 for identifier in accounts + others}
    for index, identifier in enumerate(accounts):
        assert account(kindred, identifier) == (f"Touched ok-{index}", 2)  # not touched again


def test_steps_with_a_timeout_or_a_remote_action_are_not_run_inline(kindred: Any) -> None:
    save(
        kindred,
        TOUCH.replace("name: tag-and-touch", "name: timed").replace(
            "tag: seen}", "tag: seen}\n    timeout: 5s"
        ),
    )

    async def main() -> None:
        await kindred.events.start()
        handler, _ = kindred.consumers["scenarios"].make_handler("test-member")
        await kindred.events.ingest([touched("t-1", "no-account")], channel="test")
        consumer = await kindred.events.bus.consumer(GroupSpec("scenarios", ("*",)), "m")
        deliveries = await consumer.fetch(100, 2.0)
        await handler(deliveries)
        await consumer.close()
        await kindred.events.close()

    asyncio.run(main())
    # Left for the executor: a timeout cannot cut one shared transaction short.
    assert [(r.event["id"], r.status) for r in runs(kindred)] == [("t-1", "running")]
    with kindred.database.read() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(ScenarioRun)).scalar() == 1
    assert tags(kindred) == {}
