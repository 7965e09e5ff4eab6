"""The bus port: one contract for the embedded SQLite log and for NATS JetStream.

Guarantees every adapter keeps (``tests/events/test_bus_contract.py`` checks them on both):

* ``publish`` returns only after the events are durably stored; ``source`` + ``id`` is stored
  once (a repeat returns the original position with ``duplicate=True``).
* Consumer groups get at-least-once delivery with explicit ack. An event that is not acked
  within the group's ``ack_wait`` (or is nacked) is delivered again; an acked one never is.
* Events with the same partition key land in the same partition; a partition is owned by one
  group member at a time and delivered in order, so one key's events are handled in order.
  (On JetStream the order holds within a domain's stream; the embedded log orders globally.)
* Groups can be moved to an offset or a time (replay); retention deletes old events and
  gives the disk space back.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from kindred.events.envelope import CloudEvent

GROUP_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: str
    event: CloudEvent
    stored_at: float
    partition: int


@dataclass(frozen=True, slots=True)
class PublishResult:
    position: str
    duplicate: bool


@dataclass(frozen=True)
class GroupSpec:
    """A consumer group: which event types it wants and how long a delivery may stay unacked.

    ``types`` entries are exact types, ``domain.*`` / any fnmatch pattern, or ``*``.
    """

    name: str
    types: tuple[str, ...] = ("*",)
    ack_wait: float = 30.0
    start: Literal["earliest", "latest"] = "earliest"

    def matches(self, event_type: str) -> bool:
        return any(
            p == "*" or p == event_type or fnmatch.fnmatchcase(event_type, p) for p in self.types
        )

    def domains(self) -> set[str] | None:
        """The domains this group can match, or None for all of them."""
        found: set[str] = set()
        for pattern in self.types:
            head = pattern.split(".", 1)[0]
            if any(ch in head for ch in "*?["):
                return None
            found.add(head)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "types": list(self.types),
            "ack_wait": self.ack_wait,
            "start": self.start,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GroupSpec:
        return cls(
            raw["name"], tuple(raw["types"]), float(raw["ack_wait"]), raw.get("start", "earliest")
        )


@dataclass(slots=True)
class Delivery:
    stored: StoredEvent
    group: str
    partition: int
    attempt: int
    token: Any = None

    @property
    def event(self) -> CloudEvent:
        return self.stored.event


@dataclass(frozen=True)
class GroupStatus:
    name: str
    types: tuple[str, ...]
    lag: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class RetentionReport:
    deleted: int
    bytes_before: int
    bytes_after: int


@dataclass
class BusOptions:
    partitions: int = 8
    lease_seconds: float = 10.0
    rebalance_seconds: float = 1.0
    retention_days: float = 30.0
    dedupe_window_seconds: float = 24 * 3600.0
    extra: dict[str, Any] = field(default_factory=dict)


class GroupConsumer(ABC):
    """One member of a consumer group."""

    spec: GroupSpec
    member: str

    @abstractmethod
    async def fetch(self, max_messages: int = 100, timeout: float = 1.0) -> list[Delivery]: ...

    @abstractmethod
    async def ack(self, deliveries: Sequence[Delivery]) -> None: ...

    @abstractmethod
    async def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None: ...

    @abstractmethod
    async def owned_partitions(self) -> set[int]: ...

    @abstractmethod
    async def close(self) -> None:
        """Leave the group and release its partitions (a crash releases them by lease expiry)."""


class EventBus(ABC):
    name: str
    options: BusOptions

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def publish(self, events: Sequence[CloudEvent]) -> list[PublishResult]: ...

    @abstractmethod
    async def get(self, position: str) -> StoredEvent | None: ...

    @abstractmethod
    async def read(
        self,
        *,
        after: str | None = None,
        since: datetime | None = None,
        types: Sequence[str] | None = None,
        key: str | None = None,
        limit: int = 100,
    ) -> tuple[list[StoredEvent], str | None]:
        """A page of the log in storage order and the cursor for the next page."""

    @abstractmethod
    async def consumer(self, spec: GroupSpec, member: str) -> GroupConsumer: ...

    @abstractmethod
    async def groups(self) -> list[GroupStatus]: ...

    @abstractmethod
    async def seek(
        self, group: str, *, after: str | None = None, since: datetime | None = None
    ) -> None:
        """Move a group so its next delivery is the first event after ``after`` (a position)
        or stored at/after ``since``; in-flight deliveries are dropped."""

    @abstractmethod
    async def apply_retention(self, older_than: datetime) -> RetentionReport: ...

    @abstractmethod
    async def count(self) -> int: ...


def preferred_partitions(partitions: int, members: Sequence[str], member: str) -> set[int]:
    """Deterministic, sticky-enough assignment: partition p goes to sorted member p mod n.

    Every member computes the same answer from the same membership, so no coordinator is
    needed; leases make a hand-over safe while views briefly disagree.
    """
    ordered = sorted(set(members) | {member})
    index = ordered.index(member)
    return {p for p in range(partitions) if p % len(ordered) == index}


def open_bus(url: str, options: BusOptions | None = None) -> EventBus:
    """The adapter for a URL: ``sqlite:///path`` (embedded) or ``nats://host:port``."""
    options = options or BusOptions()
    if url.startswith("sqlite:///"):
        from kindred.events.bus.sqlite import SqliteBus

        return SqliteBus(url.removeprefix("sqlite:///"), options)
    if url.startswith(("nats://", "tls://")):
        from kindred.events.bus.nats import NatsBus

        return NatsBus(url, options)
    raise ValueError(f"unsupported bus URL {url!r}: use sqlite:///path or nats://host:port")
