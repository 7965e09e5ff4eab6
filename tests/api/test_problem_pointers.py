"""Issue #18: every problem's ``errors[].path`` is a JSON Pointer into the request sent.

Problems are collected from invalid requests across records (single and bulk), the list
parameters, metadata, roles and consents; each pointer must resolve inside the body sent
(its last member may be the one missing, for a "required" problem), or, under ``/query``,
to a query parameter as sent. Each refused request changed nothing."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from tests.api.conftest import World
from tests.api.test_consents_api import customer, passport_headers
from tests.api.test_records_api import BASE, make_account, state

MISSING = {"required", "missing"}  # codes of a member the request left out
PLANT = {"name": "plant", "label": "Plant", "label_plural": "Plants"}


def tokens(pointer: str) -> list[str]:
    assert pointer == "" or pointer.startswith("/"), f"not a JSON Pointer: {pointer!r}"
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def step(node: Any, token: str) -> tuple[bool, Any]:
    if isinstance(node, dict):
        return (token in node, node.get(token))
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return (True, node[int(token)])
    return (False, None)


def unresolved(request: Any, errors: list[dict[str, Any]]) -> list[str]:
    """The errors whose pointer does not lead into ``request``."""
    wrong = []
    for error in errors:
        node, path = request, tokens(error["path"])
        for position, token in enumerate(path):
            found, child = step(node, token)
            last = position == len(path) - 1
            if not found and not (last and error["code"] in MISSING and isinstance(node, dict)):
                wrong.append(f"{error['path']} ({error['code']})")
                break
            node = child
    return wrong


def test_every_problem_pointer_leads_into_the_request(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    account = make_account(client, admin)
    contact = customer(client, world)
    passport = passport_headers(client, kindred, contact)
    roles = client.get("/api/v1/metadata/objects/user", headers=admin).json()
    (roles_field,) = [f for f in roles["fields"] if f["name"] == "roles"]

    # (method, url, headers, JSON body, the pointers expected among the problems)
    cases: list[tuple[str, str, dict[str, str], Any, set[str]]] = [
        (
            "POST",
            f"{BASE}/account/records",
            admin,
            {"name": "Anhe", "kind": "spaceship", "annual_revenue": "lots", "a/b~c": 1},
            {"/kind", "/annual_revenue", "/a~1b~0c"},
        ),
        (
            "POST",
            f"{BASE}/account/records/bulk",
            admin,
            {
                "operation": "create",
                "records": [
                    {"name": "Ruijin", "kind": "hospital"},
                    {"kind": "hospital", "tier": "Z"},
                ],
            },
            {"/records/1/name", "/records/1/tier"},
        ),
        (
            "POST",
            f"{BASE}/account/records/bulk",
            admin,
            {"operation": "update", "records": [{"tier": "A"}]},
            {"/records/0/id"},
        ),
        (
            "POST",
            f"{BASE}/account/records/bulk",
            admin,
            {"operation": "upsert", "records": [{"id": account["id"], "amount": 5}]},
            {"/records/0/amount"},
        ),
        (
            "POST",
            f"{BASE}/account/records/bulk",
            admin,
            {"operation": "wipe", "records": []},
            {"/operation"},
        ),
        (
            "PATCH",
            f"{BASE}/account/records/{account['id']}",
            admin,
            {"tier": "Q", "updated_at": "2020-01-01T00:00:00Z"},
            {"/updated_at"},
        ),
        (
            "POST",
            "/api/v1/metadata/objects",
            admin,
            {**PLANT, "fields": [{"name": "size", "type": "gigawatt"}]},
            {"/fields/0/type"},
        ),
        (
            "POST",
            "/api/v1/metadata/objects/account/fields",
            admin,
            {"name": "plant", "type": "relation", "target": "starship"},
            {"/target"},
        ),
        (
            "PATCH",
            "/api/v1/metadata/objects/account/fields/tier",
            admin,
            {"options": [{"value": "A"}, {"label": "no value"}]},
            {"/options/1/value"},
        ),
        (
            "PATCH",
            "/api/v1/metadata/objects/user/fields/roles",
            admin,
            {"options": [*roles_field["options"], {"value": "ghost"}]},
            {f"/options/{len(roles_field['options'])}/value"},
        ),
        (
            "POST",
            "/api/v1/passport/consents",
            passport,
            {
                "dimensions": ["contact.email", "contact.shoe_size"],
                "purpose": "fortune-telling",
                "grantee": {"kind": "user", "id": world.sales_east.id},
                "valid_for": "30d",
            },
            {"/dimensions/1", "/purpose"},
        ),
        (
            "POST",
            "/api/v1/passport/consents",
            passport,
            {
                "dimensions": ["contact.email"],
                "purpose": "service",
                "grantee": {"kind": "role", "id": "service"},
                "valid_from": "2030-01-01T00:00:00Z",
                "valid_until": "2029-01-01T00:00:00Z",
            },
            {"/valid_until"},
        ),
        (
            "POST",
            "/api/v1/consent-requests",
            world.sales_east.headers,
            {
                "object": "contact",
                "record_id": contact,
                "dimensions": ["contact.email"],
                "purpose": "marketing",
                "valid_for": "soon",
            },
            {"/valid_for"},
        ),
        (
            "POST",
            "/api/v1/passport/session",
            {},
            {"did": "did:key:z6Mk"},
            {"/challenge", "/signature"},
        ),
    ]
    before = state(kindred)
    for method, url, headers, body, expected in cases:
        response = client.request(method, url, json=body, headers=headers)
        assert response.status_code in (400, 409, 422), (url, response.text)
        errors = response.json().get("errors", [])
        paths = {e["path"] for e in errors}
        assert expected <= paths, (url, body, errors)
        assert unresolved(body, errors) == [], (url, body, errors)
    assert state(kindred) == before


def test_every_problem_pointer_of_a_list_names_a_parameter_sent(client: Any, world: World) -> None:
    admin = world.admin.headers
    make_account(client, admin)
    cases = [
        ("filter[annual_revenue]=lots", "/query/filter[annual_revenue]"),
        ("filter[annual_revenue][gte]=lots", "/query/filter[annual_revenue][gte]"),
        ("filter[created_at][gt]=yesterday", "/query/filter[created_at][gt]"),
        ("filter[name][has]=x", "/query/filter[name][has]"),
        ("filter[starship]=x", "/query/filter[starship]"),
        ("filter[name][near]=x", "/query/filter[name][near]"),
        ("sort=starship", "/query/sort"),
        ("fields=starship", "/query/fields"),
        ("include=name", "/query/include"),
        ("where=record.starship%20%3D%3D%201", "/query/where"),
        ("limit=0", "/query/limit"),
        ("a/b=1", "/query/a~1b"),
    ]
    for query, expected in cases:
        response = client.get(f"{BASE}/account/records?{query}", headers=admin)
        assert response.status_code in (400, 422), (query, response.text)
        errors = response.json()["errors"]
        assert [e["path"] for e in errors] == [expected], (query, errors)
        sent = {"query": dict(parse_qsl(query))}
        assert unresolved(sent, errors) == [], (query, errors)
