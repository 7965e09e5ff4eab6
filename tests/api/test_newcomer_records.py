"""Issue #18, records as a newcomer meets them: sparse fields keep the ids `include` needs,
a deleted record's history stays readable (to those who could see the record), a PATCH of
read-only members is refused, and a repeated event is counted as a duplicate, not as
accepted."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from tests.api.conftest import World
from tests.api.test_records_api import BASE, make_account, problem, state


def test_sparse_fields_keep_the_ids_of_included_relations(client: Any, world: World) -> None:
    admin = world.admin.headers
    account = make_account(client, admin, territory=world.territories["east"])
    query = "fields=name,tier&include=territory,owner"

    listed = client.get(f"{BASE}/account/records?{query}", headers=admin)
    assert listed.status_code == 200, listed.text
    (record,) = listed.json()["data"]
    assert record["territory"] == world.territories["east"]
    assert record["owner"] == world.admin.id
    assert {"name", "tier"} <= set(record) and "kind" not in record  # still sparse
    included = {r["id"]: r["object"] for r in listed.json()["included"]}
    assert included == {world.territories["east"]: "territory", world.admin.id: "user"}

    one = client.get(f"{BASE}/account/records/{account['id']}?{query}", headers=admin)
    assert one.status_code == 200, one.text
    body = one.json()
    assert (body["territory"], body["owner"]) == (world.territories["east"], world.admin.id)
    assert "kind" not in body
    assert {r["id"] for r in body["included"]} == set(included)


def _lead(client: Any, who: Any, territory: str) -> dict[str, Any]:
    response = client.post(
        f"{BASE}/lead/records",
        json={
            "name": "Li Wei",
            "company": "Anhe Clinic",
            "email": "li.wei@example.com",
            "territory": territory,
        },
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_deleted_records_history_shows_who_deleted_it_to_those_who_could_see_it(
    client: Any, world: World
) -> None:
    lead = _lead(client, world.sales_east, world.territories["east"])
    url = f"{BASE}/lead/records/{lead['id']}"
    assert client.patch(url, json={"status": "working"}, headers=world.sales_east.headers)
    deleted = client.delete(url, headers=world.sales_east.headers)
    assert deleted.status_code == 204
    assert client.get(url, headers=world.admin.headers).status_code == 404

    for who in (world.sales_east, world.admin, world.compliance):
        response = client.get(f"{url}/history", headers=who.headers)
        assert response.status_code == 200, response.text
        entries = response.json()["data"]
        assert [e["action"] for e in entries] == ["delete", "update", "create"]
        deletion = entries[0]
        assert deletion["actor_id"] == world.sales_east.id and deletion["at"]
        assert deletion["after"] is None and deletion["before"]["name"] == "Li Wei"

    # The analyst reads leads without their email: left out of every entry, also now.
    entries = client.get(f"{url}/history", headers=world.analyst.headers).json()["data"]
    assert entries[0]["before"]["name"] == "Li Wei"
    assert all("email" not in (e["before"] or {}) | (e["after"] or {}) for e in entries)

    # Someone who could not see the lead cannot see its history either: a 404, the same as
    # for a record that never was (and under another object's name).
    refused = problem(client.get(f"{url}/history", headers=world.sales_north.headers), 404)
    never = problem(
        client.get(f"{BASE}/lead/records/{uuid.uuid4()}/history", headers=world.admin.headers),
        404,
    )
    assert refused["title"] == never["title"] and "no lead with id" in refused["detail"]
    problem(
        client.get(f"{BASE}/account/records/{lead['id']}/history", headers=world.admin.headers),
        404,
    )


def test_a_deleted_child_records_history_follows_its_parents_visibility(
    client: Any, world: World
) -> None:
    admin = world.admin.headers

    def create(object_name: str, **values: Any) -> str:
        response = client.post(f"{BASE}/{object_name}/records", json=values, headers=admin)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    account = create("account", name="Beijing Anhe Hospital", territory=world.territories["north"])
    order = create("order", number="SO-1", account=account)
    product = create("product", name="CT scanner", sku="CT-1")
    line = create("order_line", order=order, product=product, quantity=1, unit_price=10)
    url = f"{BASE}/order_line/records/{line}"
    assert client.delete(url, headers=world.sales_north.headers).status_code == 204

    north = client.get(f"{url}/history", headers=world.sales_north.headers)
    assert north.status_code == 200, north.text
    assert north.json()["data"][0]["actor_id"] == world.sales_north.id
    problem(client.get(f"{url}/history", headers=world.sales_east.headers), 404)


def test_a_patch_of_read_only_members_is_refused_naming_them(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    account = make_account(client, admin)
    url = f"{BASE}/account/records/{account['id']}"
    before = state(kindred)

    only = problem(
        client.patch(url, json={"created_at": "2020-01-01T00:00:00Z", "version": 7}, headers=admin),
        422,
    )
    assert [(e["path"], e["code"]) for e in only["errors"]] == [
        ("/version", "read_only"),
        ("/created_at", "read_only"),
    ]
    assert "version" in only["detail"] and "created_at" in only["detail"]

    mixed = problem(
        client.patch(
            url,
            json={"tier": "B", "updated_by": world.analyst.id, "id": str(uuid.uuid4())},
            headers=admin,
        ),
        422,
    )
    assert [e["path"] for e in mixed["errors"]] == ["/id", "/updated_by"]
    assert state(kindred) == before  # nothing of either patch was saved

    # The record's own id is no change: the rest of the patch is saved.
    saved = client.patch(url, json={"id": account["id"], "tier": "B"}, headers=admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["tier"] == "B" and saved.json()["version"] == 2


def test_a_repeated_event_is_counted_as_a_duplicate_not_as_stored(
    client: Any, world: World
) -> None:
    def heartbeat() -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "urn:test:devices",
            "type": "iot.device.heartbeat",
            "data": {"device_id": "dev-1", "battery_pct": 80},
        }

    def send(body: Any, content_type: str) -> dict[str, Any]:
        response = client.post(
            "/api/v1/events",
            content=orjson.dumps(body),
            headers={**world.integration.headers, "Content-Type": content_type},
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    event = heartbeat()
    first = send(event, "application/cloudevents+json")
    assert (first["stored"], first["duplicates"]) == (1, 0)
    again = send(event, "application/cloudevents+json")
    assert (again["stored"], again["duplicates"]) == (0, 1)
    assert "accepted" not in again
    batch = send([event, heartbeat()], "application/cloudevents-batch+json")
    assert (batch["stored"], batch["duplicates"]) == (1, 1)
    assert [e["duplicate"] for e in batch["events"]] == [True, False]
