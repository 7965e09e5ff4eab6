"""NATS JetStream bus: one stream per domain, subjects ``kindred.events.<type>.<partition>``.

* Dedupe: every message carries ``Nats-Msg-Id: <source> <id>``; JetStream drops repeats
  inside the stream's duplicate window (``dedupe_window_seconds``, default one day).
* Partitions: the partition number is the last subject token, so a group keeps one durable
  pull consumer per (stream, partition) filtered on ``<prefix>.<domain>.*.*.<p>``.
* Ownership: a member owns a partition while it holds a lease in a JetStream key-value
  bucket whose TTL is the lease time; a crashed member's leases simply expire.
* Ordering: a member fetches a partition's next batch only after the previous one is settled,
  so one key's events are handled in order within a domain's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
import orjson
from nats.js import api
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError, NotFoundError

from kindred.events.bus import (
    BusOptions,
    Delivery,
    EventBus,
    GroupConsumer,
    GroupSpec,
    GroupStatus,
    PublishResult,
    RetentionReport,
    StoredEvent,
    preferred_partitions,
)
from kindred.events.envelope import CloudEvent

FETCH_SLICE = 0.05


def _event_from_json(body: bytes) -> CloudEvent:
    raw = orjson.loads(body)
    known = {"specversion", "id", "source", "type", "time", "subject", "datacontenttype"}
    known |= {"data", "dataschema", "partitionkey"}
    return CloudEvent(
        id=raw["id"],
        source=raw["source"],
        type=raw["type"],
        time=raw.get("time"),
        subject=raw.get("subject"),
        datacontenttype=raw.get("datacontenttype"),
        dataschema=raw.get("dataschema"),
        partitionkey=raw.get("partitionkey"),
        data=raw.get("data"),
        extensions={k: v for k, v in raw.items() if k not in known},
    )


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        text = value.replace("Z", "+00:00")
        # JetStream reports nanoseconds; fromisoformat takes at most microseconds.
        if "." in text:
            head, tail = text.split(".", 1)
            digits = "".join(ch for ch in tail if ch.isdigit())
            zone = tail[len(digits) :]
            text = f"{head}.{digits[:6]}{zone}"
        return datetime.fromisoformat(text).timestamp()
    return time.time()


class NatsBus(EventBus):
    name = "jetstream"

    def __init__(self, url: str, options: BusOptions) -> None:
        self.url = url
        self.options = options
        # Tests give every run its own prefix: JetStream refuses overlapping stream subjects.
        self.prefix: str = options.extra.get("subject_prefix", "kindred.events")
        self.stream_prefix: str = options.extra.get("stream_prefix", "KINDRED")
        self.nc: Any = None
        self.js: Any = None
        self._streams: set[str] = set()
        self._stream_lock = asyncio.Lock()
        self._leases: Any = None
        self._groups: Any = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self.nc is not None:
            return
        try:
            self.nc = await nats.connect(self.url, connect_timeout=5, max_reconnect_attempts=3)
        except Exception as error:
            raise ConnectionError(f"cannot reach NATS at {self.url}: {error}") from error
        self.js = self.nc.jetstream(timeout=10)
        self._leases = await self.js.create_key_value(
            config=api.KeyValueConfig(
                bucket=f"{self.stream_prefix}_LEASES", ttl=self.options.lease_seconds, history=1
            )
        )
        self._groups = await self.js.create_key_value(
            config=api.KeyValueConfig(bucket=f"{self.stream_prefix}_GROUPS", history=1)
        )
        await self.refresh_streams()

    async def refresh_streams(self) -> None:
        """Learn the domain streams that exist, including those other processes created."""
        for info in await self.js.streams_info():
            if info.config.name.startswith(self.stream_prefix + "_EV_"):
                self._streams.add(info.config.name)

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.drain()
            self.nc = None

    def stream_for(self, domain: str) -> str:
        return f"{self.stream_prefix}_EV_{domain.upper()}"

    def domain_of(self, stream: str) -> str:
        return stream.removeprefix(f"{self.stream_prefix}_EV_").lower()

    async def ensure_stream(self, domain: str) -> str:
        name = self.stream_for(domain)
        if name in self._streams:
            return name
        async with self._stream_lock:
            if name not in self._streams:
                config = api.StreamConfig(
                    name=name,
                    subjects=[f"{self.prefix}.{domain}.>"],
                    storage=api.StorageType.FILE,
                    max_age=self.options.retention_days * 86400,
                    duplicate_window=min(
                        self.options.dedupe_window_seconds, self.options.retention_days * 86400
                    ),
                )
                try:
                    await self.js.add_stream(config)
                except Exception:
                    await self.js.update_stream(config)
                self._streams.add(name)
                # Groups that existed before this domain's first event want it too: give
                # them their consumers now, so nothing published here escapes them (or lag).
                for spec in await self._group_specs():
                    domains = spec.domains()
                    if domains is None or domain in domains:
                        await self._ensure_consumers(spec, [name])
        return name

    # -- publishing ----------------------------------------------------------------------

    async def publish(self, events: Sequence[CloudEvent]) -> list[PublishResult]:
        if not events:
            return []
        for domain in {e.domain for e in events}:
            await self.ensure_stream(domain)
        partitions = self.options.partitions
        futures = []
        for event in events:
            subject = f"{self.prefix}.{event.type}.{event.partition(partitions)}"
            # Pipelined: all publishes are in flight at once, then we wait for every PubAck
            # (each means "stored"; with file storage JetStream has written it).
            futures.append(
                await self.js.publish_async(
                    subject, event.to_json(), headers={"Nats-Msg-Id": event.dedupe_id}
                )
            )
        acks = await asyncio.gather(*futures)
        return [PublishResult(f"{ack.stream}:{ack.seq}", bool(ack.duplicate)) for ack in acks]

    # -- reading -------------------------------------------------------------------------

    def _stored(self, stream: str, seq: int, data: bytes, subject: str, stored: Any) -> StoredEvent:
        return StoredEvent(
            f"{stream}:{seq}",
            _event_from_json(data),
            _epoch(stored),
            int(subject.rsplit(".", 1)[1]),
        )

    async def get(self, position: str) -> StoredEvent | None:
        stream, _, seq = position.rpartition(":")
        if not stream or not seq.isdigit() or stream not in self._streams:
            return None
        try:
            message = await self.js.get_msg(stream, seq=int(seq))
        except NotFoundError:
            return None
        return self._stored(stream, message.seq, message.data, message.subject, message.time)

    async def _next(self, stream: str, seq: int, subject: str) -> Any | None:
        try:
            return await self.js.get_msg(stream, seq=max(seq, 1), subject=subject, next=True)
        except NotFoundError:
            return None

    async def _first_seq_at(self, stream: str, since: datetime) -> int:
        """Binary search for the first sequence stored at or after ``since``."""
        info = await self.js.stream_info(stream)
        low, high = info.state.first_seq, info.state.last_seq + 1
        target = since.timestamp()
        while low < high:
            middle = (low + high) // 2
            message = await self._next(stream, middle, f"{self.prefix}.>")
            if message is None or _epoch(message.time) >= target:
                high = middle
            else:
                low = message.seq + 1
        return low

    async def read(
        self,
        *,
        after: str | None = None,
        since: datetime | None = None,
        types: Sequence[str] | None = None,
        key: str | None = None,
        limit: int = 100,
    ) -> tuple[list[StoredEvent], str | None]:
        # The cursor is a vector "STREAM:seq,STREAM:seq": JetStream numbers each stream apart.
        vector: dict[str, int] = {}
        if after:
            for part in after.split(","):
                stream, _, number = part.rpartition(":")
                if not stream or not number.isdigit():
                    raise ValueError(
                        f"a JetStream cursor looks like STREAM:seq[,STREAM:seq] (got {after!r})"
                    )
                vector[stream] = int(number)
        spec = GroupSpec("read", tuple(types) if types else ("*",))
        domains = spec.domains()
        streams = sorted(
            s for s in self._streams if domains is None or self.domain_of(s) in domains
        )
        partition = (
            CloudEvent(id="", source="", type="a.b.c", partitionkey=key).partition(
                self.options.partitions
            )
            if key
            else None
        )
        candidates: list[StoredEvent] = []
        for stream in streams:
            seq = vector.get(stream, 0) + 1
            if since is not None:
                seq = max(seq, await self._first_seq_at(stream, since))
            subject = (
                f"{self.prefix}.>" if partition is None else f"{self.prefix}.*.*.*.{partition}"
            )
            taken = 0
            while taken <= limit:
                message = await self._next(stream, seq, subject)
                if message is None:
                    break
                seq = message.seq + 1
                stored = self._stored(
                    stream, message.seq, message.data, message.subject, message.time
                )
                if not spec.matches(stored.event.type) or (
                    key is not None and stored.event.key != key
                ):
                    continue
                candidates.append(stored)
                taken += 1
        candidates.sort(key=lambda s: (s.stored_at, s.position))
        page = candidates[:limit]
        if len(candidates) <= limit:
            return page, None
        for stored in page:
            stream, _, number = stored.position.rpartition(":")
            vector[stream] = int(number)
        return page, ",".join(f"{s}:{n}" for s, n in sorted(vector.items()))

    async def count(self) -> int:
        total = 0
        for stream in self._streams:
            total += (await self.js.stream_info(stream)).state.messages
        return total

    # -- consumer groups -----------------------------------------------------------------

    async def _group_record(self, name: str) -> tuple[dict[str, Any], int] | None:
        try:
            entry = await self._groups.get(name)
        except KeyNotFoundError:
            return None
        return orjson.loads(entry.value), entry.revision

    def _consumer_config(
        self, spec: GroupSpec, stream: str, partition: int, policy: Any = None, **start: Any
    ) -> Any:
        domain = self.domain_of(stream)
        name = f"{spec.name}_p{partition}"
        return api.ConsumerConfig(
            name=name,
            durable_name=name,
            filter_subject=f"{self.prefix}.{domain}.*.*.{partition}",
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=policy or api.DeliverPolicy.ALL,
            ack_wait=spec.ack_wait,
            max_ack_pending=10_000,
            max_deliver=-1,
            **start,
        )

    async def _ensure_consumers(
        self, spec: GroupSpec, streams: Sequence[str], policy: Any = None
    ) -> None:
        for stream in streams:
            for partition in range(self.options.partitions):
                try:
                    await self.js.consumer_info(stream, f"{spec.name}_p{partition}")
                except NotFoundError:
                    await self.js.add_consumer(
                        stream, self._consumer_config(spec, stream, partition, policy)
                    )

    def _streams_for(self, spec: GroupSpec) -> list[str]:
        domains = spec.domains()
        return sorted(s for s in self._streams if domains is None or self.domain_of(s) in domains)

    async def consumer(self, spec: GroupSpec, member: str) -> GroupConsumer:
        record = await self._group_record(spec.name)
        if record is None:
            body = {**spec.to_dict(), "epoch": 0}
            try:
                await self._groups.create(spec.name, orjson.dumps(body))
                policy = api.DeliverPolicy.NEW if spec.start == "latest" else None
                await self._ensure_consumers(spec, self._streams_for(spec), policy)
            except KeyWrongLastSequenceError:
                pass  # another member created it first
        return _NatsConsumer(self, spec, member or uuid.uuid4().hex[:12])

    async def _group_specs(self) -> list[GroupSpec]:
        try:
            names = await self._groups.keys()
        except NoKeysError:
            return []
        specs = []
        for name in sorted(names):
            record = await self._group_record(name)
            if record is not None:
                specs.append(GroupSpec.from_dict(record[0]))
        return specs

    async def groups(self) -> list[GroupStatus]:
        statuses = []
        for spec in await self._group_specs():
            name = spec.name
            lag = 0
            for stream in self._streams_for(spec):
                for partition in range(self.options.partitions):
                    try:
                        info = await self.js.consumer_info(stream, f"{name}_p{partition}")
                    except NotFoundError:
                        # No consumer yet on this stream: everything in it is still to come.
                        continue
                    lag += info.num_pending + info.num_ack_pending
            members = tuple(sorted(await self._members(name)))
            statuses.append(GroupStatus(name, spec.types, lag, members))
        return statuses

    async def _members(self, group: str) -> list[str]:
        try:
            keys = await self._leases.keys()
        except NoKeysError:
            return []
        marker = f"{group}.m."
        return [k[len(marker) :] for k in keys if k.startswith(marker)]

    async def seek(
        self, group: str, *, after: str | None = None, since: datetime | None = None
    ) -> None:
        if (after is None) == (since is None):
            raise ValueError("seek needs exactly one of an offset (after) or a time (since)")
        record = await self._group_record(group)
        if record is None:
            raise KeyError(group)
        body, revision = record
        spec = GroupSpec.from_dict(body)
        vector: dict[str, int] = {}
        if after is not None:
            for part in after.split(","):
                stream, _, seq = part.rpartition(":")
                if not stream or not seq.isdigit():
                    raise ValueError(
                        f"a JetStream offset looks like STREAM:seq[,STREAM:seq] (got {after!r})"
                    )
                vector[stream] = int(seq)
        for stream in self._streams_for(spec):
            for partition in range(self.options.partitions):
                with contextlib.suppress(NotFoundError):
                    await self.js.delete_consumer(stream, f"{group}_p{partition}")
                if since is not None:
                    config = self._consumer_config(
                        spec,
                        stream,
                        partition,
                        api.DeliverPolicy.BY_START_TIME,
                        opt_start_time=since.astimezone(UTC),
                    )
                else:
                    config = self._consumer_config(
                        spec,
                        stream,
                        partition,
                        api.DeliverPolicy.BY_START_SEQUENCE,
                        opt_start_seq=vector.get(stream, 0) + 1,
                    )
                await self.js.add_consumer(stream, config)
        body["epoch"] = int(body.get("epoch", 0)) + 1
        await self._groups.update(group, orjson.dumps(body), last=revision)

    async def apply_retention(self, older_than: datetime) -> RetentionReport:
        before = after = deleted = 0
        for stream in sorted(self._streams):
            info = await self.js.stream_info(stream)
            before += info.state.bytes
            first = await self._first_seq_at(stream, older_than)
            if first > info.state.first_seq:
                await self.js.purge_stream(stream, seq=first)
            info_after = await self.js.stream_info(stream)
            deleted += info.state.messages - info_after.state.messages
            after += info_after.state.bytes
        return RetentionReport(deleted, before, after)


@dataclass
class _Binding:
    stream: str
    partition: int
    subscription: Any
    pending: list[Any]
    deadline: float = 0.0


class _NatsConsumer(GroupConsumer):
    def __init__(self, bus: NatsBus, spec: GroupSpec, member: str) -> None:
        self.bus = bus
        self.spec = spec
        self.member = member
        self._owned: set[int] = set()
        self._lease_revisions: dict[int, int] = {}
        self._bindings: dict[tuple[str, int], _Binding] = {}
        self._next_rebalance = 0.0
        self._epoch: int | None = None

    async def owned_partitions(self) -> set[int]:
        await self._rebalance(force=True)
        return set(self._owned)

    async def _lease(self, partition: int) -> bool:
        key = f"{self.spec.name}.p{partition}"
        value = self.member.encode()
        kv = self.bus._leases
        revision = self._lease_revisions.get(partition)
        try:
            if revision is not None:
                self._lease_revisions[partition] = await kv.update(key, value, last=revision)
                return True
            self._lease_revisions[partition] = await kv.create(key, value)
            return True
        except (KeyWrongLastSequenceError, NotFoundError, KeyNotFoundError):
            self._lease_revisions.pop(partition, None)
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:
                return False
            if entry.value == value:  # ours after all (e.g. a renewal raced with a restart)
                self._lease_revisions[partition] = entry.revision
                return True
            return False

    async def _rebalance(self, force: bool = False) -> None:
        now = time.time()
        if not force and now < self._next_rebalance:
            return
        self._next_rebalance = now + self.bus.options.rebalance_seconds
        record = await self.bus._group_record(self.spec.name)
        epoch = int(record[0].get("epoch", 0)) if record else 0
        if self._epoch is not None and epoch != self._epoch:
            await self._unbind_all()  # the group was moved: bind to the recreated consumers
        self._epoch = epoch
        await self.bus._leases.put(f"{self.spec.name}.m.{self.member}", b"1")
        members = await self.bus._members(self.spec.name)
        wanted = preferred_partitions(self.bus.options.partitions, members, self.member)
        owned: set[int] = set()
        for partition in range(self.bus.options.partitions):
            if partition in wanted:
                if await self._lease(partition):
                    owned.add(partition)
            elif partition in self._owned:
                await self._release(partition)
        for lost in self._owned - owned:
            await self._unbind(lost)
        self._owned = owned
        # A domain's first event (published by any process) creates its stream: look again.
        await self.bus.refresh_streams()
        streams = self.bus._streams_for(self.spec)
        for stream in streams:
            for partition in owned:
                if (stream, partition) not in self._bindings:
                    await self.bus._ensure_consumers(self.spec, [stream])
                    subscription = await self.bus.js.pull_subscribe_bind(
                        durable=f"{self.spec.name}_p{partition}", stream=stream
                    )
                    self._bindings[(stream, partition)] = _Binding(
                        stream, partition, subscription, []
                    )

    async def _release(self, partition: int) -> None:
        revision = self._lease_revisions.pop(partition, None)
        if revision is not None:
            # A failed delete is harmless: the lease expires on its own.
            with contextlib.suppress(Exception):
                await self.bus._leases.delete(f"{self.spec.name}.p{partition}", last=revision)

    async def _unbind(self, partition: int) -> None:
        for key in [k for k in self._bindings if k[1] == partition]:
            binding = self._bindings.pop(key)
            with contextlib.suppress(Exception):
                await binding.subscription.unsubscribe()

    async def _unbind_all(self) -> None:
        for partition in {k[1] for k in self._bindings}:
            await self._unbind(partition)

    async def fetch(self, max_messages: int = 100, timeout: float = 1.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while True:
            await self._rebalance()
            deliveries = await self._fetch_round(
                max_messages, min(FETCH_SLICE, max(deadline - time.monotonic(), 0.001))
            )
            if deliveries or time.monotonic() >= deadline:
                return deliveries

    async def _fetch_round(self, max_messages: int, slice_seconds: float) -> list[Delivery]:
        now = time.monotonic()
        for binding in self._bindings.values():
            if binding.pending and now >= binding.deadline:
                # Not acked in time: JetStream redelivers these, so stop waiting for them.
                binding.pending.clear()
        ready = [b for b in self._bindings.values() if not b.pending]
        if not ready:
            await asyncio.sleep(slice_seconds)
            return []
        share = max(1, max_messages // len(ready))

        async def pull(binding: _Binding) -> list[Any]:
            try:
                return list(await binding.subscription.fetch(batch=share, timeout=slice_seconds))
            except (TimeoutError, nats.errors.TimeoutError):
                return []

        results = await asyncio.gather(*(pull(b) for b in ready))
        deliveries: list[Delivery] = []
        for binding, messages in zip(ready, results, strict=True):
            binding.deadline = time.monotonic() + self.spec.ack_wait
            for message in messages:
                metadata = message.metadata
                stored = StoredEvent(
                    f"{binding.stream}:{metadata.sequence.stream}",
                    _event_from_json(message.data),
                    _epoch(metadata.timestamp),
                    binding.partition,
                )
                if not self.spec.matches(stored.event.type):
                    await message.ack()  # same domain, a type this group does not want
                    continue
                binding.pending.append(message)
                deliveries.append(
                    Delivery(
                        stored,
                        self.spec.name,
                        binding.partition,
                        metadata.num_delivered,
                        (binding, message),
                    )
                )
        return deliveries

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            binding, message = delivery.token
            # ack_sync: the ack is confirmed by the server, so acknowledged work is never
            # handed out again even if this process dies right after.
            await message.ack_sync()
            if message in binding.pending:
                binding.pending.remove(message)

    async def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        touched: set[int] = set()
        for delivery in deliveries:
            binding, message = delivery.token
            touched.add(id(binding))
        # Nack everything still pending on those partitions so order is kept on redelivery.
        for binding in list(self._bindings.values()):
            if id(binding) in touched:
                for message in binding.pending:
                    await message.nak(delay=delay or None)
                binding.pending.clear()

    async def close(self) -> None:
        await self._unbind_all()
        for partition in list(self._owned):
            await self._release(partition)
        with contextlib.suppress(Exception):
            await self.bus._leases.delete(f"{self.spec.name}.m.{self.member}")
        self._owned.clear()
