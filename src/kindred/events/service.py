"""Ingest: envelope → catalog → schema → durable append; everything refused is dead-lettered.

Key flow (the one every channel shares): a channel adapter turns its native payload into
CloudEvents dicts, ``ingest`` checks each one, appends the good ones to the bus in one durable
batch and records each bad one in the dead-letter store with its reason, so nothing is ever
dropped silently. The caller is acknowledged only after the append committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from kindred.db import Database, utcnow
from kindred.errors import Conflict, KindredError, NotFound, ValidationFailed, field_error
from kindred.events import metrics
from kindred.events.bus import EventBus, PublishResult
from kindred.events.catalog import EventCatalog
from kindred.events.envelope import CloudEvent, from_structured
from kindred.events.models import DeadLetter
from kindred.ids import new_id
from kindred.ledger.service import LedgerService

# Oversize payloads are kept only up to this many bytes (plus their size and a note).
DEAD_LETTER_KEEP_BYTES = 64 * 1024


class PayloadTooLarge(KindredError):
    status = 413
    problem = "payload-too-large"
    title = "Payload too large"


class BadSignature(KindredError):
    status = 401
    problem = "bad-signature"
    title = "Bad signature"


class UnknownEventType(KindredError):
    status = 422
    problem = "unknown-event-type"
    title = "Unknown event type"


class EventRejected(KindredError):
    """Some or all events of a request were refused (and dead-lettered)."""

    status = 422
    problem = "events-rejected"
    title = "Events rejected"


@dataclass
class Rejection:
    index: int
    reason: str
    detail: str
    errors: list[dict[str, Any]]
    event_type: str | None = None
    event_id: str | None = None
    event_source: str | None = None
    dead_letter_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.event_id,
            "type": self.event_type,
            "reason": self.reason,
            "detail": self.detail,
            "errors": self.errors,
            "dead_letter": self.dead_letter_id,
        }


@dataclass
class IngestReport:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def status(self) -> int:
        """The HTTP status a caller should see: the most telling rejection, else 200."""
        if not self.rejected:
            return 200
        reasons = {r.reason for r in self.rejected}
        if "oversize" in reasons and len(reasons) == 1:
            return 413
        return 422

    def problem(self) -> KindredError:
        total = len(self.accepted) + len(self.rejected)
        first = self.rejected[0]
        detail = (
            f"{len(self.rejected)} of {total} event(s) rejected and dead-lettered; "
            f"{len(self.accepted)} stored. First: {first.detail}"
        )
        error_class: type[KindredError] = EventRejected
        if self.status == 413:
            error_class = PayloadTooLarge
        elif len(self.rejected) == total == 1 and first.reason == "unknown_type":
            error_class = UnknownEventType
        error = error_class(
            detail,
            errors=[e for r in self.rejected for e in _indexed(r, total > 1)],
            accepted=self.accepted,
            rejected=[r.to_dict() for r in self.rejected],
        )
        return error


def _indexed(rejection: Rejection, batch: bool) -> list[dict[str, Any]]:
    prefix = f"/{rejection.index}" if batch else ""
    return [{**e, "path": prefix + e["path"], "reason": rejection.reason} for e in rejection.errors]


class EventService:
    def __init__(
        self,
        database: Database,
        catalog: EventCatalog,
        bus: EventBus,
        ledger: LedgerService,
        *,
        max_event_bytes: int,
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.bus = bus
        self.ledger = ledger
        self.max_event_bytes = max_event_bytes
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        # Called with each stored batch (after commit); used by in-process observers.
        self.on_stored: list[Callable[[list[CloudEvent]], None]] = []

    async def start(self) -> None:
        if self._started:
            return
        await self.bus.start()
        self._started = True

    async def close(self) -> None:
        if self._started:
            await self.bus.close()
            self._started = False

    # -- ingest --------------------------------------------------------------------------

    def check(
        self,
        raw_events: Sequence[Any],
        *,
        now: datetime | None = None,
        payloads: Sequence[bytes] | None = None,
        body_bytes: int | None = None,
    ) -> tuple[list[tuple[int, CloudEvent]], list[Rejection]]:
        """Validate parsed events; returns the good ones (with their index) and rejections.

        The size check needs each event's length: ``payloads`` (the bytes each event arrived
        as) give it, and a whole request body no larger than the limit (``body_bytes``)
        proves every event in it small, which saves serializing every event once more."""
        good: list[tuple[int, CloudEvent]] = []
        bad: list[Rejection] = []
        now = now or datetime.now(UTC)
        small = body_bytes is not None and body_bytes <= self.max_event_bytes
        with self.database.read() as session:
            for index, raw in enumerate(raw_events):
                size = 0 if small else len(payloads[index]) if payloads is not None else None
                rejection = self._check_one(session, index, raw, now, good, size)
                if rejection is not None:
                    bad.append(rejection)
        return good, bad

    def _check_one(
        self,
        session: Any,
        index: int,
        raw: Any,
        now: datetime,
        good: list[tuple[int, CloudEvent]],
        size: int | None,
    ) -> Rejection | None:
        size = len(orjson.dumps(raw)) if size is None else size
        if size > self.max_event_bytes:
            return Rejection(
                index,
                "oversize",
                f"the event is {size} bytes; events are limited to {self.max_event_bytes} bytes",
                [field_error("", "max-size", f"{size} > {self.max_event_bytes} bytes")],
                *_identity(raw),
            )
        event, envelope_errors = from_structured(raw, now=now)
        if event is None:
            return Rejection(
                index,
                "invalid_envelope",
                "not a valid CloudEvents 1.0 event: " + envelope_errors[0].message,
                [e.to_dict() for e in envelope_errors],
                *_identity(raw),
            )
        definition = self.catalog.get(session, event.type)
        if definition is None:
            return Rejection(
                index,
                "unknown_type",
                f"unknown event type {event.type!r}: see GET /api/v1/event-types, or ask an "
                "admin to define it",
                [field_error("/type", "unknown-type", f"{event.type} is not in the catalog")],
                *_identity(raw),
            )
        if not isinstance(event.data, dict):
            violations = [field_error("/data", "type", "event data must be a JSON object")]
        else:
            violations = definition.violations(event.data)
        if violations:
            return Rejection(
                index,
                "schema_violation",
                f"the data of {event.type} breaks its schema in {len(violations)} place(s): "
                f"{violations[0]['path']}: {violations[0]['message']}",
                violations,
                *_identity(raw),
            )
        definition.fill_partition_key(event)
        good.append((index, event))
        return None

    async def ingest(
        self,
        raw_events: Sequence[Any],
        *,
        channel: str,
        payloads: Sequence[bytes] | None = None,
        context: dict[str, Any] | None = None,
        started: float | None = None,
        body_bytes: int | None = None,
    ) -> IngestReport:
        """Check and store events. ``payloads`` (the bytes each event arrived as) are what a
        dead letter keeps; without them the event's JSON is kept. ``body_bytes``: the size of
        the request the events came in (see ``check``)."""
        started = started if started is not None else time.perf_counter()
        await self.start()
        good, bad = self.check(raw_events, payloads=payloads, body_bytes=body_bytes)
        report = IngestReport(accepted=await self._publish(good, channel), rejected=bad)
        if bad:
            await asyncio.to_thread(
                self._dead_letter_rejections, bad, raw_events, payloads, channel, context
            )
        metrics.INGEST_LATENCY.labels(channel).observe(time.perf_counter() - started)
        return report

    async def _publish(
        self, good: list[tuple[int, CloudEvent]], channel: str
    ) -> list[dict[str, Any]]:
        """Append checked events durably; what each caller is told about each one."""
        if not good:
            return []
        results: list[PublishResult] = await self.bus.publish([e for _, e in good])
        accepted = []
        fresh = []
        duplicates = 0
        for (index, event), result in zip(good, results, strict=True):
            accepted.append(
                {
                    "index": index,
                    "id": event.id,
                    "source": event.source,
                    "type": event.type,
                    "position": result.position,
                    "duplicate": result.duplicate,
                }
            )
            if result.duplicate:
                duplicates += 1
            else:
                fresh.append(event)
        # Counted per type and batch, not per event: a labelled increment costs as much as
        # validating a small event.
        if duplicates:
            metrics.DUPLICATES.labels(channel).inc(duplicates)
        for event_type, count in Counter(e.type for e in fresh).items():
            metrics.INGESTED.labels(event_type, channel).inc(count)
        for observer in self.on_stored:
            observer(fresh)
        return accepted

    def _dead_letter_rejections(
        self,
        rejections: list[Rejection],
        raw_events: Sequence[Any],
        payloads: Sequence[bytes] | None,
        channel: str,
        context: dict[str, Any] | None,
    ) -> None:
        with self.database.write() as session:
            for rejection in rejections:
                payload = (
                    payloads[rejection.index]
                    if payloads is not None
                    else orjson.dumps(raw_events[rejection.index])
                )
                rejection.dead_letter_id = self.record_dead_letter(
                    session,
                    channel=channel,
                    reason=rejection.reason,
                    detail=rejection.detail,
                    errors=rejection.errors,
                    payload=payload,
                    content_type="application/cloudevents+json",
                    event_type=rejection.event_type,
                    event_id=rejection.event_id,
                    event_source=rejection.event_source,
                    context=context,
                )

    def record_dead_letter(
        self,
        session: Any,
        *,
        channel: str,
        reason: str,
        detail: str,
        payload: bytes,
        errors: list[dict[str, Any]] | None = None,
        content_type: str | None = None,
        event_type: str | None = None,
        event_id: str | None = None,
        event_source: str | None = None,
        context: dict[str, Any] | None = None,
        payload_bytes: int | None = None,
    ) -> str:
        """Store one dead letter. ``payload_bytes``: the size of the whole payload when
        ``payload`` is only the start of it (a sample)."""
        size = len(payload) if payload_bytes is None else payload_bytes
        truncated = size > min(len(payload), DEAD_LETTER_KEEP_BYTES)
        letter = DeadLetter(
            id=new_id(),
            channel=channel,
            reason=reason,
            detail=detail,
            errors=errors or [],
            event_type=(event_type or "")[:200] or None,
            event_id=(event_id or "")[:500] or None,
            event_source=(event_source or "")[:1000] or None,
            content_type=content_type,
            context=context,
            payload=payload[:DEAD_LETTER_KEEP_BYTES],
            payload_bytes=size,
            truncated=truncated,
            status="open",
            attempts=0,
        )
        session.add(letter)
        session.flush()
        metrics.REJECTED.labels(event_type or "unknown", reason).inc()
        return letter.id

    def dead_letter_now(self, **fields: Any) -> str:
        """Record one dead letter in its own transaction (channel-level refusals)."""
        with self.database.write() as session:
            return self.record_dead_letter(session, **fields)

    def sample_refused(
        self,
        *,
        channel: str,
        reason: str,
        detail: str,
        payload: bytes,
        keep_bytes: int,
        quota: int,
        content_type: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> str | None:
        """Keep a sample of a payload refused before its sender was authenticated: its first
        ``keep_bytes`` bytes, its size and SHA-256. None when the store already holds
        ``quota`` dead letters: an anonymous sender may not fill the disk (refusals from
        authenticated senders go through ``record_dead_letter`` and are always kept)."""
        digest = hashlib.sha256(payload).hexdigest()
        with self.database.write() as session:
            held = session.execute(sa.select(sa.func.count()).select_from(DeadLetter))
            if held.scalar_one() >= quota:
                return None
            return self.record_dead_letter(
                session,
                channel=channel,
                reason=reason,
                detail=detail,
                payload=payload[:keep_bytes],
                payload_bytes=len(payload),
                content_type=content_type,
                context={**(context or {}), "sample": True, "sha256": digest},
            )

    # -- dead letters --------------------------------------------------------------------

    def list_dead_letters(
        self,
        *,
        status: str | None = "open",
        reason: str | None = None,
        event_type: str | None = None,
        channel: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[DeadLetter]:
        query = sa.select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
        if status:
            query = query.where(DeadLetter.status == status)
        if reason:
            query = query.where(DeadLetter.reason == reason)
        if event_type:
            query = query.where(DeadLetter.event_type == event_type)
        if channel:
            query = query.where(DeadLetter.channel == channel)
        if before:
            query = query.where(DeadLetter.id < before)
        with self.database.read() as session:
            letters = list(session.execute(query).scalars())
            session.expunge_all()
        return letters

    def get_dead_letter(self, letter_id: str) -> DeadLetter:
        with self.database.read() as session:
            letter = session.get(DeadLetter, letter_id)
            if letter is None:
                raise NotFound(f"no dead letter {letter_id}")
            session.expunge(letter)
        return letter

    def fix_dead_letter(self, letter_id: str, payload: bytes, actor_id: str | None) -> DeadLetter:
        """Replace what a dead letter holds (before replaying it)."""
        with self.database.write() as session:
            letter = self._open_letter(session, letter_id)
            letter.payload = payload
            letter.payload_bytes = len(payload)
            letter.truncated = False
            letter.resolution = f"payload replaced by {actor_id or 'system'}"
            session.flush()
            session.expunge(letter)
        return letter

    def _open_letter(self, session: Any, letter_id: str) -> DeadLetter:
        letter = session.get(DeadLetter, letter_id, with_for_update=True)
        if letter is None:
            raise NotFound(f"no dead letter {letter_id}")
        if letter.status != "open":
            raise Conflict(f"dead letter {letter_id} is already {letter.status}")
        return letter

    async def replay_dead_letter(
        self,
        letter_id: str,
        *,
        actor_id: str | None,
        translate: Callable[[DeadLetter], list[Any]] | None = None,
    ) -> IngestReport:
        """Run a dead letter through ingest again. On success it is marked replayed; on
        failure it stays open with the new reason and the error is raised."""
        letter = self.get_dead_letter(letter_id)
        if letter.status != "open":
            raise Conflict(f"dead letter {letter_id} is already {letter.status}")
        if letter.truncated:
            raise Conflict(
                f"dead letter {letter_id} kept only {DEAD_LETTER_KEEP_BYTES} of "
                f"{letter.payload_bytes} bytes; fix it (PATCH) with the full event first"
            )
        try:
            raw_events = translate(letter) if translate else [orjson.loads(letter.payload)]
        except KindredError as error:
            self._note_attempt(letter_id, "malformed", error.detail, error.errors)
            raise
        except orjson.JSONDecodeError as error:
            detail = f"the stored payload is not valid JSON: {error}"
            self._note_attempt(letter_id, "malformed", detail, [])
            raise ValidationFailed(detail) from None
        await self.start()
        good, bad = self.check(raw_events)
        if bad:
            first = bad[0]
            self._note_attempt(letter_id, first.reason, first.detail, first.errors)
            report = IngestReport(rejected=bad)
            raise report.problem()
        report = IngestReport(accepted=await self._publish(good, "replay"))
        with self.database.write() as session:
            stored = self._open_letter(session, letter_id)
            stored.status = "replayed"
            stored.attempts += 1
            stored.resolved_at = utcnow()
            stored.resolved_by = actor_id
            stored.resolution = "stored at " + ", ".join(a["position"] for a in report.accepted)
            self.ledger.append(
                session,
                "events.dead_letter.replayed",
                {"dead_letter": letter_id, "positions": [a["position"] for a in report.accepted]},
                [s for s in (actor_id,) if s],
            )
        return report

    def _note_attempt(
        self, letter_id: str, reason: str, detail: str, errors: list[dict[str, Any]]
    ) -> None:
        with self.database.write() as session:
            letter = session.get(DeadLetter, letter_id, with_for_update=True)
            if letter is not None:
                letter.attempts += 1
                letter.reason = reason
                letter.detail = detail
                letter.errors = errors

    def discard_dead_letter(self, letter_id: str, note: str, actor_id: str | None) -> DeadLetter:
        if not note or not note.strip():
            raise ValidationFailed(
                "say why the dead letter is discarded",
                errors=[field_error("/note", "required", "a reason is required")],
            )
        with self.database.write() as session:
            letter = self._open_letter(session, letter_id)
            letter.status = "discarded"
            letter.resolved_at = utcnow()
            letter.resolved_by = actor_id
            letter.resolution = note.strip()
            self.ledger.append(
                session,
                "events.dead_letter.discarded",
                {"dead_letter": letter_id, "reason": letter.reason, "note": note.strip()},
                [s for s in (actor_id,) if s],
            )
            session.flush()
            session.expunge(letter)
        return letter

    def purge_resolved_dead_letters(self, older_than: datetime) -> int:
        """Delete replayed and discarded dead letters resolved before ``older_than``.

        Open ones are never purged: they are work somebody still has to do. The ledger keeps
        the evidence of each replay and discard.
        """
        with self.database.write() as session:
            result = session.execute(
                sa.delete(DeadLetter).where(
                    DeadLetter.status != "open", DeadLetter.resolved_at < older_than
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    def purge_unresolved_dead_letters(self, older_than: datetime) -> int:
        """Delete open dead letters received before ``older_than``.

        Open letters are work, but work nobody did for the whole retention period (and, from
        unauthenticated senders, often never work at all); without an end the store only
        grows. One ledger entry records how many went and from when.
        """
        with self.database.write() as session:
            result = session.execute(
                sa.delete(DeadLetter).where(
                    DeadLetter.status == "open", DeadLetter.received_at < older_than
                )
            )
            purged = int(getattr(result, "rowcount", 0) or 0)
            if purged:
                self.ledger.append(
                    session,
                    "events.dead_letter.expired",
                    {"purged": purged, "received_before": older_than.isoformat()},
                    [],
                )
        return purged

    def dead_letter_counts(self) -> dict[str, int]:
        with self.database.read() as session:
            rows = session.execute(
                sa.select(DeadLetter.status, sa.func.count()).group_by(DeadLetter.status)
            ).all()
        return {str(status): int(count) for status, count in rows}


def _identity(raw: Any) -> tuple[str | None, str | None, str | None]:
    """(type, id, source) of a raw event as far as they can be read, for the dead letter."""
    if not isinstance(raw, dict):
        return None, None, None

    def text(name: str) -> str | None:
        value = raw.get(name)
        return value if isinstance(value, str) else None

    return text("type"), text("id"), text("source")
