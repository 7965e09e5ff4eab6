"""Reference implementations of third-party services, for tests, demos and local development.

Each one is a real, separately runnable server speaking the service's wire format with its
own storage; adapters are tested against them over real sockets, not against mocks.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any


async def serve_until_signalled(runner: Any, url: str) -> None:
    """Announce the address on one flushed line (tests and the demo read it to learn the
    port) and serve until SIGINT or SIGTERM, then shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening on {url}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
