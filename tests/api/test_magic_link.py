"""Passport sign-in by emailed link (issue #18, items 1 and 2).

Before: with no mail server reachable (the demo's default), asking for a link for a known
customer answered 500 while an unknown address answered 202, which told anyone which
addresses are on file; and the emailed link, ``https://localhost:8000/passport?token=…``,
named a host and port the server did not serve, and a page that did not exist.

Now the answer is 202 with the same body either way and comes before any delivery is tried:
links are handed to a courier that retries with growing pauses, then logs (without the address
or the link) and counts what it could not deliver. The link points at the address actually
served (``KINDRED_PUBLIC_HOST`` defaults to it), opens the console's passport page and its token
signs the customer in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr

from kindred.app import create_app
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.cli.commands import DEMO_PASSWORD
from kindred.config import Settings, served_public_host
from kindred.records.service import RequestContext
from kindred.sovereignty.models import PassportChallenge
from tests.conftest import TEST_SECRET
from tests.live_server import live_server
from tests.scenarios.test_messaging import Recorder, free_port, smtp_server

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
ASK = "/api/v1/passport/magic-link"
INDEX = '<!doctype html><html lang="en"><title>Kindred</title><div id="root"></div></html>'
LINK = re.compile(r"(https?://\S+/passport\?token=([A-Za-z0-9_-]+))")


class Lines(logging.Handler):
    """What the ``kindred.passport`` logger writes, as formatted lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.levels: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.levels.append(record.levelno)


@contextlib.contextmanager
def passport_log() -> Iterator[Lines]:
    logger = logging.getLogger("kindred.passport")
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def deliveries(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "kindred_passport_link_deliveries_total", {"outcome": outcome}
    )
    return value or 0.0


def customer(kindred: Any, email: str = "lilei@example.com") -> dict[str, Any]:
    with kindred.database.write() as session:
        record: dict[str, Any] = kindred.records.create(
            session, SYSTEM, "contact", {"first_name": "Lei", "last_name": "Li", "email": email}
        )
    return record


def links_issued(kindred: Any) -> int:
    with kindred.database.read() as session:
        return int(
            session.execute(
                sa.select(sa.func.count())
                .select_from(PassportChallenge)
                .where(PassportChallenge.kind == "magic-link")
            ).scalar_one()
        )


@contextlib.contextmanager
def silent_smtp() -> Iterator[int]:
    """A mail server that accepts connections and never says a word: a delivery to it
    hangs until the client's timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.05)
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    accepted.append(listener.accept()[0])

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield int(listener.getsockname()[1])
        finally:
            stop.set()
            thread.join(timeout=10)
            for connection in accepted:
                connection.close()


def test_known_and_unknown_addresses_are_answered_alike_when_mail_is_down(
    client: Any, kindred: Any
) -> None:
    customer(kindred)
    kindred.settings.smtp_host, kindred.settings.smtp_port = "127.0.0.1", free_port()  # closed
    courier = kindred.passport.mail
    courier.first_pause = 0.01
    failed, sent = deliveries("failed"), deliveries("sent")
    with passport_log() as log:
        known = client.post(ASK, json={"email": "lilei@example.com"})
        unknown = client.post(ASK, json={"email": "nobody@example.com"})
        assert courier.settle(timeout=60), "the courier never finished"
    # The same status, body and headers: nothing tells the two apart.
    assert known.status_code == unknown.status_code == 202, known.text
    assert known.json() == unknown.json()
    assert known.headers["content-type"] == unknown.headers["content-type"]
    assert set(known.headers) == set(unknown.headers)
    assert links_issued(kindred) == 1  # the known customer's link was made, then not delivered
    # Given up on after every attempt, each retried failure logged, the last as an error;
    # the address, the link and the token are never written.
    assert (courier.failed, courier.sent) == (1, 0)
    assert deliveries("failed") == failed + 1 and deliveries("sent") == sent
    assert log.levels.count(logging.ERROR) == 1
    assert log.levels.count(logging.WARNING) == courier.attempts - 1
    assert "smtp-unreachable" in log.lines[-1]
    assert f"after {courier.attempts} attempt" in log.lines[-1]
    for line in log.lines:
        assert "lilei" not in line and "token" not in line and "passport?" not in line
    # An operator sees it in the metrics.
    kindred.settings.metrics_token = SecretStr("scrape")
    metrics = client.get("/metrics", headers={"Authorization": "Bearer scrape"}).text
    assert re.search(r'kindred_passport_link_deliveries_total\{outcome="failed"\} [1-9]', metrics)


def test_the_answer_does_not_wait_for_the_mail_server(client: Any, kindred: Any) -> None:
    customer(kindred)
    courier = kindred.passport.mail
    courier.attempts = 1
    with silent_smtp() as port:
        kindred.settings.smtp_host, kindred.settings.smtp_port = "127.0.0.1", port
        known = client.post(ASK, json={"email": "lilei@example.com"})
        # Answered while the delivery is still in flight (it waits for a greeting that
        # never comes): the answer is not made to wait for the mail server.
        assert known.status_code == 202
        assert not courier.settle(timeout=0)
    assert courier.settle(timeout=60)  # the silent server closed: given up on at once
    assert courier.failed == 1


def test_a_link_is_delivered_once_the_mail_server_comes_back(client: Any, kindred: Any) -> None:
    customer(kindred)
    port = free_port()
    kindred.settings.smtp_host, kindred.settings.smtp_port = "127.0.0.1", port
    courier = kindred.passport.mail
    courier.first_pause = 0.5
    sent = deliveries("sent")
    with passport_log() as log:
        assert client.post(ASK, json={"email": "lilei@example.com"}).status_code == 202
        # Wait for the first failed attempt (its warning), then start the mail server.
        for _ in range(600):
            if log.levels.count(logging.WARNING):
                break
            courier.settle(timeout=0.1)
        assert log.levels.count(logging.WARNING) >= 1
        recorder = Recorder()
        controller = Controller(recorder, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            assert courier.settle(timeout=60)
        finally:
            controller.stop()
    [envelope] = recorder.envelopes
    assert envelope.rcpt_tos == ["lilei@example.com"]
    assert (courier.sent, courier.failed) == (1, 0)
    assert deliveries("sent") == sent + 1
    assert logging.ERROR not in log.levels


@pytest.fixture
def console_client(kindred: Any, tmp_path: Path) -> Iterator[TestClient]:
    built = tmp_path / "dist"
    built.mkdir()
    (built / "index.html").write_text(INDEX)
    kindred.settings.console_dir = built
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        yield client


def test_the_emailed_link_opens_the_passport_page_and_its_token_signs_in(
    console_client: TestClient, kindred: Any
) -> None:
    record = customer(kindred)
    with smtp_server() as (recorder, smtp):
        kindred.settings.smtp_host, kindred.settings.smtp_port = smtp.host, smtp.port
        assert console_client.post(ASK, json={"email": "lilei@example.com"}).status_code == 202
        assert kindred.passport.mail.settle(timeout=60)
    assert len(recorder.envelopes) == 1
    text = recorder.parsed().get_content()
    found = LINK.search(text)
    assert found is not None, text
    link, token = found.groups()
    # The address this server is served at (the tests' settings: the default host and port).
    assert link.startswith(f"{kindred.settings.public_url}/passport?token=")
    assert kindred.settings.public_url == "http://localhost:8000"
    page = console_client.get(link.split("localhost:8000", 1)[1])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text == INDEX
    assert page.headers["cache-control"] == "no-store"  # the URL holds a sign-in token
    assert page.headers["referrer-policy"] == "no-referrer"
    opened = console_client.post("/api/v1/passport/session", json={"magic_link": token})
    assert opened.status_code == 201, opened.text
    me = console_client.get(
        "/api/v1/passport/me", headers={"Authorization": f"Bearer {opened.json()['token']}"}
    ).json()
    assert me["subject"] == {"object": "contact", "id": record["id"]}


def test_the_public_host_defaults_to_the_address_served() -> None:
    def settings(**values: Any) -> Settings:
        return Settings(mode="test", secret_key=TEST_SECRET, **values)

    assert settings().public_host == "localhost:8000"
    assert settings().public_url == "http://localhost:8000"
    assert settings(port=8123).public_host == "localhost:8123"
    assert settings(host="0.0.0.0", port=9000).public_url == "http://localhost:9000"
    assert settings(host="10.1.2.3", port=9000).public_url == "http://10.1.2.3:9000"
    assert served_public_host("::", 8001) == "localhost:8001"
    assert served_public_host("fd00::7", 8001) == "[fd00::7]:8001"
    # Served elsewhere than configured: the public host follows the address served ...
    moved = settings().serving_on("127.0.0.1", 8124)
    assert (moved.port, moved.public_host) == (8124, "localhost:8124")
    assert moved.public_url == "http://localhost:8124"
    # ... unless it was set: then it is the name customers use (behind TLS by default).
    named = settings(public_host="crm.example.com").serving_on("127.0.0.1", 8124)
    assert named.public_host == "crm.example.com"
    assert named.public_url == "https://crm.example.com"
    plain = settings(public_host="crm.example.com:8080", public_scheme="http")
    assert plain.public_url == "http://crm.example.com:8080"


def _call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers, response.read().decode()


@pytest.mark.slow
def test_a_server_on_another_port_names_that_port_in_dids_and_links(tmp_path: Path) -> None:
    built = tmp_path / "dist"
    built.mkdir()
    (built / "index.html").write_text(INDEX)
    with smtp_server() as (recorder, smtp):
        environment = {
            "KINDRED_SMTP_HOST": smtp.host,
            "KINDRED_SMTP_PORT": str(smtp.port),
            "KINDRED_CONSOLE_DIR": str(built),
        }
        with live_server(tmp_path, customers=10, env=environment) as (base, _):
            port = int(base.rsplit(":", 1)[1])
            assert port != 8000
            _, _, document = _call("GET", f"{base}/.well-known/did.json")
            assert json.loads(document)["id"] == f"did:web:localhost%3A{port}"
            form = f"username=admin@kindred.demo&password={DEMO_PASSWORD}".encode()
            signed = urllib.request.Request(f"{base}/api/v1/auth/token", data=form)
            with urllib.request.urlopen(signed, timeout=30) as response:
                token = json.loads(response.read())["access_token"]
            staff = {"Authorization": f"Bearer {token}"}
            created = {"first_name": "Mei", "last_name": "Han", "email": "hanmei@example.com"}
            _call("POST", f"{base}/api/v1/objects/contact/records", created, staff)
            status, _, _ = _call("POST", f"{base}{ASK}", {"email": "hanmei@example.com"})
            assert status == 202
            for _ in range(600):  # the courier delivers in the background
                if recorder.envelopes:
                    break
                threading.Event().wait(0.1)
            assert len(recorder.envelopes) == 1
            found = LINK.search(recorder.parsed().get_content())
            assert found is not None
            link, magic = found.groups()
            assert link.startswith(f"http://localhost:{port}/passport?token=")
            status, headers, page = _call("GET", link)  # opened as the customer would
            assert status == 200 and headers["content-type"].startswith("text/html")
            assert page == INDEX
            status, _, opened = _call(
                "POST", f"{base}/api/v1/passport/session", {"magic_link": magic}
            )
            assert status == 201 and json.loads(opened)["via"] == "magic-link"
