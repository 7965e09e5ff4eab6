"""Saved list views (``/api/v1/views``): the owner reads, changes and deletes them; a view
shared with a role is read by that role's holders and changed by nobody but its owner; a
private view does not exist for anyone else; a view may name only what its owner may read —
and every refused request leaves the stored views exactly as they were."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.api.conftest import World
from tests.api.test_records_api import problem

VIEWS = "/api/v1/views"


def stored(kindred: Any) -> list[tuple[Any, ...]]:
    with kindred.database.read() as session:
        return list(
            session.execute(
                sa.text(
                    "SELECT id, owner_id, object, name, filters, sort, columns, shared_role, "
                    "version FROM saved_views ORDER BY id"
                )
            ).all()
        )


def save(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {
        "object": "account",
        "name": "Shanghai hospitals",
        "filters": [
            {"field": "city", "operator": "eq", "value": "上海"},
            {"field": "kind", "value": "hospital"},
        ],
        "sort": "-employees",
        "columns": ["name", "city", "employees"],
        **body,
    }
    response = client.post(VIEWS, json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_owner_saves_lists_renames_and_deletes_a_view(
    client: Any, world: World, kindred: Any
) -> None:
    rep = world.sales_east.headers
    view = save(client, rep)
    assert view["filters"][1] == {"field": "kind", "operator": "eq", "value": "hospital"}
    assert (view["sort"], view["shared_role"], view["mine"], view["version"]) == (
        "-employees",
        None,
        True,
        1,
    )
    assert view["owner_id"] == world.sales_east.id
    one = f"{VIEWS}/{view['id']}"
    assert client.get(one, headers=rep).json() == view

    other = save(
        client,
        rep,
        object="contact",
        name="All contacts",
        filters=[],
        sort=None,
        columns=["full_name"],
    )
    listed = client.get(VIEWS, params={"object": "account"}, headers=rep).json()["data"]
    assert [v["id"] for v in listed] == [view["id"]]
    assert {v["id"] for v in client.get(VIEWS, headers=rep).json()["data"]} == {
        view["id"],
        other["id"],
    }

    renamed = client.patch(one, json={"name": "SH hospitals", "sort": None}, headers=rep)
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["name"], body["sort"], body["version"]) == ("SH hospitals", None, 2)
    assert body["filters"] == view["filters"]  # what was not sent stays
    assert body["columns"] == view["columns"]

    assert client.delete(one, headers=rep).status_code == 204
    problem(client.get(one, headers=rep), 404)
    assert [row[0] for row in stored(kindred)] == [other["id"]]


def test_a_private_view_does_not_exist_for_anyone_else(
    client: Any, world: World, kindred: Any
) -> None:
    view = save(client, world.sales_east.headers)
    one = f"{VIEWS}/{view['id']}"
    before = stored(kindred)
    for person in (world.sales_north, world.admin, world.analyst):
        problem(client.get(one, headers=person.headers), 404)
        problem(client.patch(one, json={"name": "Mine now"}, headers=person.headers), 404)
        problem(client.delete(one, headers=person.headers), 404)
        assert client.get(VIEWS, headers=person.headers).json()["data"] == []
    assert stored(kindred) == before


def test_a_shared_view_is_read_by_its_role_and_changed_by_its_owner_only(
    client: Any, world: World, kindred: Any
) -> None:
    view = save(client, world.sales_east.headers, shared_role="sales")
    one = f"{VIEWS}/{view['id']}"
    colleague = world.sales_north.headers
    seen = client.get(one, headers=colleague).json()
    assert (seen["name"], seen["mine"]) == ("Shanghai hospitals", False)
    assert [v["id"] for v in client.get(VIEWS, headers=colleague).json()["data"]] == [view["id"]]
    # Another role does not see it at all.
    problem(client.get(one, headers=world.service_east.headers), 404)

    before = stored(kindred)
    denied = problem(client.patch(one, json={"name": "Hijacked"}, headers=colleague), 403)
    assert "owner" in denied["detail"]
    problem(client.delete(one, headers=colleague), 403)
    assert stored(kindred) == before

    # The owner makes it private again: the colleague loses it.
    private = client.patch(one, json={"shared_role": None}, headers=world.sales_east.headers)
    assert private.json()["shared_role"] is None
    problem(client.get(one, headers=colleague), 404)


def test_a_view_names_only_what_its_owner_may_read(client: Any, world: World, kindred: Any) -> None:
    rep = world.sales_east.headers
    before = stored(kindred)
    refused = problem(
        client.post(
            VIEWS,
            json={
                "object": "account",
                "name": "Bad",
                "filters": [{"field": "no_such_field", "value": "x"}],
                "sort": "-nope",
                "columns": ["name", "ghost"],
                "shared_role": "admin",
            },
            headers=rep,
        ),
        422,
    )
    assert [e["path"] for e in refused["errors"]] == [
        "/filters/0/field",
        "/sort",
        "/columns/1",
        "/shared_role",
    ]
    assert "sales" in refused["errors"][3]["message"]
    # An operator the list does not know, an empty name: refused by the schema.
    bad_operator = client.post(
        VIEWS,
        json={
            "object": "account",
            "name": "X",
            "filters": [{"field": "name", "operator": "like", "value": "a"}],
        },
        headers=rep,
    )
    problem(bad_operator, 422)
    problem(client.post(VIEWS, json={"object": "account", "name": "  "}, headers=rep), 422)
    # An object that does not exist.
    problem(client.post(VIEWS, json={"object": "spaceship", "name": "X"}, headers=rep), 404)
    assert stored(kindred) == before

    view = save(client, rep)
    problem(
        client.post(VIEWS, json={"object": "account", "name": "shanghai HOSPITALS"}, headers=rep),
        422,
    )
    changed = stored(kindred)
    problem(client.patch(f"{VIEWS}/{view['id']}", json={"columns": ["ghost"]}, headers=rep), 422)
    assert stored(kindred) == changed


def test_hidden_fields_cannot_be_named(client: Any, world: World, kindred: Any) -> None:
    me = client.get("/api/v1/auth/me", headers=world.analyst.headers).json()
    hidden = me["permissions"]["contact"]["hidden_fields"]
    assert "email" in hidden, "the analyst role hides customers' contact details"
    before = stored(kindred)
    refused = problem(
        client.post(
            VIEWS,
            json={
                "object": "contact",
                "name": "Peek",
                "columns": ["full_name", "email"],
                "filters": [{"field": "email", "operator": "contains", "value": "@"}],
            },
            headers=world.analyst.headers,
        ),
        422,
    )
    assert [e["path"] for e in refused["errors"]] == ["/filters/0/field", "/columns/1"]
    assert stored(kindred) == before


def test_purposes_list_what_staff_may_declare(client: Any, world: World) -> None:
    body = client.get("/api/v1/purposes", headers=world.sales_east.headers).json()
    names = [p["name"] for p in body["data"]]
    assert names == sorted(names)
    assert {"marketing", "sales", "service"} <= set(names)
    assert "passport-sign-in" not in names  # the system's, on the customer's request
    problem(client.get("/api/v1/purposes"), 401)
