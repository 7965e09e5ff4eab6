"""The operations area's answers match the OpenAPI document (issue 17, items 1 and 6).

- Scenario health, with its runs over time (buckets) and its last failure: real answers are
  valid against the declared schema, the buckets add up to the runs, and a failure names the
  step and its stable code (never the error text, which may quote record values).
- The live tail (GET /api/v1/events/stream) declares ``text/event-stream`` whose schema is
  that of each message: every message a real stream sends (ready, event, heartbeat, end) is
  valid against it, and the schema refuses what it does not describe.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from kindred.api import stream
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from kindred.scenarios.definition import load_text
from tests.api.conftest import World
from tests.api.schema_checks import Api, refs, router_operations, validator
from tests.api.test_event_stream import ADMIN, Server, Stream, heartbeat_event
from tests.api.test_scenarios_api import HISTORY
from tests.conftest import service_principal
from tests.live_server import live_server

STREAM = "/api/v1/events/stream"
HEALTH = "/api/v1/scenarios/{name}/health"
# Open by design: a CloudEvent (its extensions) and a problem (its extension members).
OPEN = {"CloudEventPublic", "StreamProblem"}


def message_schema(document: dict[str, Any]) -> dict[str, Any]:
    content = document["paths"][STREAM]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    return dict(content["text/event-stream"]["schema"])


def test_the_stream_declares_its_messages(served: dict[str, Any]) -> None:
    assert [(m, p) for m, p, _ in router_operations([stream.router])] == [("GET", STREAM)]
    schema = message_schema(served)
    assert schema == {"$ref": "#/components/schemas/EventStreamMessage", "type": "object"}
    schemas = served["components"]["schemas"]
    union = schemas["EventStreamMessage"]
    assert set(union["discriminator"]["mapping"]) == {"ready", "event", "heartbeat", "end", "error"}
    seen: set[str] = set()
    pending = ["EventStreamMessage"]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if schemas[name].get("type") == "object":
            assert schemas[name].get("additionalProperties") is (name in OPEN), name
        pending.extend(r.rsplit("/", 1)[1] for r in refs(schemas[name]))
    assert seen >= OPEN | {"StoredEventPublic", "StreamMark"}
    # Refusals are problems, as everywhere.
    responses = served["paths"][STREAM]["get"]["responses"]
    assert {"401", "403", "400", "422"} <= set(responses)
    assert list(responses["403"]["content"]) == ["application/problem+json"]


def test_the_message_schema_refuses_what_it_does_not_describe(served: dict[str, Any]) -> None:
    check = validator(served, message_schema(served))
    mark = {"at": "2026-12-07T10:00:00+00:00", "position": None}
    assert check.is_valid({"event": "ready", "data": mark})
    assert check.is_valid({"event": "heartbeat", "data": {**mark, "position": "17"}})
    assert not check.is_valid({"event": "ready", "data": {**mark, "extra": 1}})
    assert not check.is_valid({"event": "tick", "data": mark})
    assert not check.is_valid({"event": "event", "data": mark})  # an event needs its id, body
    problem = {"type": "about:blank", "title": "Unauthenticated", "status": 401, "detail": "x"}
    assert check.is_valid({"event": "error", "data": problem})
    assert not check.is_valid({"event": "error", "data": {"title": "x"}})


def test_health_answers_its_runs_over_time_and_last_failure(
    client: Any, kindred: Any, world: World, document: dict[str, Any]
) -> None:
    from tests.scenarios.test_engine import finished, until, with_engine

    api = Api(client, document)
    principal = service_principal(kindred)
    with kindred.database.write() as session:
        account = kindred.records.create(
            session, RequestContext(SYSTEM_PRINCIPAL), "account", {"name": "Ruijin"}
        )
        kindred.scenarios.create(session, load_text(HISTORY), None, run_as=principal)
        kindred.scenarios.set_enabled(session, "fault-history", True, None)
    one = {"name": "fault-history"}
    empty = api("GET", HEALTH, 200, where=one, headers=world.compliance.headers)
    assert empty["runs"] == 0 and empty["last_failure"] is None
    assert sum(b["succeeded"] + b["failed"] + b["in_progress"] for b in empty["buckets"]) == 0

    def fault(event_id: str, severity: str) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": "urn:test:plant",
            "type": "iot.device.fault",
            "data": {
                "device_id": "CT-1",
                "code": "E42",
                "severity": severity,
                "account": account["id"],
            },
        }

    async def body() -> None:
        await kindred.events.ingest(
            [fault("h-1", "major"), fault("h-2", "critical"), fault("h-3", "major")], channel="test"
        )
        await until(finished(kindred, 3))

    with_engine(kindred, body)

    for days in ("0.05", "7", "366"):
        health = api(
            "GET", HEALTH, 200, where=one, headers=world.compliance.headers, params={"days": days}
        )
        buckets = health["buckets"]
        assert 1 <= len(buckets) <= 61
        assert sum(b["succeeded"] for b in buckets) == health["succeeded"] == 2
        assert sum(b["failed"] for b in buckets) == health["failed"] == 1
        starts = [b["start"] for b in buckets]
        assert starts == sorted(starts)
        assert health["bucket_seconds"] > 0
    failure = health["last_failure"]
    assert failure["step"] == "impossible" and failure["error_code"]
    assert failure["error_code"] in health["failure_reasons"]
    assert set(failure) == {"at", "step", "error_code"}  # no error text


def test_every_message_a_stream_sends_is_described(tmp_path: Path) -> None:
    with live_server(tmp_path, customers=1) as (base_url, _):
        with urllib.request.urlopen(base_url + "/openapi.json", timeout=60) as answer:
            document = json.loads(answer.read())
        check = validator(document, message_schema(document))
        server = Server(base_url)
        tail = Stream(server, ADMIN, "heartbeat=1")
        first = tail.next()
        stored = server.publish(heartbeat_event("dev-schema"))
        seen = [first, *tail.until(lambda m: m.get("id") == stored["position"])]
        seen += tail.until(lambda m: m["event"] == "heartbeat")
    while (message := tail.next()) is not None:
        seen.append(message)
    assert {m["event"] for m in seen if m} == {"ready", "event", "heartbeat", "end"}
    for message in seen:
        assert message is not None
        errors = [e.message for e in check.iter_errors(message)]
        assert not errors, (message, errors)
