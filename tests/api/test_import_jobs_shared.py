"""Import jobs live in a table: two worker processes over one database serve the same
uploads, reports and progress, only one of them runs a file, and a job whose runner died
ends ``failed`` with a reason instead of ``running`` for ever (both dialects)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.records.import_jobs.models import ImportJobRow
from tests.api.conftest import World
from tests.api.test_import_api import (
    GOOD,
    IMPORTS,
    contacts,
    hubspot_csv,
    upload,
    wait_until_finished,
)
from tests.api.test_records_api import problem
from tests.conftest import make_test_settings


@pytest.fixture
def other_worker(database_url: str, client: Any) -> Iterator[Any]:
    """A second app over the same database, as a second worker process would be."""
    from fastapi.testclient import TestClient

    from kindred.app import create_app
    from kindred.services import Kindred

    services = Kindred.create(settings=make_test_settings(database_url))
    with TestClient(create_app(services, bootstrap=False)) as second:
        yield second
    services.close()


def test_a_job_uploaded_to_one_worker_is_served_by_another(
    client: Any, other_worker: Any, world: World, kindred: Any
) -> None:
    admin = world.admin
    before = contacts(kindred)
    job = upload(client, admin, hubspot_csv(GOOD)).json()
    url = f"{IMPORTS}/{job['id']}"
    seen = other_worker.get(url, headers=admin.headers)
    assert seen.status_code == 200, seen.text
    assert (seen.json()["state"], seen.json()["rows_total"]) == ("uploaded", 3)
    preview = other_worker.post(
        f"{url}/preview", json={"preset": "hubspot-contacts"}, headers=admin.headers
    )
    assert preview.status_code == 200 and len(preview.json()["rows"]) == 3
    dry = other_worker.post(
        f"{url}/dry-run", json={"preset": "hubspot-contacts"}, headers=admin.headers
    )
    assert dry.status_code == 200 and dry.json()["created"] == 3
    assert client.get(url, headers=admin.headers).json()["report"]["dry_run"] is True
    assert contacts(kindred) == before

    started = client.post(f"{url}/run", json={"preset": "hubspot-contacts"}, headers=admin.headers)
    assert started.status_code == 202, started.text
    # The other worker cannot run it too: it is running, or done.
    again = other_worker.post(
        f"{url}/run", json={"preset": "hubspot-contacts"}, headers=admin.headers
    )
    assert "imported already" in problem(again, 409)["detail"]
    finished = wait_until_finished(client, admin, job["id"])
    assert finished["state"] == "done" and finished["report"]["created"] == 3
    polled = other_worker.get(url, headers=admin.headers).json()
    assert (polled["state"], polled["rows_done"], polled["report"]["created"]) == ("done", 3, 3)
    assert sorted(contacts(kindred)) == sorted([*before, "Zhang", "Li", "Wang"])
    # Someone else's job is no more visible on the second worker than on the first.
    problem(other_worker.get(url, headers=world.sales_east.headers), 404)


def _pretend_running(kindred: Any, job_id: str, runner: str, heartbeat: datetime | None) -> None:
    with kindred.database.write() as session:
        session.execute(
            sa.update(ImportJobRow)
            .where(ImportJobRow.id == job_id)
            .values(state="running", runner=runner, heartbeat_at=heartbeat)
        )


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_job_whose_runner_died_fails_with_a_reason_and_runs_again(
    client: Any, other_worker: Any, world: World, kindred: Any
) -> None:
    admin = world.admin
    before = contacts(kindred)
    job = upload(client, admin, hubspot_csv(GOOD)).json()
    url = f"{IMPORTS}/{job['id']}"
    _pretend_running(kindred, job["id"], f"{socket.gethostname()}:{_dead_pid()}:gone", None)
    interrupted = other_worker.get(url, headers=admin.headers).json()
    assert interrupted["state"] == "failed"
    assert interrupted["failure"]["type"].endswith("/import-interrupted")
    assert "nothing of it was kept" in interrupted["failure"]["detail"]
    assert contacts(kindred) == before

    rerun = client.post(f"{url}/run", json={"preset": "hubspot-contacts"}, headers=admin.headers)
    assert rerun.status_code == 202, rerun.text
    assert wait_until_finished(client, admin, job["id"])["report"]["created"] == 3


def test_a_runner_on_another_host_is_trusted_while_its_heartbeat_is_fresh(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin
    job = upload(client, admin, hubspot_csv(GOOD)).json()
    url = f"{IMPORTS}/{job['id']}"
    now = datetime.now(UTC)
    _pretend_running(kindred, job["id"], "elsewhere.example:4242:busy", now)
    busy = client.get(url, headers=admin.headers).json()
    assert busy["state"] == "running" and busy["failure"] is None
    problem(
        client.post(f"{url}/run", json={"preset": "hubspot-contacts"}, headers=admin.headers), 409
    )
    problem(
        client.post(f"{url}/dry-run", json={"preset": "hubspot-contacts"}, headers=admin.headers),
        409,
    )
    _pretend_running(kindred, job["id"], "elsewhere.example:4242:busy", now - timedelta(minutes=5))
    stale = client.get(url, headers=admin.headers).json()
    assert stale["state"] == "failed"
    assert stale["failure"]["type"].endswith("/import-interrupted")


def test_finished_jobs_past_their_hour_are_dropped_at_the_next_upload(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin
    old = upload(client, admin, hubspot_csv(GOOD)).json()
    with kindred.database.write() as session:
        session.execute(
            sa.update(ImportJobRow)
            .where(ImportJobRow.id == old["id"])
            .values(created_at=datetime.now(UTC) - timedelta(hours=2))
        )
    fresh = upload(client, admin, hubspot_csv(GOOD)).json()
    problem(client.get(f"{IMPORTS}/{old['id']}", headers=admin.headers), 404)
    assert client.get(f"{IMPORTS}/{fresh['id']}", headers=admin.headers).status_code == 200
