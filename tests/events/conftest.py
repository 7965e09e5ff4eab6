"""Bus fixtures: the embedded log in a temporary file and NATS JetStream on the local server.

Every JetStream test gets its own subject and stream prefix (JetStream refuses streams with
overlapping subjects) and deletes what it created.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from kindred.events.bus import BusOptions, EventBus, open_bus

NATS_URL = os.environ.get("KINDRED_TEST_NATS_URL", "nats://127.0.0.1:4222")
BACKENDS = ["embedded", "jetstream"]


def test_options(**extra: object) -> BusOptions:
    return BusOptions(partitions=4, lease_seconds=2.0, rebalance_seconds=0.2, extra=dict(extra))


async def _delete_jetstream(prefix: str) -> None:
    import nats

    connection = await nats.connect(NATS_URL)
    js = connection.jetstream()
    for info in await js.streams_info():
        if info.config.name.startswith(prefix):
            await js.delete_stream(info.config.name)
    await connection.close()


@pytest.fixture
def make_bus(tmp_path: Path) -> Iterator[Callable[..., EventBus]]:
    """Factory for an unstarted bus of one backend; every bus it makes shares storage."""
    token = uuid.uuid4().hex[:10]
    created: list[str] = []

    def make(backend: str, **overrides: object) -> EventBus:
        if backend == "embedded":
            return open_bus(f"sqlite:///{tmp_path / 'bus.db'}", test_options(**overrides))
        created.append(token)
        return open_bus(
            NATS_URL,
            test_options(
                subject_prefix=f"kt{token}.events", stream_prefix=f"KT{token.upper()}", **overrides
            ),
        )

    yield make
    if created:
        asyncio.run(_delete_jetstream(f"KT{token.upper()}"))
        asyncio.run(_delete_kv(f"KT{token.upper()}"))


async def _delete_kv(prefix: str) -> None:
    import nats

    connection = await nats.connect(NATS_URL)
    js = connection.jetstream()
    for suffix in ("LEASES", "GROUPS"):
        with contextlib.suppress(Exception):
            await js.delete_key_value(f"{prefix}_{suffix}")
    await connection.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run_with_bus(
    backend: str, make_bus: Callable[..., EventBus]
) -> Callable[[Callable[[EventBus], Awaitable[None]]], None]:
    """Run an async test body against a started bus of the parametrized backend."""

    def run(body: Callable[[EventBus], Awaitable[None]], **overrides: object) -> None:
        async def main() -> None:
            instance = make_bus(backend, **overrides)
            try:
                await instance.start()
            except ConnectionError as error:
                pytest.fail(
                    f"{error}; start NATS (scripts/services start) or set KINDRED_TEST_NATS_URL"
                )
            try:
                await body(instance)
            finally:
                await instance.close()

        asyncio.run(main())

    return run
