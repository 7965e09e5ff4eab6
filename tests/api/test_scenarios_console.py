"""What the console's scenario builder needs beyond the definitions (issue 17, item 5): the
shipped example chains to start from, and a sample event to dry-run with — the latest of its
type, redacted, for those who may read the event log; otherwise an example made from the
type's JSON Schema."""

from __future__ import annotations

import asyncio
from typing import Any

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.events.catalog import BUILTIN
from kindred.records.service import RequestContext
from kindred.scenarios.examples import example_definitions
from kindred.scenarios.samples import example_event, example_value

EXAMPLES = "/api/v1/scenario-builder/examples"
SAMPLE = "/api/v1/scenario-builder/sample-event"


def test_the_examples_are_the_shipped_chains_and_say_which_are_installed(
    client: Any, world: Any, kindred: Any
) -> None:
    shipped = {raw["name"] for raw in example_definitions()}
    answer = client.get(EXAMPLES, headers=world.sales_east.headers)
    assert answer.status_code == 200, answer.text
    items = answer.json()["data"]
    assert {item["name"] for item in items} == shipped
    assert not any(item["installed"] for item in items)
    chain = next(item for item in items if item["name"] == "device-fault-service-chain")
    assert chain["definition"]["when"]["events"] == ["iot.device.fault"]

    # Once saved, an example says so (the builder then opens a copy under another name).
    client.post("/api/v1/scenarios", json=chain["definition"], headers=world.admin.headers)
    again = client.get(EXAMPLES, headers=world.sales_east.headers).json()["data"]
    assert {i["name"]: i["installed"] for i in again}["device-fault-service-chain"] is True
    # Any example checks as it is: the builder can dry-run it straight away.
    for item in items:
        check = client.post(
            "/api/v1/scenarios/validate", json=item["definition"], headers=world.admin.headers
        )
        assert check.status_code == 200, (item["name"], check.text)


def test_an_example_event_fits_its_type(client: Any, world: Any) -> None:
    answer = client.get(
        SAMPLE, params={"type": "iot.device.fault"}, headers=world.service_east.headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == "example" and body["stored_at"] is None
    event = body["event"]
    assert event["type"] == "iot.device.fault" and event["specversion"] == "1.0"
    assert BUILTIN["iot.device.fault"].violations(event["data"]) == []
    assert event["data"]["severity"] == "minor"  # the first choice of the enum

    # A dry run takes it as it is.
    draft = {
        "name": "fault-note",
        "title": "Fault note",
        "when": {"events": ["iot.device.fault"]},
        "then": [{"id": "tell", "action": "notify", "with": {"role": "service", "title": "x"}}],
    }
    report = client.post(
        "/api/v1/scenarios/dry-run",
        json={"definition": draft, "event": event},
        headers=world.service_east.headers,
    )
    assert report.status_code == 200, report.text
    assert report.json()["fires"] is True


def test_every_builtin_type_gets_a_valid_example() -> None:
    bad = {
        name: problems
        for name, kind in BUILTIN.items()
        if (problems := kind.violations(example_event(name, kind.schema)["data"]))
    }
    assert bad == {}


def test_example_values_follow_the_schema() -> None:
    assert example_value({"type": "integer", "minimum": 1, "maximum": 5}) == 3
    assert example_value({"type": "number", "exclusiveMinimum": 0}) == 1.0
    assert example_value({"type": "string", "format": "email"}) == "someone@example.com"
    assert example_value({"type": "array", "items": {"type": "boolean"}}) == [True]
    assert example_value({"type": ["null", "string"]}, "code") == "example-code"
    assert example_value({"const": "x"}) == "x"


def _fault(event_id: str, account: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"device_id": "CT-7", "code": event_id.upper(), "severity": "major"}
    if account:
        data["account_id"] = account
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:plant",
        "type": "iot.device.fault",
        "data": data,
    }


def test_log_readers_get_the_latest_event_redacted_others_an_example(
    client: Any, world: Any, kindred: Any
) -> None:
    with kindred.database.write() as session:
        north = kindred.records.create(
            session,
            RequestContext(SYSTEM_PRINCIPAL),
            "account",
            {"name": "Northern Hospital", "territory": world.territories["north"]},
        )
    asyncio.run(kindred.events.ingest([_fault("e1"), _fault("e2", north["id"])], channel="test"))

    admin = client.get(SAMPLE, params={"type": "iot.device.fault"}, headers=world.admin.headers)
    body = admin.json()
    assert body["source"] == "past" and body["stored_at"]
    assert body["event"]["id"] == "e2" and body["event"]["data"]["code"] == "E2"

    # The analyst reads the log, as far as their record reads go.
    analyst = client.get(SAMPLE, params={"type": "iot.device.fault"}, headers=world.analyst.headers)
    assert analyst.json()["source"] == "past"

    # Sales and service may not read the event log: they get an example, never the event.
    for person in (world.sales_east, world.service_east):
        other = client.get(SAMPLE, params={"type": "iot.device.fault"}, headers=person.headers)
        assert other.json()["source"] == "example"
        assert other.json()["event"]["id"] != "e2"


def test_an_unknown_type_is_a_404_problem(client: Any, world: Any) -> None:
    answer = client.get(SAMPLE, params={"type": "iot.device.nope"}, headers=world.admin.headers)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "iot.device.nope" in answer.json()["detail"]
    missing = client.get(SAMPLE, headers=world.admin.headers)
    assert missing.status_code == 422


def test_the_builder_helpers_need_a_signed_in_user(client: Any) -> None:
    assert client.get(EXAMPLES).status_code == 401
    assert client.get(SAMPLE, params={"type": "iot.device.fault"}).status_code == 401
