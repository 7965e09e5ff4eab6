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
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from pydantic import SecretStr, ValidationError

from kindred.agents import export
from kindred.agents.export import export_once, export_pending, pending
from kindred.agents.runtime import maintain
from kindred.agents.trace import otlp_spans
from kindred.config import Settings
from tests.agents.conftest import run_async, save
from tests.agents.otlp_schema import OtlpSchemaError, otlp_json, parse_otlp
from tests.agents.test_runtime import base_agent, crm, start  # noqa: F401  (crm: a fixture)
from tests.reference.conftest import call


class Collector:
    """An OTLP/HTTP collector for the tests: it parses every request body strictly into
    opentelemetry-proto's ExportTraceServiceRequest (``otlp_schema.parse_otlp``) and answers
    400 with the reason when that fails (``rejected`` keeps the reasons), 404 for another path
    and 415 for another content type. Accepted requests are in ``bodies`` (as sent) and
    ``messages`` (parsed); a request is answered ``status`` after the schema check."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.messages: list[ExportTraceServiceRequest] = []
        self.rejected: list[str] = []
        self.status = 200
        self.token: str | None = None  # set: requests without this bearer token get a 401
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API
                length = int(self.headers["Content-Length"])
                raw = self.rfile.read(length)
                if self.path != "/v1/traces":
                    return self.answer(404, {"code": 5, "message": f"no {self.path}"})
                if self.headers["Content-Type"] != "application/json":
                    return self.answer(415, {"code": 3, "message": "JSON only"})
                try:
                    message = parse_otlp(raw)
                except (OtlpSchemaError, ValueError) as error:
                    collector.rejected.append(str(error))
                    # OTLP/HTTP: a bad request is answered 400 with a google.rpc.Status.
                    return self.answer(400, {"code": 3, "message": str(error)})
                collector.bodies.append(json.loads(raw))
                collector.messages.append(message)
                if collector.token and self.headers["Authorization"] != f"Bearer {collector.token}":
                    return self.answer(401, {"code": 16, "message": "unauthenticated"})
                self.answer(collector.status, {})

            def answer(self, status: int, body: dict[str, Any]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

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


# -- the schema ------------------------------------------------------------------------------


def test_an_exported_tree_is_a_valid_export_trace_service_request(
    crm: Any,  # noqa: F811
    collector: Collector,
) -> None:
    save(crm, base_agent())
    run_id = start(crm)["id"]
    assert asyncio.run(export_once(crm, collector.url)) == 1
    assert collector.rejected == []
    (message,) = collector.messages
    (resource,) = message.resource_spans
    assert otlp_json(resource.resource)["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "kindred-agents"}}
    ]
    parsed = [span for scope in resource.scope_spans for span in scope.spans]
    assert len(parsed) == len(_spans_of(crm, run_id))
    by_id = {span.span_id: span for span in parsed}
    assert len(by_id) == len(parsed)  # span ids are unique
    assert {len(span.trace_id) for span in parsed} == {16}
    (root,) = [span for span in parsed if not span.parent_span_id]
    assert root.name == "invoke_agent probe" and root.kind == Span.SPAN_KIND_INTERNAL
    for span in parsed:  # every parent is in the tree; no span ends before it starts
        assert span is root or span.parent_span_id in by_id
        assert 0 < span.start_time_unix_nano <= span.end_time_unix_nano
    tool = next(span for span in parsed if span.name == "execute_tool erp.spot_stock")
    assert tool.kind == Span.SPAN_KIND_CLIENT and tool.status.code == Status.STATUS_CODE_OK
    attributes = {a.key: a.value for a in tool.attributes}
    assert attributes["gen_ai.tool.name"].string_value == "erp.spot_stock"
    assert attributes["kindred.step.attempts"].int_value == 1
    # Back to OTLP/JSON, the span is the one the API gives (hex ids and all).
    assert otlp_json(tool)["spanId"] == next(
        s["spanId"] for s in _spans_of(crm, run_id) if s["name"] == tool.name
    )


def _spans_of(kindred: Any, run_id: str) -> list[dict[str, Any]]:
    return spans({"resourceSpans": _resource_spans(kindred, run_id)})


def _a_span(**changes: Any) -> dict[str, Any]:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "",
        "name": "invoke_agent probe",
        "kind": 1,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000500000000",
        "attributes": [{"key": "kindred.run.id", "value": {"stringValue": "r1"}}],
        "status": {"code": 1, "message": ""},
    }
    span.update(changes)
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"spanId": "7uGbfsPBsXQ="}, "is not hex"),  # base64, as canonical proto JSON has it
        ({"traceId": "5b8efff798038103"}, "8 bytes; a traceId has 16"),
        ({"spanId": "0000000000000000"}, "all-zero spanId"),
        ({"kind": "SPAN_KIND_INTERNAL"}, "enum values are integers"),
        ({"kind": 9}, "9 is not a SpanKind"),
        ({"start_time_unix_nano": "1"}, "keys are lowerCamelCase"),
        ({"durationNanos": "5"}, "/durationNanos: no such field in Span"),
        ({"attributes": [{"key": "a", "value": {"stringValue": 3}}]}, "stringValue"),
        ({"attributes": [{"key": "a", "value": {"textValue": "x"}}]}, "no such field"),
        ({"status": {"code": 1, "description": "x"}}, "/status/description"),
    ],
)
def test_the_collector_refuses_what_is_not_otlp_json_and_records_nothing(
    collector: Collector, changes: dict[str, Any], reason: str
) -> None:
    assert call(collector.url, "POST", "", _a_span()) == (200, {})  # unchanged: accepted
    assert len(collector.bodies) == 1

    status, answer = call(collector.url, "POST", "", _a_span(**changes))

    assert status == 400
    assert reason in answer["message"]
    assert reason in collector.rejected[0]
    assert len(collector.bodies) == len(collector.messages) == 1  # only the good one


def test_every_kind_of_span_parses_and_none_starts_in_1970() -> None:
    """The span builder on a tree with a sub-agent, a retried tool, an LLM call, a human task
    and a step row without a start (the column allows it): strictly valid OTLP/JSON."""
    runs = [
        {"id": "r1", "agent": "probe", "version": 1, "root_id": "r1", "status": "succeeded"},
        {"id": "r2", "agent": "sub", "version": 2, "root_id": "r1", "parent_id": "r1"},
    ]
    runs[0] |= {"started_at": 1_700_000_000.5, "finished_at": 1_700_000_001.0}
    runs[1] |= {"parent_step": "call", "started_at": 1_700_000_000.6, "status": "failed"}
    calls = [{"method": "GET", "url": "http://erp/api", "params": {"sku": "A"}, "status": 503}]
    attempt_log = [
        {"attempt": 1, "started_at": 1_700_000_000.55, "finished_at": 1_700_000_000.6}
        | {"status": "failed", "calls": calls, "error": {"code": "http-5xx", "message": "503"}}
        | {"retryable": True, "retry_wait_ms": 10.0},
        {"attempt": 2, "started_at": 1_700_000_000.61, "finished_at": 1_700_000_000.7}
        | {"status": "succeeded", "calls": [], "error": None, "retryable": None},
    ]
    at = {"started_at": 1_700_000_000.6, "finished_at": 1_700_000_000.9}
    steps = {
        "r1": [
            {"step": "stock", "kind": "tool", "status": "succeeded", "attempts": 2, **at}
            | {"trace": {"tool": {"name": "erp.spot_stock"}, "attempt_log": attempt_log}}
            | {"input": {"sku": "A"}, "output": {"on_hand": 2}},
            {"step": "never", "kind": "rule", "status": "skipped", "started_at": None},
            {"step": "call", "kind": "agent", "status": "failed", "error": "sub failed", **at},
            {"step": "ask", "kind": "llm", "status": "succeeded", **at}
            | {"trace": {"llm": {"model": "m", "prompt_tokens": 3, "completion_tokens": 2**64}}},
            {"step": "approve", "kind": "human", "status": "waiting", "started_at": 1.7e9},
        ]
    }

    message = parse_otlp(otlp_spans(runs, steps))

    parsed = {s.name: s for s in message.resource_spans[0].scope_spans[0].spans}
    assert {"execute_tool erp.spot_stock #2", "rule never", "chat m"} <= set(parsed)
    assert len(message.resource_spans[0].scope_spans[0].spans) == 9
    assert all(s.start_time_unix_nano > 0 for s in parsed.values())
    assert parsed["rule never"].start_time_unix_nano == 1_700_000_000_500_000_000  # its run's
    tokens = {a.key: a.value for a in parsed["chat m"].attributes}["gen_ai.usage.output_tokens"]
    assert tokens.string_value == str(2**64)  # past int64: text, not a broken request
    # The sub-agent's run hangs under the step that called it.
    assert parsed["invoke_agent sub"].parent_span_id == parsed["invoke_agent call"].span_id
    assert parsed["execute_tool erp.spot_stock #1"].status.code == Status.STATUS_CODE_ERROR
