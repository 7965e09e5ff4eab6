"""Reference implementations of third-party services, for tests, demos and local development.

Each one is a real, separately runnable server speaking the service's wire format with its
own storage; adapters are tested against them over real sockets, not against mocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

from aiohttp import web


async def start_app(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve ``app`` in the running loop; returns the runner (``await runner.cleanup()`` to
    stop it) and the base URL with the port actually bound (``port=0``: any free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    if ":" in bound_host:
        bound_host = f"[{bound_host}]"
    return runner, f"http://{bound_host}:{bound_port}"


# Set by a process that starts a reference system for its own lifetime (``kindred demo``):
# its pid. The system stops when that process is gone, however it ended.
PARENT_VARIABLE = "KINDRED_REFERENCE_PARENT_PID"
PARENT_POLL_SECONDS = 0.5


async def _parent_gone(parent: int) -> None:
    # Once the parent dies this process is re-parented: its parent pid changes.
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_POLL_SECONDS)


async def serve_until_signalled(runner: Any, url: str) -> None:
    """Announce the address on one flushed line (tests and the demo read it to learn the
    port) and serve until SIGINT or SIGTERM — or, with ``PARENT_VARIABLE`` set, until that
    process is gone — then shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    watch = None
    parent = os.environ.get(PARENT_VARIABLE, "")
    if parent.isdigit():
        watch = asyncio.create_task(_parent_gone(int(parent)))
        watch.add_done_callback(lambda _: stop.set())
    print(f"listening on {url}", flush=True)
    try:
        await stop.wait()
    finally:
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        await runner.cleanup()
