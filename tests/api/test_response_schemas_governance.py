"""The governance console's operations describe their response bodies (issue 17, items 1, 8).

The ledger explorer (entries, one entry, stored checkpoints, the bundle file) and the user
administration routes (list, change access) declare the schema of what they answer; real
responses of each are valid against the served document on both dialects, and the fixed
bodies forbid undocumented keys.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from fastapi import APIRouter

from kindred.api import auth, ledger
from tests.api.conftest import PASSWORD, World
from tests.api.schema_checks import Api, refs, router_operations, successes, validator

ROUTERS: tuple[APIRouter, ...] = (ledger.explorer_router, auth.users_router)
LEDGER = "/api/v1/ledger"


def operations() -> list[tuple[str, str, Any]]:
    return list(router_operations(ROUTERS))


def test_every_operation_declares_a_strict_success_body(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]
    seen: set[str] = set()
    for method, path, route in operations():
        bodies = successes(served, method, path)
        assert list(bodies) == [route.status_code or 200], (method, path)
        content = bodies[route.status_code or 200]
        assert list(content) == ["application/json"], (method, path)
        pending = [content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            jsonschema.Draft202012Validator.check_schema(schemas[name])
            if schemas[name].get("type") == "object":
                assert schemas[name].get("additionalProperties") is False, name
            pending.extend(r.rsplit("/", 1)[1] for r in refs(schemas[name]))
    assert len(operations()) == 6
    assert {"LedgerEntryDetail", "ProofBundleDownload", "UserSummary", "UserList"} <= seen


def test_the_schemas_refuse_what_they_do_not_describe(served: dict[str, Any]) -> None:
    def refused(method: str, path: str, body: Any) -> bool:
        schema = successes(served, method, path)[200]["application/json"]["schema"]
        return bool(list(validator(served, schema).iter_errors(body)))

    user = {
        "id": "u",
        "email": None,
        "name": "Ann",
        "roles": ["sales"],
        "territories": [],
        "kind": "person",
        "active": True,
        "locked_until": None,
        "has_password": True,
        "version": 1,
        "withheld": ["email"],
    }
    assert not refused("PATCH", "/api/v1/users/{user_id}", user)
    assert refused("PATCH", "/api/v1/users/{user_id}", {**user, "kind": "robot"})
    assert refused("PATCH", "/api/v1/users/{user_id}", {**user, "password_hash": "x"})
    page = {"data": [], "size": 0, "next_after": None}
    assert not refused("GET", LEDGER + "/entries", page)
    assert refused("GET", LEDGER + "/entries", {"data": [], "size": 0})


def test_every_operation_answers_what_the_document_declares(
    client: Any, world: World, document: dict[str, Any]
) -> None:
    api = Api(client, document)
    admin, auditor = world.admin.headers, world.compliance.headers
    created = client.post(
        "/api/v1/users",
        json={"email": "s@example.com", "name": "S", "password": PASSWORD, "roles": ["sales"]},
        headers=admin,
    ).json()
    page = api("GET", LEDGER + "/entries", 200, headers=auditor, params={"limit": 1})
    assert page["next_after"] == 0
    index = str(page["size"] - 1)
    entry = api("GET", LEDGER + "/entries/{index}", 200, where={"index": index}, headers=auditor)
    assert entry["payload"] is not None
    bundle = api(
        "GET", LEDGER + "/entries/{index}/bundle", 200, where={"index": index}, headers=auditor
    )
    assert bundle["tree_size"] > int(index)
    checkpoints = api("GET", LEDGER + "/checkpoints", 200, headers=admin)
    assert checkpoints["data"][0]["size"] == bundle["tree_size"]
    users = api("GET", "/api/v1/users", 200, headers=admin, params={"q": "S"})
    assert created["id"] in {u["id"] for u in users["data"]}
    changed = api(
        "PATCH",
        "/api/v1/users/{user_id}",
        200,
        where={"user_id": created["id"]},
        headers=admin,
        json={"roles": ["service"], "active": False},
    )
    assert changed["roles"] == ["service"] and changed["active"] is False
    expected = {
        (method, path, status)
        for method, path, _ in operations()
        for status in successes(document, method, path)
    }
    assert expected - api.seen == set()
