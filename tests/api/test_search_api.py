"""Search over HTTP, on both dialects: a rep finds their territory's Chinese and English notes
and nothing of another territory; bad queries are 422 problems; the declared purpose is
taken from X-Purpose or ?purpose=; only admins rebuild the index, and a refused rebuild
changes nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kindred.graph.search_models import SearchEntry
from tests.api.conftest import World

BASE = "/api/v1/objects"
SEARCH = "/api/v1/search"


def create(client: Any, headers: dict[str, str], object_name: str, values: dict[str, Any]) -> str:
    response = client.post(f"{BASE}/{object_name}/records", headers=headers, json=values)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def notes(client: Any, world: World) -> dict[str, str]:
    admin = world.admin.headers
    east, north = world.territories["east"], world.territories["north"]
    ids = {"east": create(client, admin, "account", {"name": "华山医院", "territory": east})}
    ids["ticket"] = create(
        client,
        admin,
        "ticket",
        {
            "subject": "MRI coil failure",
            "account": ids["east"],
            "description": "医院反映设备与新软件不兼容，需要上门保养。",
        },
    )
    ids["north"] = create(client, admin, "account", {"name": "协和医院", "territory": north})
    ids["north_ticket"] = create(
        client,
        admin,
        "ticket",
        {
            "subject": "MRI coil replaced",
            "account": ids["north"],
            "description": "设备兼容性问题已解决。",
        },
    )
    return ids


def test_a_rep_searches_their_territory(client: Any, world: World) -> None:
    ids = notes(client, world)
    east = client.get(SEARCH, headers=world.sales_east.headers, params={"q": "设备 兼容"})
    assert east.status_code == 200, east.text
    body = east.json()
    assert body["mode"] == "fulltext" and body["query"] == "设备 兼容"
    assert [hit["id"] for hit in body["data"]] == [ids["ticket"]]
    [hit] = body["data"]
    assert hit["title"] == "MRI coil failure" and hit["matched_fields"] == ["description"]
    text = hit["snippet"]["text"]
    assert [text[s:e] for s, e in hit["snippet"]["highlights"]] == ["设备", "兼容"]

    north = client.get(SEARCH, headers=world.sales_north.headers, params={"q": "设备 兼容"})
    assert [hit["id"] for hit in north.json()["data"]] == [ids["north_ticket"]]
    both = client.get(SEARCH, headers=world.admin.headers, params={"q": "MRI coil", "limit": 10})
    assert {hit["id"] for hit in both.json()["data"]} == {ids["ticket"], ids["north_ticket"]}
    # What the north rep cannot read does not exist for them.
    for query in ("华山医院", "保养", '"coil failure"'):
        response = client.get(SEARCH, headers=world.sales_north.headers, params={"q": query})
        assert response.status_code == 200 and response.json()["data"] == [], query

    only_accounts = client.get(
        SEARCH, headers=world.admin.headers, params={"q": "医院", "objects": "account,lead"}
    )
    assert {hit["id"] for hit in only_accounts.json()["data"]} == {ids["east"], ids["north"]}
    repeated = client.get(
        SEARCH,
        headers=world.admin.headers,
        params=[("q", "医院"), ("objects", "ticket"), ("objects", "lead")],
    )
    assert [hit["id"] for hit in repeated.json()["data"]] == [ids["ticket"]]


def test_bad_requests_are_problems(client: Any, world: World) -> None:
    notes(client, world)
    rep = world.sales_east.headers
    cases = [
        ({}, "/query/q", "required"),
        ({"q": "   "}, "/query/q", "required"),
        ({"q": "医" * 201}, "/query/q", "too_long"),
        ({"q": "?!"}, "/query/q", "no_words"),
        ({"q": "coil", "objects": "ticket,spaceship"}, "/query/objects", "unknown_object"),
        ({"q": "coil", "sources": "web"}, "/query/sources", "unknown_source"),
    ]
    for params, path, code in cases:
        response = client.get(SEARCH, headers=rep, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 422
        assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)], params
    too_many = client.get(SEARCH, headers=rep, params={"q": "coil", "limit": 101})
    assert too_many.status_code == 422
    assert too_many.headers["content-type"].startswith("application/problem+json")
    assert client.get(SEARCH, params={"q": "coil"}).status_code == 401


def test_the_purpose_comes_from_the_header_or_the_query(client: Any, world: World) -> None:
    ids = notes(client, world)
    rep = world.sales_east.headers
    by_header = client.get(
        SEARCH, headers={**rep, "X-Purpose": "service"}, params={"q": "coil failure"}
    )
    by_query = client.get(SEARCH, headers=rep, params={"q": "coil failure", "purpose": "service"})
    assert by_header.status_code == by_query.status_code == 200
    assert [h["id"] for h in by_query.json()["data"]] == [ids["ticket"]]
    assert by_header.json()["data"] == by_query.json()["data"]
    same = client.get(
        SEARCH,
        headers={**rep, "X-Purpose": "service"},
        params={"q": "coil failure", "purpose": "service"},
    )
    assert same.status_code == 200
    clash = client.get(
        SEARCH,
        headers={**rep, "X-Purpose": "service"},
        params={"q": "coil failure", "purpose": "marketing"},
    )
    assert clash.status_code == 422
    assert clash.json()["errors"][0]["path"] == "/query/purpose"


def entry_rows(kindred: Any) -> list[tuple[str, str, str]]:
    with kindred.database.read() as session:
        return sorted(
            (row.record_id, row.field, row.content)
            for row in session.execute(
                sa.select(SearchEntry.record_id, SearchEntry.field, SearchEntry.content)
            )
        )


def test_only_admins_rebuild_the_index(client: Any, kindred: Any, world: World) -> None:
    ids = notes(client, world)
    with kindred.database.write() as session:
        session.execute(sa.delete(SearchEntry).where(SearchEntry.object == "ticket"))
    emptied = entry_rows(kindred)
    assert not any(record_id == ids["ticket"] for record_id, _, _ in emptied)

    refused = client.post(f"{SEARCH}/reindex", headers=world.sales_east.headers)
    assert refused.status_code == 403
    assert entry_rows(kindred) == emptied
    hits = client.get(SEARCH, headers=world.admin.headers, params={"q": "coil"})
    assert hits.json()["data"] == []

    rebuilt = client.post(
        f"{SEARCH}/reindex", headers=world.admin.headers, params={"objects": "ticket"}
    )
    assert rebuilt.status_code == 200, rebuilt.text
    assert rebuilt.json() == {"indexed": {"ticket": 2}, "mode": "fulltext"}
    hits = client.get(SEARCH, headers=world.admin.headers, params={"q": "coil"})
    assert {h["id"] for h in hits.json()["data"]} == {ids["ticket"], ids["north_ticket"]}
