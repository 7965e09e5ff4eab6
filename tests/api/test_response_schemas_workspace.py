"""The records workspace's operations — saved views, purposes and a record's timeline —
describe their response bodies (issue 17, item 1), and real responses of each are valid
against the schema the served document declares for their operation and status (helpers:
``schema_checks.py``)."""

from __future__ import annotations

from typing import Any

from kindred.api import timeline, views
from tests.api.conftest import World
from tests.api.schema_checks import Api, router_operations, success_schema
from tests.api.test_consents_api import customer
from tests.api.test_timeline import runs_about

ROUTERS = (views.router, timeline.router)
VIEW = "/api/v1/views/{view_id}"
TIMELINE = "/api/v1/objects/{object_name}/records/{record_id}/timeline"


def test_every_operation_declares_its_success_body(served: dict[str, Any]) -> None:
    seen = []
    for method, path, _route in router_operations(ROUTERS):
        status, content = success_schema(served, method, path)
        seen.append((method, path, status))
        if status == 204:
            assert content is None, (method, path)
            continue
        schema = content["application/json"]["schema"]
        name = schema["$ref"].rsplit("/", 1)[1]
        assert served["components"]["schemas"][name]["additionalProperties"] is False, name
    assert sorted(seen) == sorted(
        [
            ("DELETE", VIEW, 204),
            ("GET", "/api/v1/purposes", 200),
            ("GET", "/api/v1/views", 200),
            ("GET", TIMELINE, 200),
            ("GET", VIEW, 200),
            ("PATCH", VIEW, 200),
            ("POST", "/api/v1/views", 201),
        ]
    )


def test_real_responses_match_the_document(
    client: Any, world: World, kindred: Any, document: dict[str, Any]
) -> None:
    api = Api(client, document)
    rep, admin = world.sales_east.headers, world.admin.headers
    body = {
        "object": "account",
        "name": "Hospitals",
        "filters": [{"field": "kind", "value": "hospital"}],
        "sort": "name",
        "columns": ["name", "city"],
        "shared_role": "sales",
    }
    created = api("POST", "/api/v1/views", 201, json=body, headers=rep)
    where = {"view_id": created["id"]}
    api("GET", "/api/v1/views", 200, headers=rep, params={"object": "account"})
    api("GET", VIEW, 200, where=where, headers=world.sales_north.headers)
    api("PATCH", VIEW, 200, where=where, json={"name": "Clinics", "shared_role": None}, headers=rep)
    api("PATCH", VIEW, 422, where=where, json={"columns": ["ghost"]}, headers=rep)
    api("GET", VIEW, 404, where=where, headers=world.sales_north.headers)
    api("DELETE", VIEW, 204, where=where, headers=rep)
    api("GET", "/api/v1/purposes", 200, headers=rep)

    contact = customer(client, world)
    runs_about(kindred, contact, world.admin.id)
    place = {"object_name": "contact", "record_id": contact}
    full = api("GET", TIMELINE, 200, where=place, headers=admin)
    assert {i["kind"] for i in full["data"]} >= {"change", "scenario_run", "agent_run"}
    cut = api("GET", TIMELINE, 200, where=place, headers=rep)
    assert cut["omitted"]
