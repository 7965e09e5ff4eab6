"""The bus contract: every guarantee of the port, checked on the embedded log and on JetStream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from kindred.events.bus import Delivery, EventBus, GroupConsumer, GroupSpec
from kindred.events.envelope import CloudEvent

Runner = Callable[..., None]


def heartbeat(n: int, device: str = "dev-1", source: str = "mqtt://test") -> CloudEvent:
    return CloudEvent(
        id=f"hb-{n}",
        source=source,
        type="iot.device.heartbeat",
        partitionkey=device,
        time="2026-11-25T08:00:00Z",
        data={"device_id": device, "n": n},
    )


async def drain(
    consumer: GroupConsumer, expected: int, *, ack: bool = True, timeout: float = 10.0
) -> list[Delivery]:
    """Fetch until ``expected`` deliveries arrived (acking them) or the time is up."""
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        batch = await consumer.fetch(100, 0.3)
        if ack:
            await consumer.ack(batch)
        got.extend(batch)
    return got


async def settled(
    consumers: list[GroupConsumer], split: Callable[[list[set[int]]], bool], timeout: float = 15.0
) -> list[set[int]]:
    """Ask each member for its partitions until ``split`` holds: the positive signal that
    the group has rebalanced (instead of sleeping and hoping it has)."""
    deadline = time.monotonic() + timeout
    while True:
        owned = [await consumer.owned_partitions() for consumer in consumers]
        if split(owned):
            return owned
        if time.monotonic() >= deadline:
            raise AssertionError(f"the group never settled on a split: {owned}")
        await asyncio.sleep(0.05)


def test_publish_is_durable_and_readable(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        events = [heartbeat(n) for n in range(5)]
        results = await bus.publish(events)
        assert [r.duplicate for r in results] == [False] * 5
        assert len({r.position for r in results}) == 5
        stored = await bus.get(results[2].position)
        assert stored is not None
        assert stored.event.id == "hb-2" and stored.event.data == {"device_id": "dev-1", "n": 2}
        assert stored.event.partitionkey == "dev-1"
        assert await bus.count() == 5
        assert await bus.get("999999") is None

    run_with_bus(body)


def test_same_source_and_id_is_stored_once(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        first = await bus.publish([heartbeat(1), heartbeat(2)])
        again = await bus.publish([heartbeat(1), heartbeat(1), heartbeat(3)])
        assert again[0].duplicate and again[0].position == first[0].position
        assert again[1].duplicate and again[1].position == first[0].position
        assert not again[2].duplicate
        # Another source may reuse the id: identity is source + id.
        other = await bus.publish([heartbeat(1, source="mqtt://other")])
        assert not other[0].duplicate
        assert await bus.count() == 4

    run_with_bus(body)


def test_group_gets_everything_once_when_acking(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        await bus.publish([heartbeat(n, device=f"dev-{n % 7}") for n in range(60)])
        consumer = await bus.consumer(GroupSpec("g", ack_wait=5), "m1")
        got = await drain(consumer, 60)
        assert sorted(d.event.id for d in got) == sorted(f"hb-{n}" for n in range(60))
        assert all(d.attempt == 1 for d in got)
        assert await consumer.fetch(100, 0.5) == []
        status = {g.name: g for g in await bus.groups()}
        assert status["g"].lag == 0
        await consumer.close()

    run_with_bus(body)


def test_unacked_is_redelivered_and_acked_never_is(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        await bus.publish([heartbeat(n) for n in range(4)])
        consumer = await bus.consumer(GroupSpec("g", ack_wait=1.0), "m1")
        first = await drain(consumer, 4, ack=False)
        delivered = time.monotonic()
        assert [d.event.id for d in first] == ["hb-0", "hb-1", "hb-2", "hb-3"]
        await consumer.ack(first[:2])
        # Not before ack_wait; then exactly the unacked ones, in order.
        again = await drain(consumer, 2)
        assert time.monotonic() - delivered >= 0.75  # ack_wait is 1.0 (minus fetch time)
        assert [d.event.id for d in again] == ["hb-2", "hb-3"]
        assert all(d.attempt == 2 for d in again)
        # Acked for good: a marker on the same key, delivered after that ack and left
        # unacked, comes back once a full ack_wait has passed. Its return is the signal
        # that any redelivery of hb-2/hb-3 would have been due (and, in key order, ahead
        # of it), so nothing but the marker may arrive until then.
        await bus.publish([heartbeat(99)])
        later = await drain(consumer, 1, ack=False)
        assert [(d.event.id, d.attempt) for d in later] == [("hb-99", 1)]
        while not any(d.event.id == "hb-99" and d.attempt == 2 for d in later):
            batch = await drain(consumer, 1, ack=False)
            assert batch, "the unacked marker never came back"
            later.extend(batch)
        assert [(d.event.id, d.attempt) for d in later] == [("hb-99", 1), ("hb-99", 2)]
        await consumer.ack(later[-1:])
        await consumer.close()

    run_with_bus(body)


def test_nack_redelivers_after_the_delay_in_order(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        await bus.publish([heartbeat(n) for n in range(3)])
        consumer = await bus.consumer(GroupSpec("g", ack_wait=30), "m1")
        first = await drain(consumer, 3, ack=False)
        await consumer.ack(first[:1])
        started = time.monotonic()
        await consumer.nack(first[1:2], delay=0.5)
        again = await drain(consumer, 2)
        assert time.monotonic() - started >= 0.45
        assert [d.event.id for d in again] == ["hb-1", "hb-2"]
        await consumer.close()

    run_with_bus(body)


def test_members_split_partitions_and_keep_each_key_in_order(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        spec = GroupSpec("g", ack_wait=10)
        one = await bus.consumer(spec, "member-a")
        two = await bus.consumer(spec, "member-b")
        everything = set(range(bus.options.partitions))
        # Both members must see each other before they settle on a split: wait for it.
        owned_one, owned_two = await settled(
            [one, two], lambda o: bool(o[0] and o[1]) and o[0] | o[1] == everything
        )
        assert owned_one and owned_two and not owned_one & owned_two
        assert owned_one | owned_two == everything

        devices = [f"dev-{d}" for d in range(12)]
        await bus.publish([heartbeat(n, device=devices[n % 12]) for n in range(240)])
        got_one: list[Delivery] = []
        got_two: list[Delivery] = []
        deadline = time.monotonic() + 15
        while len(got_one) + len(got_two) < 240 and time.monotonic() < deadline:
            for consumer, sink in ((one, got_one), (two, got_two)):
                batch = await consumer.fetch(50, 0.1)
                await consumer.ack(batch)
                sink.extend(batch)
        assert len(got_one) + len(got_two) == 240
        keys_one = {d.event.partitionkey for d in got_one}
        keys_two = {d.event.partitionkey for d in got_two}
        assert not keys_one & keys_two  # a key belongs to exactly one member
        for sink in (got_one, got_two):
            for device in devices:
                numbers = [d.event.data["n"] for d in sink if d.event.partitionkey == device]
                assert numbers == sorted(numbers)
        await one.close()
        await two.close()

    run_with_bus(body)


def test_a_leaving_member_hands_its_partitions_over(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        spec = GroupSpec("g", ack_wait=10)
        everything = set(range(bus.options.partitions))
        one = await bus.consumer(spec, "member-a")
        two = await bus.consumer(spec, "member-b")
        # First a real split (member-b holds something to hand over), then member-b leaves.
        split = await settled(
            [one, two], lambda o: bool(o[0] and o[1]) and o[0] | o[1] == everything
        )
        assert split[1] and not split[0] & split[1]
        await two.close()
        [owned] = await settled([one], lambda o: o[0] == everything)
        assert owned == everything
        await bus.publish([heartbeat(n, device=f"dev-{n}") for n in range(20)])
        assert len(await drain(one, 20)) == 20
        await one.close()

    run_with_bus(body)


def test_seek_replays_from_an_offset_and_from_a_time(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        first = await bus.publish([heartbeat(n) for n in range(3)])
        await asyncio.sleep(0.05)
        middle = datetime.now(UTC)
        await asyncio.sleep(0.05)
        await bus.publish([heartbeat(n) for n in range(3, 6)])
        consumer = await bus.consumer(GroupSpec("g", ack_wait=10), "m1")
        assert len(await drain(consumer, 6)) == 6

        await bus.seek("g", since=middle)
        replayed = await drain(consumer, 3)
        assert [d.event.id for d in replayed] == ["hb-3", "hb-4", "hb-5"]

        await bus.seek("g", after=first[0].position)
        replayed = await drain(consumer, 5)
        assert [d.event.id for d in replayed] == ["hb-1", "hb-2", "hb-3", "hb-4", "hb-5"]
        assert await consumer.fetch(10, 0.3) == []
        with pytest.raises(KeyError):
            await bus.seek("no-such-group", since=middle)
        await consumer.close()

    run_with_bus(body)


def test_latest_group_sees_only_new_events(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        await bus.publish([heartbeat(n) for n in range(3)])
        consumer = await bus.consumer(GroupSpec("late", ack_wait=10, start="latest"), "m1")
        await consumer.owned_partitions()
        await bus.publish([heartbeat(n) for n in range(3, 5)])
        got = await drain(consumer, 2)
        assert [d.event.id for d in got] == ["hb-3", "hb-4"]
        await consumer.close()

    run_with_bus(body)


def test_group_type_filters(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        fault = CloudEvent(
            id="f-1",
            source="mqtt://test",
            type="iot.device.fault",
            partitionkey="dev-1",
            data={"device_id": "dev-1", "code": "E1"},
        )
        order = CloudEvent(
            id="o-1",
            source="shop",
            type="order.order.created",
            partitionkey="acct-1",
            data={"order_id": "o-1"},
        )
        await bus.publish([heartbeat(1), fault, order])
        faults = await bus.consumer(
            GroupSpec("faults", types=("iot.device.fault",), ack_wait=10), "m1"
        )
        orders = await bus.consumer(GroupSpec("orders", types=("order.*",), ack_wait=10), "m1")
        assert [d.event.id for d in await drain(faults, 1)] == ["f-1"]
        assert [d.event.id for d in await drain(orders, 1)] == ["o-1"]
        assert await faults.fetch(10, 0.3) == []
        lags = {g.name: g.lag for g in await bus.groups()}
        assert lags["faults"] == 0 and lags["orders"] == 0
        await faults.close()
        await orders.close()

    run_with_bus(body)


def test_lag_counts_what_the_group_has_not_acked(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        consumer = await bus.consumer(GroupSpec("g", ack_wait=10), "m1")
        await bus.publish([heartbeat(n) for n in range(10)])
        lags = {g.name: g.lag for g in await bus.groups()}
        assert lags["g"] == 10
        got = await drain(consumer, 10, ack=False)
        await consumer.ack(got[:4])
        lags = {g.name: g.lag for g in await bus.groups()}
        assert lags["g"] == 6
        await consumer.close()

    run_with_bus(body)


def test_read_pages_filters_and_time(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        await bus.publish([heartbeat(n, device=f"dev-{n % 2}") for n in range(7)])
        page, cursor = await bus.read(limit=3)
        assert [s.event.id for s in page] == ["hb-0", "hb-1", "hb-2"]
        assert cursor is not None
        page2, cursor2 = await bus.read(after=cursor, limit=10)
        assert [s.event.id for s in page2] == ["hb-3", "hb-4", "hb-5", "hb-6"]
        assert cursor2 is None
        keyed, _ = await bus.read(key="dev-1", limit=10)
        assert [s.event.id for s in keyed] == ["hb-1", "hb-3", "hb-5"]
        none, _ = await bus.read(types=["order.*"], limit=10)
        assert none == []
        future, _ = await bus.read(since=datetime.now(UTC) + timedelta(minutes=1), limit=10)
        assert future == []

    run_with_bus(body)


def test_retention_deletes_old_events_and_returns_space(run_with_bus: Runner) -> None:
    async def body(bus: EventBus) -> None:
        padding = "x" * 2000
        old = [
            CloudEvent(
                id=f"old-{n}",
                source="s",
                type="iot.device.telemetry",
                partitionkey="d",
                data={"device_id": "d", "metrics": {"t": n}, "note": padding},
            )
            for n in range(2000)
        ]
        await bus.publish(old)
        await asyncio.sleep(0.05)
        cutoff = datetime.now(UTC)
        await asyncio.sleep(0.05)
        await bus.publish([heartbeat(1)])
        report = await bus.apply_retention(cutoff)
        assert report.deleted == 2000
        assert await bus.count() == 1
        assert report.bytes_after < report.bytes_before / 2
        page, _ = await bus.read(limit=10)
        assert [s.event.id for s in page] == ["hb-1"]

    run_with_bus(body)
