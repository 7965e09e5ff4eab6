"""The notification inbox and a record's tags (issue 18, item 6) describe their response
bodies, strictly (no undocumented keys), and real responses of each operation — successes
and their problems — are valid against the schema the served document declares for their
operation and status (helpers: ``schema_checks.py``)."""

from __future__ import annotations

from typing import Any

from kindred.api import notifications, tags
from tests.api.conftest import World
from tests.api.schema_checks import Api, refs, router_operations, success_schema
from tests.api.test_notifications_api import east_customer, fault, run_watch

ROUTERS = (notifications.router, tags.router)
INBOX = "/api/v1/notifications"
ONE = INBOX + "/{notification_id}/read"
TAGS = "/api/v1/objects/{object_name}/records/{record_id}/tags"


def test_every_operation_declares_a_strict_success_body(served: dict[str, Any]) -> None:
    seen = []
    schemas = served["components"]["schemas"]
    for method, path, _route in router_operations(ROUTERS):
        status, content = success_schema(served, method, path)
        seen.append((method, path, status))
        assert list(content) == ["application/json"], (method, path)
        pending = [content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
        while pending:
            name = pending.pop()
            assert schemas[name]["additionalProperties"] is False, name
            pending += [r.rsplit("/", 1)[1] for r in refs(schemas[name])]
    assert sorted(seen) == sorted(
        [
            ("GET", INBOX, 200),
            ("POST", INBOX + "/read-all", 200),
            ("POST", ONE, 200),
            ("DELETE", ONE, 200),
            ("GET", TAGS, 200),
        ]
    )


def test_real_responses_match_the_document(
    client: Any, world: World, kindred: Any, document: dict[str, Any]
) -> None:
    api = Api(client, document)
    ids = east_customer(kindred, world)
    run_watch(kindred, world, fault("f-1"))
    rep, north = world.sales_east.headers, world.sales_north.headers

    page = api("GET", INBOX, 200, headers=rep, params={"limit": 1})
    assert page["next_cursor"]
    withheld = api("GET", INBOX, 200, headers=north, params={"unread": "true"})
    assert withheld["data"][0]["withheld"]
    api("GET", INBOX, 400, headers=rep, params={"cursor": "junk"})
    api("GET", INBOX, 401)
    where = {"notification_id": page["data"][0]["id"]}
    read = api("POST", ONE, 200, where=where, headers=rep)
    assert read["read_at"]
    api("DELETE", ONE, 200, where=where, headers=rep)
    api("POST", ONE, 404, where={"notification_id": "no-such-id"}, headers=rep)
    api("DELETE", ONE, 404, where={"notification_id": "no-such-id"}, headers=rep)
    assert api("POST", INBOX + "/read-all", 200, headers=rep)["marked"] == 2

    place = {"object_name": "account", "record_id": ids["account"]}
    listed = api("GET", TAGS, 200, where=place, headers=rep, params={"include_expired": "true"})
    assert listed["data"][0]["run_id"]
    api("GET", TAGS, 404, where=place, headers=north)
    api("GET", TAGS, 400, where=place, headers=rep, params={"cursor": "junk"})
    api("GET", TAGS, 422, where=place, headers=rep, params={"limit": 0})
