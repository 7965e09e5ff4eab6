"""The customer semantic graph over HTTP, on both dialects: neighbours in both directions,
a customer's subgraph by depth and type, shortest paths — all through the record service, so
a rep never sees (or passes through) a record they may not read, and consent checks apply to
the nodes as to any read."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import World

BASE = "/api/v1/objects"


def create(client: Any, headers: dict[str, str], object_name: str, values: dict[str, Any]) -> str:
    response = client.post(f"{BASE}/{object_name}/records", headers=headers, json=values)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def hospital(client: Any, world: World) -> dict[str, str]:
    """Ruijin (East China): two contacts, a CT scanner with a ticket; a North account aside."""
    admin = world.admin.headers
    east, north = world.territories["east"], world.territories["north"]
    ids = {"account": create(client, admin, "account", {"name": "Ruijin", "territory": east})}
    ids["doctor"] = create(
        client,
        admin,
        "contact",
        {
            "last_name": "Li",
            "email": "li@ruijin.example",
            "account": ids["account"],
            "territory": east,
        },
    )
    ids["buyer"] = create(
        client,
        admin,
        "contact",
        {"last_name": "Wang", "account": ids["account"], "territory": east},
    )
    ids["product"] = create(client, admin, "product", {"name": "CT 500", "sku": "CT-500"})
    ids["asset"] = create(
        client,
        admin,
        "asset",
        {"serial_number": "CT-0042", "product": ids["product"], "account": ids["account"]},
    )
    ids["ticket"] = create(
        client,
        admin,
        "ticket",
        {"subject": "Tube error", "asset": ids["asset"], "account": ids["account"]},
    )
    ids["other"] = create(client, admin, "account", {"name": "Peking", "territory": north})
    return ids


def test_neighbours_subgraph_and_path(client: Any, world: World) -> None:
    ids = hospital(client, world)
    rep = world.sales_east.headers
    around = client.get(f"/api/v1/graph/{ids['account']}/neighbours", headers=rep).json()
    linked = {(n["edge"]["relation"], n["node"]["id"]) for n in around["neighbours"]}
    assert linked == {
        ("contact.account", ids["doctor"]),
        ("contact.account", ids["buyer"]),
        ("asset.account", ids["asset"]),
        ("ticket.account", ids["ticket"]),
    }
    outward = client.get(
        f"/api/v1/graph/{ids['asset']}/neighbours", headers=rep, params={"direction": "out"}
    ).json()
    assert {n["node"]["id"] for n in outward["neighbours"]} == {ids["account"], ids["product"]}

    only_people = client.get(
        f"/api/v1/graph/{ids['account']}/subgraph",
        headers=rep,
        params={"depth": 1, "type": ["account", "contact"]},
    ).json()
    assert {n["id"] for n in only_people["nodes"]} == {ids["account"], ids["doctor"], ids["buyer"]}
    deep = client.get(
        f"/api/v1/graph/{ids['doctor']}/subgraph", headers=rep, params={"depth": 3}
    ).json()
    depth_of = {n["id"]: n["depth"] for n in deep["nodes"]}
    assert depth_of[ids["doctor"]] == 0 and depth_of[ids["account"]] == 1
    assert depth_of[ids["asset"]] == 2 and depth_of[ids["product"]] == 3
    assert ids["other"] not in depth_of
    assert {"relation": "ticket.asset", "source": ids["ticket"], "target": ids["asset"]} in deep[
        "edges"
    ]

    found = client.get(
        "/api/v1/graph/path", headers=rep, params={"from": ids["doctor"], "to": ids["product"]}
    ).json()
    assert found["found"] and found["length"] == 3
    assert [n["id"] for n in found["nodes"]] == [
        ids["doctor"],
        ids["account"],
        ids["asset"],
        ids["product"],
    ]
    none = client.get(
        "/api/v1/graph/path",
        headers=rep,
        params={"from": ids["doctor"], "to": ids["product"], "max_depth": 2},
    ).json()
    assert none == {"found": False, "nodes": [], "edges": []}


def test_the_graph_shows_only_what_the_caller_may_read(client: Any, world: World) -> None:
    ids = hospital(client, world)
    north_rep = world.sales_north.headers
    hidden = client.get(f"/api/v1/graph/{ids['account']}/neighbours", headers=north_rep)
    assert hidden.status_code == 404  # not even its existence
    blocked = client.get(
        "/api/v1/graph/path", headers=north_rep, params={"from": ids["other"], "to": ids["doctor"]}
    )
    assert blocked.status_code == 404
    # Consent applies to nodes: the doctor's email is withheld without a consent.
    rep = {**world.sales_east.headers, "X-Purpose": "marketing"}
    around = client.get(f"/api/v1/graph/{ids['account']}/neighbours", headers=rep).json()
    doctor = next(n["node"] for n in around["neighbours"] if n["node"]["id"] == ids["doctor"])
    assert "email" not in doctor
    assert doctor["meta"]["withheld"][0]["reason"] == "no-consent"


def test_bad_graph_queries_are_refused_precisely(client: Any, world: World) -> None:
    ids = hospital(client, world)
    admin = world.admin.headers
    too_deep = client.get(
        f"/api/v1/graph/{ids['account']}/subgraph", headers=admin, params={"depth": 9}
    )
    assert too_deep.status_code == 422
    unknown = client.get(
        f"/api/v1/graph/{ids['account']}/neighbours",
        headers=admin,
        params={"type": "spaceship", "relation": ["contact.account", "contact.last_name"]},
    )
    assert unknown.status_code == 422
    assert {e["path"] for e in unknown.json()["errors"]} == {"/query/type/0", "/query/relation/1"}
    missing = client.get("/api/v1/graph/no-such-record/neighbours", headers=admin)
    assert missing.status_code == 404
