"""Traces pushed to an OpenTelemetry collector over OTLP/HTTP (JSON): a real HTTP server in
the test stands in for the collector. Finished run trees go once the collector accepts them;
a refusal or an unreachable collector loses nothing (sent again next round); the upkeep loop
does it when ``otlp_traces_url`` is set."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from kindred.agents import export
from kindred.agents.export import export_once, export_pending, pending
from kindred.agents.runtime import maintain
from kindred.config import Settings
from tests.agents.conftest import run_async, save
from tests.agents.test_runtime import base_agent, crm, start  # noqa: F401  (crm: a fixture)


class Collector:
    """Records every OTLP request; answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        self.token: str | None = None  # set: requests without this bearer token get a 401
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                assert self.path == "/v1/traces"
                assert self.headers["Content-Type"] == "application/json"
                collector.bodies.append(body)
                if collector.token and self.headers["Authorization"] != f"Bearer {collector.token}":
                    self.send_response(401)
                    self.end_headers()
                    return
                self.send_response(collector.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def collector() -> Iterator[Collector]:
    found = Collector()
    yield found
    found.server.shutdown()
    found.server.server_close()


def spans(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        span
        for resource in body["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def test_finished_traces_reach_the_collector_once_and_a_refusal_loses_nothing(
    crm: Any,  # noqa: F811
    collector: Collector,
) -> None:
    save(crm, base_agent())
    runs = [start(crm)["id"], start(crm)["id"]]
    with crm.database.read() as session:
        assert sorted(pending(session)) == sorted(runs)

    collector.status = 503  # the collector is overloaded: nothing is marked
    assert asyncio.run(export_once(crm, collector.url)) == 0
    assert len(collector.bodies) == 1
    with crm.database.read() as session:
        assert sorted(pending(session)) == sorted(runs)
    # Unreachable: a clear log line, no exception, still pending.
    assert asyncio.run(export_once(crm, "http://127.0.0.1:9/v1/traces", timeout=2)) == 0

    collector.status = 200
    assert asyncio.run(export_once(crm, collector.url)) == 2
    sent = spans(collector.bodies[-1])
    assert len({span["traceId"] for span in sent}) == 2  # one trace per run tree
    assert {"invoke_agent probe", "execute_tool erp.spot_stock"} <= {s["name"] for s in sent}
    with crm.database.read() as session:
        assert pending(session) == []
        expected = crm.agents.otlp(session, runs[0])["resourceSpans"]
    assert expected[0] in collector.bodies[-1]["resourceSpans"]  # the API's very document

    assert asyncio.run(export_once(crm, collector.url)) == 0  # nothing new: nothing sent
    assert len(collector.bodies) == 2


def test_a_collector_that_wants_a_token_gets_the_configured_headers(
    crm: Any,  # noqa: F811
    collector: Collector,
) -> None:
    save(crm, base_agent())
    run_id = start(crm)["id"]
    collector.token = "s3cret token"
    assert asyncio.run(export_once(crm, collector.url)) == 0  # 401: nothing marked
    with crm.database.read() as session:
        assert pending(session) == [run_id]
    wrong = {"Authorization": "Bearer guess"}
    assert asyncio.run(export_once(crm, collector.url, headers=wrong)) == 0
    settings = Settings(
        mode="test",
        otlp_traces_headers=SecretStr("Authorization=Bearer%20s3cret%20token, X-Tenant = crm"),
    )
    assert settings.otlp_headers() == {"Authorization": "Bearer s3cret token", "X-Tenant": "crm"}
    assert asyncio.run(export_once(crm, collector.url, headers=settings.otlp_headers())) == 1
    with crm.database.read() as session:
        assert pending(session) == []
    assert "s3cret" not in repr(settings)  # a secret setting


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Authorization Bearer%20topsecret", "entry 1 has no '='"),
        ("a=b,bad name=topsecret", "entry 2 does not start with a header name"),
        ("=topsecret", "entry 1 does not start with a header name"),
        ("X-Key=top%0Dsecret", "entry 1 holds a line break"),
    ],
)
def test_a_malformed_header_list_is_refused_at_start_up(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(mode="test", otlp_traces_headers=SecretStr(text))
    assert message in str(raised.value)
    assert "topsecret" not in str(raised.value)  # the token is never echoed


def test_the_upkeep_loop_pushes_traces_when_a_collector_is_configured(
    crm: Any,  # noqa: F811
    collector: Collector,
) -> None:
    save(crm, base_agent())
    run_id = start(crm)["id"]
    crm.settings.otlp_traces_url = collector.url
    collector.token = "upkeep"  # the loop sends the configured headers
    crm.settings.otlp_traces_headers = SecretStr("Authorization=Bearer%20upkeep")

    async def body(runtime: Any) -> None:
        upkeep = asyncio.create_task(maintain(crm, interval=0.05))
        deadline = time.monotonic() + 10
        while not collector.bodies and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        upkeep.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upkeep

    run_async(crm, body)
    assert collector.bodies, "the upkeep loop sent nothing"
    assert {s["traceId"] for s in spans(collector.bodies[0])} == {
        s["traceId"] for s in spans({"resourceSpans": _resource_spans(crm, run_id)})
    }


def _resource_spans(kindred: Any, run_id: str) -> list[dict[str, Any]]:
    with kindred.database.read() as session:
        found: list[dict[str, Any]] = kindred.agents.otlp(session, run_id)["resourceSpans"]
    return found


def test_a_round_sends_batch_after_batch_until_nothing_is_pending(
    crm: Any,  # noqa: F811
    collector: Collector,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export, "BATCH", 1)  # a tree per request
    save(crm, base_agent())
    runs = {start(crm)["id"] for _ in range(3)}
    assert asyncio.run(export_pending(crm, collector.url, batches=2)) == 2  # the round's cap
    with crm.database.read() as session:
        assert len(pending(session)) == 1
    assert asyncio.run(export_pending(crm, collector.url)) == 1
    assert len(collector.bodies) == 3  # one request per tree, none twice
    sent = {span["traceId"] for body in collector.bodies for span in spans(body)}
    assert len(sent) == len(runs) == 3
