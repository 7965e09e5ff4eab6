"""The events, channels, graph, search and identity resolution operations describe their
response bodies (issue 17, item 1), as the records, metadata and auth ones do
(``test_response_schemas.py``, whose helpers these tests use).

Each of these operations declares the schema of what it answers, and real responses of every
one of them — ingest in each mode, the log with redacted event data, the catalog, dead letters
(text, binary and redacted payloads; fixed, replayed, discarded), consumer groups, retention,
the channel webhooks, neighbours, subgraphs and paths, search hits, match candidates,
duplicate pairs, merges with withheld values and their undo — are valid against the schema
the served document declares for their operation and status, on both dialects. Fixed-shape
bodies forbid keys they do not name, so an undocumented key is a failure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter
from fastapi.routing import APIRoute

from kindred.api import channels, events, graph, resolution, search, sovereignty
from kindred.events.bus import GroupSpec
from kindred.services import Kindred
from kindred.sovereignty.credentials import ConsentGrant, Grantee, StatusReference, issue_consent
from kindred.sovereignty.identity import did_key, key_fragment
from tests.api.conftest import World
from tests.api.schema_checks import Api, refs, router_operations, success_schema, validator
from tests.api.test_channels_api import POS_BODY, SECRET, TOKEN, WRITE_KEY, signed
from tests.api.test_consents_api import customer, passport_headers
from tests.api.test_events_api import BATCH, STRUCTURED, fault, heartbeat
from tests.api.test_graph_api import hospital
from tests.api.test_resolution_api import hospitals
from tests.api.test_search_api import notes
from tests.api.test_sovereignty_api import b64, wallet_customer
from tests.conftest import make_test_settings
from tests.security.test_event_payloads import birthday_event

ROUTERS: tuple[APIRouter, ...] = (
    events.router,
    channels.router,
    graph.router,
    search.router,
    resolution.router,
    sovereignty.router,
)
# Answered as text, as their senders expect (documented as such by api/openapi.py).
TEXT = {
    ("GET", "/api/v1/channels/wechat"): "text/plain",
    ("POST", "/api/v1/channels/wechat"): "text/plain",
    ("GET", "/api/v1/status-lists/{list_id}"): "application/statuslist+jwt",
}
# Bodies whose parts are whatever the data holds: records (field values), CloudEvents
# (extension attributes) and merged records (a snapshot's field values).
OPEN = {"RecordPublic", "SubgraphNode", "CloudEventPublic", "MergedRecord"}
HEALTH = ("GET", "/healthz")
MERGES = "/api/v1/resolution/merges"
MERGE = MERGES + "/{merge_id}"
LETTER = "/api/v1/dead-letters/{letter_id}"
RECORDS = "/api/v1/objects/account/records"
RECORDS_OF_CONTACTS = "/api/v1/objects/contact/records"
RECORD = "/api/v1/objects/{object_name}/records/{record_id}"


def operations() -> Iterator[tuple[str, str, APIRoute]]:
    return router_operations(ROUTERS)


def json_operations() -> Iterator[tuple[str, str, APIRoute]]:
    return ((m, p, r) for m, p, r in operations() if (m, p) not in TEXT)


@pytest.fixture
def kindred(database_url: str) -> Iterator[Any]:
    """The services with every channel configured (as in ``test_channels_api``)."""
    settings = make_test_settings(
        database_url, wechat_token=TOKEN, webhook_secret=SECRET, app_write_key=WRITE_KEY
    )
    services = Kindred.create(settings=settings)
    yield services
    services.close()


# -- the document -------------------------------------------------------------------------------


def test_every_operation_declares_its_success_body(served: dict[str, Any]) -> None:
    checked = 0
    for method, path, route in operations():
        status, content = success_schema(served, method, path)
        assert status == route.status_code or (route.status_code is None and status == 200)
        if (method, path) in TEXT:
            assert content == {TEXT[method, path]: {"schema": {"type": "string"}}}, (method, path)
            continue
        assert list(content) == ["application/json"], (method, path, content)
        schema = content["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/"), (method, path, schema)
        component = served["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        jsonschema_check(component)
        assert component.get("properties"), (method, path)
        checked += 1
    # Of 61 operations: 15 events, 5 channels, 3 graph, 2 search, 6 resolution and 30
    # sovereignty; three answer text (WeChat's two, the status list).
    assert checked == 58
    health = served["paths"]["/healthz"]["get"]["responses"]["200"]["content"]
    assert health == {"application/json": {"schema": {"$ref": "#/components/schemas/HealthStatus"}}}
    # The text bodies elsewhere keep their media types.
    metrics = served["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert metrics == {"text/plain": {"schema": {"type": "string"}}}


def jsonschema_check(schema: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_schemas_are_strict_where_the_bodies_are_fixed(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]
    seen_open: set[str] = set()
    for method, path, _ in json_operations():
        _, content = success_schema(served, method, path)
        pending = [content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
        done: set[str] = set()
        while pending:
            name = pending.pop()
            if name in done:
                continue
            done.add(name)
            schema = schemas[name]
            if schema.get("type") == "object":
                assert schema.get("additionalProperties") is (name in OPEN), name
                if name in OPEN:
                    seen_open.add(name)
            pending.extend(
                ref.rsplit("/", 1)[1] for ref in refs(schema) if ref.startswith("#/components/")
            )
    assert seen_open == OPEN


def test_the_schemas_refuse_what_they_do_not_describe(served: dict[str, Any]) -> None:
    def refused(method: str, path: str, body: Any) -> bool:
        _, content = success_schema(served, method, path)
        schema = content["application/json"]["schema"]
        return bool(list(validator(served, schema).iter_errors(body)))

    # Event data as a reader sees it: withheld stubs and meta.withheld are allowed.
    event = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:test",
        "type": "customer.birthday.upcoming",
        "partitionkey": "c-1",
        "traceparent": "00-abc-def-01",
        "data": {"withheld": "refers to records not visible to you (contact)"},
    }
    stored = {
        "position": "0:1",
        "partition": 3,
        "stored_at": "2026-12-01T08:00:00+00:00",
        "event": event,
    }
    one = "/api/v1/events/{position}"
    assert not refused("GET", one, stored)
    assert not refused("GET", one, {**stored, "event": {**event, "data": {"meta": {}}}})
    assert not refused("GET", "/api/v1/events", {"data": [stored], "next_cursor": None})
    for body in (
        {**stored, "offset": 1},
        {**stored, "event": {k: v for k, v in event.items() if k != "specversion"}},
        {**stored, "event": {**event, "subject": None}},
        {**stored, "stored_at": 1764576000.0},
    ):
        assert refused("GET", one, body), body
    assert refused("GET", "/api/v1/events", {"data": [stored]})

    accepted = {
        "index": 0,
        "id": "e-1",
        "source": "urn:test",
        "type": "iot.device.heartbeat",
        "position": "0:1",
        "duplicate": False,
    }
    report = {"stored": 1, "duplicates": 0, "events": [accepted]}
    assert not refused("POST", "/api/v1/events", report)
    assert not refused("POST", "/api/v1/channels/pos", report)
    assert refused("POST", "/api/v1/events", {**report, "rejected": []})
    assert refused("POST", "/api/v1/events", {**report, "accepted": 1})  # the old, vague count
    assert refused("POST", "/api/v1/channels/app", {**report, "events": [{**accepted, "x": 1}]})
    replay = {**report, "dead_letter": "d-1", "status": "replayed"}
    assert not refused("POST", LETTER + "/replay", replay)
    assert refused("POST", LETTER + "/replay", {**replay, "status": "open"})

    letter: dict[str, Any] = {
        "id": "d-1",
        "received_at": "2026-12-01T08:00:00+00:00",
        "channel": "http",
        "reason": "malformed",
        "detail": "the body is not valid JSON",
        "errors": [],
        "event_type": None,
        "event_id": None,
        "event_source": None,
        "payload_bytes": 2,
        "truncated": False,
        "status": "open",
        "attempts": 0,
        "resolved_at": None,
        "resolved_by": None,
        "resolution": None,
    }
    assert not refused("POST", LETTER + "/discard", letter)
    assert refused("POST", LETTER + "/discard", {**letter, "status": "lost"})
    assert refused("POST", LETTER + "/discard", {**letter, "payload": "{}"})
    detail = {
        **letter,
        "content_type": None,
        "context": None,
        "payload_redacted": False,
        "payload": "//4=",
        "payload_encoding": "base64",
    }
    assert not refused("GET", LETTER, detail)
    assert refused("GET", LETTER, letter)  # the payload is always there
    assert refused("GET", LETTER, {**detail, "payload_encoding": "hex"})

    path = "/api/v1/graph/path"
    assert not refused("GET", path, {"found": False, "nodes": [], "edges": []})
    assert refused("GET", path, {"found": False, "nodes": [], "edges": [], "why": "far"})
    assert refused("GET", path, {"found": True, "nodes": [], "edges": [{"relation": "a.b"}]})

    change = {"field": "email", "withheld": True}
    merge = {
        "id": "m-1",
        "object": "contact",
        "state": "merged",
        "survivor": "s",
        "duplicate": "d",
        "score": 0.9,
        "merged_at": "2026-12-01T08:00:00Z",
        "merged_by": None,
        "undone_at": None,
        "undone_by": None,
        "features": [],
        "edges": [],
        "duplicate_record": {"id": "d", "object": "contact", "last_name": "Chen"},
        "survivor_changes": [change, {"field": "title", "before": None, "after": "Dr"}],
    }
    assert not refused("GET", MERGE, merge)
    assert refused("GET", MERGE, {**merge, "survivor_changes": [{**change, "before": 1}]})
    assert refused("GET", MERGE, {**merge, "state": "pending"})
    assert refused("GET", MERGE, {**merge, "duplicate_record": {"id": "d"}})

    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    key = f"{did}#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    document = {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "verificationMethod": [
            {
                "id": key,
                "type": "Ed25519VerificationKey2018",
                "controller": did,
                "publicKeyBase58": "B12",
            }
        ],
        "assertionMethod": [key],
        "authentication": [key],
    }
    resolve = "/api/v1/dids/{did}"
    assert not refused("GET", resolve, document)
    assert refused("GET", resolve, {**document, "service": []})
    assert refused("GET", resolve, {k: v for k, v in document.items() if k != "@context"})
    grant = {
        "id": "urn:uuid:1",
        "did": did,
        "dimensions": ["contact.email"],
        "purpose": "marketing",
        "grantee": {"kind": "role", "id": "sales"},
        "valid_from": "2026-12-01T08:00:00+00:00",
        "valid_until": "2027-12-01T08:00:00+00:00",
        "state": "revoked",
        "revoked_at": "2026-12-02T08:00:00+00:00",
        "status": {"list": "1", "index": 7},
        "request": None,
    }
    revoke = "/api/v1/passport/consents/{consent_id}"
    assert not refused("DELETE", revoke, grant)
    assert refused("DELETE", revoke, {**grant, "state": "paused"})
    assert refused("DELETE", revoke, {**grant, "grantee": {"kind": "group", "id": "x"}})
    assert refused("PATCH", revoke, grant)  # the credential is part of that answer


# -- real responses -----------------------------------------------------------------------------


def test_every_operation_answers_what_the_document_declares(
    client: Any, kindred: Any, world: World, document: dict[str, Any]
) -> None:
    api = Api(client, document)

    _events(api, kindred, world)
    _channels(api)
    _graph(api, world)
    _search(api, world)
    _resolution(api, world)
    _sovereignty(api, kindred, world)
    api(*HEALTH, 200)

    expected = {
        (method, path, success_schema(document, method, path)[0])
        for method, path, _ in json_operations()
    } | {(*HEALTH, 200)}
    assert expected - api.seen == set()


def _post_events(api: Api, who: Any, body: Any, expect: int, media: str = STRUCTURED) -> Any:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {**who.headers, "Content-Type": media}
    return api("POST", "/api/v1/events", expect, content=content, headers=headers)


def _events(api: Api, kindred: Any, world: World) -> None:
    admin, publisher, reader = world.admin, world.integration, world.analyst
    first = _post_events(api, publisher, heartbeat(), 200)
    assert first["events"][0]["duplicate"] is False
    _post_events(api, publisher, [heartbeat("dev-2"), heartbeat("dev-3")], 200, BATCH)
    # Binary mode: attributes in headers.
    binary = api(
        "POST",
        "/api/v1/events",
        200,
        content=orjson.dumps({"device_id": "dev-4", "battery_pct": 5}),
        headers={
            **publisher.headers,
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": str(uuid.uuid4()),
            "ce-source": "urn:test:devices",
            "ce-type": "iot.device.heartbeat",
            "ce-traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        },
    )
    assert binary["stored"] == 1
    # Event data naming a customer's record: the analyst sees it redacted.
    contact = api.client.post(
        "/api/v1/objects/contact/records",
        json={"last_name": "Wu", "birthday": "1980-05-14"},
        headers=admin.headers,
    ).json()
    _post_events(api, admin, birthday_event("b-1", contact["id"], 3), 200)

    page = api("GET", "/api/v1/events", 200, headers=reader.headers, params={"limit": 2})
    assert page["next_cursor"] is not None
    after = {"after": page["next_cursor"]}
    rest = api("GET", "/api/v1/events", 200, headers=reader.headers, params=after)
    [birthday] = [s for s in rest["data"] if s["event"]["id"] == "b-1"]
    assert birthday["event"]["data"]["meta"]["withheld"] == ["birthday"]
    assert any("traceparent" in s["event"] for s in rest["data"])
    api(
        "GET",
        "/api/v1/events/{position}",
        200,
        where={"position": birthday["position"]},
        headers=reader.headers,
    )

    # The catalog.
    listing = api("GET", "/api/v1/event-types", 200, headers=world.sales_east.headers)
    assert "schema" not in listing["data"][0]
    full = api(
        "GET",
        "/api/v1/event-types",
        200,
        headers=admin.headers,
        params={"domain": "iot", "schemas": True},
    )
    assert full["data"][0]["schema"]
    definition = {
        "type": "fleet.battery.degraded",
        "description": "An EV battery's state of health fell below the service threshold.",
        "schema": {"type": "object", "properties": {"vin": {"type": "string"}}},
        "partition_field": "vin",
    }
    created = api("POST", "/api/v1/event-types", 201, headers=admin.headers, json=definition)
    assert created["version"] == 1 and created["builtin"] is False
    fleet = {"event_type": "fleet.battery.degraded"}
    api(
        "PUT",
        "/api/v1/event-types/{event_type}",
        200,
        where=fleet,
        headers=admin.headers,
        json={"description": "Degraded.", "schema": {"type": "object"}},
    )
    fetched = api(
        "GET", "/api/v1/event-types/{event_type}", 200, where=fleet, headers=admin.headers
    )
    assert fetched["versions"] == [1, 2] and fetched["partition_field"] is None
    api(
        "GET",
        "/api/v1/event-types/{event_type}",
        200,
        where={"event_type": "iot.device.fault"},
        headers=admin.headers,
    )

    # Dead letters: refused events (the refusals are documented problems), a payload that is
    # not UTF-8, one with values the reader may not see.
    bad = fault(severity="catastrophic")
    _post_events(api, publisher, bad, 422)
    _post_events(api, publisher, b"\xff\xfe not json", 400)
    _post_events(api, publisher, birthday_event("b-2", contact["id"], "soon"), 422)
    _post_events(api, publisher, fault(severity="nope"), 422)
    ops = publisher.headers
    first_page = api("GET", "/api/v1/dead-letters", 200, headers=ops, params={"limit": 2})
    assert first_page["next_cursor"] is not None and first_page["counts"] == {"open": 4}
    letters = (
        api(
            "GET",
            "/api/v1/dead-letters",
            200,
            headers=ops,
            params={"limit": 2, "before": first_page["next_cursor"]},
        )["data"]
        + first_page["data"]
    )
    by_event = {letter["event_id"]: letter for letter in letters}
    shown = {}
    for letter in letters:
        shown[letter["event_id"]] = api(
            "GET", LETTER, 200, where={"letter_id": letter["id"]}, headers=ops
        )
    assert {s["payload_encoding"] for s in shown.values()} == {"utf-8", "base64"}
    assert shown["b-2"]["payload_redacted"] is True

    fixable = {"letter_id": by_event[bad["id"]]["id"]}
    bad["data"]["severity"] = "critical"
    fixed = api("PATCH", LETTER, 200, where=fixable, headers=ops, json={"payload": bad})
    assert fixed["payload_redacted"] is False and fixed["errors"]
    replayed = api("POST", LETTER + "/replay", 200, where=fixable, headers=ops)
    assert replayed["stored"] == 1 and replayed["duplicates"] == 0 and "accepted" not in replayed
    discarded = api(
        "POST",
        LETTER + "/discard",
        200,
        where={"letter_id": by_event[None]["id"]},
        headers=admin.headers,
        json={"note": "garbage"},
    )
    assert discarded["resolved_at"] is not None and discarded["resolved_by"] == admin.id
    api("GET", "/api/v1/dead-letters", 200, headers=ops, params={"status": "any"})
    again = api("GET", LETTER, 200, where=fixable, headers=admin.headers)
    assert again["status"] == "replayed" and again["resolution"]

    # Consumer groups, seeking, retention.
    async def join() -> None:
        await kindred.events.start()
        consumer = await kindred.events.bus.consumer(GroupSpec("audit", ack_wait=5), "m1")
        await consumer.close()

    asyncio.run(join())
    groups = api("GET", "/api/v1/event-consumers", 200, headers=reader.headers)
    assert [g["name"] for g in groups["data"]] == ["audit"]
    api(
        "POST",
        "/api/v1/event-consumers/{group}/seek",
        200,
        where={"group": "audit"},
        headers=admin.headers,
        json={"offset": "0"},
    )
    api(
        "POST",
        "/api/v1/events/retention",
        200,
        headers=admin.headers,
        json={"older_than_days": 30},
    )


def _channels(api: Api) -> None:
    api("POST", "/api/v1/channels/pos", 200, content=POS_BODY, headers=signed(POS_BODY))
    social = orjson.dumps(
        {
            "platform": "weibo",
            "mentions": [
                {
                    "id": "m-1",
                    "author": "小王",
                    "text": "客服不回",
                    "posted_at": "2026-12-01T10:00:00Z",
                }
            ],
        }
    )
    api("POST", "/api/v1/channels/social", 200, content=social, headers=signed(social))
    batch = orjson.dumps(
        {"batch": [{"type": "page", "messageId": "msg-2", "anonymousId": "a-1", "name": "Home"}]}
    )
    api(
        "POST",
        "/api/v1/channels/app",
        200,
        params={"app_id": "shop"},
        content=batch,
        headers={"X-Kindred-Write-Key": WRITE_KEY},
    )


def _graph(api: Api, world: World) -> None:
    ids = hospital(api.client, world)
    rep = world.sales_east.headers
    around = api(
        "GET",
        "/api/v1/graph/{record_id}/neighbours",
        200,
        where={"record_id": ids["account"]},
        headers=rep,
    )
    assert len(around["neighbours"]) == 4
    deep = api(
        "GET",
        "/api/v1/graph/{record_id}/subgraph",
        200,
        where={"record_id": ids["doctor"]},
        headers=rep,
        params={"depth": 3, "max_nodes": 3},
    )
    assert deep["truncated"] is True
    path = "/api/v1/graph/path"
    found = api("GET", path, 200, headers=rep, params={"from": ids["doctor"], "to": ids["product"]})
    assert found["length"] == 3
    none = api(
        "GET",
        path,
        200,
        headers=rep,
        params={"from": ids["doctor"], "to": ids["product"], "max_depth": 2},
    )
    assert none["found"] is False


def _search(api: Api, world: World) -> None:
    notes(api.client, world)
    found = api(
        "GET", "/api/v1/search", 200, headers=world.sales_east.headers, params={"q": "设备 兼容"}
    )
    assert found["data"] and found["data"][0]["snippet"]["highlights"]
    api("GET", "/api/v1/search", 200, headers=world.sales_east.headers, params={"q": "无此词"})
    api("POST", "/api/v1/search/reindex", 200, headers=world.admin.headers)


def _resolution(api: Api, world: World) -> None:
    ids = hospitals(api.client, world)
    admin, rep = world.admin.headers, world.sales_east.headers
    candidates = "/api/v1/resolution/{object_name}/candidates"
    accounts = {"object_name": "account"}
    form = api(
        "POST",
        candidates,
        200,
        where=accounts,
        headers=rep,
        json={"values": {"name": "上海第一人民医院", "city": "上海市"}},
    )
    assert form["data"] and "values" in form["query"]
    api("POST", candidates, 200, where=accounts, headers=rep, json={"record": ids["lead"]})
    third = {"name": "上海市第一人民医院", "territory": world.territories["east"]}
    assert api.client.post(RECORDS, headers=admin, json=third).status_code == 201
    pairs = api(
        "GET",
        "/api/v1/resolution/{object_name}/duplicates",
        200,
        where=accounts,
        headers=admin,
        params={"limit": 1, "min_score": 0.01},
    )
    assert pairs["data"] and pairs["next_cursor"] is not None

    # A merge of contacts whose customer-authorized email is withheld without consent.
    account = ids["erp"]
    survivor = api.client.post(
        "/api/v1/objects/contact/records",
        headers=admin,
        json={"last_name": "陈", "full_name": "陈美玲", "account": account},
    ).json()["id"]
    duplicate = api.client.post(
        "/api/v1/objects/contact/records",
        headers=admin,
        json={"last_name": "Chen", "full_name": "陈美玲", "email": "mei@example.com"},
    ).json()["id"]
    ticket = api.client.post(
        "/api/v1/objects/ticket/records",
        headers=admin,
        json={"subject": "Callback", "contact": duplicate, "account": account},
    )
    assert ticket.status_code == 201, ticket.text
    merged = api(
        "POST",
        MERGES,
        201,
        headers=admin,
        json={"object": "contact", "survivor": survivor, "duplicate": duplicate},
    )
    assert merged["edges"] and merged["survivor_record"]["id"] == survivor
    one = {"merge_id": merged["id"]}
    shown = api("GET", MERGE, 200, where=one, headers={**admin, "X-Purpose": "service"})
    assert shown["duplicate_record"]["meta"]["withheld"]
    assert {"field": "email", "withheld": True} in shown["survivor_changes"]
    listed = api("GET", MERGES, 200, headers=admin, params={"object": "contact"})
    assert [m["id"] for m in listed["data"]] == [merged["id"]]
    undone = api("POST", MERGE + "/undo", 200, where=one, headers=admin)
    assert undone["state"] == "undone" and undone["restored_record"]["id"] == duplicate
    after = api("GET", MERGE, 200, where=one, headers=admin)
    assert after["duplicate_record"] is None and after["undone_at"] is not None


def _sovereignty(api: Api, kindred: Any, world: World) -> None:
    admin, rep = world.admin.headers, world.sales_east.headers
    api("GET", "/.well-known/did.json", 200)  # a did:web document
    api("GET", "/domains/{domain}/did.json", 200, where={"domain": "erp"})
    dids = "/api/v1/dids/{did}"
    key_document = api(
        "GET", dids, 200, where={"did": did_key(Ed25519PrivateKey.generate().public_key())}
    )
    assert key_document["keyAgreement"]

    contact = customer(api.client, world)
    record = {"object_name": "contact", "record_id": contact}
    api("GET", RECORD + "/did", 200, where=record, headers=rep)

    # Signing in: by DID signature (a wallet) and by magic link (custodial).
    did, wallet = wallet_customer(kindred)
    issued = api("POST", "/api/v1/passport/challenge", 201, json={"did": did})
    signature = b64(wallet.sign(issued["sign"].encode()))
    api(
        "POST",
        "/api/v1/passport/session",
        201,
        json={"did": did, "challenge": issued["challenge"], "signature": signature},
    )
    api("POST", "/api/v1/passport/magic-link", 202, json={"email": "nobody@example.com"})
    with kindred.database.write() as session:
        taker = kindred.identities.register(session, "contact", "c-taker").did
        link = kindred.passport.magic_link(session, taker)
    opened = api("POST", "/api/v1/passport/session", 201, json={"magic_link": link})
    api(
        "POST",
        "/api/v1/passport/key",
        200,
        headers={"Authorization": f"Bearer {opened['token']}"},
        json={"confirm": "I will keep my key safe; Kindred forgets it"},
    )

    customer_headers = passport_headers(api.client, kindred, contact)
    assert api("GET", "/api/v1/passport/me", 200, headers=customer_headers)["via"] == "magic-link"

    # Consents: asked and approved, granted, shortened, revoked; a wallet's signed one.
    asked = api(
        "POST",
        "/api/v1/consent-requests",
        201,
        headers=rep,
        json={
            "object": "contact",
            "record_id": contact,
            "dimensions": ["contact.email"],
            "purpose": "marketing",
            "note": "Launch event",
        },
    )
    assert asked["decided_at"] is None
    api("GET", "/api/v1/passport/consent-requests", 200, headers=customer_headers)
    approved = api(
        "POST",
        "/api/v1/passport/consent-requests/{request_id}/{answer}",
        200,
        where={"request_id": asked["id"], "answer": "approve"},
        headers=customer_headers,
    )
    assert approved["consent"]
    granted = api(
        "POST",
        "/api/v1/passport/consents",
        201,
        headers=customer_headers,
        json={
            "dimensions": ["contact.phone"],
            "purpose": "service",
            "grantee": {"kind": "role", "id": "service"},
            "valid_for": "90d",
        },
    )
    consent = "/api/v1/passport/consents/{consent_id}"
    sooner = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    shortened = api(
        "PATCH",
        consent,
        200,
        where={"consent_id": granted["id"]},
        headers=customer_headers,
        json={"valid_until": sooner.isoformat()},
    )
    revoked = api(
        "DELETE", consent, 200, where={"consent_id": shortened["id"]}, headers=customer_headers
    )
    assert revoked["revoked_at"] is not None and "credential" not in revoked
    listed = api("GET", "/api/v1/passport/consents", 200, headers=customer_headers)
    assert {c["state"] for c in listed["data"]} == {"active", "revoked"}
    api("GET", RECORD + "/consents", 200, where=record, headers=rep)

    with kindred.database.write() as session:
        token, _ = kindred.passport._open(session, did, "did-signature")
    wallet_headers = {"Authorization": f"Bearer {token}"}
    prepared = api(
        "POST",
        "/api/v1/passport/consents/prepare",
        201,
        headers=wallet_headers,
        json={
            "dimensions": ["contact.email"],
            "purpose": "sales",
            "grantee": {"kind": "user", "id": world.sales_east.id},
            "valid_for": "30d",
        },
    )
    grant = ConsentGrant(
        id=prepared["id"],
        subject=did,
        dimensions=tuple(prepared["dimensions"]),
        purpose=prepared["purpose"],
        grantee=Grantee("user", world.sales_east.id),
        valid_from=datetime.fromisoformat(prepared["valid_from"]),
        valid_until=datetime.fromisoformat(prepared["valid_until"]),
        status=StatusReference(prepared["status"]["uri"], prepared["status"]["index"]),
        issued_at=datetime.fromisoformat(prepared["issued_at"]),
    )
    credential = issue_consent(grant, wallet, kid=key_fragment(did))
    api(
        "POST",
        "/api/v1/passport/consents/submit",
        201,
        headers=wallet_headers,
        json={"credential": credential},
    )

    # Reads allowed and withheld, then what the customer sees of them.
    api.client.get(f"{RECORDS_OF_CONTACTS}/{contact}", headers={**rep, "X-Purpose": "marketing"})
    api.client.get(f"{RECORDS_OF_CONTACTS}/{contact}", headers={**admin, "X-Purpose": "sales"})
    log = api("GET", "/api/v1/passport/access-log", 200, headers=customer_headers)["data"]
    assert {e["allowed"] for e in log} == {True, False}

    # Provenance: staff correct it, the customer disputes a value.
    provenance = api("GET", RECORD + "/provenance", 200, where=record, headers=admin)["data"]
    assert provenance
    api(
        "PATCH",
        RECORD + "/provenance/{field}",
        200,
        where={**record, "field": "email"},
        headers=admin,
        json={"verified": True, "valid_until": sooner.isoformat()},
    )
    disputed = api(
        "POST",
        "/api/v1/passport/disputes",
        201,
        headers=customer_headers,
        json={"dimension": "contact.phone", "reason": "Not my number"},
    )
    assert disputed["disputed_at"] is not None
    data = api("GET", "/api/v1/passport/data", 200, headers=customer_headers)
    assert any(d["provenance"] for d in data["dimensions"])
    api("GET", "/api/v1/sovereignty/kpis", 200, headers=admin)

    # The customer's rights: export and erasure, by the customer and by staff.
    mine = api("GET", "/api/v1/passport/export", 200, headers=customer_headers)
    assert mine["history"] and mine["consents"] and mine["accesses"]
    with kindred.database.read() as session:
        subject = kindred.identities.of_subject(session, "contact", contact).did
    subjects = "/api/v1/data-subjects/{did}"
    officer = world.compliance.headers
    api("GET", subjects + "/export", 200, where={"did": subject}, headers=officer)
    api(
        "POST",
        "/api/v1/passport/erase",
        200,
        headers=customer_headers,
        json={"confirm": "erase everything about me"},
    )
    other = customer(api.client, world)
    with kindred.database.write() as session:
        other_did = kindred.identities.of_subject(session, "contact", other).did
    erased = api(
        "POST",
        subjects + "/erase",
        200,
        where={"did": other_did},
        headers=officer,
        json={"confirm": "erase this customer"},
    )
    assert erased["removed"]["records"] == 1
