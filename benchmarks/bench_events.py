"""Event bus benchmark: HTTP batch ingest throughput and single-event ack latency on the
embedded log and on NATS JetStream, raw ``nats-py`` JetStream publishing of the same payloads
(the reference limit for the JetStream backend), and MQTT publish → durably stored latency.

    .venv/bin/python benchmarks/bench_events.py
    .venv/bin/python benchmarks/bench_events.py --duration 5 --backends embedded

Every figure is measured in one run, side by side with its target; the last line is JSON.
The server is a real ``uvicorn`` process (in-process consumers off, so ingest is measured
alone); the load generator is this process, on the same 2 cores. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from kindred.config import Settings
from kindred.services import Kindred

TARGETS = {
    "embedded_batch_events_per_s": 20_000,
    "single_ack_p99_ms": 10.0,
    "jetstream_vs_raw": 0.5,
    "mqtt_stored_p99_ms": 20.0,
}
NATS_URL = os.environ.get("KINDRED_BENCH_NATS_URL", "nats://127.0.0.1:4222")
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
SETTLE_SECONDS = 3.0
BATCH = "application/cloudevents-batch+json"
STRUCTURED = "application/cloudevents+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "count": len(latencies_ms),
        "p50_ms": round(statistics.median(latencies_ms), 3),
        "p95_ms": round(percentile(latencies_ms, 0.95), 3),
        "p99_ms": round(percentile(latencies_ms, 0.99), 3),
    }


class EventMix:
    """A realistic mix: device heartbeats and telemetry, faults, POS sales, app tracking."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.counter = 0

    def next(self) -> dict[str, Any]:
        self.counter += 1
        n = self.counter
        kind = n % 10
        base = {"specversion": "1.0", "id": f"{self.run}-{n}", "time": "2026-12-01T08:00:00Z"}
        if kind < 5:
            return {
                **base,
                "source": "urn:bench:devices",
                "type": "iot.device.heartbeat",
                "data": {"device_id": f"dev-{n % 5000}", "battery_pct": n % 100, "rssi": -60},
            }
        if kind < 7:
            return {
                **base,
                "source": "urn:bench:devices",
                "type": "iot.device.telemetry",
                "data": {
                    "device_id": f"dev-{n % 5000}",
                    "metrics": {"temp_c": 21.5, "pressure_kpa": 101.3, "vibration_mm_s": 2.1},
                },
            }
        if kind == 7:
            return {
                **base,
                "source": "urn:bench:devices",
                "type": "iot.device.fault",
                "data": {"device_id": f"dev-{n % 5000}", "code": "E42", "severity": "major"},
            }
        if kind == 8:
            return {
                **base,
                "source": "pos://SH-0042",
                "type": "pos.transaction.completed",
                "data": {
                    "transaction_id": f"T-{n}",
                    "store_id": "SH-0042",
                    "occurred_at": "2026-12-01T08:00:00Z",
                    "total": 268.0,
                    "currency": "CNY",
                    "member_id": f"M-{n % 20000}",
                    "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": 134.0}],
                },
            }
        return {
            **base,
            "source": "app://shop",
            "type": "app.product.viewed",
            "data": {
                "app_id": "shop",
                "user_id": f"u-{n % 20000}",
                "event_name": "Product Viewed",
                "properties": {"sku": "SKU-1"},
            },
        }

    def batch(self, size: int) -> list[dict[str, Any]]:
        return [self.next() for _ in range(size)]


class Server:
    def __init__(self, environment: dict[str, str], workers: int) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "kindred.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env={**os.environ, **environment},
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(240):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.25)
        time.sleep(1.0)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


async def batch_load(
    base: str, key: str, mix: EventMix, batch_size: int, concurrency: int, duration: float
) -> dict[str, Any]:
    bodies_sent = 0
    errors = 0
    # Bodies are built before the clock starts: the load generator shares the 2 cores with
    # the server, and building JSON while measuring would be counted against the server.
    ready = [
        orjson.dumps(mix.batch(batch_size)) for _ in range(int(duration * 60_000 / batch_size))
    ]
    deadline = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"X-API-Key": key, "Content-Type": BATCH}
    async with aiohttp.ClientSession(base, connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal bodies_sent, errors
            while time.perf_counter() < deadline:
                body = ready.pop() if ready else orjson.dumps(mix.batch(batch_size))
                async with session.post("/api/v1/events", data=body) as response:
                    await response.read()
                    if response.status == 200:
                        bodies_sent += 1
                    else:
                        errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    events = bodies_sent * batch_size
    return {
        "events": events,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "events_per_s": round(events / elapsed),
        "batch_size": batch_size,
        "concurrency": concurrency,
    }


async def single_latency(base: str, key: str, mix: EventMix, count: int) -> dict[str, Any]:
    """One client, one structured event per request, waiting for each ack (durable)."""
    latencies: list[float] = []
    headers = {"X-API-Key": key, "Content-Type": STRUCTURED}
    async with aiohttp.ClientSession(base, headers=headers) as session:
        for index in range(count + 50):
            body = orjson.dumps(mix.next())
            started = time.perf_counter()
            async with session.post("/api/v1/events", data=body) as response:
                await response.read()
                assert response.status == 200, await response.text()
            if index >= 50:  # warm-up
                latencies.append((time.perf_counter() - started) * 1000)
    return latency_summary(latencies)


def prepare_database(directory: Path) -> tuple[str, str]:
    url = f"sqlite:///{directory / 'bench.db'}"
    kindred = Kindred.create(Settings(mode="test", database_url=url))
    kindred.bootstrap()
    with kindred.database.write() as session:
        user = kindred.auth.create_user(
            session, email="feed@example.com", name="Feed", password=None, roles=["integration"]
        )
        _, key = kindred.auth.create_api_key(session, user["id"], "bench")
    kindred.close()
    return url, key


def run_backend(backend: str, arguments: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        url, key = prepare_database(Path(directory))
        token = uuid.uuid4().hex[:8]
        environment = {
            "KINDRED_DATABASE_URL": url,
            "KINDRED_MODE": "test",
            "KINDRED_RUN_CONSUMERS": "false",
            "KINDRED_SCHEDULER_ENABLED": "false",
            "KINDRED_LEDGER_CHECKPOINT_SECONDS": "0",
        }
        if backend == "jetstream":
            environment |= {
                "KINDRED_BUS_URL": NATS_URL,
                "KINDRED_BUS_NATS_SUBJECT_PREFIX": f"kb{token}.events",
                "KINDRED_BUS_NATS_STREAM_PREFIX": f"KB{token.upper()}",
            }
        server = Server(environment, arguments.workers)
        mix = EventMix(f"{backend}-{token}")
        try:
            asyncio.run(batch_load(server.base, key, mix, arguments.batch, 4, 2.0))  # warm-up
            batch = asyncio.run(
                batch_load(
                    server.base,
                    key,
                    mix,
                    arguments.batch,
                    arguments.concurrency,
                    arguments.duration,
                )
            )
            print(f"[{backend}] batch ingest: {batch}", flush=True)
            # Latency is measured on a server that is idle again (not queued behind the
            # batch phase's checkpoints), over the log the batch phase filled.
            time.sleep(SETTLE_SECONDS)
            single = asyncio.run(single_latency(server.base, key, mix, arguments.single))
            print(f"[{backend}] single-event ack: {single}", flush=True)
        finally:
            server.stop()
            if backend == "jetstream":
                asyncio.run(delete_streams(f"KB{token.upper()}"))
    return {"backend": backend, "batch": batch, "single": single}


async def delete_streams(prefix: str) -> None:
    import nats

    connection = await nats.connect(NATS_URL)
    js = connection.jetstream()
    for info in await js.streams_info():
        if info.config.name.startswith(prefix):
            await js.delete_stream(info.config.name)
    for suffix in ("LEASES", "GROUPS"):
        with contextlib.suppress(Exception):
            await js.delete_key_value(f"{prefix}_{suffix}")
    await connection.close()


async def raw_jetstream(batch_size: int, concurrency: int, duration: float) -> dict[str, Any]:
    """The reference: nats-py publishing the same CloudEvents JSON to a file-backed stream,
    pipelined per batch with Nats-Msg-Id, from `concurrency` publishers — no HTTP, no
    validation, no Kindred."""
    import nats
    from nats.js import api

    token = uuid.uuid4().hex[:8]
    connection = await nats.connect(NATS_URL)
    js = connection.jetstream(timeout=10)
    stream = f"RAW{token.upper()}"
    await js.add_stream(
        api.StreamConfig(
            name=stream,
            subjects=[f"raw{token}.>"],
            storage=api.StorageType.FILE,
            duplicate_window=3600,
        )
    )
    mix = EventMix(f"raw-{token}")
    published = 0
    deadline = time.perf_counter() + duration

    async def publisher() -> None:
        nonlocal published
        while time.perf_counter() < deadline:
            futures = []
            for event in mix.batch(batch_size):
                subject = f"raw{token}.{event['type']}.{hash(event['id']) % 8}"
                futures.append(
                    await js.publish_async(
                        subject,
                        orjson.dumps(event),
                        headers={"Nats-Msg-Id": f"{event['source']} {event['id']}"},
                    )
                )
            await asyncio.gather(*futures)
            published += batch_size

    try:
        started = time.perf_counter()
        await asyncio.gather(*(publisher() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await js.delete_stream(stream)
        await connection.close()
    return {
        "events": published,
        "seconds": round(elapsed, 2),
        "events_per_s": round(published / elapsed),
    }


async def mqtt_latency(count: int, rate: float) -> dict[str, Any]:
    """Device publishes (QoS 1) → Kindred's MQTT bridge → durably stored in the embedded log.

    The bridge runs in this process exactly as it runs in the server; the clock stops when
    the bus has committed the event (the ingest observer runs after the commit).
    """
    import aiomqtt

    from kindred.events.runtime import EventRuntime, RuntimeJobs

    with tempfile.TemporaryDirectory() as directory:
        token = uuid.uuid4().hex[:8]
        prefix = f"kb-{token}/devices"
        settings = Settings(
            mode="test",
            database_url=f"sqlite:///{Path(directory) / 'bench.db'}",
            mqtt_url=f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
            mqtt_topic_prefix=prefix,
            mqtt_client_id=f"kb-bridge-{token}",
        )
        kindred = Kindred.create(settings)
        kindred.bootstrap()
        sent: dict[str, float] = {}
        latencies: list[float] = []
        done = asyncio.Event()

        def observe(events: list[Any]) -> None:
            now = time.perf_counter()
            for event in events:
                started = sent.get(event.id)
                if started is not None:
                    latencies.append((now - started) * 1000)
            if len(latencies) >= count:
                done.set()

        kindred.events.on_stored.append(observe)
        runtime = EventRuntime(kindred, RuntimeJobs(mqtt=True))
        await runtime.start()
        try:
            bridge: Any = runtime.bridge
            await asyncio.wait_for(bridge.connected.wait(), 10)
            async with aiomqtt.Client(MQTT_HOST, MQTT_PORT) as client:
                for index in range(count):
                    message_id = f"{token}-{index}"
                    payload = orjson.dumps({"msg_id": message_id, "battery_pct": index % 100})
                    sent[message_id] = time.perf_counter()
                    await client.publish(f"{prefix}/dev-{index % 100}/heartbeat", payload, qos=1)
                    await asyncio.sleep(1 / rate)
                await asyncio.wait_for(done.wait(), 30)
        finally:
            await runtime.stop()
            await kindred.events.close()
            kindred.close()
    summary = latency_summary(latencies)
    summary["rate_per_s"] = rate
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=500, help="events per HTTP batch")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent batch clients")
    parser.add_argument("--single", type=int, default=2000, help="single-event requests")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--mqtt", type=int, default=2000, help="MQTT messages")
    parser.add_argument("--mqtt-rate", type=float, default=200.0, help="MQTT messages/s")
    parser.add_argument("--backends", default="embedded,jetstream")
    arguments = parser.parse_args()

    results: dict[str, Any] = {"backends": {}}
    for backend in [b.strip() for b in arguments.backends.split(",") if b.strip()]:
        results["backends"][backend] = run_backend(backend, arguments)
    if "jetstream" in results["backends"]:
        raw = asyncio.run(raw_jetstream(arguments.batch, arguments.concurrency, arguments.duration))
        print(f"[raw nats-py] JetStream publish: {raw}", flush=True)
        results["raw_jetstream"] = raw
    if arguments.mqtt:
        results["mqtt"] = asyncio.run(mqtt_latency(arguments.mqtt, arguments.mqtt_rate))
        print(f"[mqtt] publish → stored: {results['mqtt']}", flush=True)

    print()
    print(f"{'what':<44}{'measured':>14}{'target':>14}")
    meets: dict[str, bool] = {}
    backends = results["backends"]
    if "embedded" in backends:
        rate = backends["embedded"]["batch"]["events_per_s"]
        meets["embedded_batch"] = rate >= TARGETS["embedded_batch_events_per_s"]
        print(f"{'embedded batch ingest (events/s)':<44}{rate:>14,}{'≥ 20,000':>14}")
    for name, data in backends.items():
        p99 = data["single"]["p99_ms"]
        meets[f"{name}_single_p99"] = p99 < TARGETS["single_ack_p99_ms"]
        p50 = data["single"]["p50_ms"]
        print(f"{name + ' single ack p50 / p99 (ms)':<44}{f'{p50} / {p99}':>14}{'p99 < 10':>14}")
    if "jetstream" in backends and "raw_jetstream" in results:
        ours = backends["jetstream"]["batch"]["events_per_s"]
        raw_rate = results["raw_jetstream"]["events_per_s"]
        ratio = ours / raw_rate if raw_rate else 0.0
        results["jetstream_vs_raw"] = round(ratio, 3)
        meets["jetstream_vs_raw"] = ratio >= TARGETS["jetstream_vs_raw"]
        print(f"{'JetStream batch ingest (events/s)':<44}{ours:>14,}{'':>14}")
        print(f"{'raw nats-py JetStream publish (events/s)':<44}{raw_rate:>14,}{'':>14}")
        print(f"{'JetStream backend / raw':<44}{ratio:>14.1%}{'≥ 50%':>14}")
    if "mqtt" in results:
        p99 = results["mqtt"]["p99_ms"]
        meets["mqtt_p99"] = p99 < TARGETS["mqtt_stored_p99_ms"]
        mqtt_text = f"{results['mqtt']['p50_ms']} / {p99}"
        print(f"{'MQTT publish → stored p50 / p99 (ms)':<44}{mqtt_text:>14}{'p99 < 20':>14}")
    results["meets"] = meets
    print(f"({os.cpu_count()} cores; server: uvicorn --workers {arguments.workers})")
    print(json.dumps({"benchmark": "events", "targets": TARGETS, **results}))


if __name__ == "__main__":
    main()
