"""Embedded bus: an append-only event log in its own SQLite file (WAL), group commit.

Why its own file: the log takes thousands of small writes a second; sharing the CRM
database's single write lock would make record saves queue behind event ingest.

All writes (appends, acks, leases) go through one writer thread that drains a queue and
commits everything it found in one transaction, so a burst of concurrent publishers costs
one commit (and one fsync) instead of one each. Readers use their own connections; WAL lets
them read while the writer writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from kindred.db.sqlite_lock import begin_immediate
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

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    domain TEXT NOT NULL,
    partition INTEGER NOT NULL,
    key TEXT NOT NULL,
    stored_at REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_events_source_id ON events(source, id);
CREATE INDEX IF NOT EXISTS ix_events_partition ON events(partition, seq);
CREATE INDEX IF NOT EXISTS ix_events_stored_at ON events(stored_at);
CREATE TABLE IF NOT EXISTS bus_groups (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bus_offsets (
    grp TEXT NOT NULL,
    partition INTEGER NOT NULL,
    committed INTEGER NOT NULL,
    acked TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (grp, partition)
);
CREATE TABLE IF NOT EXISTS bus_leases (
    grp TEXT NOT NULL,
    partition INTEGER NOT NULL,
    member TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (grp, partition)
);
CREATE TABLE IF NOT EXISTS bus_members (
    grp TEXT NOT NULL,
    member TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (grp, member)
);
"""
POLL_SECONDS = 0.05
LOCK_WAIT_SECONDS = 30.0
CHECKPOINT_SECONDS = 0.5
# 8 parameters a row; SQLite allows 32,766 per statement.
ROWS_PER_INSERT = 500


class _Writer(threading.Thread):
    """Runs write operations in batches: one transaction per drain of the queue."""

    def __init__(self, path: str, synchronous: str, on_commit: Callable[[], None]) -> None:
        super().__init__(name="kindred-bus-writer", daemon=True)
        self.path = path
        self.synchronous = synchronous
        self.on_commit = on_commit
        self.queue: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], Any] | None] = (
            queue.SimpleQueue()
        )
        self.ready = threading.Event()
        self._stopped = threading.Event()
        self.startup_error: BaseException | None = None

    def submit(self, operation: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.queue.put((operation, (loop, future)))
        return future

    def call(self, operation: Callable[[sqlite3.Connection], Any]) -> Any:
        """Blocking variant for synchronous callers (CLI, start-up)."""
        done = threading.Event()
        box: dict[str, Any] = {}
        self.queue.put((operation, (None, (done, box))))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def stop(self) -> None:
        self.queue.put(None)
        self.join(timeout=10)

    def run(self) -> None:
        try:
            connection = _connect(self.path, self.synchronous)
            # Checkpoints run in their own thread (below), not inside a commit: copying the
            # WAL back (and its fsync) would otherwise stall every publisher waiting on us.
            connection.execute("PRAGMA wal_autocheckpoint=0")
        except BaseException as error:  # reported to start()
            self.startup_error = error
            self.ready.set()
            return
        self.ready.set()
        checkpointer = threading.Thread(
            target=self._checkpoint_while_running, name="kindred-bus-checkpoint", daemon=True
        )
        checkpointer.start()
        stopping = False
        while not stopping:
            item = self.queue.get()
            batch = []
            if item is None:
                break
            batch.append(item)
            # Group commit: take everything queued while the last commit ran.
            while len(batch) < 5000:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            results: list[tuple[Any, Any, BaseException | None]] = []
            begin_immediate(connection, wait_seconds=LOCK_WAIT_SECONDS)
            for operation, waiter in batch:
                connection.execute("SAVEPOINT op")
                try:
                    result = operation(connection)
                    connection.execute("RELEASE op")
                    results.append((waiter, result, None))
                except BaseException as error:
                    connection.execute("ROLLBACK TO op")
                    connection.execute("RELEASE op")
                    results.append((waiter, None, error))
            try:
                connection.execute("COMMIT")
            except BaseException as commit_error:
                connection.execute("ROLLBACK")
                results = [(waiter, None, commit_error) for waiter, _, _ in results]
            for waiter, result, failure in results:
                _resolve(waiter, result, failure)
            self.on_commit()
        self._stopped.set()
        checkpointer.join(timeout=10)
        connection.close()

    def _checkpoint_while_running(self) -> None:
        """PASSIVE checkpoints every CHECKPOINT_SECONDS: they never block the writer or
        readers, and keep the WAL from growing while appends continue."""
        connection = _connect(self.path, self.synchronous, readonly=True)
        try:
            while not self._stopped.wait(CHECKPOINT_SECONDS):
                with contextlib.suppress(sqlite3.OperationalError):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()


def _resolve(waiter: Any, result: Any, error: BaseException | None) -> None:
    loop, target = waiter
    if loop is None:
        done, box = target
        if error is not None:
            box["error"] = error
        else:
            box["result"] = result
        done.set()
        return

    def settle() -> None:
        if target.done():
            return
        if error is not None:
            target.set_exception(error)
        else:
            target.set_result(result)

    # RuntimeError: the loop closed while we wrote, so nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle)


def _connect(path: str, synchronous: str = "FULL", readonly: bool = False) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    if not readonly:
        # auto_vacuum must be chosen before the first table exists; INCREMENTAL lets
        # retention hand freed pages back to the file system (see apply_retention).
        connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _decode(row: tuple[Any, ...]) -> StoredEvent:
    seq, stored_at, partition, body = row
    raw = orjson.loads(body)
    known = {"specversion", "id", "source", "type", "time", "subject", "datacontenttype"}
    extensions = {
        k: v
        for k, v in raw.items()
        if k not in known and k not in ("data", "dataschema", "partitionkey")
    }
    event = CloudEvent(
        id=raw["id"],
        source=raw["source"],
        type=raw["type"],
        time=raw.get("time"),
        subject=raw.get("subject"),
        datacontenttype=raw.get("datacontenttype"),
        dataschema=raw.get("dataschema"),
        partitionkey=raw.get("partitionkey"),
        data=raw.get("data"),
        extensions=extensions,
    )
    return StoredEvent(str(seq), event, stored_at, partition)


def _type_filter(spec_types: Sequence[str] | None) -> tuple[str, list[Any]]:
    """SQL for a type list: exact types and ``domain.*`` are indexed-friendly; other globs
    fall back to GLOB (same syntax as fnmatch for * and ?)."""
    if not spec_types or "*" in spec_types:
        return "", []
    clauses: list[str] = []
    params: list[Any] = []
    for pattern in spec_types:
        if not any(ch in pattern for ch in "*?["):
            clauses.append("type = ?")
        else:
            clauses.append("type GLOB ?")
        params.append(pattern)
    return " AND (" + " OR ".join(clauses) + ")", params


class SqliteBus(EventBus):
    name = "embedded"

    def __init__(self, path: str, options: BusOptions) -> None:
        self.path = path
        self.options = options
        self.synchronous = str(options.extra.get("synchronous", "FULL")).upper()
        self._writer: _Writer | None = None
        self._local = threading.local()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._waiters_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self.start_sync()

    def start_sync(self) -> None:
        if self._writer is not None:
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        writer = _Writer(self.path, self.synchronous, self._notify)
        writer.start()
        writer.ready.wait()
        if writer.startup_error is not None:
            raise writer.startup_error
        self._writer = writer

    async def close(self) -> None:
        self.close_sync()

    def close_sync(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None

    @property
    def writer(self) -> _Writer:
        if self._writer is None:
            raise RuntimeError("the bus is not started")
        return self._writer

    def _reader(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = _connect(self.path, readonly=True)
            self._local.connection = connection
        return connection

    def _notify(self) -> None:
        with self._waiters_lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    # -- publishing ----------------------------------------------------------------------

    async def publish(self, events: Sequence[CloudEvent]) -> list[PublishResult]:
        if not events:
            return []
        partitions = self.options.partitions
        rows = [
            (
                e.source,
                e.id,
                e.type,
                e.domain,
                e.partition(partitions),
                e.key,
                e.to_json(),
            )
            for e in events
        ]

        def append(connection: sqlite3.Connection) -> list[PublishResult]:
            now = time.time()
            # AUTOINCREMENT numbers new rows after the highest ever used (sqlite_sequence),
            # and this thread is the only writer inside the transaction, so the rows inserted
            # here get consecutive positions. That lets a multi-row INSERT replace a round
            # trip per event: one statement step per chunk instead of one per row matters
            # because pysqlite releases and re-takes the GIL around every step, and with the
            # event loop thread busy each re-take waits (executemany fell from 51k to 5k
            # rows/s beside a busy thread; multi-row VALUES keeps 24k).
            before = _last_sequence(connection)
            changes = connection.total_changes
            for start in range(0, len(rows), ROWS_PER_INSERT):
                chunk = rows[start : start + ROWS_PER_INSERT]
                values: list[Any] = []
                for row in chunk:
                    values.extend((*row[:6], now, row[6]))
                connection.execute(_insert_sql(len(chunk)), values)
            if connection.total_changes - changes == len(rows):
                return [PublishResult(str(before + 1 + n), False) for n in range(len(rows))]
            # Some were stored before (or repeat within the batch): look each one up.
            results: list[PublishResult] = []
            fresh: set[int] = set()
            for source, event_id, *_ in rows:
                (seq,) = connection.execute(
                    "SELECT seq FROM events WHERE source = ? AND id = ?", (source, event_id)
                ).fetchone()
                duplicate = seq <= before or seq in fresh
                fresh.add(seq)
                results.append(PublishResult(str(seq), duplicate))
            return results

        result: list[PublishResult] = await self.writer.submit(append)
        return result

    # -- reading -------------------------------------------------------------------------

    async def get(self, position: str) -> StoredEvent | None:
        if not position.isdigit():
            return None
        return await asyncio.to_thread(self._get, int(position))

    def _get(self, seq: int) -> StoredEvent | None:
        row = (
            self._reader()
            .execute("SELECT seq, stored_at, partition, body FROM events WHERE seq = ?", (seq,))
            .fetchone()
        )
        return _decode(row) if row else None

    async def read(
        self,
        *,
        after: str | None = None,
        since: datetime | None = None,
        types: Sequence[str] | None = None,
        key: str | None = None,
        limit: int = 100,
    ) -> tuple[list[StoredEvent], str | None]:
        if after is not None and not after.isdigit():
            raise ValueError(f"an embedded-bus position is a number (got {after!r})")
        return await asyncio.to_thread(self._read, after, since, types, key, limit)

    def _read(
        self,
        after: str | None,
        since: datetime | None,
        types: Sequence[str] | None,
        key: str | None,
        limit: int,
    ) -> tuple[list[StoredEvent], str | None]:
        sql = "SELECT seq, stored_at, partition, body FROM events WHERE seq > ?"
        params: list[Any] = [int(after or 0)]
        if since is not None:
            sql += " AND stored_at >= ?"
            params.append(since.timestamp())
        if key is not None:
            sql += " AND partition = ? AND key = ?"
            params += [_partition_of(key, self.options.partitions), key]
        clause, extra = _type_filter(types)
        sql += clause + " ORDER BY seq LIMIT ?"
        params += [*extra, limit]
        rows = self._reader().execute(sql, params).fetchall()
        events = [_decode(row) for row in rows]
        cursor = events[-1].position if len(events) == limit else None
        return events, cursor

    async def count(self) -> int:
        def run() -> int:
            return int(self._reader().execute("SELECT count(*) FROM events").fetchone()[0])

        return await asyncio.to_thread(run)

    # -- consumer groups -----------------------------------------------------------------

    async def consumer(self, spec: GroupSpec, member: str) -> GroupConsumer:
        await self.writer.submit(lambda c: _ensure_group(c, spec, self.options.partitions))
        return _SqliteConsumer(self, spec, member)

    async def groups(self) -> list[GroupStatus]:
        return await asyncio.to_thread(self._groups)

    def _groups(self) -> list[GroupStatus]:
        connection = self._reader()
        now = time.time()
        statuses = []
        for name, spec_json in connection.execute(
            "SELECT name, spec FROM bus_groups ORDER BY name"
        ):
            spec = GroupSpec.from_dict(orjson.loads(spec_json))
            lag = 0
            clause, extra = _type_filter(spec.types)
            for partition, committed, acked in connection.execute(
                "SELECT partition, committed, acked FROM bus_offsets WHERE grp = ?", (name,)
            ).fetchall():
                pending = connection.execute(
                    "SELECT count(*) FROM events WHERE partition = ? AND seq > ?" + clause,
                    [partition, committed, *extra],
                ).fetchone()[0]
                lag += max(0, pending - len(orjson.loads(acked)))
            members = tuple(
                m
                for (m,) in connection.execute(
                    "SELECT member FROM bus_members WHERE grp = ? AND seen_at > ? ORDER BY member",
                    (name, now - self.options.lease_seconds),
                )
            )
            statuses.append(GroupStatus(name, spec.types, lag, members))
        return statuses

    async def seek(
        self, group: str, *, after: str | None = None, since: datetime | None = None
    ) -> None:
        if (after is None) == (since is None):
            raise ValueError("seek needs exactly one of an offset (after) or a time (since)")
        if after is not None and not after.isdigit():
            raise ValueError(f"an embedded-bus offset is a number (got {after!r})")

        def move(connection: sqlite3.Connection) -> None:
            if (
                connection.execute("SELECT 1 FROM bus_groups WHERE name = ?", (group,)).fetchone()
                is None
            ):
                raise KeyError(group)
            if after is not None:
                committed = int(after)
            else:
                assert since is not None
                row = connection.execute(
                    "SELECT min(seq) FROM events WHERE stored_at >= ?", (since.timestamp(),)
                ).fetchone()
                if row[0] is not None:
                    committed = row[0] - 1
                else:
                    committed = connection.execute(
                        "SELECT coalesce(max(seq), 0) FROM events"
                    ).fetchone()[0]
            connection.execute(
                "UPDATE bus_offsets SET committed = ?, acked = '[]' WHERE grp = ?",
                (committed, group),
            )
            connection.execute("UPDATE bus_groups SET epoch = epoch + 1 WHERE name = ?", (group,))

        await self.writer.submit(move)

    async def apply_retention(self, older_than: datetime) -> RetentionReport:
        before = _file_bytes(self.path)

        def delete(connection: sqlite3.Connection) -> int:
            cursor = connection.execute(
                "DELETE FROM events WHERE stored_at < ?", (older_than.timestamp(),)
            )
            return cursor.rowcount

        deleted: int = await self.writer.submit(delete)

        def reclaim() -> None:
            # Outside a transaction: hand free pages back, then shrink the WAL file.
            connection = _connect(self.path, self.synchronous)
            try:
                # executescript, not execute: pysqlite steps a statement without result
                # columns only once, and incremental_vacuum frees one page per step.
                connection.executescript("PRAGMA incremental_vacuum;")
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()

        await asyncio.to_thread(reclaim)
        return RetentionReport(deleted, before, _file_bytes(self.path))

    # -- used by consumers ---------------------------------------------------------------

    async def wait_for_append(self, timeout: float) -> None:
        """Sleep until something is committed here, or POLL_SECONDS for other processes."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        entry = (loop, event)
        with self._waiters_lock:
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(event.wait(), min(timeout, POLL_SECONDS))
        except TimeoutError:
            pass
        finally:
            with self._waiters_lock:
                self._waiters.discard(entry)


@functools.lru_cache(maxsize=64)
def _insert_sql(rows: int) -> str:
    return (
        "INSERT OR IGNORE INTO events(source, id, type, domain, partition, key, stored_at, body)"
        " VALUES " + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    )


def _last_sequence(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0]) if row else 0


def _file_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def _partition_of(key: str, partitions: int) -> int:
    import zlib

    return zlib.crc32(key.encode()) % partitions


def _ensure_group(connection: sqlite3.Connection, spec: GroupSpec, partitions: int) -> None:
    row = connection.execute("SELECT spec FROM bus_groups WHERE name = ?", (spec.name,)).fetchone()
    if row is not None:
        stored = GroupSpec.from_dict(orjson.loads(row[0]))
        if stored.types != spec.types or stored.ack_wait != spec.ack_wait:
            connection.execute(
                "UPDATE bus_groups SET spec = ? WHERE name = ?",
                (orjson.dumps(spec.to_dict()), spec.name),
            )
        return
    start = 0
    if spec.start == "latest":
        start = connection.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    connection.execute(
        "INSERT INTO bus_groups(name, spec) VALUES (?, ?)",
        (spec.name, orjson.dumps(spec.to_dict())),
    )
    connection.executemany(
        "INSERT OR IGNORE INTO bus_offsets(grp, partition, committed) VALUES (?, ?, ?)",
        [(spec.name, p, start) for p in range(partitions)],
    )


@dataclass
class _InFlight:
    seqs: list[int]
    attempts: dict[int, int]
    deadline: float
    acked: set[int] = field(default_factory=set)
    not_before: float = 0.0

    @property
    def pending(self) -> list[int]:
        return [s for s in self.seqs if s not in self.acked]


class _SqliteConsumer(GroupConsumer):
    def __init__(self, bus: SqliteBus, spec: GroupSpec, member: str) -> None:
        self.bus = bus
        self.spec = spec
        self.member = member or uuid.uuid4().hex[:12]
        self._owned: set[int] = set()
        self._inflight: dict[int, _InFlight] = {}
        self._next_rebalance = 0.0
        self._epoch: int | None = None
        self._cursor = 0
        self._type_sql, self._type_params = _type_filter(spec.types)

    async def owned_partitions(self) -> set[int]:
        await self._rebalance(force=True)
        return set(self._owned)

    async def _rebalance(self, force: bool = False) -> None:
        now = time.time()
        if not force and now < self._next_rebalance:
            return
        self._next_rebalance = now + self.bus.options.rebalance_seconds
        options = self.bus.options
        group, member = self.spec.name, self.member

        def balance(connection: sqlite3.Connection) -> set[int]:
            moment = time.time()
            connection.execute(
                "INSERT INTO bus_members(grp, member, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT(grp, member) DO UPDATE SET seen_at = excluded.seen_at",
                (group, member, moment),
            )
            members = [
                m
                for (m,) in connection.execute(
                    "SELECT member FROM bus_members WHERE grp = ? AND seen_at > ?",
                    (group, moment - options.lease_seconds),
                )
            ]
            wanted = preferred_partitions(options.partitions, members, member)
            owned: set[int] = set()
            for partition in range(options.partitions):
                if partition in wanted:
                    cursor = connection.execute(
                        "INSERT INTO bus_leases(grp, partition, member, expires_at)"
                        " VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(grp, partition) DO UPDATE SET member = excluded.member, "
                        "expires_at = excluded.expires_at "
                        "WHERE bus_leases.member = excluded.member OR bus_leases.expires_at < ?",
                        (group, partition, member, moment + options.lease_seconds, moment),
                    )
                    if cursor.rowcount:
                        owned.add(partition)
                else:
                    connection.execute(
                        "DELETE FROM bus_leases WHERE grp = ? AND partition = ? AND member = ?",
                        (group, partition, member),
                    )
            return owned

        owned: set[int] = await self.bus.writer.submit(balance)
        for lost in self._owned - owned:
            self._inflight.pop(lost, None)
        self._owned = owned

    async def fetch(self, max_messages: int = 100, timeout: float = 1.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while True:
            await self._rebalance()
            deliveries = await asyncio.to_thread(self._fetch_now, max_messages)
            if deliveries:
                return deliveries
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            await self.bus.wait_for_append(remaining)

    def _fetch_now(self, max_messages: int) -> list[Delivery]:
        connection = self.bus._reader()
        epoch = connection.execute(
            "SELECT epoch FROM bus_groups WHERE name = ?", (self.spec.name,)
        ).fetchone()
        if epoch is not None and epoch[0] != self._epoch:
            if self._epoch is not None:
                self._inflight.clear()  # the group was moved (seek): start from the new offsets
            self._epoch = epoch[0]
        now = time.time()
        deliveries: list[Delivery] = []
        partitions = sorted(self._owned)
        if not partitions:
            return []
        # Rotate the starting partition so a busy partition cannot starve the others.
        self._cursor = (self._cursor + 1) % len(partitions)
        for partition in partitions[self._cursor :] + partitions[: self._cursor]:
            budget = max_messages - len(deliveries)
            if budget <= 0:
                break
            inflight = self._inflight.get(partition)
            row = connection.execute(
                "SELECT committed, acked FROM bus_offsets WHERE grp = ? AND partition = ?",
                (self.spec.name, partition),
            ).fetchone()
            if row is None:
                continue
            committed, acked = row[0], set(orjson.loads(row[1]))
            if inflight is not None:
                inflight.acked |= acked
                pending = [s for s in inflight.pending if s > committed]
                if not pending:
                    self._inflight.pop(partition)
                elif now < inflight.deadline or now < inflight.not_before:
                    # Still being worked on (or nacked with a delay): nothing later from this
                    # partition may overtake it, so the partition waits.
                    continue
                else:
                    rows = connection.execute(
                        "SELECT seq, stored_at, partition, body FROM events WHERE seq IN ("
                        + ",".join("?" * len(pending))
                        + ") ORDER BY seq",
                        pending,
                    ).fetchall()
                    inflight.seqs = [r[0] for r in rows]
                    inflight.acked = set()
                    inflight.deadline = now + self.spec.ack_wait
                    for r in rows:
                        inflight.attempts[r[0]] = inflight.attempts.get(r[0], 1) + 1
                        deliveries.append(
                            Delivery(
                                _decode(r), self.spec.name, partition, inflight.attempts[r[0]], r[0]
                            )
                        )
                    if not rows:
                        self._inflight.pop(partition)
                    continue
            rows = connection.execute(
                "SELECT seq, stored_at, partition, body FROM events WHERE partition = ? AND seq > ?"
                + self._type_sql
                + " ORDER BY seq LIMIT ?",
                [partition, committed, *self._type_params, budget + len(acked)],
            ).fetchall()
            rows = [r for r in rows if r[0] not in acked][:budget]
            if not rows:
                continue
            self._inflight[partition] = _InFlight(
                [r[0] for r in rows], {r[0]: 1 for r in rows}, now + self.spec.ack_wait
            )
            deliveries.extend(
                Delivery(_decode(r), self.spec.name, partition, 1, r[0]) for r in rows
            )
        return deliveries

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        by_partition: dict[int, list[int]] = {}
        for delivery in deliveries:
            by_partition.setdefault(delivery.partition, []).append(int(delivery.token))
        group, type_sql, type_params = self.spec.name, self._type_sql, self._type_params

        def record(connection: sqlite3.Connection) -> None:
            for partition, seqs in by_partition.items():
                row = connection.execute(
                    "SELECT committed, acked FROM bus_offsets WHERE grp = ? AND partition = ?",
                    (group, partition),
                ).fetchone()
                committed, acked = row[0], set(orjson.loads(row[1]))
                acked |= {s for s in seqs if s > committed}
                # Advance the committed offset over the acked prefix of the partition.
                following = connection.execute(
                    "SELECT seq FROM events WHERE partition = ? AND seq > ?"
                    + type_sql
                    + " ORDER BY seq LIMIT ?",
                    [partition, committed, *type_params, len(acked) + 1],
                ).fetchall()
                for (seq,) in following:
                    if seq not in acked:
                        break
                    committed = seq
                    acked.discard(seq)
                connection.execute(
                    "UPDATE bus_offsets SET committed = ?, acked = ?"
                    " WHERE grp = ? AND partition = ?",
                    (committed, orjson.dumps(sorted(acked)).decode(), group, partition),
                )

        await self.bus.writer.submit(record)
        for delivery in deliveries:
            inflight = self._inflight.get(delivery.partition)
            if inflight is not None:
                inflight.acked.add(int(delivery.token))
                if not inflight.pending:
                    self._inflight.pop(delivery.partition, None)

    async def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        now = time.time()
        for delivery in deliveries:
            inflight = self._inflight.get(delivery.partition)
            if inflight is not None:
                # Redeliver the partition's unacked events (in order) once the delay is over.
                inflight.deadline = now
                inflight.not_before = now + delay

    async def close(self) -> None:
        group, member = self.spec.name, self.member

        def leave(connection: sqlite3.Connection) -> None:
            connection.execute(
                "DELETE FROM bus_leases WHERE grp = ? AND member = ?", (group, member)
            )
            connection.execute(
                "DELETE FROM bus_members WHERE grp = ? AND member = ?", (group, member)
            )

        if self.bus._writer is not None:
            await self.bus.writer.submit(leave)
        self._owned.clear()
        self._inflight.clear()
