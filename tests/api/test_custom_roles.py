"""Issue #18 item 3: a role saved at run time can be given to users at once (creating them
or changing their roles), also a role saved before roles were options of the user object;
a removed role can no longer be given, and a role still held cannot be removed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kindred.auth.models import RoleDefinition
from tests.api.conftest import World
from tests.api.test_records_api import problem

CLERK = {
    "description": "Reads claims",
    "permissions": {"objects": {"contact": {"actions": ["read"], "scope": "territory"}}},
}
ROLES_FIELD = "/api/v1/metadata/objects/user/fields/roles"


def role_options(client: Any, headers: dict[str, str]) -> list[str]:
    definition = client.get("/api/v1/metadata/objects/user", headers=headers).json()
    (field,) = [f for f in definition["fields"] if f["name"] == "roles"]
    return [option["value"] for option in field["options"]]


def snapshot(kindred: Any) -> tuple[Any, ...]:
    """Users, roles and the user object's definition: what giving or removing roles touches."""
    with kindred.database.read() as session:
        return (
            session.execute(
                sa.text("SELECT id, version, data FROM records WHERE object = 'user' ORDER BY id")
            ).all(),
            session.execute(sa.text("SELECT name, permissions FROM roles ORDER BY name")).all(),
            session.execute(
                sa.text("SELECT version, definition FROM object_definitions WHERE name = 'user'")
            ).all(),
        )


def new_user(client: Any, headers: dict[str, str], roles: list[str], email: str) -> Any:
    return client.post(
        "/api/v1/users",
        json={
            "email": email,
            "name": "Zhou Min",
            "password": "claims-horse-battery",
            "roles": roles,
        },
        headers=headers,
    )


def test_a_role_saved_at_run_time_can_be_given_at_once(client: Any, world: World) -> None:
    admin = world.admin.headers
    saved = client.put("/api/v1/roles/claims_clerk", json=CLERK, headers=admin)
    assert saved.status_code == 200, saved.text
    assert "claims_clerk" in role_options(client, admin)

    created = new_user(client, admin, ["claims_clerk"], "zhou.min@example.com")
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == ["claims_clerk"]
    changed = client.patch(
        f"/api/v1/users/{world.analyst.id}", json={"roles": ["claims_clerk"]}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["claims_clerk"]


def test_a_role_saved_before_roles_were_options_can_be_given(
    client: Any, world: World, kindred: Any
) -> None:
    """A database from a release that did not make saved roles options of users.roles."""
    admin = world.admin.headers
    with kindred.database.write() as session:
        session.add(RoleDefinition(name="legacy_clerk", description="", permissions={}))
    assert "legacy_clerk" not in role_options(client, admin)

    created = new_user(client, admin, ["legacy_clerk"], "legacy@example.com")
    assert created.status_code == 201, created.text
    changed = client.patch(
        f"/api/v1/users/{world.analyst.id}",
        json={"roles": ["analyst", "legacy_clerk"]},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert "legacy_clerk" in role_options(client, admin)

    # Saving it again also repairs the option, were it missing.
    with kindred.database.write() as session:
        session.add(RoleDefinition(name="older_clerk", description="", permissions={}))
    assert client.put("/api/v1/roles/older_clerk", json=CLERK, headers=admin).status_code == 200
    assert "older_clerk" in role_options(client, admin)


def test_a_role_still_held_cannot_be_removed_and_a_removed_one_cannot_be_given(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    assert client.put("/api/v1/roles/claims_clerk", json=CLERK, headers=admin).status_code == 200
    holders = []
    for email in ("a@example.com", "b@example.com"):
        created = new_user(client, admin, ["claims_clerk"], email)
        assert created.status_code == 201, created.text
        holders.append(created.json()["id"])
    before = snapshot(kindred)

    held = problem(client.delete("/api/v1/roles/claims_clerk", headers=admin), 409)
    assert held["users"] == 2 and "held by 2 users" in held["detail"]
    builtin = problem(client.delete("/api/v1/roles/sales", headers=admin), 409)
    assert "built-in" in builtin["detail"]
    problem(client.delete("/api/v1/roles/claims_clerk", headers=world.sales_east.headers), 403)
    problem(client.delete("/api/v1/roles/no_such_role", headers=admin), 404)
    assert snapshot(kindred) == before

    for holder in holders:
        taken = client.patch(f"/api/v1/users/{holder}", json={"roles": ["sales"]}, headers=admin)
        assert taken.status_code == 200, taken.text
    removed = client.delete("/api/v1/roles/claims_clerk", headers=admin)
    assert removed.status_code == 204, removed.text
    assert "claims_clerk" not in role_options(client, admin)
    assert "claims_clerk" not in {
        r["name"] for r in client.get("/api/v1/roles", headers=admin).json()["data"]
    }

    before = snapshot(kindred)
    refused = problem(new_user(client, admin, ["claims_clerk"], "c@example.com"), 422)
    assert refused["errors"][0]["path"] == "/roles" and "claims_clerk" in str(refused)
    problem(
        client.patch(
            f"/api/v1/users/{world.analyst.id}", json={"roles": ["claims_clerk"]}, headers=admin
        ),
        422,
    )
    assert snapshot(kindred) == before


def test_the_roles_fields_options_follow_the_roles(client: Any, world: World, kindred: Any) -> None:
    admin = world.admin.headers
    assert client.put("/api/v1/roles/claims_clerk", json=CLERK, headers=admin).status_code == 200
    options = client.get("/api/v1/metadata/objects/user", headers=admin).json()
    (field,) = [f for f in options["fields"] if f["name"] == "roles"]
    before = snapshot(kindred)

    kept = [o for o in field["options"] if o["value"] != "claims_clerk"]
    withdrawn = problem(client.patch(ROLES_FIELD, json={"options": kept}, headers=admin), 409)
    assert "DELETE /api/v1/roles/" in withdrawn["detail"]
    invented = [*field["options"], {"value": "ghost", "label": "Ghost"}]
    refused = problem(client.patch(ROLES_FIELD, json={"options": invented}, headers=admin), 422)
    assert [(e["path"], e["code"]) for e in refused["errors"]] == [
        (f"/options/{len(invented) - 1}/value", "unknown_role")
    ]
    assert snapshot(kindred) == before

    # Labels of the options remain the admins' to change.
    relabelled = [
        {**o, "label_zh": "理赔专员"} if o["value"] == "claims_clerk" else o
        for o in field["options"]
    ]
    response = client.patch(ROLES_FIELD, json={"options": relabelled}, headers=admin)
    assert response.status_code == 200, response.text
