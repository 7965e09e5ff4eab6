"""CloudEvents HTTP ingest, the catalog, dead letters, consumer groups and metrics over HTTP.

Given a bootstrapped database on each dialect and the embedded bus; every refused request is
checked for what it did *not* do: nothing stored in the log, and the dead letter it left.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from kindred.events.bus import GroupSpec
from kindred.events.models import DeadLetter

BATCH = "application/cloudevents-batch+json"
STRUCTURED = "application/cloudevents+json"


def heartbeat(device: str = "dev-1", **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "urn:test:devices",
        "type": "iot.device.heartbeat",
        "time": "2026-12-01T08:00:00Z",
        "data": {"device_id": device, "battery_pct": 80, **data},
    }


def fault(device: str = "dev-1", **data: Any) -> dict[str, Any]:
    event = heartbeat(device)
    event["type"] = "iot.device.fault"
    event["data"] = {"device_id": device, "code": "E42", "severity": "major", **data}
    return event


def stored_count(kindred: Any) -> int:
    async def count() -> int:
        await kindred.events.start()
        return await kindred.events.bus.count()

    return asyncio.run(count())


def dead_letters(kindred: Any) -> list[dict[str, Any]]:
    with kindred.database.read() as session:
        rows = session.execute(
            sa.text("SELECT id, channel, reason, event_type, status FROM event_dead_letters")
        ).mappings()
        return [dict(row) for row in rows]


def scrape_metrics(client: Any) -> str:
    """GET /metrics as a loopback client: without a scrape token, the only kind answered."""
    from fastapi.testclient import TestClient

    response = TestClient(client.app, client=("127.0.0.1", 50000)).get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


def post(client: Any, who: Any, body: Any, content_type: str = STRUCTURED, **headers: str) -> Any:
    return client.post(
        "/api/v1/events",
        content=orjson.dumps(body),
        headers={**who.headers, "Content-Type": content_type, **headers},
    )


# -- ingest modes ------------------------------------------------------------------------------


def test_structured_event_is_stored_once_and_readable(
    client: Any, world: Any, kindred: Any
) -> None:
    event = heartbeat()
    first = post(client, world.integration, event)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["stored"] == 1 and body["duplicates"] == 0
    position = body["events"][0]["position"]

    again = post(client, world.integration, event)
    assert again.status_code == 200
    assert again.json()["events"][0] == {**body["events"][0], "duplicate": True}
    assert stored_count(kindred) == 1

    read = client.get(f"/api/v1/events/{position}", headers=world.analyst.headers)
    assert read.status_code == 200
    stored = read.json()["event"]
    assert stored["id"] == event["id"] and stored["data"] == event["data"]
    # The catalog's partition field fills in the partition key when the producer sent none.
    assert stored["partitionkey"] == "dev-1"


def test_binary_mode_reads_attributes_from_headers(client: Any, world: Any, kindred: Any) -> None:
    response = client.post(
        "/api/v1/events",
        content=orjson.dumps({"device_id": "dev-9", "code": "E1", "severity": "critical"}),
        headers={
            **world.integration.headers,
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": "bin-1",
            "ce-source": "urn:test:plant%2F7",
            "ce-type": "iot.device.fault",
            "ce-subject": "dev-9",
            "ce-partitionkey": "dev-9",
        },
    )
    assert response.status_code == 200, response.text
    position = response.json()["events"][0]["position"]
    stored = client.get(f"/api/v1/events/{position}", headers=world.admin.headers).json()["event"]
    assert stored["source"] == "urn:test:plant/7"  # percent-decoded per the HTTP binding
    assert stored["subject"] == "dev-9"
    assert stored["data"]["severity"] == "critical"


def test_batch_is_stored_in_order(client: Any, world: Any, kindred: Any) -> None:
    events = [heartbeat("dev-a"), fault("dev-a"), heartbeat("dev-b")]
    response = post(client, world.integration, events, BATCH)
    assert response.status_code == 200, response.text
    positions = [e["position"] for e in response.json()["events"]]
    page = client.get("/api/v1/events?limit=10", headers=world.admin.headers).json()
    assert [item["position"] for item in page["data"]] == positions
    assert [item["event"]["id"] for item in page["data"]] == [e["id"] for e in events]

    by_key = client.get("/api/v1/events?key=dev-a", headers=world.admin.headers).json()
    assert [i["event"]["type"] for i in by_key["data"]] == [
        "iot.device.heartbeat",
        "iot.device.fault",
    ]


# -- bad events --------------------------------------------------------------------------------


def test_schema_violations_are_all_listed_and_dead_lettered(
    client: Any, world: Any, kindred: Any
) -> None:
    bad = fault(severity="catastrophic", code="", sent_at="yesterday")
    del bad["data"]["device_id"]
    good = heartbeat()
    response = post(client, world.integration, [good, bad], BATCH)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/events-rejected")
    paths = {(e["path"], e["reason"]) for e in problem["errors"]}
    assert ("/1/data/severity", "schema_violation") in paths
    assert ("/1/data/code", "schema_violation") in paths
    assert ("/1/data/sent_at", "schema_violation") in paths
    assert any(e["path"] == "/1/data" and "device_id" in e["message"] for e in problem["errors"])
    # The valid event of the batch is stored; the bad one waits in the dead-letter store.
    assert [a["id"] for a in problem["accepted"]] == [good["id"]]
    assert stored_count(kindred) == 1
    [letter] = dead_letters(kindred)
    assert letter["reason"] == "schema_violation" and letter["event_type"] == "iot.device.fault"
    assert problem["rejected"][0]["dead_letter"] == letter["id"]


def test_unknown_type_is_refused_and_kept(client: Any, world: Any, kindred: Any) -> None:
    event = heartbeat()
    event["type"] = "iot.device.teleported"
    response = post(client, world.integration, event)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/unknown-event-type")
    assert stored_count(kindred) == 0
    assert [(d["reason"], d["event_type"]) for d in dead_letters(kindred)] == [
        ("unknown_type", "iot.device.teleported")
    ]


def test_invalid_envelope_names_the_attribute(client: Any, world: Any, kindred: Any) -> None:
    event = heartbeat()
    del event["source"]
    event["specversion"] = "0.3"
    response = post(client, world.integration, event)
    assert response.status_code == 422
    paths = {e["path"] for e in response.json()["errors"]}
    assert {"/source", "/specversion"} <= paths
    assert stored_count(kindred) == 0
    assert dead_letters(kindred)[0]["reason"] == "invalid_envelope"


def test_oversize_event_is_413_and_kept_truncated(client: Any, world: Any, kindred: Any) -> None:
    limit = kindred.settings.max_event_bytes
    event = heartbeat(firmware="x" * (limit + 10))
    response = post(client, world.integration, event)
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
    assert stored_count(kindred) == 0
    [letter] = dead_letters(kindred)
    detail = client.get(f"/api/v1/dead-letters/{letter['id']}", headers=world.admin.headers).json()
    assert detail["reason"] == "oversize" and detail["truncated"] is True
    assert detail["payload_bytes"] > limit


def test_malformed_json_is_400_and_kept(client: Any, world: Any, kindred: Any) -> None:
    response = client.post(
        "/api/v1/events",
        content=b'{"specversion": "1.0", ',
        headers={**world.integration.headers, "Content-Type": STRUCTURED},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert stored_count(kindred) == 0
    assert [d["reason"] for d in dead_letters(kindred)] == ["malformed"]


def test_publishing_needs_a_publisher_role(client: Any, world: Any, kindred: Any) -> None:
    response = post(client, world.sales_east, heartbeat())
    assert response.status_code == 403
    unauthenticated = client.post(
        "/api/v1/events", content=orjson.dumps(heartbeat()), headers={"Content-Type": STRUCTURED}
    )
    assert unauthenticated.status_code == 401
    assert stored_count(kindred) == 0
    assert dead_letters(kindred) == []


# -- dead letters: fix, replay, discard ------------------------------------------------------------


def test_fix_and_replay_a_dead_letter(client: Any, world: Any, kindred: Any) -> None:
    bad = fault(severity="catastrophic")
    post(client, world.integration, bad)
    [letter] = dead_letters(kindred)
    url = f"/api/v1/dead-letters/{letter['id']}"

    still_bad = client.post(url + "/replay", headers=world.integration.headers)
    assert still_bad.status_code == 422
    assert stored_count(kindred) == 0
    assert client.get(url, headers=world.admin.headers).json()["attempts"] == 1

    denied = client.patch(url, json={"payload": bad}, headers=world.analyst.headers)
    assert denied.status_code == 403

    bad["data"]["severity"] = "critical"
    fixed = client.patch(url, json={"payload": bad}, headers=world.integration.headers)
    assert fixed.status_code == 200, fixed.text
    replayed = client.post(url + "/replay", headers=world.integration.headers)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "replayed"
    assert stored_count(kindred) == 1
    detail = client.get(url, headers=world.admin.headers).json()
    assert detail["status"] == "replayed" and detail["resolved_by"] == world.integration.id

    twice = client.post(url + "/replay", headers=world.integration.headers)
    assert twice.status_code == 409
    assert stored_count(kindred) == 1
    with kindred.database.read() as session:
        kinds = session.execute(sa.text("SELECT kind FROM ledger_entries")).scalars().all()
    assert "events.dead_letter.replayed" in kinds


def test_discard_needs_a_reason_and_is_final(client: Any, world: Any, kindred: Any) -> None:
    post(client, world.integration, fault(severity="nope"))
    [letter] = dead_letters(kindred)
    url = f"/api/v1/dead-letters/{letter['id']}"
    empty = client.post(url + "/discard", json={"note": ""}, headers=world.integration.headers)
    assert empty.status_code == 422
    assert dead_letters(kindred)[0]["status"] == "open"
    done = client.post(url + "/discard", json={"note": "test device"}, headers=world.admin.headers)
    assert done.status_code == 200 and done.json()["status"] == "discarded"
    listed = client.get("/api/v1/dead-letters", headers=world.admin.headers).json()
    assert listed["data"] == [] and listed["counts"] == {"discarded": 1}
    assert client.post(url + "/replay", headers=world.admin.headers).status_code == 409
    assert stored_count(kindred) == 0


# -- catalog -------------------------------------------------------------------------------------


def test_catalog_is_browsable(client: Any, world: Any) -> None:
    listing = client.get("/api/v1/event-types", headers=world.sales_east.headers).json()
    assert listing["total"] >= 200
    assert {"iot", "contract", "pos", "social", "messaging", "consent"} <= set(listing["domains"])
    iot = client.get("/api/v1/event-types?domain=iot&q=heartbeat", headers=world.admin.headers)
    found = iot.json()["data"]
    assert "iot.device.heartbeat" in [item["type"] for item in found]
    assert {item["domain"] for item in found} == {"iot"} and "schema" not in found[0]
    one = client.get("/api/v1/event-types/iot.device.fault", headers=world.admin.headers).json()
    assert one["schema"]["properties"]["severity"]["enum"]
    assert (
        client.get("/api/v1/event-types/nope.nope.nope", headers=world.admin.headers).status_code
        == 404
    )


def test_admin_defines_a_type_at_runtime(client: Any, world: Any, kindred: Any) -> None:
    definition = {
        "type": "fleet.battery.degraded",
        "description": "An EV battery's state of health fell below the service threshold.",
        "schema": {
            "type": "object",
            "required": ["vin", "soh"],
            "properties": {"vin": {"type": "string"}, "soh": {"type": "number", "maximum": 100}},
        },
        "partition_field": "vin",
    }
    denied = client.post("/api/v1/event-types", json=definition, headers=world.integration.headers)
    assert denied.status_code == 403
    event = heartbeat()
    event["type"] = "fleet.battery.degraded"
    event["data"] = {"vin": "LSV123", "soh": 71.5}
    assert post(client, world.integration, event).status_code == 422  # not defined yet

    created = client.post("/api/v1/event-types", json=definition, headers=world.admin.headers)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    event["id"] = "after-definition"
    stored = post(client, world.integration, event)
    assert stored.status_code == 200, stored.text

    event["id"] = "too-healthy"
    event["data"]["soh"] = 140
    assert post(client, world.integration, event).status_code == 422

    again = client.post("/api/v1/event-types", json=definition, headers=world.admin.headers)
    assert again.status_code == 409
    new_version = client.put(
        "/api/v1/event-types/fleet.battery.degraded",
        json={k: v for k, v in definition.items() if k != "type"},
        headers=world.admin.headers,
    )
    assert new_version.json()["version"] == 2
    fetched = client.get("/api/v1/event-types/fleet.battery.degraded", headers=world.admin.headers)
    assert fetched.json()["versions"] == [1, 2]


def test_invalid_type_definitions_are_refused_with_paths(
    client: Any, world: Any, kindred: Any
) -> None:
    bad_schema = {
        "type": "fleet.battery.degraded",
        "description": "x",
        "schema": {"type": "object", "properties": {"soh": {"type": "numeric"}}},
    }
    response = client.post("/api/v1/event-types", json=bad_schema, headers=world.admin.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"].startswith("/schema")
    bad_name = {**bad_schema, "type": "Fleet-Battery", "schema": {"type": "object"}}
    response = client.post("/api/v1/event-types", json=bad_name, headers=world.admin.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "/type"
    builtin = {**bad_schema, "type": "iot.device.heartbeat", "schema": {"type": "object"}}
    response = client.post("/api/v1/event-types", json=builtin, headers=world.admin.headers)
    assert response.status_code == 409
    with kindred.database.read() as session:
        assert session.execute(sa.text("SELECT count(*) FROM event_types")).scalar() == 0


# -- consumers, replay, retention, metrics ---------------------------------------------------------


def test_seek_replays_a_group_and_is_evidenced(client: Any, world: Any, kindred: Any) -> None:
    post(client, world.integration, [heartbeat(), heartbeat()], BATCH)

    async def drain() -> int:
        consumer = await kindred.events.bus.consumer(GroupSpec("audit", ack_wait=5), "m1")
        seen = 0
        for _ in range(20):
            batch = await consumer.fetch(10, 0.2)
            seen += len(batch)
            await consumer.ack(batch)
            if seen >= 2:
                break
        await consumer.close()
        return seen

    asyncio.run(kindred.events.start())
    assert asyncio.run(drain()) == 2
    groups = client.get("/api/v1/event-consumers", headers=world.admin.headers).json()
    assert [(g["name"], g["lag"]) for g in groups["data"]] == [("audit", 0)]

    denied = client.post(
        "/api/v1/event-consumers/audit/seek",
        json={"offset": "0"},
        headers=world.integration.headers,
    )
    assert denied.status_code == 403
    moved = client.post(
        "/api/v1/event-consumers/audit/seek", json={"offset": "0"}, headers=world.admin.headers
    )
    assert moved.status_code == 200
    groups = client.get("/api/v1/event-consumers", headers=world.admin.headers).json()
    assert groups["data"][0]["lag"] == 2
    missing = client.post(
        "/api/v1/event-consumers/nobody/seek", json={"offset": "0"}, headers=world.admin.headers
    )
    assert missing.status_code == 404
    with kindred.database.read() as session:
        kinds = session.execute(sa.text("SELECT kind FROM ledger_entries")).scalars().all()
    assert kinds.count("events.consumer.seek") == 1


def test_metrics_report_ingest_rejections_and_dead_letters(client: Any, world: Any) -> None:
    post(client, world.integration, [heartbeat(), fault(severity="?")], BATCH)
    text = scrape_metrics(client)
    assert 'kindred_events_ingested_total{channel="http",type="iot.device.heartbeat"}' in text
    assert (
        'kindred_events_rejected_total{reason="schema_violation",type="iot.device.fault"}' in text
    )
    assert 'kindred_events_dead_letters{status="open"} 1.0' in text
    assert "kindred_events_ingest_seconds_bucket" in text


def test_retention_keeps_recent_events_and_purges_old_resolved_dead_letters(
    client: Any, world: Any, kindred: Any
) -> None:
    post(client, world.integration, [heartbeat() for _ in range(5)], BATCH)
    post(client, world.integration, fault(severity="old"))
    post(client, world.integration, fault(severity="open"))
    old, still_open = sorted(dead_letters(kindred), key=lambda d: d["id"])
    discard = client.post(
        f"/api/v1/dead-letters/{old['id']}/discard",
        json={"note": "noise"},
        headers=world.admin.headers,
    )
    assert discard.status_code == 200
    with kindred.database.write() as session:
        session.execute(
            sa.update(DeadLetter)
            .where(DeadLetter.id == old["id"])
            .values(resolved_at=datetime(2026, 1, 1, tzinfo=UTC))
        )
    denied = client.post(
        "/api/v1/events/retention", json={"older_than_days": 1}, headers=world.integration.headers
    )
    assert denied.status_code == 403
    assert len(dead_letters(kindred)) == 2

    report = client.post(
        "/api/v1/events/retention", json={"older_than_days": 1}, headers=world.admin.headers
    )
    assert report.status_code == 200
    assert report.json()["deleted"] == 0 and report.json()["dead_letters_purged"] == 1
    assert stored_count(kindred) == 5
    assert [d["id"] for d in dead_letters(kindred)] == [still_open["id"]]
