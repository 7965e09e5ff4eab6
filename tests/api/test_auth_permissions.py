"""Authentication, roles, field permissions and territory visibility — and that every denied
request changes nothing."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import PASSWORD, World
from tests.api.test_records_api import BASE, make_account, problem, state


def test_sign_in_and_bad_credentials(client: Any, world: World) -> None:
    body = problem(
        client.post(
            "/api/v1/auth/token", data={"username": world.admin.email, "password": "wrong-password"}
        ),
        401,
    )
    assert body["detail"] == "wrong email or password"
    body = problem(
        client.post(
            "/api/v1/auth/token", data={"username": "nobody@example.com", "password": PASSWORD}
        ),
        401,
    )
    assert body["detail"] == "wrong email or password"
    problem(client.get(f"{BASE}/account/records"), 401)
    problem(
        client.get(f"{BASE}/account/records", headers={"Authorization": "Bearer abc.def.ghi"}), 401
    )
    me = client.get("/api/v1/auth/me", headers=world.sales_east.headers).json()
    assert me["roles"] == ["sales"]
    assert set(me["territories"]) == {world.territories["east"], world.territories["shanghai"]}


def test_api_keys_authenticate_until_revoked(client: Any, world: World) -> None:
    created = client.post(
        "/api/v1/auth/api-keys", json={"name": "ERP sync"}, headers=world.integration.headers
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("kdr_")
    listed = client.get("/api/v1/auth/api-keys", headers=world.integration.headers).json()["data"]
    assert [k["name"] for k in listed] == ["ERP sync"] and "key" not in listed[0]
    response = client.post(
        f"{BASE}/account/records", json={"name": "From ERP"}, headers={"X-API-Key": key}
    )
    assert response.status_code == 201
    assert response.json()["created_by"] == world.integration.id
    assert (
        client.delete(
            f"/api/v1/auth/api-keys/{created.json()['id']}", headers=world.integration.headers
        ).status_code
        == 204
    )
    body = problem(client.get(f"{BASE}/account/records", headers={"X-API-Key": key}), 401)
    assert body["detail"] == "this API key has been revoked"
    problem(client.get(f"{BASE}/account/records", headers={"X-API-Key": "kdr_forged_key"}), 401)


def test_territory_visibility(client: Any, world: World, kindred: Any) -> None:
    admin = world.admin.headers
    shanghai = make_account(
        client, admin, name="Shanghai General", territory=world.territories["shanghai"]
    )
    beijing = make_account(
        client, admin, name="Beijing Union", territory=world.territories["north"]
    )

    def names(person: Any) -> set[str]:
        response = client.get(f"{BASE}/account/records", headers=person.headers)
        assert response.status_code == 200, response.text
        return {r["name"] for r in response.json()["data"]}

    assert names(world.sales_east) == {"Shanghai General"}  # Shanghai is inside East China
    assert names(world.sales_north) == {"Beijing Union"}
    assert names(world.analyst) == {"Shanghai General", "Beijing Union"}
    # Out of territory reads as absent, not forbidden: existence is not leaked.
    problem(
        client.get(f"{BASE}/account/records/{beijing['id']}", headers=world.sales_east.headers), 404
    )
    before = state(kindred)
    problem(
        client.patch(
            f"{BASE}/account/records/{beijing['id']}",
            json={"tier": "D"},
            headers=world.sales_east.headers,
        ),
        404,
    )
    # Creating a record in someone else's territory would escape visibility.
    body = problem(
        client.post(
            f"{BASE}/account/records",
            json={
                "name": "Sneaky",
                "territory": world.territories["north"],
                "owner": world.sales_north.id,
            },
            headers=world.sales_east.headers,
        ),
        422,
    )
    assert body["errors"][0]["code"] in ("outside_scope", "forbidden_field", "not_found")
    # A contact linked to an invisible account is refused as if the account did not exist.
    body = problem(
        client.post(
            f"{BASE}/contact/records",
            json={"last_name": "Zhang", "account": beijing["id"]},
            headers=world.sales_east.headers,
        ),
        422,
    )
    assert body["errors"][0] == {
        "path": "/account",
        "code": "not_found",
        "message": f"no account with id '{beijing['id']}'",
    }
    assert state(kindred) == before
    own = client.post(
        f"{BASE}/contact/records",
        json={"last_name": "Chen", "account": shanghai["id"]},
        headers=world.sales_east.headers,
    )
    assert own.status_code == 201
    assert own.json()["territory"] == world.territories["shanghai"]  # inherited from account


def test_field_permissions_hide_and_protect_fields(client: Any, world: World, kindred: Any) -> None:
    admin = world.admin.headers
    account = make_account(client, admin, territory=world.territories["east"])
    contact = client.post(
        f"{BASE}/contact/records",
        json={
            "last_name": "Wu",
            "email": "wu@example.com",
            "mobile": "+86 138 0000 0000",
            "account": account["id"],
        },
        headers=admin,
    ).json()
    seen = client.get(f"{BASE}/contact/records/{contact['id']}", headers=world.analyst.headers)
    assert seen.status_code == 200
    assert "email" not in seen.json() and "mobile" not in seen.json()
    assert seen.json()["last_name"] == "Wu"
    problem(
        client.get(
            f"{BASE}/contact/records",
            headers=world.analyst.headers,
            params={"filter[email]": "wu@example.com"},
        ),
        403,
    )
    problem(
        client.get(
            f"{BASE}/contact/records", headers=world.analyst.headers, params={"sort": "email"}
        ),
        403,
    )
    problem(
        client.get(
            f"{BASE}/contact/records/{contact['id']}",
            headers=world.analyst.headers,
            params={"fields": "email"},
        ),
        403,
    )
    before = state(kindred)
    problem(
        client.patch(
            f"{BASE}/contact/records/{contact['id']}",
            json={"last_name": "X"},
            headers=world.analyst.headers,
        ),
        403,
    )
    # Compliance may update qualification fields of accounts, but not the name.
    body = problem(
        client.patch(
            f"{BASE}/account/records/{account['id']}",
            json={"name": "Renamed", "insurance_qualified": True},
            headers=world.compliance.headers,
        ),
        422,
    )
    assert body["errors"] == [
        {"path": "/name", "code": "forbidden_field", "message": "you may not write 'name'"}
    ]
    problem(
        client.delete(f"{BASE}/account/records/{account['id']}", headers=world.sales_east.headers),
        403,
    )
    assert state(kindred) == before
    allowed = client.patch(
        f"{BASE}/account/records/{account['id']}",
        json={"insurance_qualified": True},
        headers=world.compliance.headers,
    )
    assert allowed.status_code == 200, allowed.text


def test_only_admins_manage_users_and_metadata(client: Any, world: World, kindred: Any) -> None:
    before = state(kindred)
    problem(
        client.post(
            "/api/v1/users",
            json={
                "email": "x@example.com",
                "name": "X",
                "password": "long-enough-pw",
                "roles": ["admin"],
            },
            headers=world.sales_east.headers,
        ),
        403,
    )
    problem(
        client.post(
            "/api/v1/metadata/objects",
            json={"name": "plant", "label": "Plant", "label_plural": "Plants"},
            headers=world.sales_east.headers,
        ),
        403,
    )
    problem(
        client.post(
            "/api/v1/users",
            json={"email": "y@example.com", "name": "Y", "password": "short", "roles": ["sales"]},
            headers=world.admin.headers,
        ),
        422,
    )
    problem(
        client.post(
            "/api/v1/users",
            json={
                "email": "y@example.com",
                "name": "Y",
                "password": "long-enough-pw",
                "roles": ["pirate"],
            },
            headers=world.admin.headers,
        ),
        422,
    )
    assert state(kindred) == before
    created = client.post(
        "/api/v1/users",
        json={
            "email": "new.rep@example.com",
            "name": "New Rep",
            "password": "long-enough-pw",
            "roles": ["sales"],
            "territories": [world.territories["north"]],
        },
        headers=world.admin.headers,
    )
    assert created.status_code == 201, created.text
    token = client.post(
        "/api/v1/auth/token", data={"username": "new.rep@example.com", "password": "long-enough-pw"}
    )
    assert token.status_code == 200


def test_change_log_records_actor_and_request_id(client: Any, world: World, kindred: Any) -> None:
    response = client.post(
        f"{BASE}/account/records",
        json={"name": "Logged"},
        headers={**world.admin.headers, "X-Request-ID": "req-12345"},
    )
    assert response.headers["x-request-id"] == "req-12345"
    history = client.get(
        f"{BASE}/account/records/{response.json()['id']}/history", headers=world.admin.headers
    ).json()["data"]
    assert history[0]["action"] == "create"
    assert history[0]["request_id"] == "req-12345"
    assert history[0]["actor_id"] == world.admin.id
    assert history[0]["after"]["name"] == "Logged"


def test_changes_to_users_and_roles_apply_to_the_next_request(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    beijing = make_account(
        client, admin, name="Beijing Union", territory=world.territories["north"]
    )
    url = f"{BASE}/account/records/{beijing['id']}"
    problem(client.get(url, headers=world.sales_east.headers), 404)
    moved = client.patch(
        f"{BASE}/user/records/{world.sales_east.id}",
        json={"territories": [world.territories["north"]]},
        headers=admin,
    )
    assert moved.status_code == 200, moved.text
    assert client.get(url, headers=world.sales_east.headers).status_code == 200
    # Taking a permission away from a role is effective at once, without re-signing in.
    roles = {r["name"]: r for r in client.get("/api/v1/roles", headers=admin).json()["data"]}
    sales = roles["sales"]["permissions"]
    sales["objects"]["account"] = {"actions": [], "scope": "territory"}
    assert (
        client.put(
            "/api/v1/roles/sales",
            json={"description": "no accounts", "permissions": sales},
            headers=admin,
        ).status_code
        == 200
    )
    problem(client.get(url, headers=world.sales_east.headers), 403)
    deactivated = client.patch(
        f"{BASE}/user/records/{world.sales_north.id}", json={"active": False}, headers=admin
    )
    assert deactivated.status_code == 200
    body = problem(client.get(f"{BASE}/contact/records", headers=world.sales_north.headers), 401)
    assert body["detail"] == "this user is deactivated"
