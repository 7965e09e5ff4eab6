"""What the console's governance views need from the API (issue 17, item 8): the ledger
explorer (entries, one entry with its payload as the reader may see it, stored checkpoints,
a proof bundle with its verifier key that the offline verifier accepts), the user list and
access changes, and the rule that nobody grants more than they hold — every refusal
changing nothing."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kindred.ledger.verifier import VerificationError, verify_bundle
from tests.api.conftest import PASSWORD, World
from tests.api.test_records_api import problem, state

LEDGER = "/api/v1/ledger"


def governance_state(kindred: Any) -> tuple[Any, ...]:
    """Records, the change log, roles, API keys, credentials and the ledger."""
    with kindred.database.read() as session:
        return (
            state(kindred),
            session.execute(sa.text("SELECT name, permissions FROM roles ORDER BY name")).all(),
            session.execute(sa.text("SELECT id, revoked_at FROM api_keys ORDER BY id")).all(),
            session.execute(sa.text("SELECT count(*) FROM user_credentials")).scalar_one(),
            session.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar_one(),
        )


def new_user(client: Any, world: World, email: str, roles: list[str]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/users",
        json={"email": email, "name": email.split("@")[0], "password": PASSWORD, "roles": roles},
        headers=world.admin.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


# -- the ledger explorer --------------------------------------------------------------------


def test_entries_page_by_index_and_say_what_their_leaves_say(client: Any, world: World) -> None:
    for number in range(3):
        new_user(client, world, f"ledger{number}@example.com", ["sales"])
    auditor = world.compliance.headers
    first = client.get(f"{LEDGER}/entries", params={"limit": 2}, headers=auditor)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [e["index"] for e in body["data"]] == [0, 1]
    assert body["size"] >= 3 and body["next_after"] == 1
    rest = client.get(
        f"{LEDGER}/entries", params={"after": body["next_after"], "limit": 200}, headers=auditor
    ).json()
    indexes = [e["index"] for e in rest["data"]]
    assert indexes == list(range(2, body["size"])) and rest["next_after"] is None
    entry = rest["data"][-1]
    assert entry["kind"] == "auth.rights.changed"
    assert world.admin.id in entry["subjects"]
    detail = client.get(f"{LEDGER}/entries/{entry['index']}", headers=auditor).json()
    leaf = base64.b64decode(detail["leaf"])
    assert base64.b64decode(entry["leaf_hash"]) == hashlib.sha256(b"\x00" + leaf).digest()
    assert json.loads(leaf)["c"] == detail["commitment"]
    change = detail["payload"]["changes"][0]
    assert change["after"]["email"] == "ledger2@example.com" and detail["withheld"] == []
    assert detail["payload_erased"] is False


def test_a_payload_shows_only_what_the_readers_role_may_read(
    client: Any, world: World, kindred: Any
) -> None:
    new_user(client, world, "hidden.mail@example.com", ["sales"])
    entries = client.get(f"{LEDGER}/entries", params={"limit": 200}, headers=world.admin.headers)
    index = entries.json()["data"][-1]["index"]
    # Compliance loses the right to read users' email addresses (an admin's change).
    roles = client.get("/api/v1/roles", headers=world.admin.headers).json()["data"]
    compliance = next(r for r in roles if r["name"] == "compliance")
    permissions = compliance["permissions"]
    permissions["objects"]["user"] = {
        "actions": ["read"],
        "scope": "all",
        "read_fields": "*",
        "write_fields": "*",
        "hidden_fields": ["email"],
    }
    saved = client.put(
        "/api/v1/roles/compliance",
        json={"description": compliance["description"], "permissions": permissions},
        headers=world.admin.headers,
    )
    assert saved.status_code == 200, saved.text
    seen = client.get(f"{LEDGER}/entries/{index}", headers=world.compliance.headers).json()
    assert seen["withheld"] == ["/changes/0/after/email"]
    assert "email" not in seen["payload"]["changes"][0]["after"]
    assert seen["payload"]["changes"][0]["after"]["roles"] == ["sales"]
    full = client.get(f"{LEDGER}/entries/{index}", headers=world.admin.headers).json()
    assert full["payload"]["changes"][0]["after"]["email"] == "hidden.mail@example.com"


def test_the_bundle_file_verifies_offline_with_the_key_it_names(client: Any, world: World) -> None:
    new_user(client, world, "bundle@example.com", ["sales"])
    auditor = world.compliance.headers
    signed = client.post(f"{LEDGER}/checkpoints", headers=auditor)
    assert signed.status_code == 201
    response = client.get(f"{LEDGER}/entries/0/bundle", headers=auditor)
    assert response.status_code == 200, response.text
    assert "ledger-entry-0.json" in response.headers["content-disposition"]
    bundle = response.json()
    keys = client.get(f"{LEDGER}/public-key", headers=auditor).json()
    assert bundle["verifier_key"] == keys["active"]
    leaf = verify_bundle(bundle, bundle["verifier_key"])
    assert leaf["i"] == 0
    tampered = {**bundle, "leaf": base64.b64encode(b'{"i":0}').decode()}
    try:
        verify_bundle(tampered, bundle["verifier_key"])
    except VerificationError as error:
        assert "root" in str(error)
    else:
        raise AssertionError("a tampered leaf verified")
    checkpoints = client.get(f"{LEDGER}/checkpoints", headers=auditor).json()["data"]
    assert checkpoints[0]["size"] == signed.json()["size"]
    assert checkpoints[0]["note"] == signed.json()["note"]
    assert checkpoints[0]["key_id"] == keys["active"].split("+")[1]


def test_the_explorer_is_for_auditors_only(client: Any, world: World, kindred: Any) -> None:
    before = governance_state(kindred)
    for path in ("/entries", "/entries/0", "/checkpoints", "/entries/0/bundle"):
        problem(client.get(LEDGER + path, headers=world.sales_east.headers), 403)
        problem(client.get(LEDGER + path, headers=world.analyst.headers), 403)
    problem(client.get(f"{LEDGER}/entries/999999", headers=world.admin.headers), 404)
    problem(client.get(f"{LEDGER}/entries", params={"limit": 0}, headers=world.admin.headers), 422)
    assert governance_state(kindred) == before


# -- users ------------------------------------------------------------------------------------


def test_user_admins_list_users_with_their_access_state(client: Any, world: World) -> None:
    service = client.post(
        "/api/v1/users",
        json={
            "email": "erp@example.com",
            "name": "ERP bridge",
            "roles": ["integration"],
            "kind": "service",
        },
        headers=world.admin.headers,
    )
    assert service.status_code == 201, service.text
    for _ in range(5):  # lock compliance out with wrong passwords
        client.post(
            "/api/v1/auth/token", data={"username": world.compliance.email, "password": "nope"}
        )
    listed = client.get("/api/v1/users", params={"limit": 200}, headers=world.admin.headers)
    assert listed.status_code == 200, listed.text
    users = {u["email"]: u for u in listed.json()["data"]}
    names = [u["name"] for u in listed.json()["data"]]
    assert names == sorted(names)
    erp = users["erp@example.com"]
    assert erp["kind"] == "service" and erp["has_password"] is False and erp["active"] is True
    assert users[world.sales_east.email]["roles"] == ["sales"]
    assert users[world.sales_east.email]["territories"] == [world.territories["east"]]
    assert users[world.compliance.email]["locked_until"] is not None
    assert users[world.admin.email]["locked_until"] is None
    found = client.get("/api/v1/users", params={"q": "ERP"}, headers=world.admin.headers)
    assert [u["email"] for u in found.json()["data"]] == ["erp@example.com"]
    by_mail = client.get("/api/v1/users", params={"q": "sales.north@"}, headers=world.admin.headers)
    assert [u["id"] for u in by_mail.json()["data"]] == [world.sales_north.id]
    # LIKE's wildcards are searched for, not obeyed.
    for literal in ("%", "\\"):
        none = client.get("/api/v1/users", params={"q": literal}, headers=world.admin.headers)
        assert none.json() == {"data": [], "next_cursor": None}
    underscored = client.get("/api/v1/users", params={"q": "_"}, headers=world.admin.headers)
    found_names = [u["name"] for u in underscored.json()["data"]]
    assert "sales_east" in found_names and all("_" in name for name in found_names)
    paged = client.get("/api/v1/users", params={"limit": 2}, headers=world.admin.headers).json()
    second = client.get(
        "/api/v1/users",
        params={"limit": 2, "cursor": paged["next_cursor"]},
        headers=world.admin.headers,
    ).json()
    assert [u["name"] for u in paged["data"] + second["data"]] == names[:4]
    problem(client.get("/api/v1/users", headers=world.sales_east.headers), 403)
    problem(client.get("/api/v1/users", headers=world.compliance.headers), 403)


def test_a_service_principal_takes_no_password(client: Any, world: World, kindred: Any) -> None:
    before = governance_state(kindred)
    body = problem(
        client.post(
            "/api/v1/users",
            json={
                "email": "bot@example.com",
                "name": "Bot",
                "password": PASSWORD,
                "kind": "service",
            },
            headers=world.admin.headers,
        ),
        422,
    )
    assert body["errors"][0]["path"] == "/password"
    assert governance_state(kindred) == before


def test_changing_roles_and_deactivating_a_user(client: Any, world: World, kindred: Any) -> None:
    user = new_user(client, world, "mover@example.com", ["sales"])
    changed = client.patch(
        f"/api/v1/users/{user['id']}",
        json={"roles": ["service", "analyst"]},
        headers={**world.admin.headers, "If-Match": f'"v{user["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["service", "analyst"]
    assert changed.headers["etag"] == f'"v{user["version"] + 1}"'
    token = client.post(
        "/api/v1/auth/token", data={"username": "mover@example.com", "password": PASSWORD}
    ).json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["roles"] == ["service", "analyst"]
    # A stale version is refused, and changes nothing.
    before = governance_state(kindred)
    problem(
        client.patch(
            f"/api/v1/users/{user['id']}",
            json={"active": False},
            headers={**world.admin.headers, "If-Match": f'"v{user["version"]}"'},
        ),
        412,
    )
    assert governance_state(kindred) == before
    off = client.patch(
        f"/api/v1/users/{user['id']}", json={"active": False}, headers=world.admin.headers
    )
    assert off.status_code == 200 and off.json()["active"] is False
    problem(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)
    entries = client.get(f"{LEDGER}/entries", params={"limit": 200}, headers=world.admin.headers)
    last = entries.json()["data"][-1]
    assert last["kind"] == "auth.rights.changed" and user["id"] in last["subjects"]


def test_refused_user_changes_change_nothing(client: Any, world: World, kindred: Any) -> None:
    user = new_user(client, world, "steady@example.com", ["sales"])
    before = governance_state(kindred)
    path = f"/api/v1/users/{user['id']}"
    problem(client.patch(path, json={"roles": ["admin"]}, headers=world.sales_east.headers), 403)
    body = problem(client.patch(path, json={"roles": ["pirate"]}, headers=world.admin.headers), 422)
    assert body["errors"][0]["path"] == "/roles"
    problem(client.patch(path, json={}, headers=world.admin.headers), 422)
    problem(client.patch(path, json={"roles": []}, headers=world.admin.headers), 422)
    body = problem(
        client.patch(
            f"/api/v1/users/{world.admin.id}", json={"active": False}, headers=world.admin.headers
        ),
        409,
    )
    assert "yourself" in body["detail"]
    problem(
        client.patch("/api/v1/users/nobody", json={"active": False}, headers=world.admin.headers),
        404,
    )
    assert governance_state(kindred) == before


# -- nobody grants more than they hold ---------------------------------------------------------


def user_admin_role(client: Any, world: World) -> dict[str, str]:
    """A 'helpdesk' user administrator who may read accounts and contacts, nothing more."""
    grant = {
        "actions": ["read"],
        "scope": "all",
        "read_fields": "*",
        "write_fields": "*",
        "hidden_fields": [],
    }
    saved = client.put(
        "/api/v1/roles/helpdesk",
        json={
            "description": "Resets passwords",
            "permissions": {
                "objects": {
                    "account": grant,
                    "contact": {**grant, "hidden_fields": ["phone"]},
                    "user": grant,
                },
                "manage_users": True,
            },
        },
        headers=world.admin.headers,
    )
    assert saved.status_code == 200, saved.text
    new_user(client, world, "helpdesk@example.com", ["helpdesk"])
    token = client.post(
        "/api/v1/auth/token", data={"username": "helpdesk@example.com", "password": PASSWORD}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_user_admin_cannot_grant_rights_they_do_not_hold(
    client: Any, world: World, kindred: Any
) -> None:
    helpdesk = user_admin_role(client, world)
    before = governance_state(kindred)
    wide = {
        "description": "",
        "permissions": {
            "objects": {
                "account": {"actions": ["read", "update"]},
                "contact": {"actions": ["read"]},
                "*": {"actions": ["read"]},
            },
            "manage_metadata": True,
        },
    }
    body = problem(client.put("/api/v1/roles/wider", json=wide, headers=helpdesk), 403)
    paths = {e["path"] for e in body["errors"]}
    assert "/permissions/objects/account" in paths  # update on accounts
    assert "/permissions/objects/contact" in paths  # the hidden phone field
    assert "/permissions/objects/*" in paths  # every other object
    assert "/permissions/manage_metadata" in paths
    assert all(e["code"] == "exceeds_your_rights" for e in body["errors"])
    problem(
        client.post(
            "/api/v1/users",
            json={
                "email": "boss@example.com",
                "name": "Boss",
                "password": PASSWORD,
                "roles": ["admin"],
            },
            headers=helpdesk,
        ),
        403,
    )
    steady = client.get("/api/v1/users", params={"q": "sales.east@"}, headers=helpdesk).json()[
        "data"
    ][0]
    body = problem(
        client.patch(f"/api/v1/users/{steady['id']}", json={"roles": ["admin"]}, headers=helpdesk),
        403,
    )
    assert body["errors"][0]["path"] == "/roles"
    assert governance_state(kindred) == before
    # What the helpdesk holds, it may grant.
    narrow = {"description": "", "permissions": {"objects": {"account": {"actions": ["read"]}}}}
    assert client.put("/api/v1/roles/reader", json=narrow, headers=helpdesk).status_code == 200


def test_the_browser_verifiers_fixture_is_a_bundle_the_server_verifier_accepts() -> None:
    """web/src/governance/testdata/bundle.json, which the console's verifier tests use, was
    written by LedgerService: the offline verifier accepts it (both verifiers agree)."""
    fixture = Path(__file__).resolve().parents[2] / "web/src/governance/testdata/bundle.json"
    bundle = json.loads(fixture.read_text())
    leaf = verify_bundle(bundle, bundle["verifier_key"])
    assert leaf["i"] == bundle["index"] and leaf["k"] == "console.fixture"
