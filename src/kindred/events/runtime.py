"""The event bus's background work: consumers, the MQTT bridge, the scheduler and retention.

One class runs it for both hosts: the API server (embedded default: everything in-process)
and ``kindred worker`` (separate processes that join the same consumer groups and split their
partitions). Each job is an asyncio task that logs and restarts after a failure, so one bad
minute of the broker or the database does not stop the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kindred.events.consumers import ConsumerRegistry, ConsumerRunner, member_name
from kindred.events.schedule import ScheduleSettings, time_driven_events
from kindred.events.sources import MqttBridge

if TYPE_CHECKING:
    from kindred.services import Kindred

log = logging.getLogger("kindred.events")
RETENTION_INTERVAL_SECONDS = 3600.0
BRIDGE_LOCK_RETRY_SECONDS = 2.0


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive after startup out of the collector's
    sight (``gc.freeze``).

    Why: a full collection walks every tracked object, and a started server holds many that
    live forever (modules, ORM metadata, compiled rules); the pause stalls the event loop
    and every consumer. At 2,000 scenario executions/s those pauses were the whole tail:
    p99 120–180 ms, 34 ms once frozen (benchmarks/bench_scenarios.py). Objects created later
    are collected as usual. Servers and workers call this once they are up; tests do not
    (each test's runtime would freeze the garbage of the tests before it).
    """
    gc.collect()
    gc.freeze()


@dataclass
class RuntimeJobs:
    consumers: tuple[str, ...] = ()
    mqtt: bool = False
    scheduler: bool = False
    retention: bool = False


def jobs_from_settings(kindred: Kindred) -> RuntimeJobs:
    settings = kindred.settings
    return RuntimeJobs(
        consumers=tuple(settings.consumers) if settings.run_consumers else (),
        mqtt=bool(settings.mqtt_url),
        scheduler=settings.scheduler_enabled,
        retention=True,
    )


class EventRuntime:
    """Runs the jobs it is given. Consumers come from ``consumers`` (by default the registry
    the composition root built, ``kindred.consumers``); the runtime imports none of them."""

    def __init__(
        self,
        kindred: Kindred,
        jobs: RuntimeJobs,
        *,
        member: str | None = None,
        consumers: ConsumerRegistry | None = None,
    ) -> None:
        registry = consumers if consumers is not None else kindred.consumers
        unknown = registry.unknown(jobs.consumers)
        if unknown:
            known = ", ".join(registry.names())
            raise ValueError(f"unknown consumer(s) {', '.join(unknown)}; known: {known}")
        self.kindred = kindred
        self.consumers = registry
        self.jobs = jobs
        self.member = member or member_name()
        self.runners: list[ConsumerRunner] = []
        self.bridge: MqttBridge | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.kindred.events.start()
        for name in self.jobs.consumers:
            definition = self.consumers[name]
            handler, background = definition.make_handler(self.member)
            runner = ConsumerRunner(
                self.kindred.events.bus,
                definition.spec,
                handler,
                member=self.member,
                per_partition=definition.per_partition,
            )
            self.runners.append(runner)
            self._spawn(f"consumer {name}", runner.run)
            if background is not None:
                self._spawn(f"{name} background", background)
        if self.jobs.mqtt and self.kindred.settings.mqtt_url:
            bridge = MqttBridge(
                self.kindred.events,
                self.kindred.settings.mqtt_url,
                self.kindred.settings.mqtt_topic_prefix,
                client_id=self.kindred.settings.mqtt_client_id,
            )
            self.bridge = bridge
            self._spawn("mqtt bridge", lambda: self._run_bridge(bridge))
        if self.jobs.scheduler:
            self._spawn("scheduler", self._schedule_forever)
        if self.jobs.retention:
            self._spawn("retention", self._retention_forever)

    def _spawn(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        async def supervised() -> None:
            while True:
                try:
                    await job()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s failed; restarting in 1s", name)
                    await asyncio.sleep(1)

        self._tasks.append(asyncio.create_task(supervised(), name=f"kindred {name}"))

    async def stop(self) -> None:
        for runner in self.runners:
            runner.stop()
        # Runners leave their groups cleanly (releasing partitions) when they see the stop.
        if self.runners:
            await asyncio.wait(
                [t for t in self._tasks if t.get_name().startswith("kindred consumer")],
                timeout=5,
            )
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _run_bridge(self, bridge: MqttBridge) -> None:
        """Run the bridge in one process per client id on this machine.

        Why: ``serve --workers N`` starts the runtime in every worker, and MQTT brokers
        disconnect a session when another client logs in with the same id, so N bridges
        would knock each other off in a loop. An OS file lock elects one; the others wait
        and take over if it dies (the kernel releases the lock with the process).
        """
        path = Path(tempfile.gettempdir()) / f"kindred-mqtt-{bridge.client_id}.lock"
        with path.open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(BRIDGE_LOCK_RETRY_SECONDS)
            try:
                await bridge.run()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- scheduler and retention ---------------------------------------------------------

    async def run_scheduler_once(self, today: datetime | None = None) -> int:
        """Emit today's time-driven events; returns how many were new."""
        settings = self.kindred.settings
        moment = today or datetime.now(UTC)
        schedule = ScheduleSettings(
            warranty_notice_days=settings.warranty_notice_days,
            birthday_notice_days=settings.birthday_notice_days,
            lapsed_purchase_days=settings.lapsed_purchase_days,
        )

        def collect() -> list[dict[str, object]]:
            with self.kindred.database.read() as session:
                return time_driven_events(session, moment.date(), schedule, now=moment)

        events = await asyncio.to_thread(collect)
        if not events:
            return 0
        report = await self.kindred.events.ingest(events, channel="scheduler")
        return sum(1 for accepted in report.accepted if not accepted["duplicate"])

    async def _schedule_forever(self) -> None:
        interval = self.kindred.settings.scheduler_interval_seconds
        while True:
            fresh = await self.run_scheduler_once()
            if fresh:
                log.info("scheduler emitted %d time-driven event(s)", fresh)
            await asyncio.sleep(interval)

    async def run_retention_once(self) -> dict[str, int]:
        """One retention pass: old events, resolved dead letters after the bus retention,
        open ones after ``dead_letter_retention_days``, then each registered retention task
        (finished scenario runs). Returns what each removed."""
        settings = self.kindred.settings
        events = self.kindred.events
        await events.start()
        now = datetime.now(UTC)
        cutoff = now - timedelta(days=settings.bus_retention_days)
        report = await events.bus.apply_retention(cutoff)
        purged = await asyncio.to_thread(events.purge_resolved_dead_letters, cutoff)
        if purged:
            log.info("retention removed %d resolved dead letter(s)", purged)
        unresolved = await asyncio.to_thread(
            events.purge_unresolved_dead_letters,
            now - timedelta(days=settings.dead_letter_retention_days),
        )
        if unresolved:
            log.info("retention removed %d unresolved dead letter(s)", unresolved)
        removed: dict[str, int] = {}
        for task in self.consumers.retention:
            removed[task.name] = await asyncio.to_thread(task.purge, now)
            if removed[task.name]:
                log.info("retention removed %d %s", removed[task.name], task.name)
        if report.deleted:
            log.info(
                "retention removed %d event(s); log %d → %d bytes",
                report.deleted,
                report.bytes_before,
                report.bytes_after,
            )
        return {
            "events": report.deleted,
            "resolved_dead_letters": purged,
            "unresolved_dead_letters": unresolved,
            **removed,
        }

    async def _retention_forever(self) -> None:
        while True:
            await self.run_retention_once()
            await asyncio.sleep(RETENTION_INTERVAL_SECONDS)
