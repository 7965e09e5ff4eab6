"""The scenario builder's helper operations (GET /api/v1/scenario-builder/…) describe their
response bodies, and real responses — examples, a made-up sample event and a past one — are
valid against the schema the served document declares (issue 17, item 1)."""

from __future__ import annotations

import asyncio
from typing import Any

from kindred.api import scenarios
from tests.api.conftest import World
from tests.api.schema_checks import Api, router_operations, successes

EXAMPLES = "/api/v1/scenario-builder/examples"
SAMPLE = "/api/v1/scenario-builder/sample-event"


def test_every_operation_declares_a_strict_success_body(served: dict[str, Any]) -> None:
    operations = list(router_operations((scenarios.builder_router,)))
    assert {(method, path) for method, path, _ in operations} == {
        ("GET", EXAMPLES),
        ("GET", SAMPLE),
    }
    schemas = served["components"]["schemas"]
    for method, path, _ in operations:
        content = successes(served, method, path)[200]
        assert list(content) == ["application/json"]
        name = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert schemas[name]["additionalProperties"] is False, name


def test_real_answers_match_the_document(
    client: Any, kindred: Any, world: World, document: dict[str, Any]
) -> None:
    api = Api(client, document)
    admin = world.admin.headers
    examples = api("GET", EXAMPLES, 200, headers=admin)["data"]
    assert examples
    made_up = api("GET", SAMPLE, 200, params={"type": "iot.device.fault"}, headers=admin)
    assert made_up["source"] == "example"
    event = {
        "specversion": "1.0",
        "id": "s-1",
        "source": "urn:test",
        "type": "iot.device.fault",
        "data": {"device_id": "CT-1", "code": "E1", "severity": "major"},
    }
    asyncio.run(kindred.events.ingest([event], channel="test"))
    past = api("GET", SAMPLE, 200, params={"type": "iot.device.fault"}, headers=admin)
    assert past["source"] == "past" and past["event"]["id"] == "s-1"
    refused = client.get(SAMPLE, params={"type": "no.such.type"}, headers=admin)
    assert refused.status_code == 404
    api.conforms("GET", SAMPLE, refused)
