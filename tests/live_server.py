"""A real ``kindred serve`` in a subprocess on a private, seeded SQLite database — for tests
that drive the server from outside as a client would (schemathesis, the browser journeys)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kindred.cli.commands import DEMO_LOGINS, DEMO_PASSWORD
from tests.conftest import TEST_SECRET, make_test_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare_database(url: str, customers: int) -> None:
    """Bootstrap, seed the demo world and give the demo users their password (as
    ``kindred demo`` does)."""
    from kindred.records.seed import seed_demo_data
    from kindred.services import Kindred

    services = Kindred.create(settings=make_test_settings(url))
    try:
        services.bootstrap()
        seed_demo_data(services.database, customers=customers, seed=7)
        with services.database.write() as session:
            services.search.reindex(session)
            services.resolution.reindex(session)
            for email, _ in DEMO_LOGINS:
                user_id = services.auth.find_user_id(session, email)
                assert user_id is not None, email
                services.auth.set_password(session, user_id, DEMO_PASSWORD)
    finally:
        services.close()


@contextmanager
def live_server(
    folder: Path, *, customers: int = 20, env: dict[str, str] | None = None
) -> Iterator[tuple[str, Path]]:
    """Serve a freshly seeded database from ``folder``; yields the base URL and the path of
    the server's log (stderr). Stopped (SIGTERM) when the block ends."""
    url = f"sqlite:///{folder / 'kindred.db'}"
    prepare_database(url, customers)
    port = free_port()
    settings = make_test_settings(url)
    environment = {
        **os.environ,
        "KINDRED_MODE": "test",
        "KINDRED_DATABASE_URL": url,
        "KINDRED_SECRET_KEY": TEST_SECRET,
        "KINDRED_PASSWORD_TIME_COST": str(settings.password_time_cost),
        "KINDRED_PASSWORD_MEMORY_KIB": str(settings.password_memory_kib),
        "KINDRED_RUN_CONSUMERS": "false",
        "KINDRED_SCHEDULER_ENABLED": "false",
        "KINDRED_LEDGER_CHECKPOINT_SECONDS": "0",
        # Mail (passport magic links) goes to a port nobody listens on.
        "KINDRED_SMTP_PORT": str(free_port()),
        **(env or {}),
    }
    log = folder / "server.log"
    kindred = str(Path(sys.executable).with_name("kindred"))
    with (
        log.open("wb") as stderr,
        subprocess.Popen(
            [kindred, "serve", "--port", str(port)],
            cwd=folder,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,
        ) as process,
    ):
        try:
            assert process.stdout is not None
            # `kindred serve` prints this line once the socket answers (or exits if it fails).
            for line in process.stdout:
                if b"serving on" in line:
                    break
            else:
                pytest.fail(f"the server did not start:\n{log.read_text()}")
            yield f"http://127.0.0.1:{port}", log
        finally:
            process.terminate()
            process.wait(timeout=30)
