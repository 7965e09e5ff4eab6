"""Crash test: SIGKILL the server while a client ingests 50,000 events.

Given a real ``kindred serve`` process on the embedded default (SQLite + embedded bus) with
the timeline consumer running inside it, a client sends 50,000 events in batches and keeps
what was acknowledged. Midway the server is killed with SIGKILL (no shutdown code runs), then
restarted; the client re-sends every batch that was not acknowledged.

Then: every acknowledged event is in the log exactly once, nothing is lost, the consumer
resumes and handles everything, and no event whose processing was acknowledged before the
crash was processed again.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from sqlalchemy.engine import make_url

from kindred.events.envelope import BATCH

TOTAL = 50_000
BATCH_SIZE = 250
KILL_AFTER_ACKED = 80  # batches, i.e. 20,000 events
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _events(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": f"crash-{index}",
            "source": "urn:test:crash",
            "type": "iot.device.heartbeat",
            "data": {"device_id": f"dev-{index % 97}", "battery_pct": index % 100},
        }
        for index in range(start, start + count)
    ]


class Server:
    def __init__(self, database_url: str, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.env = {
            **os.environ,
            "KINDRED_DATABASE_URL": database_url,
            "KINDRED_MODE": "test",
            "KINDRED_SECRET_KEY": "test-secret-" + "x" * 40,
            "KINDRED_SCHEDULER_ENABLED": "false",
            "KINDRED_LEDGER_CHECKPOINT_SECONDS": "0",
            "KINDRED_BUS_LEASE_SECONDS": "2",
            "KINDRED_CONSUMERS": '["timeline"]',
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        kindred = Path(sys.executable).with_name("kindred")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(kindred), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("server did not come up")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
def test_sigkill_during_ingest_loses_nothing_and_redoes_no_acked_work(
    kindred: Any, tmp_path: Path
) -> None:
    with kindred.database.write() as session:
        user = kindred.auth.create_user(
            session, email="feed@example.com", name="feed", password=None, roles=["integration"]
        )
        _, api_key = kindred.auth.create_api_key(session, user["id"], "crash test")
    database_url = kindred.settings.database_url
    bus_path = make_url(kindred.settings.effective_bus_url).database
    assert bus_path
    kindred.close()

    server = Server(database_url, _free_port(), tmp_path / "server.log")
    base = f"http://127.0.0.1:{server.port}"
    headers = {"X-API-Key": api_key, "Content-Type": BATCH}
    batches = [
        (start, orjson.dumps(_events(start, BATCH_SIZE))) for start in range(0, TOTAL, BATCH_SIZE)
    ]
    acked: set[int] = set()
    acked_lock = threading.Lock()
    killed = threading.Event()
    server.start()
    try:

        def send(pending: list[tuple[int, bytes]]) -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                for start, body in pending:
                    try:
                        response = client.post("/api/v1/events", content=body, headers=headers)
                    except httpx.HTTPError:
                        continue  # not acknowledged: re-sent after the restart
                    if response.status_code == 200:
                        counts = response.json()
                        assert counts["stored"] + counts["duplicates"] == BATCH_SIZE
                        with acked_lock:
                            acked.add(start)
                            if len(acked) == KILL_AFTER_ACKED:
                                killed.set()

        # Two concurrent clients, interleaving batches.
        clients = [threading.Thread(target=send, args=(batches[offset::2],)) for offset in range(2)]
        for thread in clients:
            thread.start()
        assert killed.wait(120), "the clients never got far enough to crash the server"
        server.kill()
        for thread in clients:
            thread.join()
        acked_before_restart = set(acked)
        # What the consumer had acknowledged when the process died, read from the log file.
        with sqlite3.connect(bus_path) as log:
            offsets = {
                partition: (committed, set(orjson.loads(done)))
                for partition, committed, done in log.execute(
                    "SELECT partition, committed, acked FROM bus_offsets WHERE grp = 'timeline'"
                )
            }
        assert offsets, "the consumer had not started before the crash"

        server.start()
        send([(start, body) for start, body in batches if start not in acked_before_restart])
        assert len(acked) == len(batches)

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with kindred.database.read() as session:
                handled = session.execute(
                    __import__("sqlalchemy").text("SELECT count(*) FROM event_timeline")
                ).scalar()
            if handled == TOTAL:
                break
            time.sleep(0.5)
        assert handled == TOTAL, f"consumer handled {handled} of {TOTAL}"
    finally:
        server.stop()

    with sqlite3.connect(bus_path) as log:
        stored = log.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone()
        partition_of = dict(log.execute("SELECT seq, partition FROM events"))
    assert stored == (TOTAL, TOTAL)  # everything acknowledged is there, exactly once

    import sqlalchemy as sa

    with kindred.database.read() as session:
        rows = session.execute(
            sa.text("SELECT event_id, position, processed FROM event_timeline")
        ).all()
    assert {row.event_id for row in rows} == {f"crash-{i}" for i in range(TOTAL)}

    def acknowledged_at_crash(position: str) -> bool:
        seq = int(position)
        committed, done = offsets.get(partition_of[seq], (0, set()))
        return seq <= committed or seq in done

    redone = [row for row in rows if row.processed > 1]
    assert not [row for row in redone if acknowledged_at_crash(row.position)]
    acked_work = sum(1 for row in rows if acknowledged_at_crash(row.position))
    assert acked_work > 0
    print(
        f"\ncrash test: {len(acked_before_restart) * BATCH_SIZE} events acked before SIGKILL, "
        f"{acked_work} handled and acked by the consumer, {len(redone)} handled twice "
        f"(all unacknowledged at the crash)"
    )
