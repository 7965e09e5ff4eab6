"""``kindred worker``: consumer processes beside the server that split the partitions.

Given two worker processes on the same group, on the embedded log and on JetStream, every
event is handled exactly once, both workers take part, and a worker stopped with SIGTERM
leaves the group so the other takes over its partitions.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import make_test_settings
from tests.events.conftest import NATS_URL, _delete_jetstream, _delete_kv

pytestmark = pytest.mark.slow
COUNT = 2_000


def _events(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": f"w-{index}",
            "source": "urn:test:worker",
            "type": "iot.device.telemetry",
            "data": {"device_id": f"dev-{index % 50}", "metrics": {"temp_c": 20 + index % 7}},
        }
        for index in range(start, start + count)
    ]


def _timeline(kindred: Any) -> list[Any]:
    with kindred.database.read() as session:
        return session.execute(sa.text("SELECT event_id, processed FROM event_timeline")).all()


async def _has_two(members: Any) -> bool:
    return len(await members()) == 2


@pytest.mark.parametrize("backend", ["embedded", "jetstream"])
@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
def test_two_workers_split_the_work_and_hand_over(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    from kindred.services import Kindred

    token = uuid.uuid4().hex[:10]
    env_extra = {"KINDRED_BUS_LEASE_SECONDS": "2"}
    overrides: dict[str, Any] = {"bus_lease_seconds": 2}
    if backend == "jetstream":
        env_extra |= {
            "KINDRED_BUS_URL": NATS_URL,
            "KINDRED_BUS_NATS_SUBJECT_PREFIX": f"kw{token}.events",
            "KINDRED_BUS_NATS_STREAM_PREFIX": f"KW{token.upper()}",
        }
        overrides |= {
            "bus_url": NATS_URL,
            "bus_nats_subject_prefix": f"kw{token}.events",
            "bus_nats_stream_prefix": f"KW{token.upper()}",
        }
    kindred = Kindred.create(settings=make_test_settings(database_url, **overrides))
    env = {
        **os.environ,
        "KINDRED_DATABASE_URL": database_url,
        "KINDRED_MODE": "test",
        "KINDRED_SECRET_KEY": "test-secret-" + "x" * 40,
        **env_extra,
    }
    command = [str(Path(sys.executable).with_name("kindred")), "worker", "--consumer", "timeline"]
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    workers = []
    for log in logs:
        with log.open("wb") as out:
            workers.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))

    async def members() -> list[str]:
        groups = await kindred.events.bus.groups()
        return [m for g in groups if g.name == "timeline" for m in g.members]

    async def wait(condition: Any, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if await condition():
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")

    async def handled(count: int) -> bool:
        seen = len(_timeline(kindred))
        progress.append(seen)
        return seen == count

    progress: list[int] = []

    async def main() -> None:
        await kindred.events.start()
        try:
            await wait(lambda: _has_two(members), 60, "both workers to join")
            # Partitions move to a newcomer at its next rebalance (every second); feed the
            # events over a few seconds so both members are working while they arrive.
            for start in range(0, COUNT, COUNT // 20):
                await kindred.events.ingest(_events(start, COUNT // 20), channel="test")
                await asyncio.sleep(0.15)
            await wait(lambda: handled(COUNT), 90, "the workers to handle every event")
            # One worker leaves cleanly; the other takes over all partitions.
            workers[0].send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(workers[0].wait, 30) == 0, logs[0].read_text()
            await kindred.events.ingest(_events(COUNT, COUNT), channel="test")
            await wait(lambda: handled(2 * COUNT), 90, "the survivor to take over")
        finally:
            await kindred.events.close()

    try:
        asyncio.run(main())
    except AssertionError:
        logs_text = "\n".join(log.read_text()[-3000:] for log in logs)
        raise AssertionError(
            f"handled so far: {progress[-1:]}; worker logs:\n{logs_text}"
        ) from None
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
        kindred.close()
        if backend == "jetstream":
            asyncio.run(_delete_jetstream(f"KW{token.upper()}"))
            asyncio.run(_delete_kv(f"KW{token.upper()}"))

    rows = _timeline(kindred)
    assert {row.processed for row in rows} == {1}
    assert {row.event_id for row in rows} == {f"w-{i}" for i in range(2 * COUNT)}
    first_log = logs[0].read_text()
    first_handled = int(first_log.rsplit("handling ", 1)[1].split(" ", 1)[0].replace(",", ""))
    # Both took part before the first one left (it left before the second half was sent).
    assert 0 < first_handled < COUNT, first_log
