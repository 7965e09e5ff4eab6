"""Background work of the bus on both dialects: the MQTT bridge (against the local Mosquitto),
the timeline consumer, and the scheduler's time-driven events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiomqtt
import pytest
import sqlalchemy as sa

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.events.runtime import EventRuntime, RuntimeJobs
from kindred.records.service import RequestContext
from tests.conftest import make_test_settings

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


@pytest.fixture
def mqtt_kindred(database_url: str) -> Iterator[Any]:
    from kindred.services import Kindred

    token = uuid.uuid4().hex[:10]
    settings = make_test_settings(
        database_url,
        mqtt_url=f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
        mqtt_topic_prefix=f"kt-{token}/devices",
        mqtt_client_id=f"kt-bridge-{token}",
    )
    services = Kindred.create(settings=settings)
    yield services
    services.close()


async def wait_for(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def publish(topic: str, payload: bytes) -> None:
    async with aiomqtt.Client(MQTT_HOST, MQTT_PORT) as client:
        await client.publish(topic, payload, qos=1)


def dead_letter_reasons(kindred: Any) -> list[tuple[str, str]]:
    with kindred.database.read() as session:
        rows = session.execute(sa.text("SELECT channel, reason FROM event_dead_letters"))
        return [(r.channel, r.reason) for r in rows]


def test_mqtt_messages_are_stored_and_bad_ones_dead_lettered(mqtt_kindred: Any) -> None:
    kindred = mqtt_kindred
    prefix = kindred.settings.mqtt_topic_prefix

    async def main() -> None:
        runtime = EventRuntime(kindred, RuntimeJobs(mqtt=True))
        await runtime.start()
        try:
            bridge: Any = runtime.bridge
            await asyncio.wait_for(bridge.connected.wait(), 10)
            await publish(f"{prefix}/dev-7/heartbeat", b'{"battery_pct": 71, "msg_id": "hb-1"}')
            await publish(f"{prefix}/dev-7/fault", b'{"code": "E42", "severity": "critical"}')
            await publish(f"{prefix}/dev-8/heartbeat", b"not json")
            # QoS 1 redelivery of the same message is stored once.
            await publish(f"{prefix}/dev-7/heartbeat", b'{"battery_pct": 71, "msg_id": "hb-1"}')

            async def two_stored() -> bool:
                return (
                    await kindred.events.bus.count() == 2 and len(dead_letter_reasons(kindred)) == 1
                )

            await wait_for(two_stored)
            page, _ = await kindred.events.bus.read(limit=10)
            assert [(s.event.type, s.event.partitionkey) for s in page] == [
                ("iot.device.heartbeat", "dev-7"),
                ("iot.device.fault", "dev-7"),
            ]
            assert page[1].event.data == {
                "device_id": "dev-7",
                "code": "E42",
                "severity": "critical",
            }
            assert dead_letter_reasons(kindred) == [("mqtt", "malformed")]
        finally:
            await runtime.stop()

        # While Kindred is down the broker keeps QoS-1 messages for its persistent session.
        await publish(f"{prefix}/dev-9/heartbeat", b'{"battery_pct": 12}')
        runtime = EventRuntime(kindred, RuntimeJobs(mqtt=True))
        await runtime.start()
        try:

            async def three_stored() -> bool:
                return await kindred.events.bus.count() == 3

            await wait_for(three_stored)
        finally:
            await runtime.stop()

    asyncio.run(main())


def test_one_bridge_per_client_id_even_with_several_runtimes(mqtt_kindred: Any) -> None:
    """Like `serve --workers 2`: two runtimes, one MQTT session; the second waits, then takes
    over when the first stops."""
    kindred = mqtt_kindred
    prefix = kindred.settings.mqtt_topic_prefix

    async def main() -> None:
        first = EventRuntime(kindred, RuntimeJobs(mqtt=True))
        second = EventRuntime(kindred, RuntimeJobs(mqtt=True))
        await first.start()
        await second.start()
        try:
            assert first.bridge is not None and second.bridge is not None
            await asyncio.wait_for(first.bridge.connected.wait(), 10)
            for index in range(3):
                await publish(f"{prefix}/dev-{index}/heartbeat", b'{"battery_pct": 50}')

            async def three() -> bool:
                return await kindred.events.bus.count() == 3

            await wait_for(three)  # all three went through the one bridge holding the lock
            assert not second.bridge.connected.is_set()
            assert (first.bridge.stored, second.bridge.stored) == (3, 0)
            await first.stop()
            await asyncio.wait_for(second.bridge.connected.wait(), 10)
            await publish(f"{prefix}/dev-9/heartbeat", b'{"battery_pct": 5}')

            async def four() -> bool:
                return await kindred.events.bus.count() == 4

            await wait_for(four)
        finally:
            await first.stop()
            await second.stop()

    asyncio.run(main())


def test_timeline_consumer_handles_every_event_once(kindred: Any) -> None:
    events = [
        {
            "specversion": "1.0",
            "id": f"e-{index}",
            "source": "urn:test",
            "type": "iot.device.heartbeat",
            "data": {"device_id": f"dev-{index % 3}"},
        }
        for index in range(30)
    ]

    async def main() -> None:
        runtime = EventRuntime(kindred, RuntimeJobs(consumers=("timeline",)))
        await runtime.start()
        try:
            report = await kindred.events.ingest(events, channel="test")
            assert len(report.accepted) == 30

            async def all_handled() -> bool:
                with kindred.database.read() as session:
                    return bool(
                        session.execute(sa.text("SELECT count(*) FROM event_timeline")).scalar()
                        == 30
                    )

            await wait_for(all_handled)
            groups = await kindred.events.bus.groups()
            await wait_for(lambda: _lag_is_zero(kindred))
            assert [g.name for g in groups] == ["timeline"]
        finally:
            await runtime.stop()

    asyncio.run(main())
    with kindred.database.read() as session:
        rows = session.execute(
            sa.text("SELECT partition_key, event_id, processed FROM event_timeline ORDER BY id")
        ).all()
    assert {row.processed for row in rows} == {1}
    per_key: dict[str, list[int]] = {}
    for row in rows:
        per_key.setdefault(row.partition_key, []).append(int(row.event_id.split("-")[1]))
    # One key's events are handled in the order they were stored.
    assert all(ids == sorted(ids) for ids in per_key.values())
    assert set(per_key) == {"dev-0", "dev-1", "dev-2"}


async def _lag_is_zero(kindred: Any) -> bool:
    return all(g.lag == 0 for g in await kindred.events.bus.groups())


def test_unknown_consumer_is_refused(kindred: Any) -> None:
    with pytest.raises(ValueError, match="unknown consumer"):
        EventRuntime(kindred, RuntimeJobs(consumers=("nope",)))


def _calendar_world(kindred: Any, today: date) -> dict[str, str]:
    context = RequestContext(SYSTEM_PRINCIPAL)
    with kindred.database.write() as session:
        create = kindred.records.create
        account = create(session, context, "account", {"name": "Ruijin Hospital"})["id"]
        product = create(session, context, "product", {"name": "CT-9", "sku": "CT-9"})["id"]
        expiring = create(
            session,
            context,
            "contract",
            {
                "number": "C-1",
                "account": account,
                "status": "active",
                "start_date": (today - timedelta(days=365)).isoformat(),
                "end_date": (today + timedelta(days=20)).isoformat(),
                "renewal_notice_days": 30,
                "value": 120000,
            },
        )["id"]
        # Ends in 200 days with a 60-day notice period: not yet.
        create(
            session,
            context,
            "contract",
            {
                "number": "C-2",
                "account": account,
                "status": "active",
                "start_date": today.isoformat(),
                "end_date": (today + timedelta(days=200)).isoformat(),
            },
        )
        asset = create(
            session,
            context,
            "asset",
            {
                "serial_number": "SN-1",
                "product": product,
                "account": account,
                "warranty_until": (today + timedelta(days=5)).isoformat(),
            },
        )["id"]
        birthday = today + timedelta(days=3)
        contact = create(
            session,
            context,
            "contact",
            {
                "last_name": "Li",
                "account": account,
                "birthday": birthday.replace(year=1980).isoformat(),
            },
        )["id"]
        ordered = datetime.combine(today - timedelta(days=95), datetime.min.time(), UTC)
        create(
            session,
            context,
            "order",
            {
                "number": "O-1",
                "account": account,
                "ordered_at": ordered.isoformat().replace("+00:00", "Z"),
            },
        )
    return {"account": account, "contract": expiring, "asset": asset, "contact": contact}


def test_scheduler_emits_each_calendar_fact_once(kindred: Any) -> None:
    today = datetime.now(UTC).date()
    ids = _calendar_world(kindred, today)

    async def main() -> tuple[int, int, list[Any]]:
        runtime = EventRuntime(kindred, RuntimeJobs())
        first = await runtime.run_scheduler_once()
        second = await runtime.run_scheduler_once()
        page, _ = await kindred.events.bus.read(limit=100)
        return first, second, [s.event for s in page]

    first, second, events = asyncio.run(main())
    assert (first, second) == (4, 0)
    by_type = {e.type: e for e in events}
    assert set(by_type) == {
        "contract.contract.expiring",
        "iot.device.warranty_ending",
        "customer.birthday.upcoming",
        "customer.purchase.lapsed",
    }
    contract = by_type["contract.contract.expiring"]
    assert contract.data["contract_id"] == ids["contract"]
    assert contract.data["days_left"] == 20
    assert contract.partitionkey == ids["account"]
    assert by_type["iot.device.warranty_ending"].data["days_left"] == 5
    assert by_type["customer.birthday.upcoming"].data["days_left"] == 3
    assert by_type["customer.purchase.lapsed"].data["days_since_last_purchase"] == 95
    assert dead_letter_reasons(kindred) == []
