"""The generic record API on both dialects: CRUD, concurrency, idempotency, bulk, lists,
and that every rejected request leaves the database exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.api.conftest import World

BASE = "/api/v1/objects"


def state(kindred: Any) -> tuple[Any, ...]:
    """Everything a write could touch: records, edges and the change log."""
    with kindred.database.read() as session:
        return (
            session.execute(sa.text("SELECT id, version, data FROM records ORDER BY id")).all(),
            session.execute(
                sa.text("SELECT relation, source_id, target_id FROM record_links ORDER BY id")
            ).all(),
            session.execute(sa.text("SELECT count(*) FROM change_log")).scalar_one(),
        )


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://kindred.dev/problems/")
    return body  # type: ignore[no-any-return]


def make_account(client: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    payload = {"name": "Ruijin Hospital", "kind": "hospital", "tier": "A", **fields}
    response = client.post(f"{BASE}/account/records", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_create_get_update_delete_round_trip(client: Any, world: World, kindred: Any) -> None:
    admin = world.admin.headers
    created = make_account(
        client, admin, annual_revenue="2500000.75", territory=world.territories["east"]
    )
    assert created["version"] == 1
    assert created["annual_revenue"] == 2500000.75
    assert created["owner"] == world.admin.id
    record_url = f"{BASE}/account/records/{created['id']}"

    fetched = client.get(record_url, headers=admin)
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == '"v1"'
    assert fetched.json() == created

    updated = client.patch(
        record_url, json={"tier": "B", "city": "上海"}, headers={**admin, "If-Match": '"v1"'}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["tier"] == "B" and updated.json()["city"] == "上海"
    assert updated.headers["etag"] == '"v2"'

    history = client.get(f"{record_url}/history", headers=admin).json()["data"]
    assert [entry["action"] for entry in history] == ["update", "create"]
    assert history[0]["before"] == {"city": None, "tier": "A"}
    assert history[0]["after"] == {"city": "上海", "tier": "B"}
    assert history[0]["actor_id"] == world.admin.id

    assert client.delete(record_url, headers=admin).status_code == 204
    problem(client.get(record_url, headers=admin), 404)


def test_stale_if_match_is_refused_and_changes_nothing(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    created = make_account(client, admin)
    url = f"{BASE}/account/records/{created['id']}"
    assert client.patch(url, json={"tier": "C"}, headers=admin).status_code == 200
    before = state(kindred)
    body = problem(
        client.patch(url, json={"tier": "D"}, headers={**admin, "If-Match": '"v1"'}), 412
    )
    assert body["current_version"] == 2
    problem(client.delete(url, headers={**admin, "If-Match": '"v1"'}), 412)
    problem(client.patch(url, json={"tier": "D"}, headers={**admin, "If-Match": "garbage"}), 400)
    assert state(kindred) == before


@pytest.mark.parametrize(
    ("payload", "path", "code"),
    [
        ({"name": "X", "tier": "Z"}, "/tier", "enum"),
        ({"name": "X", "annual_revenue": "lots"}, "/annual_revenue", "type"),
        ({"name": "X", "annual_revenue": -5}, "/annual_revenue", "minimum"),
        ({"name": "X", "employees": True}, "/employees", "type"),
        ({"name": "X", "email": "not-an-email"}, "/email", "format"),
        ({"name": "X", "website": "ftp://x"}, "/website", "format"),
        ({"name": "X", "colour": "red"}, "/colour", "unknown_field"),
        ({"tier": "A"}, "/name", "required"),
        ({"name": "X", "parent_account": "not-an-id"}, "/parent_account", "type"),
        (
            {"name": "X", "parent_account": "01a20fe4-9ae7-7000-abd6-be6d24c3e234"},
            "/parent_account",
            "not_found",
        ),
    ],
)
def test_invalid_records_are_refused_with_field_paths(
    client: Any, world: World, kindred: Any, payload: dict[str, Any], path: str, code: str
) -> None:
    before = state(kindred)
    body = problem(
        client.post(f"{BASE}/account/records", json=payload, headers=world.admin.headers), 422
    )
    assert {"path": path, "code": code} in [
        {"path": e["path"], "code": e["code"]} for e in body["errors"]
    ]
    assert state(kindred) == before


def test_malformed_json_unknown_object_and_non_object_body(
    client: Any, world: World, kindred: Any
) -> None:
    headers = {**world.admin.headers, "Content-Type": "application/json"}
    before = state(kindred)
    body = problem(
        client.post(f"{BASE}/account/records", content=b'{"name": "x",', headers=headers), 400
    )
    assert body["title"] == "Malformed JSON"
    body = problem(
        client.post(f"{BASE}/spaceship/records", json={"name": "x"}, headers=world.admin.headers),
        404,
    )
    assert "unknown object 'spaceship'" in body["detail"]
    assert "account" in body["known_objects"]
    problem(
        client.post(
            f"{BASE}/account/records", json=["not", "an", "object"], headers=world.admin.headers
        ),
        422,
    )
    assert state(kindred) == before


def test_unique_fields_are_enforced(client: Any, world: World, kindred: Any) -> None:
    admin = world.admin.headers
    first = make_account(client, admin, tax_id="91310000MA1FL")
    before = state(kindred)
    body = problem(
        client.post(
            f"{BASE}/account/records",
            json={"name": "Other", "tax_id": "91310000MA1FL"},
            headers=admin,
        ),
        422,
    )
    assert body["errors"][0]["path"] == "/tax_id"
    assert body["errors"][0]["code"] == "unique"
    assert body["errors"][0]["conflicting_id"] == first["id"]
    assert state(kindred) == before


def test_validation_rules_written_in_cel_are_enforced(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    account = make_account(client, admin)
    before = state(kindred)
    body = problem(
        client.post(
            f"{BASE}/contract/records",
            json={
                "number": "HT-2026-001",
                "account": account["id"],
                "start_date": "2026-06-01",
                "end_date": "2026-01-01",
            },
            headers=admin,
        ),
        422,
    )
    assert body["errors"][0]["code"] == "rule_failed"
    assert body["errors"][0]["rule"] == "end_after_start"
    assert body["errors"][0]["path"] == "/end_date"
    assert state(kindred) == before
    ok = client.post(
        f"{BASE}/contract/records",
        json={
            "number": "HT-2026-001",
            "account": account["id"],
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
        },
        headers=admin,
    )
    assert ok.status_code == 201, ok.text


def test_idempotency_key_replays_instead_of_writing_twice(
    client: Any, world: World, kindred: Any
) -> None:
    headers = {**world.admin.headers, "Idempotency-Key": "create-ruijin-1"}
    first = client.post(f"{BASE}/account/records", json={"name": "Ruijin"}, headers=headers)
    assert first.status_code == 201
    after_first = state(kindred)
    again = client.post(f"{BASE}/account/records", json={"name": "Ruijin"}, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert state(kindred) == after_first
    body = problem(
        client.post(f"{BASE}/account/records", json={"name": "Different"}, headers=headers), 422
    )
    assert body["errors"][0]["code"] == "key_reused"
    assert state(kindred) == after_first


def test_bulk_is_all_or_nothing(client: Any, world: World, kindred: Any) -> None:
    admin = world.admin.headers
    before = state(kindred)
    body = problem(
        client.post(
            f"{BASE}/account/records/bulk",
            json={
                "operation": "create",
                "records": [
                    {"name": "A1"},
                    {"name": "A2", "tier": "nope"},
                    {"name": "A3"},
                    {"tier": "A"},
                ],
            },
            headers=admin,
        ),
        422,
    )
    assert body["detail"] == "2 of 4 records are invalid; nothing was written"
    assert sorted(e["path"] for e in body["errors"]) == ["/records/1/tier", "/records/3/name"]
    assert state(kindred) == before

    created = client.post(
        f"{BASE}/account/records/bulk",
        json={
            "operation": "create",
            "records": [{"name": f"Bulk {i}", "tax_id": f"TAX-{i}"} for i in range(5)],
        },
        headers=admin,
    )
    assert created.status_code == 200, created.text
    assert created.json()["count"] == 5

    upserted = client.post(
        f"{BASE}/account/records/bulk",
        json={
            "operation": "upsert",
            "match_on": "tax_id",
            "records": [{"tax_id": "TAX-0", "tier": "A"}, {"tax_id": "TAX-NEW", "name": "New one"}],
        },
        headers=admin,
    )
    assert upserted.status_code == 200, upserted.text
    data = upserted.json()["data"]
    assert data[0]["name"] == "Bulk 0" and data[0]["tier"] == "A" and data[0]["version"] == 2
    assert data[1]["name"] == "New one" and data[1]["version"] == 1

    missing = problem(
        client.post(
            f"{BASE}/account/records/bulk",
            json={
                "operation": "update",
                "match_on": "tax_id",
                "records": [{"tax_id": "TAX-1", "tier": "B"}, {"tax_id": "TAX-404", "tier": "B"}],
            },
            headers=admin,
        ),
        404,
    )
    assert missing["errors"][0]["path"] == "/records/1/tax_id"


def test_list_filters_sort_cursor_fields_and_include(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    east = world.territories["east"]
    revenues = [500, 1500, 2500, 3500, 4500, 5500, 6500, None]
    for index, revenue in enumerate(revenues):
        fields: dict[str, Any] = {
            "name": f"Hospital {index}",
            "tier": "A" if index % 2 else "B",
            "territory": east,
        }
        if revenue is not None:
            fields["annual_revenue"] = revenue
        make_account(client, admin, **fields)

    def collect(params: dict[str, Any]) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {**params, "limit": 2}
            if cursor:
                query["cursor"] = cursor
            response = client.get(f"{BASE}/account/records", params=query, headers=admin)
            assert response.status_code == 200, response.text
            body = response.json()
            seen.extend(body["data"])
            cursor = body["next_cursor"]
            if cursor is None:
                return seen

    descending = collect({"sort": "-annual_revenue"})
    revenue_order = [r["annual_revenue"] for r in descending]
    non_null = sorted((r for r in revenues if r is not None), reverse=True)
    assert [r for r in revenue_order if r is not None] == non_null
    assert len(descending) == len(revenues)  # the null one is included exactly once

    filtered = collect(
        {"filter[tier]": "A", "filter[annual_revenue][gte]": "2000", "sort": "annual_revenue"}
    )
    assert [r["annual_revenue"] for r in filtered] == [3500, 5500]

    by_cel = client.get(
        f"{BASE}/account/records",
        headers=admin,
        params={
            "where": "record.annual_revenue > 4000 && record.tier == 'B'",
            "sort": "name",
        },
    )
    assert by_cel.status_code == 200, by_cel.text
    assert [r["name"] for r in by_cel.json()["data"]] == ["Hospital 4", "Hospital 6"]

    sparse = client.get(
        f"{BASE}/account/records",
        headers=admin,
        params={"fields": "name", "limit": 1, "include": "territory"},
    ).json()
    assert set(sparse["data"][0]) == {
        "id",
        "object",
        "version",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "name",
        "territory",  # kept: the included territory is matched by it
    }
    assert sparse["included"][0]["id"] == east == sparse["data"][0]["territory"]

    problem(
        client.get(f"{BASE}/account/records", headers=admin, params={"filter[nonexistent]": "1"}),
        422,
    )
    problem(
        client.get(
            f"{BASE}/account/records", headers=admin, params={"filter[annual_revenue][gt]": "lots"}
        ),
        422,
    )
    problem(
        client.get(f"{BASE}/account/records", headers=admin, params={"filter[tier][like]": "A"}),
        400,
    )
    problem(client.get(f"{BASE}/account/records", headers=admin, params={"colour": "red"}), 400)
    problem(
        client.get(
            f"{BASE}/account/records", headers=admin, params={"where": "record.annual_revenue >"}
        ),
        422,
    )
    problem(
        client.get(f"{BASE}/account/records", headers=admin, params={"cursor": "not-a-cursor"}), 400
    )
    first_page = client.get(
        f"{BASE}/account/records", headers=admin, params={"sort": "name", "limit": 1}
    ).json()
    problem(
        client.get(
            f"{BASE}/account/records",
            headers=admin,
            params={"sort": "-name", "cursor": first_page["next_cursor"]},
        ),
        400,
    )


def test_relations_are_typed_edges_and_block_deleting_referenced_records(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    account = make_account(client, admin)
    contact = client.post(
        f"{BASE}/contact/records", json={"last_name": "Li", "account": account["id"]}, headers=admin
    ).json()
    with kindred.database.read() as session:
        edges = session.execute(
            sa.text(
                "SELECT relation, source_id, target_id FROM record_links "
                "WHERE relation = 'contact.account'"
            )
        ).all()
    assert [tuple(e) for e in edges] == [("contact.account", contact["id"], account["id"])]
    wrong_type = problem(
        client.post(
            f"{BASE}/contact/records",
            json={"last_name": "Zhao", "account": contact["id"]},
            headers=admin,
        ),
        422,
    )
    assert wrong_type["errors"][0]["code"] == "not_found"
    before = state(kindred)
    body = problem(client.delete(f"{BASE}/account/records/{account['id']}", headers=admin), 409)
    assert body["references"] == {"contact.account": 1}
    assert state(kindred) == before
    assert (
        client.patch(
            f"{BASE}/contact/records/{contact['id']}", json={"account": None}, headers=admin
        ).status_code
        == 200
    )
    assert (
        client.delete(f"{BASE}/account/records/{account['id']}", headers=admin).status_code == 204
    )


def test_openapi_and_unknown_routes(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/objects/{object_name}/records" in spec["paths"]
    problem(client.get("/api/v1/nowhere"), 404)


def test_filter_built_in_columns_by_a_list(client: Any, world: World) -> None:
    admin = world.admin.headers
    first, second, third = (make_account(client, admin, name=f"List {i}") for i in range(3))
    wanted = f"{first['id']},{third['id']}"
    listed = client.get(
        f"{BASE}/account/records", headers=admin, params={"filter[id][in]": wanted}
    ).json()["data"]
    assert sorted(r["id"] for r in listed) == sorted([first["id"], third["id"]])
    others = client.get(
        f"{BASE}/account/records", headers=admin, params={"filter[id][nin]": wanted}
    ).json()["data"]
    assert second["id"] in {r["id"] for r in others}
    assert not {first["id"], third["id"]} & {r["id"] for r in others}


def test_text_filters_contains_and_starts_with_on_every_dialect(client: Any, world: World) -> None:
    """``contains``/``starts_with`` compile to LIKE on the JSON text (500 on PostgreSQL before:
    the expression had no type), with ``%`` and ``_`` taken literally."""
    admin = world.admin.headers
    for name in ("Shanghai Ruijin Hospital", "Ruijin 100% Clinic", "Beijing Union Hospital"):
        make_account(client, admin, name=name)

    def names(query: str) -> list[str]:
        answer = client.get(f"{BASE}/account/records?{query}&sort=name", headers=admin)
        assert answer.status_code == 200, answer.text
        return [record["name"] for record in answer.json()["data"]]

    assert names("filter[name][contains]=Ruijin") == [
        "Ruijin 100% Clinic",
        "Shanghai Ruijin Hospital",
    ]
    assert names("filter[name][starts_with]=Ruijin") == ["Ruijin 100% Clinic"]
    assert names("filter[name][contains]=100%25") == ["Ruijin 100% Clinic"]
    assert names("filter[name][contains]=Hosp_tal") == []
