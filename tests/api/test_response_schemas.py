"""The records, metadata and auth operations describe their response bodies (issue 17, item 1).

Before, no operation documented a success body: the console's generated types said nothing.
Now each of these operations declares the schema of what it answers, and real responses of
every one of them — records with custom fields, withheld and expired values, pages with
``include``, bulk writes, histories with automation and merges, users, API keys, roles —
are valid against the schema the served document declares for their operation and status,
on both dialects. The schemas are strict where the bodies are fixed (no undocumented keys),
so a route answering something its schema does not describe fails here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import jsonschema
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from kindred.api import auth, metadata, records
from kindred.auth.permissions import ObjectGrant, RolePermissions
from kindred.auth.schemas import ObjectGrantPublic, RolePermissionsPublic
from kindred.records.fields import EnumOption, FieldDefinition, ObjectDefinition, ValidationRule
from kindred.records.schemas import (
    EnumOptionPublic,
    FieldDefinitionPublic,
    ObjectDefinitionPublic,
    ValidationRulePublic,
    WithheldReason,
)
from kindred.scenarios.executors import _context
from kindred.scenarios.steps import StepContext
from kindred.sovereignty.pdp import EXPLANATIONS
from tests.api.conftest import PASSWORD, World
from tests.api.schema_checks import Api, refs, router_operations, success_schema, validator

ROUTERS: tuple[APIRouter, ...] = (records.router, metadata.router, auth.router)
RECORDS = "/api/v1/objects/{object_name}/records"
RECORD = RECORDS + "/{record_id}"
OBJECTS = "/api/v1/metadata/objects"
OBJECT = OBJECTS + "/{name}"
FIELD = OBJECT + "/fields/{field_name}"


def operations() -> Iterator[tuple[str, str, APIRoute]]:
    return router_operations(ROUTERS)


# -- the document -------------------------------------------------------------------------------


def test_every_operation_declares_its_success_body(served: dict[str, Any]) -> None:
    checked = 0
    for method, path, route in operations():
        status, content = success_schema(served, method, path)
        assert status == route.status_code or (route.status_code is None and status == 200)
        if status == 204:
            assert content is None, (method, path)
            continue
        # Exactly what is sent: JSON, described by a named schema.
        assert list(content) == ["application/json"], (method, path, content)
        schema = content["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/"), (method, path, schema)
        name = schema["$ref"].rsplit("/", 1)[1]
        component = served["components"]["schemas"][name]
        jsonschema.Draft202012Validator.check_schema(component)
        assert component.get("properties"), (method, path, name)
        checked += 1
    assert checked == 23  # of 29 operations; the other six answer 204 without a body


def test_the_schemas_are_strict_where_the_bodies_are_fixed(served: dict[str, Any]) -> None:
    """Records (and automation's acting_for) take any field; every other body forbids keys
    it does not name, so an undocumented key is a failure, not a silent addition."""
    schemas = served["components"]["schemas"]
    open_ = {"RecordPublic", "RecordWithIncluded", "UserPublic", "ActingFor"}
    for method, path, _ in operations():
        _, content = success_schema(served, method, path)
        if content is None:
            continue
        pending = [content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
        done: set[str] = set()
        while pending:
            name = pending.pop()
            if name in done:
                continue
            done.add(name)
            schema = schemas[name]
            if schema.get("type") == "object":
                assert schema.get("additionalProperties") is (name in open_), name
            pending.extend(
                ref.rsplit("/", 1)[1] for ref in refs(schema) if ref.startswith("#/components/")
            )


@pytest.mark.parametrize(
    ("public", "model"),
    [
        (ObjectDefinitionPublic, ObjectDefinition),
        (FieldDefinitionPublic, FieldDefinition),
        (EnumOptionPublic, EnumOption),
        (ValidationRulePublic, ValidationRule),
        (RolePermissionsPublic, RolePermissions),
        (ObjectGrantPublic, ObjectGrant),
    ],
)
def test_public_models_name_every_property_of_what_they_describe(public: Any, model: Any) -> None:
    # The bodies are model_dump(mode="json") of the model: every property, always present.
    assert list(public.model_fields) == list(model.model_fields)
    assert all(f.is_required() for f in public.model_fields.values())


def test_withheld_reasons_are_every_refusal_of_the_decision_point() -> None:
    allowed = {"consent", "customer-request"}
    assert set(get_args(WithheldReason)) == set(EXPLANATIONS) - allowed


def test_the_schemas_refuse_what_they_do_not_describe(served: dict[str, Any]) -> None:
    """The validation is not vacuous: bodies a little off their schema are refused."""

    def refused(method: str, path: str, body: Any) -> bool:
        _, content = success_schema(served, method, path)
        schema = content["application/json"]["schema"]
        return bool(list(validator(served, schema).iter_errors(body)))

    record = {
        "id": str(uuid.uuid4()),
        "object": "contact",
        "version": 2,
        "created_at": "2026-01-31T09:30:00.000Z",
        "updated_at": "2026-01-31T09:31:00.000Z",
        "created_by": None,
        "updated_by": str(uuid.uuid4()),
        "last_name": "Chen",
        "meta": {
            "withheld": [
                {
                    "field": "email",
                    "reason": "no-purpose",
                    "detail": "no purpose was declared (send the X-Purpose header)",
                    "request_consent": "/api/v1/consent-requests",
                }
            ],
            "expired": ["title"],
        },
    }
    assert not refused("GET", RECORD, record)
    assert not refused("GET", RECORDS, {"data": [record], "next_cursor": None})

    def without(key: str) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k != key}

    def with_meta(meta: Any) -> dict[str, Any]:
        return {**record, "meta": meta}

    withheld = record["meta"]["withheld"][0]  # type: ignore[index]
    for body in (
        without("version"),
        without("updated_by"),
        {**record, "created_at": "yesterday"},
        with_meta({}),
        with_meta({"withheld": []}),
        with_meta({"withheld": {"email": "no consent"}}),
        with_meta({"withheld": [{**withheld, "reason": "whim"}]}),
        with_meta({"withheld": [{**withheld, "why": "extra"}]}),
        with_meta({"expired": ["title"], "notes": "undocumented"}),
    ):
        assert refused("GET", RECORD, body), body
    assert refused("GET", RECORDS, {"data": [record]})  # next_cursor is always there
    assert refused("GET", RECORDS, {"data": [record], "next_cursor": None, "total": 1})
    assert refused("POST", RECORDS + "/bulk", {"data": [record]})
    entry = {
        "id": 1,
        "action": "update",
        "actor_id": None,
        "request_id": None,
        "acting_for": None,
        "at": "2026-01-31T09:30:00.000Z",
        "before": {"tier": "A"},
        "after": {"tier": "B"},
    }
    assert not refused("GET", RECORD + "/history", {"data": [entry]})
    assert refused("GET", RECORD + "/history", {"data": [{**entry, "acting_for": "scenario"}]})
    assert refused("GET", RECORD + "/history", {"data": [{**entry, "action": "touch"}]})
    key = {
        "id": "k",
        "name": "n",
        "user_id": "u",
        "prefix": "kdr_ab",
        "created_at": "2026-01-31T09:30:00+00:00",
        "revoked_at": None,
    }
    assert not refused("GET", "/api/v1/auth/api-keys", {"data": [key]})
    assert refused("GET", "/api/v1/auth/api-keys", {"data": [{**key, "secret_hash": "00"}]})
    unrevoked = {k: v for k, v in key.items() if k != "revoked_at"}
    assert refused("GET", "/api/v1/auth/api-keys", {"data": [unrevoked]})
    token = {"access_token": "x", "token_type": "bearer", "expires_in": 3600}
    assert not refused("POST", "/api/v1/auth/token", token)
    assert refused("POST", "/api/v1/auth/token", {**token, "token_type": "mac"})


# -- real responses -----------------------------------------------------------------------------

PLANT = {
    "name": "pv_plant",
    "label": "PV plant",
    "label_plural": "PV plants",
    "label_zh": "光伏电站",
    "title_field": "name",
    "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "capacity_kw", "type": "number", "minimum": 0, "indexed": True},
        {"name": "site", "type": "relation", "target": "account"},
        {"name": "grid_code", "type": "text", "unique": True},
        {"name": "panels", "type": "multi_enum", "options": [{"value": "mono"}, {"value": "poly"}]},
        {"name": "specs", "type": "json"},
    ],
    "validation_rules": [
        {
            "name": "big_plants_need_grid_code",
            "expression": "record.capacity_kw < 1000.0 || has(record.grid_code)",
            "message": "Plants of 1 MW or more need a grid code.",
            "path": "/grid_code",
        },
    ],
}


def test_every_operation_answers_what_the_document_declares(
    client: Any, kindred: Any, world: World, document: dict[str, Any]
) -> None:
    api = Api(client, document)
    admin = world.admin.headers

    _auth(api, world)
    _metadata(api, admin)
    account = _records(api, kindred, world)
    _consent_and_expiry(api, world)
    _automation_and_merges(api, kindred, world, account)

    expected = {
        (method, path, success_schema(document, method, path)[0])
        for method, path, _ in operations()
    }
    assert expected - api.seen == set()


def _auth(api: Api, world: World) -> None:
    admin, rep = world.admin.headers, world.sales_east.headers
    api(
        "POST",
        "/api/v1/auth/token",
        200,
        data={"username": world.sales_east.email, "password": PASSWORD},
    )
    api(
        "POST",
        "/api/v1/auth/session",
        200,
        data={"username": world.sales_east.email, "password": PASSWORD},
    )
    api("POST", "/api/v1/auth/refresh", 200, headers={"X-Kindred-Session": "refresh"})
    api("POST", "/api/v1/auth/logout", 204)
    me = api("GET", "/api/v1/auth/me", 200, headers=rep)
    assert me["via"] == "token" and me["territories"] and me["permissions"]["account"]
    api("GET", "/api/v1/auth/me", 200, headers=admin)

    own = api("POST", "/api/v1/auth/api-keys", 201, headers=rep, json={"name": "laptop"})
    for_other = api(
        "POST",
        "/api/v1/auth/api-keys",
        201,
        headers=admin,
        json={"name": "sync", "user_id": world.analyst.id},
    )
    assert api("GET", "/api/v1/auth/me", 200, headers={"X-API-Key": own["key"]})["via"] == (
        "api_key"
    )
    api(
        "DELETE",
        "/api/v1/auth/api-keys/{key_id}",
        204,
        where={"key_id": for_other["id"]},
        headers=admin,
    )
    keys = api("GET", "/api/v1/auth/api-keys", 200, headers=admin)["data"]
    assert {k["id"]: k["revoked_at"] is not None for k in keys} == {
        own["id"]: False,
        for_other["id"]: True,
    }
    assert [k["id"] for k in api("GET", "/api/v1/auth/api-keys", 200, headers=rep)["data"]] == [
        own["id"]
    ]

    person = api(
        "POST",
        "/api/v1/users",
        201,
        headers=admin,
        json={
            "email": "li.na@example.com",
            "name": "Li Na",
            "password": "another-horse-battery",
            "roles": ["sales", "service"],
            "territories": [world.territories["shanghai"]],
        },
    )
    assert person["territories"] == [world.territories["shanghai"]]
    service = api(
        "POST",
        "/api/v1/users",
        201,
        headers=admin,
        json={"email": "erp@example.com", "name": "ERP sync"},
    )
    assert service["territories"] is None and service["roles"] == ["sales"]
    api(
        "PUT",
        "/api/v1/users/{user_id}/password",
        204,
        where={"user_id": person["id"]},
        headers=admin,
        json={"password": "a-brand-new-horse"},
    )

    roles = api("GET", "/api/v1/roles", 200, headers=rep)["data"]
    assert {"admin", "sales"} <= {r["name"] for r in roles}
    permissions = {
        "objects": {
            "*": {"actions": ["read"], "scope": "territory"},
            "contact": {"actions": ["read", "update"], "read_fields": ["last_name", "email"]},
        },
        "manage_users": False,
    }
    made = api(
        "PUT",
        "/api/v1/roles/{name}",
        200,
        where={"name": "field_auditor"},
        headers=admin,
        json={"description": "Reads in its territories", "permissions": permissions},
    )
    assert made["builtin"] is False and made["permissions"]["objects"]["*"]["hidden_fields"] == []
    api(
        "PUT",
        "/api/v1/roles/{name}",
        200,
        where={"name": "field_auditor"},
        headers=admin,
        json={"permissions": {"objects": {}}},
    )
    api("DELETE", "/api/v1/roles/{name}", 204, where={"name": "field_auditor"}, headers=admin)


def _metadata(api: Api, admin: dict[str, str]) -> None:
    created = api("POST", OBJECTS, 201, headers=admin, json=PLANT)
    assert created["version"] == 1 and created["fields"][0]["options"] == []
    api("GET", OBJECTS, 200, headers=admin)
    api("GET", OBJECT, 200, where={"name": "account"}, headers=admin)
    plant = {"name": "pv_plant"}
    api(
        "PATCH",
        OBJECT,
        200,
        where=plant,
        headers={**admin, "If-Match": '"v1"'},
        json={"label": "Solar plant", "description": "Rooftop and ground plants"},
    )
    api(
        "POST",
        OBJECT + "/fields",
        201,
        where=plant,
        headers=admin,
        json={"name": "commissioned", "type": "date", "label_zh": "投运日期"},
    )
    api(
        "PATCH",
        FIELD,
        200,
        where={**plant, "field_name": "commissioned"},
        headers=admin,
        json={"label": "Commissioned on"},
    )
    api(
        "POST",
        OBJECT + "/fields",
        201,
        where=plant,
        headers=admin,
        json={"name": "notes", "type": "long_text", "max_length": 2000},
    )
    api("DELETE", FIELD, 200, where={**plant, "field_name": "notes"}, headers=admin)
    history = api("GET", OBJECT + "/history", 200, where=plant, headers=admin)["data"]
    assert [c["action"] for c in history] == [
        "create",
        "update",
        "add_field",
        "update_field",
        "add_field",
        "delete_field",
    ]
    assert history[0]["before"] is None
    standard = api("GET", OBJECT + "/history", 200, where={"name": "account"}, headers=admin)
    assert standard["data"][0]["action"] == "install"

    scratch = {**PLANT, "name": "scratch", "validation_rules": [], "title_field": None}
    api("POST", OBJECTS, 201, headers=admin, json=scratch)
    api("DELETE", OBJECT, 204, where={"name": "scratch"}, headers=admin)


def _records(api: Api, kindred: Any, world: World) -> dict[str, Any]:
    admin = world.admin.headers
    accounts = {"object_name": "account"}
    account = api(
        "POST",
        RECORDS,
        201,
        where=accounts,
        headers=admin,
        json={
            "name": "Ruijin Hospital",
            "kind": "hospital",
            "territory": world.territories["east"],
        },
    )
    # A repeated Idempotency-Key replays the stored answer.
    keyed = {**admin, "Idempotency-Key": "create-once"}
    first = api("POST", RECORDS, 201, where=accounts, headers=keyed, json={"name": "Huashan"})
    again = api("POST", RECORDS, 201, where=accounts, headers=keyed, json={"name": "Huashan"})
    assert again == first

    plants = {"object_name": "pv_plant"}
    plant = api(
        "POST",
        RECORDS,
        201,
        where=plants,
        headers=admin,
        json={
            "name": "Dezhou Rooftop",
            "capacity_kw": 850,
            "site": account["id"],
            "panels": ["mono"],
            "specs": {"inverters": [{"model": "SG110CX", "count": 4}]},
        },
    )
    assert plant["commissioned"] is None and plant["specs"]["inverters"][0]["count"] == 4
    one = {**plants, "record_id": plant["id"]}
    api("GET", RECORD, 200, where=one, headers=admin)
    api("GET", RECORD, 200, where=one, headers=admin, params={"fields": "name,capacity_kw"})
    with_site = api("GET", RECORD, 200, where=one, headers=admin, params={"include": "site"})
    assert [r["id"] for r in with_site["included"]] == [account["id"]]
    api(
        "PATCH",
        RECORD,
        200,
        where=one,
        headers={**admin, "If-Match": '"v1"'},
        json={"capacity_kw": 1200, "grid_code": "SD-0042", "panels": None},
    )

    written = api(
        "POST",
        RECORDS + "/bulk",
        200,
        where=plants,
        headers=admin,
        json={
            "operation": "create",
            "records": [
                {"name": f"Array {i}", "capacity_kw": 50 * i, "site": account["id"]}
                for i in range(3)
            ],
        },
    )
    assert written["count"] == 3
    upserted = api(
        "POST",
        RECORDS + "/bulk",
        200,
        where=plants,
        headers=admin,
        json={
            "operation": "upsert",
            "match_on": "grid_code",
            "records": [
                {"grid_code": "SD-0042", "name": "Dezhou Rooftop II"},
                {"grid_code": "SD-0043", "name": "Binzhou Ground", "capacity_kw": 2000},
            ],
        },
    )
    assert [r["version"] for r in upserted["data"]] == [3, 1]

    first_page = api(
        "GET", RECORDS, 200, where=plants, headers=admin, params={"limit": 2, "include": "site"}
    )
    assert first_page["next_cursor"] and first_page["included"]
    last_page = api(
        "GET",
        RECORDS,
        200,
        where=plants,
        headers=admin,
        params={"limit": 100, "cursor": first_page["next_cursor"], "fields": "name"},
    )
    assert last_page["next_cursor"] is None and "included" not in last_page
    api("GET", RECORDS, 200, where={"object_name": "user"}, headers=world.sales_east.headers)

    history = api("GET", RECORD + "/history", 200, where=one, headers=admin)["data"]
    assert [e["action"] for e in history] == ["update", "update", "create"]
    assert history[0]["acting_for"] is None

    doomed = written["data"][0]
    api(
        "DELETE",
        RECORD,
        204,
        where={**plants, "record_id": doomed["id"]},
        headers={**admin, "If-Match": '"v1"'},
    )
    return account


def _consent_and_expiry(api: Api, world: World) -> None:
    """Customer-authorized values without the customer's consent are withheld (meta.withheld,
    one reason per case), values past their validity flagged (meta.expired)."""
    rep = world.sales_east.headers
    contacts = {"object_name": "contact"}
    created = api(
        "POST",
        RECORDS,
        201,
        where=contacts,
        headers=rep,
        json={
            "last_name": "Chen",
            "title": "Head of Radiology",
            "email": "mei@example.com",
            "phone": "+86 21 5555 0101",
            "territory": world.territories["east"],
        },
    )
    assert {w["reason"] for w in created["meta"]["withheld"]} == {"no-purpose"}
    one = {**contacts, "record_id": created["id"]}
    read = api("GET", RECORD, 200, where=one, headers={**rep, "X-Purpose": "marketing"})
    assert {w["reason"] for w in read["meta"]["withheld"]} == {"no-consent"}
    assert "email" not in read
    # An unknown purpose is refused outright (tests/api/test_unknown_purpose.py).
    api("GET", RECORD, 422, where=one, headers={**rep, "X-Purpose": "horoscopes"})
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    expired = api.client.patch(
        RECORD.format(**one) + "/provenance/title",
        headers=world.admin.headers,
        json={"valid_until": past},
    )
    assert expired.status_code == 200, expired.text
    both = api("GET", RECORD, 200, where=one, headers=rep)
    assert both["meta"]["expired"] == ["title"] and both["meta"]["withheld"]
    page = api("GET", RECORDS, 200, where=contacts, headers=rep)
    assert page["data"][0]["meta"]["expired"] == ["title"]
    updated = api("PATCH", RECORD, 200, where=one, headers=rep, json={"first_name": "Mei"})
    assert updated["meta"]["withheld"]
    written = api(
        "POST",
        RECORDS + "/bulk",
        200,
        where=contacts,
        headers={**rep, "X-Purpose": "sales"},
        json={"operation": "update", "records": [{"id": created["id"], "department": "CT"}]},
    )
    assert written["data"][0]["meta"]["withheld"][0]["reason"] == "no-consent"
    # The change history keeps customer-authorized values sealed.
    history = api("GET", RECORD + "/history", 200, where=one, headers=rep)["data"]
    assert history[-1]["after"]["email"] == {"$sealed": True}


def _automation_and_merges(api: Api, kindred: Any, world: World, account: dict[str, Any]) -> None:
    """A scenario step's change names the automation (acting_for); merges and their undo are
    in both records' history."""
    admin = world.admin.headers
    with kindred.database.write() as session:
        step = StepContext(
            run_id=str(uuid.uuid4()),
            step_id="notify-1",
            scenario="tier_upgrade",
            version=3,
            chain_depth=0,
            idempotency_key="run-1:notify-1",
            principal=kindred.auth.acting_principal(session, world.admin.id),
            event={"id": "evt-1", "source": "erp", "type": "erp.account.updated"},
            author=world.admin.id,
        )
        kindred.records.update(
            session, _context(step), "account", account["id"], {"tier": "A"}, if_match=None
        )
    accounts = {"object_name": "account"}
    duplicate = api(
        "POST", RECORDS, 201, where=accounts, headers=admin, json={"name": "Ruijin Hospital"}
    )
    merge = api.client.post(
        "/api/v1/resolution/merges",
        headers=admin,
        json={"object": "account", "survivor": account["id"], "duplicate": duplicate["id"]},
    )
    assert merge.status_code == 201, merge.text
    undone = api.client.post(f"/api/v1/resolution/merges/{merge.json()['id']}/undo", headers=admin)
    assert undone.status_code == 200, undone.text
    history = api(
        "GET",
        RECORD + "/history",
        200,
        where={**accounts, "record_id": account["id"]},
        headers=admin,
    )["data"]
    assert {"create", "update", "merge", "unmerge"} <= {e["action"] for e in history}
    automated = next(e for e in history if e["acting_for"] is not None)
    assert automated["acting_for"]["scenario"] == "tier_upgrade"
    assert automated["acting_for"]["event"]["type"] == "erp.account.updated"
