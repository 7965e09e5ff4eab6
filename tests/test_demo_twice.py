"""Issue #18 item 8: a second `kindred demo` start prints the chains it set off as they truly
ended — every step — even when the previous process died holding leases.

The demo waits for positive signals (the scenario consumer has taken in every event, no run
is still running), never for a quiet spell; and a scenario run leased by a process that is
gone is taken over at once (kindred.events.liveness), not when its lease expires."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.events.runtime import EventRuntime, RuntimeJobs
from kindred.scenarios.examples import example_definitions
from kindred.scenarios.models import ScenarioRun
from tests.live_server import free_port
from tests.scenarios.test_engine import fault, runs, save, steps, until

REPOSITORY = Path(__file__).resolve().parents[1]
KINDRED = str(Path(sys.executable).with_name("kindred"))
CHAINS = ("device-fault-service-chain", "stock-shortage-coupon")


def demo_environment(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KINDRED_DATABASE_URL": f"sqlite:///{folder / 'kindred.db'}",
        "KINDRED_PASSWORD_TIME_COST": "1",
        "KINDRED_PASSWORD_MEMORY_KIB": "64",
        # A deployment whose event-bus leases last 30 s: a killed process holds the
        # scenario consumer's partitions that long.
        "KINDRED_BUS_LEASE_SECONDS": "30",
        "COLUMNS": "250",  # the run table on one line per row
    }


def top_level_steps(name: str) -> list[str]:
    [definition] = [d for d in example_definitions() if d["name"] == name]
    return [step["id"] for step in definition["then"]]


def chain_rows(output: str) -> dict[str, tuple[str, str]]:
    """The demo's run table: scenario → (status, steps)."""
    rows: dict[str, tuple[str, str]] = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 4 and cells[0] in CHAINS:
            rows[cells[0]] = (cells[2], cells[3])
    return rows


def test_a_second_demo_start_prints_finished_chains(tmp_path: Path) -> None:
    environment = demo_environment(tmp_path)
    # The first start: demo data, the chains, then serving — until it is killed outright,
    # holding the event bus's partition leases (as a crash or `kill -9` leaves them).
    port = free_port()
    with subprocess.Popen(
        [KINDRED, "demo", "-n", "10", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as first:
        assert first.stdout is not None
        seen = []
        for line in first.stdout:
            seen.append(line)
            if "serving on" in line:
                break
        else:
            pytest.fail("the first demo did not start serving:\n" + "".join(seen))
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)

    second = subprocess.run(
        [KINDRED, "demo", "-n", "10", "--no-serve"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "demo data present" in second.stdout
    rows = chain_rows(second.stdout)
    assert set(rows) == set(CHAINS), second.stdout
    for chain in CHAINS:
        status, done = rows[chain]
        assert status == "succeeded", second.stdout
        for step in top_level_steps(chain):
            assert any(
                part.startswith(f"{step} ") and part[-1] in "✓⤳–" for part in done.split(", ")
            ), (chain, step, done)
    # And that is the truth: every run the second start set off has ended, none is leased.
    engine = sa.create_engine(environment["KINDRED_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            left = connection.execute(
                sa.text(
                    "SELECT scenario, status FROM scenario_runs "
                    "WHERE status = 'running' OR lease_owner IS NOT NULL"
                )
            ).all()
    finally:
        engine.dispose()
    assert left == []


# -- a run leased by a process that is gone ------------------------------------------------------

HOLDER = """
import asyncio, json, sys

import kindred.scenarios.engine as engine

engine.LEASE_SECONDS = 3600.0  # only a takeover can end this lease while the test runs
from kindred.events.runtime import EventRuntime, RuntimeJobs
from kindred.services import Kindred
from tests.conftest import make_test_settings

given = json.loads(sys.argv[1])
services = Kindred.create(make_test_settings(given["url"], **given["settings"]))


async def main():
    runtime = EventRuntime(services, RuntimeJobs(consumers=("scenarios",)))
    await runtime.start()
    await services.events.ingest([given["event"]], channel="test")
    await asyncio.Event().wait()


asyncio.run(main())
"""


@contextmanager
def hook_server() -> Iterator[tuple[str, threading.Event, list[str]]]:
    """A receiver whose first call never answers (the caller dies waiting); later calls
    answer 200. Yields its URL, the first call's arrival and every call's idempotency key."""
    arrived = threading.Event()
    release = threading.Event()
    keys: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            keys.append(self.headers.get("Idempotency-Key", ""))
            if len(keys) == 1:
                arrived.set()
                release.wait(120)
                return
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrived, keys
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_a_run_leased_by_a_gone_process_is_taken_over_at_once(kindred: Any) -> None:
    with hook_server() as (url, arrived, keys):
        save(
            kindred,
            f"""
name: tell-the-erp
title: Tell the ERP about a fault
when: {{events: [iot.device.fault]}}
then:
  - id: post
    action: webhook
    with:
      url: "{url}"
      payload: {{device: {{cel: event.data.device_id}}}}
""",
        )
        settings = {"bus_url": kindred.settings.effective_bus_url}
        if kindred.settings.ledger_witness_dir:
            settings["ledger_witness_dir"] = str(kindred.settings.ledger_witness_dir)
        given = {"url": kindred.settings.database_url, "settings": settings, "event": fault("f-1")}
        with subprocess.Popen(
            [sys.executable, "-c", HOLDER, json.dumps(given)], cwd=REPOSITORY
        ) as holder:
            try:
                # The other process is in the middle of the step: it holds the run's lease.
                assert arrived.wait(120), "the other process never ran the step"
            finally:
                holder.send_signal(signal.SIGKILL)
                holder.wait(timeout=30)
        [run] = runs(kindred)
        assert run.status == "running"
        assert run.lease_owner == f"{socket.gethostname()}-{holder.pid}"
        assert run.lease_until is not None and run.lease_until > time.time() + 3000

        async def take_over() -> None:
            runtime = EventRuntime(kindred, RuntimeJobs(consumers=("scenarios",)))
            await runtime.start()
            try:  # well within the hour the dead process's lease would last
                await until(lambda: runs(kindred)[0].status == "succeeded", 60)
            finally:
                await runtime.stop()

        asyncio.run(take_over())
    [run] = runs(kindred)
    assert (run.status, run.lease_owner, run.lease_until) == ("succeeded", None, None)
    post = steps(kindred, run.id)["post"]
    assert post.status == "succeeded"
    # The step was resumed, with the same idempotency key the dead process used.
    assert len(keys) == 2 and keys[0] == keys[1] != ""


def test_a_stopped_engine_hands_its_runs_back(kindred: Any) -> None:
    """Stopped in the middle of a run (the demo's engine, before the server's takes over in
    the same process): the run is released at once, for the next engine to resume."""
    with hook_server() as (url, arrived, keys):
        save(
            kindred,
            f"""
name: tell-the-erp
title: Tell the ERP about a fault
when: {{events: [iot.device.fault]}}
then:
  - id: post
    action: webhook
    with:
      url: "{url}"
      payload: {{device: {{cel: event.data.device_id}}}}
""",
        )

        async def first() -> None:
            runtime = EventRuntime(kindred, RuntimeJobs(consumers=("scenarios",)))
            await runtime.start()
            try:
                await kindred.events.ingest([fault("f-1")], channel="test")
                assert await asyncio.to_thread(arrived.wait, 60)
            finally:
                await runtime.stop()

        asyncio.run(first())
        [run] = runs(kindred)
        assert (run.status, run.lease_owner, run.lease_until) == ("running", None, None)

        async def second() -> None:
            runtime = EventRuntime(kindred, RuntimeJobs(consumers=("scenarios",)))
            await runtime.start()
            try:
                await until(lambda: runs(kindred)[0].status == "succeeded", 60)
            finally:
                await runtime.stop()

        asyncio.run(second())
    assert len(keys) == 2 and keys[0] == keys[1]
    with kindred.database.read() as session:
        assert session.execute(sa.select(ScenarioRun.status)).scalars().all() == ["succeeded"]
