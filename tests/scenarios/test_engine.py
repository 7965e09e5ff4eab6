"""The live engine on both dialects: an ingested event fires an enabled scenario, its steps act
for real, and the run history shows every step. Redeliveries do not act twice, retries back
off, failures follow their route (or fail the run and keep the event), chains are
loop-protected, windows count per key, and a run keeps the version it started with."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.events.runtime import EventRuntime, RuntimeJobs
from kindred.records.service import RequestContext
from kindred.scenarios.definition import load_text
from kindred.scenarios.models import CustomerTag, Notification, ScenarioRun, ScenarioRunStep
from tests.conftest import service_principal

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)

DISPATCH = """
name: fault-dispatch
title: Device fault → ticket, note, tag
when:
  events: [iot.device.fault]
  filter: event.data.severity != 'minor'
lookups:
  - {name: asset, object: asset, match: {serial_number: event.data.device_id}}
and:
  - asset != null
then:
  - id: ticket
    action: create_ticket
    with:
      subject: "Fault {{ event.data.code }} on {{ asset.serial_number }}"
      asset: {cel: asset.id}
      priority: high
  - id: tell
    action: notify
    with: {role: service, title: "Ticket {{ steps.ticket.id }} opened"}
  - id: tag
    action: set_tag
    with: {account: {cel: asset.account}, tag: device-fault, valid_for: 30d}
"""


def fault(event_id: str, device: str = "CT-0042", severity: str = "major") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:plant",
        "type": "iot.device.fault",
        "data": {"device_id": device, "code": "E42", "severity": severity},
    }


def save(kindred: Any, text: str, *, enable: bool = True) -> None:
    principal = service_principal(kindred)
    with kindred.database.write() as session:
        kindred.scenarios.create(session, load_text(text), None, run_as=principal)
        if enable:
            kindred.scenarios.set_enabled(session, load_text(text)["name"], True, None)


def world(kindred: Any) -> dict[str, str]:
    with kindred.database.write() as session:
        account = kindred.records.create(session, SYSTEM, "account", {"name": "Ruijin"})
        product = kindred.records.create(session, SYSTEM, "product", {"name": "CT", "sku": "CT"})
        asset = kindred.records.create(
            session,
            SYSTEM,
            "asset",
            {"serial_number": "CT-0042", "product": product["id"], "account": account["id"]},
        )
    return {"account": account["id"], "asset": asset["id"]}


def runs(kindred: Any) -> list[ScenarioRun]:
    with kindred.database.read() as session:
        found = list(
            session.execute(sa.select(ScenarioRun).order_by(ScenarioRun.started_at)).scalars()
        )
        session.expunge_all()
    return found


def steps(kindred: Any, run_id: str) -> dict[str, ScenarioRunStep]:
    with kindred.database.read() as session:
        found = {
            s.step: s
            for s in session.execute(
                sa.select(ScenarioRunStep).where(ScenarioRunStep.run_id == run_id)
            ).scalars()
        }
        session.expunge_all()
    return found


def count(kindred: Any, object_name: str) -> int:
    with kindred.database.read() as session:
        return int(
            session.execute(
                sa.text("SELECT count(*) FROM records WHERE object = :o"), {"o": object_name}
            ).scalar_one()
        )


async def until(check: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def handled(kindred: Any, stored: int, seconds: float = 15.0) -> None:
    """The positive signal before asserting that something did *not* happen: the bus holds
    at least ``stored`` events and the scenario engine's group has acknowledged every one
    (lag zero). A batch is acknowledged only after the engine committed what it decided
    (runs written, waiting runs woken), so whatever an event was going to start exists by
    now."""
    bus = kindred.events.bus
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await bus.count() >= stored:
            lags = {group.name: group.lag for group in await bus.groups()}
            if lags.get("scenarios") == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the scenario engine did not handle {stored} stored event(s) in time")


def with_engine(kindred: Any, body: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        runtime = EventRuntime(kindred, RuntimeJobs(consumers=("scenarios",)))
        await runtime.start()
        try:
            await body()
        finally:
            await runtime.stop()

    asyncio.run(main())


def finished(kindred: Any, expected: int) -> Callable[[], bool]:
    return lambda: sum(1 for r in runs(kindred) if r.status in ("succeeded", "failed")) >= expected


def test_an_event_fires_the_scenario_and_every_step_acts(kindred: Any) -> None:
    ids = world(kindred)
    save(kindred, DISPATCH)

    async def body() -> None:
        await kindred.events.ingest([fault("f-1"), fault("f-2", severity="minor")], channel="test")
        await until(finished(kindred, 1))
        # The same event again (a producer retry): stored once, no second run.
        again = await kindred.events.ingest([fault("f-1")], channel="test")
        assert [(a["id"], a["duplicate"]) for a in again.accepted] == [("f-1", True)]
        await handled(kindred, 2)
        assert await kindred.events.bus.count() == 2  # f-1 and f-2, nothing appended

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert (run.scenario, run.version, run.status, run.key) == (
        "fault-dispatch",
        1,
        "succeeded",
        "CT-0042",
    )
    history = steps(kindred, run.id)
    assert {name: s.status for name, s in history.items()} == {
        "ticket": "succeeded",
        "tell": "succeeded",
        "tag": "succeeded",
    }
    ticket_id = history["ticket"].output["id"]
    with kindred.database.read() as session:
        ticket, _ = kindred.records.get(session, SYSTEM, "ticket", ticket_id)
        [note] = session.execute(sa.select(Notification)).scalars()
        [tag] = session.execute(sa.select(CustomerTag)).scalars()
        session.expunge_all()
    assert ticket["subject"] == "Fault E42 on CT-0042"
    assert (ticket["asset"], ticket["account"], ticket["priority"]) == (
        ids["asset"],
        ids["account"],
        "high",
    )
    assert note.title == f"Ticket {ticket_id} opened" and note.role == "service"
    assert (tag.account_id, tag.tag, tag.source) == (
        ids["account"],
        "device-fault",
        "scenario:fault-dispatch@v1",
    )
    assert tag.valid_until is not None
    assert count(kindred, "ticket") == 1
    assert run.duration_ms is not None and run.duration_ms >= 0


def test_disabled_scenarios_and_unmatched_events_do_nothing(kindred: Any) -> None:
    world(kindred)
    save(kindred, DISPATCH, enable=False)

    async def body() -> None:
        await kindred.events.ingest([fault("f-1"), fault("f-2", device="unknown")], channel="test")
        await handled(kindred, 2)
        assert runs(kindred) == []  # disabled: handled, and nothing started
        with kindred.database.write() as session:
            kindred.scenarios.set_enabled(session, "fault-dispatch", True, None)
        await kindred.events.ingest([fault("f-3", device="unknown")], channel="test")
        await handled(kindred, 3)

    with_engine(kindred, body)
    assert runs(kindred) == [] and count(kindred, "ticket") == 0


def test_retries_back_off_then_succeed(kindred: Any) -> None:
    calls: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        calls.append(request.headers.get("Idempotency-Key", ""))
        return web.json_response({"ok": len(calls) >= 3}, status=200 if len(calls) >= 3 else 503)

    async def body() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            definition = f"""
name: notify-erp
title: Tell the ERP
when: {{events: [iot.device.fault]}}
then:
  - id: post
    action: webhook
    with:
      url: "http://127.0.0.1:{port}/hook"
      payload: {{device: {{cel: event.data.device_id}}}}
    retry: {{attempts: 4, backoff: 0.05s, max_backoff: 0.2s}}
"""
            save(kindred, definition)
            await kindred.events.ingest([fault("f-1")], channel="test")
            await until(finished(kindred, 1))
        finally:
            await runner.cleanup()

    with_engine(kindred, body)
    [run] = runs(kindred)
    post = steps(kindred, run.id)["post"]
    assert (run.status, post.status, post.attempts) == ("succeeded", "succeeded", 3)
    assert len(calls) == 3 and len(set(calls)) == 1  # the same idempotency key every attempt
    assert post.output["status"] == 200


def test_a_final_failure_follows_its_route_or_fails_the_run(kindred: Any) -> None:
    definition = """
name: bad-ticket
title: Ticket without a customer
when: {events: [iot.device.fault]}
then:
  - id: ticket
    action: create_ticket
    with: {subject: "no account given"}
    on_failure:
      - id: tell
        action: notify
        with: {role: service, title: "Could not open a ticket for {{ event.data.device_id }}"}
  - id: strict
    action: create_record
    with: {object: opportunity, values: {name: "x"}}
"""
    save(kindred, definition)

    async def body() -> None:
        await kindred.events.ingest([fault("f-1")], channel="test")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    history = steps(kindred, run.id)
    assert history["ticket"].status == "failed_handled"
    assert history["ticket"].error_code == "validation-failed"
    assert "account" in history["ticket"].error
    assert history["tell"].status == "succeeded"
    assert history["strict"].status == "failed"
    assert run.status == "failed" and run.error.startswith("step strict failed")
    # The triggering event is kept with the failed run.
    assert run.event["id"] == "f-1" and run.event["data"]["code"] == "E42"
    assert count(kindred, "ticket") == 0 and count(kindred, "opportunity") == 0


def test_chains_are_loop_protected(kindred: Any) -> None:
    definition = """
name: echo
title: A scenario that feeds itself
max_chain_depth: 3
when: {events: [iot.device.fault]}
then:
  - id: again
    action: emit_event
    with:
      type: iot.device.fault
      data: {device_id: "{{ event.data.device_id }}", code: "E42", severity: major}
"""
    save(kindred, definition)

    async def body() -> None:
        await kindred.events.ingest([fault("f-1")], channel="test")
        await until(finished(kindred, 3))
        # The third run's event (depth 3) is stored and handled: it is the one not fired on.
        await handled(kindred, 4)

    with_engine(kindred, body)
    found = runs(kindred)
    assert sorted(r.chain_depth for r in found) == [0, 1, 2]
    assert all(r.status == "succeeded" for r in found)


def test_windows_count_per_key(kindred: Any) -> None:
    definition = """
name: repeated-faults
title: Third fault of one device within 10 minutes
when: {events: [iot.device.fault]}
windows:
  - {name: faults, events: [iot.device.fault], size: 10m, aggregate: count}
and:
  - windows.faults >= 3
then:
  - id: tell
    action: notify
    with: {role: service, title: "{{ event.data.device_id }} failed {{ windows.faults }} times"}
"""
    save(kindred, definition)

    async def body() -> None:
        events = [fault(f"a-{n}", device="A") for n in range(2)] + [fault("b-0", device="B")]
        await kindred.events.ingest(events, channel="test")
        await handled(kindred, 3)
        assert runs(kindred) == []  # two of A, one of B: below three for either key
        await kindred.events.ingest([fault("a-2", device="A")], channel="test")
        await until(finished(kindred, 1))
        await handled(kindred, 4)

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.key == "A" and run.variables["windows"] == {"faults": 3}
    with kindred.database.read() as session:
        titles = [n.title for n in session.execute(sa.select(Notification)).scalars()]
    assert titles == ["A failed 3 times"]


def test_a_run_keeps_its_version(kindred: Any) -> None:
    definition = """
name: pinned
title: Wait, then tag
when: {events: [iot.device.fault]}
then:
  - id: pause
    action: wait
    with: {for: 1s}
  - id: tag
    action: set_tag
    with: {account: ACCOUNT, tag: "v1"}
"""
    with kindred.database.write() as session:
        account = kindred.records.create(session, SYSTEM, "account", {"name": "Ruijin"})
    definition = definition.replace("ACCOUNT", account["id"])
    save(kindred, definition)

    async def body() -> None:
        await kindred.events.ingest([fault("f-1")], channel="test")
        await until(lambda: any(r.status == "waiting" for r in runs(kindred)))
        with kindred.database.write() as session:
            kindred.scenarios.update(
                session, "pinned", load_text(definition.replace('tag: "v1"', 'tag: "v2"')), None
            )
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.version == 1 and run.status == "succeeded"
    history = steps(kindred, run.id)
    assert history["pause"].status == "succeeded"
    with kindred.database.read() as session:
        assert [t.tag for t in session.execute(sa.select(CustomerTag)).scalars()] == ["v1"]


def test_absence_fires_once_per_silence(kindred: Any) -> None:
    definition = """
name: heartbeat-lost
title: No heartbeat for a second
when:
  absence: {events: [iot.device.heartbeat], after: 1s}
then:
  - id: tell
    action: notify
    with: {role: service, title: "{{ absence.key }} went quiet"}
"""
    save(kindred, definition)

    def beat(event_id: str, device: str = "dev-1") -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": "urn:test:plant",
            "type": "iot.device.heartbeat",
            "data": {"device_id": device},
        }

    def keys() -> list[str]:
        return [r.key for r in runs(kindred) if r.status == "succeeded"]

    async def body() -> None:
        await kindred.events.ingest([beat("b-1")], channel="test")
        await until(lambda: keys() == ["dev-1"])
        # dev-1 stays silent. A marker device beats once, after dev-1 was reported: its own
        # silence is reported a full second later, so by then a second report of dev-1
        # (due no later) would have been made too.
        await kindred.events.ingest([beat("m-1", device="marker")], channel="test")
        await until(lambda: "marker" in keys())
        # Still silent, yet not reported again (runs in any status count here).
        assert [r.key for r in runs(kindred)] == ["dev-1", "marker"]
        await kindred.events.ingest([beat("b-2")], channel="test")  # re-armed
        await until(lambda: keys().count("dev-1") == 2)

    with_engine(kindred, body)
    assert [r.key for r in runs(kindred)] == ["dev-1", "marker", "dev-1"]
    with kindred.database.read() as session:
        titles = [
            n.title
            for n in session.execute(
                sa.select(Notification).order_by(Notification.created_at)
            ).scalars()
        ]
    assert titles == ["dev-1 went quiet", "marker went quiet", "dev-1 went quiet"]


def test_a_failed_run_is_retried_after_the_fix_and_old_runs_are_purged(kindred: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from kindred.errors import Conflict
    from kindred.scenarios.service import purge_runs, retry_run

    answers = [400]

    async def hook(request: web.Request) -> web.Response:
        return web.json_response({}, status=answers[-1])

    async def body() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            save(
                kindred,
                f"""
name: strict-hook
title: Tell a picky system
when: {{events: [iot.device.fault]}}
then:
  - id: note
    action: notify
    with: {{role: service, title: "seen"}}
  - id: post
    action: webhook
    with: {{url: "http://127.0.0.1:{port}/hook", payload: {{}}}}
""",
            )
            await kindred.events.ingest([fault("f-1")], channel="test")
            await until(finished(kindred, 1))
            assert runs(kindred)[0].status == "failed"
            answers.append(200)  # the other side is fixed
            with kindred.database.write() as session:
                retry_run(session, runs(kindred)[0].id, kindred.ledger, None)
            await until(lambda: runs(kindred)[0].status == "succeeded")
        finally:
            await runner.cleanup()

    with_engine(kindred, body)
    [run] = runs(kindred)
    history = steps(kindred, run.id)
    assert (history["note"].attempts, history["post"].attempts) == (1, 1)
    with kindred.database.read() as session:
        assert len(session.execute(sa.select(Notification)).scalars().all()) == 1
    with kindred.database.write() as session:
        try:
            retry_run(session, run.id, kindred.ledger, None)
            raise AssertionError("a succeeded run cannot be retried")
        except Conflict:
            pass
    with kindred.database.write() as session:
        assert purge_runs(session, datetime.now(UTC) - timedelta(days=1)) == 0
    with kindred.database.write() as session:
        assert purge_runs(session, datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert runs(kindred) == [] and steps(kindred, run.id) == {}


def test_assignment_strategies(kindred: Any) -> None:
    with kindred.database.write() as session:
        east = kindred.records.create(session, SYSTEM, "territory", {"name": "East", "code": "E"})
        shanghai = kindred.records.create(
            session, SYSTEM, "territory", {"name": "SH", "code": "SH", "parent": east["id"]}
        )
        people = {}
        for name, skills, scope in (
            ("ann", ["repair"], [east["id"]]),
            ("bob", ["repair"], []),
            ("cai", ["imaging"], []),
        ):
            user = kindred.auth.create_user(
                session,
                email=f"{name}@example.com",
                name=name,
                password=None,
                roles=["service"],
                territories=scope,
                extra={"skills": skills},
            )
            people[name] = user["id"]
        kindred.auth.create_user(
            session, email="sam@example.com", name="sam", password=None, roles=["sales"]
        )
        account = kindred.records.create(session, SYSTEM, "account", {"name": "Ruijin"})
        # ann already carries two open tickets.
        for index in range(2):
            kindred.records.create(
                session,
                SYSTEM,
                "ticket",
                {"subject": f"old {index}", "account": account["id"], "owner": people["ann"]},
            )
    definition = f"""
name: dispatch
title: Open and assign
when: {{events: [iot.device.fault]}}
then:
  - id: ticket
    action: create_ticket
    with:
      subject: "{{{{ event.id }}}}"
      account: {account["id"]}
      values: {{territory: {shanghai["id"]}}}
  - id: by_turn
    if: event.data.code == 'RR'
    then:
      - id: rr
        action: assign
        with: {{object: ticket, id: {{cel: steps.ticket.id}}, strategy: round_robin, role: service}}
    else:
      - id: by_load
        if: event.data.code == 'LOAD'
        then:
          - id: load
            action: assign
            with:
              object: ticket
              id: {{cel: steps.ticket.id}}
              strategy: skill_load
              role: service
              skill: repair
        else:
          - id: area
            action: assign
            with:
              object: ticket
              id: {{cel: steps.ticket.id}}
              strategy: territory
              role: service
"""
    save(kindred, definition)

    def event(event_id: str, code: str) -> dict[str, Any]:
        return {**fault(event_id), "data": {"device_id": "d", "code": code, "severity": "major"}}

    async def body() -> None:
        for index in range(3):
            await kindred.events.ingest([event(f"rr-{index}", "RR")], channel="test")
            await until(finished(kindred, index + 1))
        await kindred.events.ingest(
            [event("load-1", "LOAD"), event("area-1", "AREA")], channel="test"
        )
        await until(finished(kindred, 5))

    with_engine(kindred, body)
    owners = {}
    with kindred.database.read() as session:
        for found in runs(kindred):
            history = steps(kindred, found.id)
            ticket_id = history["ticket"].output["id"]
            ticket, _ = kindred.records.get(session, SYSTEM, "ticket", ticket_id)
            owners[found.event["id"]] = ticket["owner"]
    by_id = sorted(people.values())
    assert [owners[f"rr-{i}"] for i in range(3)] == by_id  # one each, in turn
    assert owners["load-1"] == people["bob"]  # repair skill, fewer open tickets than ann
    assert owners["area-1"] == people["ann"]  # covers East, the parent of the ticket's territory


def test_waiting_for_an_event_of_the_same_key(kindred: Any) -> None:
    definition = """
name: wait-for-recovery
title: Fault → wait for the device to come back (or escalate)
when: {events: [iot.device.fault]}
then:
  - id: back
    action: wait
    with:
      event: iot.device.status_changed
      timeout: "{{ '1s' if event.data.code == 'FAST' else '30s' }}"
    on_failure:
      - id: escalate
        action: notify
        with: {role: service, title: "{{ event.data.device_id }} did not come back"}
  - id: done
    action: notify
    with:
      role: service
      title: >-
        {{ event.data.device_id }} is
        {{ steps.back.received.data.status if steps.back.received is defined else 'lost' }}
"""
    save(kindred, definition)
    status = {
        "specversion": "1.0",
        "id": "s-1",
        "source": "urn:test:plant",
        "type": "iot.device.status_changed",
        "data": {"device_id": "CT-0042", "status": "online"},
    }

    async def body() -> None:
        await kindred.events.ingest([fault("f-1")], channel="test")
        await until(lambda: any(r.status == "waiting" for r in runs(kindred)))
        await kindred.events.ingest(
            [{**status, "data": {**status["data"], "device_id": "other"}}], channel="test"
        )
        await handled(kindred, 2)
        # Another device's status, handled: the run still waits for its own (a wake would
        # have cleared wait_event and handed the event to the waiting step).
        [waiting] = runs(kindred)
        assert (waiting.status, waiting.wait_event) == ("waiting", "iot.device.status_changed")
        assert "received" not in (steps(kindred, waiting.id)["back"].output or {})
        await kindred.events.ingest([{**status, "id": "s-2"}], channel="test")
        await until(finished(kindred, 1))
        timeout_fault = {
            **fault("f-2", device="CT-0099"),
            "data": {"device_id": "CT-0099", "code": "FAST", "severity": "major"},
        }
        await kindred.events.ingest([timeout_fault], channel="test")
        await until(finished(kindred, 2))

    with_engine(kindred, body)
    by_event = {r.event["id"]: r for r in runs(kindred)}
    assert by_event["f-1"].status == "succeeded"
    first = steps(kindred, by_event["f-1"].id)
    assert first["back"].output["received"]["id"] == "s-2"
    second = steps(kindred, by_event["f-2"].id)
    assert (second["back"].status, second["back"].error_code) == ("failed_handled", "wait-timeout")
    with kindred.database.read() as session:
        titles = sorted(n.title for n in session.execute(sa.select(Notification)).scalars())
    assert titles == ["CT-0042 is online", "CT-0099 did not come back", "CT-0099 is lost"]
