"""What every command module shares: services for one command, progress bars, seeding and
serving. The command modules (commands, demo, events, ledger) import this one; it imports none
of them, so the CLI's imports run one way (issue 19).

Heavy modules are imported inside the functions, as in the commands themselves.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kindred.cli import console

if TYPE_CHECKING:
    from rich.progress import Progress

    from kindred.services import Kindred


@contextmanager
def open_services(bootstrap: bool = True) -> Iterator[Kindred]:
    """Services for one command, closed afterwards (connections are not left to the GC)."""
    from kindred.config import get_settings
    from kindred.services import Kindred

    kindred = Kindred.create(get_settings())
    try:
        if bootstrap:
            kindred.bootstrap()
        yield kindred
    finally:
        kindred.close()


def progress_bar() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def seed_demo(kindred: Kindred, customers: int, seed: int) -> dict[str, int]:
    from kindred.records.seed import seed_demo_data

    with progress_bar() as progress:
        tasks: dict[str, Any] = {}

        def report(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        counts = seed_demo_data(
            kindred.database,
            customers=customers,
            seed=seed,
            progress=report,
            service=kindred.records,  # its write hooks: a DID for every contact and lead
        )
    # The loader writes rows directly (fast), past the write hooks: index what it wrote for
    # search and identity resolution once, here.
    status = console.status("indexing the demo data for search and identity resolution …")
    with status, kindred.database.write() as session:
        kindred.search.reindex(session)
        kindred.resolution.reindex(session)
        kindred.lookup.reindex(session)  # the staff lookup's email and phone digests
    return counts


@contextmanager
def terminate_as_exit() -> Iterator[None]:
    """SIGTERM ends the block with SystemExit (so the callers' ``finally`` and ``atexit``
    run), not with the default action. Why: uvicorn, once it has shut down, re-raises the
    signal it caught under the handler it found, and SIGTERM's default kills the process on
    the spot, which left the demo's reference systems running."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_app(kindred: Kindred, host: str, port: int, workers: int, announce: str) -> None:
    """Serve until stopped; ``announce`` is printed once the socket accepts connections (one
    worker), so whoever acts on the line finds the server answering."""
    import threading

    import uvicorn

    from kindred.app import create_app

    if workers > 1:
        import os

        # Each worker makes its settings from the environment: the address served included
        # (the public host follows it).
        os.environ["KINDRED_HOST"], os.environ["KINDRED_PORT"] = host, str(port)
        console.print(announce)
        uvicorn.run(
            "kindred.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
        return
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(kindred, bootstrap=False), host=host, port=port, log_level="warning"
        )
    )

    def announce_when_up() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.02)
        if server.started:
            console.print(announce)

    # The handler is in place before the line can be printed: whoever waits for it may
    # signal at once. A start-up failure (the port taken, say) is logged by uvicorn, which
    # exits 3.
    with terminate_as_exit():
        threading.Thread(target=announce_when_up, name="kindred-announce", daemon=True).start()
        server.run()
