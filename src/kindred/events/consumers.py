"""Consumers: the loop that turns bus deliveries into handled, acknowledged work.

A consumer handles one partition's batch at a time and acknowledges it only after its
handler committed, so acknowledged work is never handed out again; a failing batch is nacked
with exponential backoff and comes back in order. Consumers run in the server (embedded
default) or in separate ``kindred worker`` processes that split partitions between them.

This module knows no consumer but the timeline: the composition root registers each one
(timeline, scenario engine, agent triggers) in a :class:`ConsumerRegistry`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kindred.db import Database, UTCDateTime
from kindred.events import metrics
from kindred.events.bus import Delivery, EventBus, GroupSpec
from kindred.retry import full_jitter

log = logging.getLogger("kindred.events")
BatchHandler = Callable[[Sequence[Delivery]], Awaitable[None]]


BackgroundJob = Callable[[], Awaitable[None]]
# What a consumer needs to run: its batch handler, and background work it needs (the scenario
# engine executes runs apart from handling deliveries), or None.
ConsumerStart = tuple[BatchHandler, BackgroundJob | None]


@dataclass(frozen=True)
class ConsumerDefinition:
    spec: GroupSpec
    # member name → the handler and background work, built when the runtime starts.
    make_handler: Callable[[str], ConsumerStart]
    description: str
    # False: the handler takes a whole fetch (several partitions, each still in order) at
    # once — for handlers whose cost is per transaction more than per event.
    per_partition: bool = True


@dataclass(frozen=True)
class RetentionTask:
    """Housekeeping a consumer's owner asks the retention pass to run: ``purge(now)``
    removes what has expired and returns how many it removed (reported under ``name``).
    It runs in a worker thread."""

    name: str
    purge: Callable[[datetime], int]


class ConsumerRegistry:
    """The consumers (and their retention tasks) a runtime may run.

    The bus never imports its consumers: the composition root (``kindred.services``)
    registers them here, and the runtime only iterates what it is given.
    """

    def __init__(self) -> None:
        self._definitions: dict[str, ConsumerDefinition] = {}
        self._retention: dict[str, RetentionTask] = {}

    def register(self, name: str, definition: ConsumerDefinition) -> None:
        if name in self._definitions:
            raise ValueError(f"consumer {name!r} is already registered")
        if definition.spec.name != name:
            raise ValueError(f"consumer {name!r} has group {definition.spec.name!r}")
        self._definitions[name] = definition

    def add_retention(self, task: RetentionTask) -> None:
        if task.name in self._retention:
            raise ValueError(f"retention task {task.name!r} is already registered")
        self._retention[task.name] = task

    def __getitem__(self, name: str) -> ConsumerDefinition:
        return self._definitions[name]

    def __contains__(self, name: object) -> bool:
        return name in self._definitions

    def names(self) -> list[str]:
        return sorted(self._definitions)

    def unknown(self, names: Sequence[str]) -> list[str]:
        return [name for name in names if name not in self._definitions]

    @property
    def retention(self) -> tuple[RetentionTask, ...]:
        return tuple(self._retention.values())


def member_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ConsumerRunner:
    def __init__(
        self,
        bus: EventBus,
        spec: GroupSpec,
        handler: BatchHandler,
        *,
        member: str | None = None,
        batch_size: int = 200,
        max_backoff: float = 30.0,
        per_partition: bool = True,
    ) -> None:
        self.bus = bus
        self.spec = spec
        self.handler = handler
        self.member = member or member_name()
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self.per_partition = per_partition
        self._stopping = asyncio.Event()
        self.handled = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        consumer = await self.bus.consumer(self.spec, self.member)
        failures = 0
        try:
            while not self._stopping.is_set():
                deliveries = await consumer.fetch(self.batch_size, 0.5)
                if not deliveries:
                    continue
                by_partition: dict[int, list[Delivery]] = {}
                if self.per_partition:
                    for delivery in deliveries:
                        by_partition.setdefault(delivery.partition, []).append(delivery)
                else:
                    by_partition[-1] = list(deliveries)
                for batch in by_partition.values():
                    try:
                        await self.handler(batch)
                    except Exception:
                        failures += 1
                        metrics.CONSUMER_FAILURES.labels(self.spec.name).inc(len(batch))
                        # Full jitter backoff: a poison batch must not spin the CPU, and many
                        # members retrying together must not stampede the database.
                        delay = full_jitter(failures + 1, 0.1, self.max_backoff)
                        log.exception(
                            "consumer %s failed on %d event(s); retrying in %.2fs",
                            self.spec.name,
                            len(batch),
                            delay,
                        )
                        await consumer.nack(batch, delay)
                        continue
                    failures = 0
                    await consumer.ack(batch)
                    self.handled += len(batch)
                    metrics.CONSUMED.labels(self.spec.name).inc(len(batch))
        finally:
            await consumer.close()


# -- built-in consumers ----------------------------------------------------------------------

TIMELINE_UPSERT = sa.text(
    "INSERT INTO event_timeline "
    "(partition_key, event_source, event_id, type, time, subject, position, processed, created_at)"
    " VALUES (:key, :source, :id, :type, :time, :subject, :position, 1, :now)"
    " ON CONFLICT (event_source, event_id)"
    " DO UPDATE SET processed = event_timeline.processed + 1"
).bindparams(sa.bindparam("now", type_=UTCDateTime()))


def timeline_handler(database: Database) -> BatchHandler:
    """The customer timeline: every event with its customer/device key, newest first per key.

    Counting repeats (``processed``) instead of ignoring them keeps the bus honest: a test
    can see whether acknowledged work was ever handed out again.
    """

    def write(batch: Sequence[Delivery]) -> None:
        from kindred.db import utcnow

        now = utcnow()
        rows = [
            {
                "key": d.event.key[:500],
                "source": d.event.source[:1000],
                "id": d.event.id[:500],
                "type": d.event.type,
                "time": d.event.time or "",
                "subject": (d.event.subject or "")[:500] or None,
                "position": d.stored.position,
                "now": now,
            }
            for d in batch
        ]
        with database.write() as session:
            session.execute(TIMELINE_UPSERT, rows)

    async def handle(batch: Sequence[Delivery]) -> None:
        await asyncio.to_thread(write, batch)

    return handle


def timeline_consumer(database: Database) -> ConsumerDefinition:
    return ConsumerDefinition(
        GroupSpec("timeline", ("*",), ack_wait=30.0),
        lambda member: (timeline_handler(database), None),
        "Customer timeline: every event under its customer or device key",
    )
