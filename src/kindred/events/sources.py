"""Running the source adapters: native payload → ``channels`` mapping → ingest.

``channels`` holds the pure translations; this module adds what touches the world: signature
checks with configured secrets, dead-lettering of refused native payloads, the MQTT bridge
(a long-running subscriber) and replay of dead letters through the same translations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from kindred.errors import KindredError, MalformedRequest, ValidationFailed
from kindred.events import channels
from kindred.events.guard import SourceGuard
from kindred.events.models import DeadLetter
from kindred.events.service import BadSignature, EventService, IngestReport

log = logging.getLogger("kindred.events.sources")
CLOUDEVENTS_JSON = "application/cloudevents+json"


class ChannelUnsupported(KindredError):
    status = 422
    problem = "unsupported-message"
    title = "Unsupported message"


def channel_problem(error: channels.ChannelError, letter_id: str | None) -> KindredError:
    if error.reason == "bad_signature":
        return BadSignature(error.detail, dead_letter=letter_id)
    if error.reason == "unsupported":
        return ChannelUnsupported(error.detail, dead_letter=letter_id)
    return MalformedRequest(error.detail, dead_letter=letter_id)


async def ingest_native(
    service: EventService,
    *,
    channel: str,
    body: bytes,
    content_type: str | None,
    translate: Callable[[], list[dict[str, Any]]],
    verify: Callable[[], None] | None = None,
    context: dict[str, Any] | None = None,
    started: float | None = None,
    guard: SourceGuard | None = None,
    source: str = "unknown",
) -> IngestReport:
    """Verify, translate and ingest one native payload; a refusal is dead-lettered and raised
    as the matching problem (401 bad signature, 400 malformed, 422 unsupported).

    A refusal for authentication is the ``guard``'s: counted, and kept only as a bounded
    sample (``SourceGuard``) — its sender is unknown, so it may not fill the store."""
    started = started if started is not None else time.perf_counter()
    try:
        if verify is not None:
            verify()
        events = translate()
    except channels.ChannelError as error:
        if error.reason == "bad_signature" and guard is not None:
            letter = await _sample(
                service,
                guard,
                error,
                channel,
                body,
                content_type,
                {**(context or {}), "source": source},
            )
        else:
            letter = await asyncio.to_thread(
                service.dead_letter_now,
                channel=channel,
                reason=error.reason,
                detail=error.detail,
                payload=body,
                content_type=content_type,
                context=context,
            )
        raise channel_problem(error, letter) from None
    return await service.ingest(events, channel=channel, context=context, started=started)


async def _sample(
    service: EventService,
    guard: SourceGuard,
    error: channels.ChannelError,
    channel: str,
    body: bytes,
    content_type: str | None,
    context: dict[str, Any],
) -> str | None:
    """The dead letter kept for an unauthenticated refusal, if any is. ``context`` names the
    source address: what an operator needs to act on an attack."""
    if not guard.failed(channel, context["source"]):
        return None
    letter = await asyncio.to_thread(
        service.sample_refused,
        channel=channel,
        reason=error.reason,
        detail=error.detail,
        payload=body,
        keep_bytes=guard.sample_bytes,
        quota=guard.quota,
        content_type=content_type,
        context=context,
    )
    if letter is None:
        guard.quota_full(channel)
    return letter


def translate_dead_letter(letter: DeadLetter) -> list[Any]:
    """The CloudEvents a dead letter stands for, translated as when it first arrived.

    Replaying a refused native message skips its signature check on purpose: an operator
    who replays it vouches for it, and the replay is evidenced in the ledger.
    """
    payload = letter.payload
    context = letter.context or {}
    now = letter.received_at.astimezone(UTC)
    try:
        if letter.content_type == CLOUDEVENTS_JSON or letter.channel in ("http", "scheduler"):
            parsed = orjson.loads(payload)
            return parsed if isinstance(parsed, list) else [parsed]
        if letter.channel == "mqtt":
            return [
                channels.mqtt_to_event(
                    context["topic"],
                    payload,
                    prefix=context.get("prefix", "kindred/devices"),
                    broker=context.get("broker", "mqtt://127.0.0.1:1883"),
                    now=now,
                )
            ]
        if letter.channel == "wechat":
            return [channels.wechat_to_event(payload, account=context.get("account"), now=now)]
        if letter.channel == "pos":
            return channels.pos_to_events(payload, now=now)
        if letter.channel == "app":
            return channels.app_batch_to_events(
                payload, app_id=context.get("app_id", "app"), now=now
            )
        if letter.channel == "social":
            return channels.social_to_events(payload, now=now)
    except channels.ChannelError as error:
        raise ValidationFailed(f"still refused: {error.detail}") from None
    except orjson.JSONDecodeError as error:
        raise ValidationFailed(f"the payload is still not valid JSON: {error}") from None
    raise ValidationFailed(f"dead letters from channel {letter.channel!r} cannot be replayed")


# -- MQTT --------------------------------------------------------------------------------------


class MqttBridge:
    """Subscribes to device topics and ingests what arrives, in micro-batches.

    QoS 1 with a persistent session and *manual* acknowledgement: the broker gets PUBACK only
    after the event is durably stored, and queues messages while Kindred is down, so a
    device's message is not lost between the broker and the log.
    """

    def __init__(self, service: EventService, url: str, prefix: str, client_id: str) -> None:
        self.service = service
        self.url = url
        self.prefix = prefix
        self.client_id = client_id
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 1883
        self.broker = f"mqtt://{self.host}:{self.port}"
        self.connected = asyncio.Event()
        self.stored = 0

    async def run(self) -> None:
        import aiomqtt

        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=self.client_id,
                    clean_session=False,
                    max_queued_incoming_messages=0,
                ) as client:
                    # Why the private attribute: aiomqtt has no switch for paho's manual acks,
                    # and acking before the append would lose messages on a crash.
                    client._client.manual_ack_set(True)
                    for topic in channels.mqtt_topic_filters(self.prefix):
                        await client.subscribe(topic, qos=1)
                    self.connected.set()
                    await self._pump(client)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.connected.clear()
                log.warning("MQTT bridge to %s lost (%s); reconnecting in 1s", self.url, error)
                await asyncio.sleep(1)

    async def _pump(self, client: Any) -> None:
        pending: asyncio.Queue[Any] = asyncio.Queue()

        async def receive() -> None:
            async for message in client.messages:
                pending.put_nowait((time.perf_counter(), message))

        receiver = asyncio.create_task(receive())
        try:
            while True:
                first = await pending.get()
                batch = [first]
                while not pending.empty() and len(batch) < 500:
                    batch.append(pending.get_nowait())
                await self._ingest(client, batch)
                if receiver.done():
                    receiver.result()
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver

    async def _ingest(self, client: Any, batch: list[tuple[float, Any]]) -> None:
        now = datetime.now(UTC)
        events: list[dict[str, Any]] = []
        started = batch[0][0]
        for _, message in batch:
            topic = str(message.topic)
            payload = bytes(message.payload or b"")
            try:
                events.append(
                    channels.mqtt_to_event(
                        topic, payload, prefix=self.prefix, broker=self.broker, now=now
                    )
                )
            except channels.ChannelError as error:
                await asyncio.to_thread(
                    self.service.dead_letter_now,
                    channel="mqtt",
                    reason=error.reason,
                    detail=error.detail,
                    payload=payload,
                    content_type="application/json",
                    context={"topic": topic, "prefix": self.prefix, "broker": self.broker},
                )
        if events:
            await self.service.ingest(
                events,
                channel="mqtt",
                context={"prefix": self.prefix, "broker": self.broker},
                started=started,
            )
            self.stored += len(events)
        for _, message in batch:
            if message.qos > 0:
                client._client.ack(message.mid, message.qos)
