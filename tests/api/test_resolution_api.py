"""Identity resolution over HTTP, on both dialects: candidates for a lead form and for a lead
record, duplicate pairs paged, a merge and its undo, a refused undo (409 with the
conflicts), and every refusal as problem+json that changes nothing — including a sales rep
who may not merge, and records outside the caller's territory."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kindred.records.models import ChangeLogEntry, RecordLink, RecordRow
from tests.api.conftest import World

BASE = "/api/v1/resolution"
RECORDS = "/api/v1/objects"
TAX_ID = "913100004250123457"


def create(client: Any, headers: dict[str, str], object_name: str, values: dict[str, Any]) -> str:
    response = client.post(f"{RECORDS}/{object_name}/records", headers=headers, json=values)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def everything(kindred: Any) -> tuple[Any, ...]:
    with kindred.database.read() as session:
        records = {
            row.id: (row.data, row.version)
            for row in session.execute(sa.select(RecordRow)).scalars()
        }
        edges = {
            (link.relation, link.source_id, link.target_id)
            for link in session.execute(sa.select(RecordLink)).scalars()
        }
        log = session.execute(sa.select(sa.func.count()).select_from(ChangeLogEntry)).scalar()
    return records, edges, log


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def hospitals(client: Any, world: World) -> dict[str, str]:
    """The ERP's hospital in East China, the same hospital from WeChat, a contact and a
    ticket on the WeChat record, a lead naming the hospital, and an unrelated hospital."""
    admin, east = world.admin.headers, world.territories["east"]
    erp_headers = {**world.integration.headers, "X-Source-System": "erp"}
    ids = {
        "erp": create(
            client,
            erp_headers,
            "account",
            {
                "name": "上海市第一人民医院",
                "tax_id": TAX_ID,
                "city": "上海",
                "external_ids": {"erp": "C-1001"},
                "territory": east,
            },
        ),
        "wechat": create(
            client,
            admin,
            "account",
            {
                "name": "上海第一人民医院",
                "phone": "021-6666 7777",
                "external_ids": {"wechat": "gh_42"},
                "territory": east,
            },
        ),
        "other": create(
            client, admin, "account", {"name": "上海瑞金医院", "city": "上海", "territory": east}
        ),
    }
    ids["contact"] = create(
        client, admin, "contact", {"last_name": "Li", "account": ids["wechat"], "territory": east}
    )
    ids["ticket"] = create(
        client, admin, "ticket", {"subject": "CT down", "account": ids["wechat"]}
    )
    ids["lead"] = create(
        client,
        admin,
        "lead",
        {"name": "Dr. Wang", "company": "上海第一人民医院", "territory": east},
    )
    return ids


def test_candidates_for_a_lead_form_and_a_lead(client: Any, world: World) -> None:
    ids = hospitals(client, world)
    rep = world.sales_east.headers
    form = client.post(
        f"{BASE}/account/candidates",
        headers=rep,
        json={"values": {"name": "上海第一人民医院", "city": "上海市"}},
    )
    assert form.status_code == 200, form.text
    body = form.json()
    assert body["thresholds"] == {"auto_merge": 0.99, "review": 0.6}
    best = body["data"][0]
    assert best["record"]["id"] == ids["erp"] and best["decision"] == "review"
    explained = {f["feature"]: f for f in best["features"]}
    assert explained["name"]["contribution"] == 6.0 and explained["city"]["weight"] == 1.5
    assert best["summary"].startswith("Needs review")
    assert {m["record"]["id"] for m in body["data"]} == {ids["erp"], ids["wechat"]}

    lead = client.post(f"{BASE}/account/candidates", headers=rep, json={"record": ids["lead"]})
    assert lead.status_code == 200, lead.text
    assert {m["record"]["id"] for m in lead.json()["data"]} == {ids["erp"], ids["wechat"]}

    # A rep of another region sees none of it.
    north = world.sales_north.headers
    hidden = client.post(f"{BASE}/account/candidates", headers=north, json={"record": ids["erp"]})
    assert_problem(hidden, 404)
    blind = client.post(
        f"{BASE}/account/candidates",
        headers=north,
        json={"values": {"name": "上海第一人民医院", "city": "上海"}},
    )
    assert blind.status_code == 200 and blind.json()["data"] == []
    # Another region's ticket: the same 404 as for no record at all, not "wrong object".
    elsewhere = client.post(
        f"{BASE}/contact/candidates", headers=north, json={"record": ids["ticket"]}
    )
    assert_problem(elsewhere, 404)
    assert client.get(f"{BASE}/account/duplicates", headers=north).json()["data"] == []


def test_duplicates_are_paged(client: Any, world: World) -> None:
    ids = hospitals(client, world)
    admin = world.admin.headers
    ruijin = create(client, admin, "account", {"name": "瑞金医院", "city": "上海市"})
    first = client.get(f"{BASE}/account/duplicates", headers=admin, params={"limit": 1})
    assert first.status_code == 200, first.text
    page = first.json()
    # Ruijin: the same name once "上海" (its city) is set aside, and the same city: 97%.
    assert len(page["data"]) == 1 and page["next_cursor"]
    assert {r["id"] for r in page["data"][0]["records"]} == {ids["other"], ruijin}
    assert page["data"][0]["score"] == 0.9707
    second = client.get(
        f"{BASE}/account/duplicates",
        headers=admin,
        params={"limit": 1, "cursor": page["next_cursor"]},
    ).json()
    # The ERP and WeChat records: the same name, no city on one of them: 88%.
    assert {r["id"] for r in second["data"][0]["records"]} == {ids["erp"], ids["wechat"]}
    assert second["data"][0]["score"] == 0.8808
    assert second["next_cursor"] is None
    assert_problem(
        client.get(f"{BASE}/account/duplicates", headers=admin, params={"cursor": "%%%"}), 422
    )


def test_merge_then_undo(client: Any, kindred: Any, world: World) -> None:
    ids = hospitals(client, world)
    admin = world.admin.headers
    before = everything(kindred)
    merged = client.post(
        f"{BASE}/merges",
        headers=admin,
        json={"object": "account", "survivor": ids["erp"], "duplicate": ids["wechat"]},
    )
    assert merged.status_code == 201, merged.text
    merge = merged.json()
    assert merge["state"] == "merged" and merge["survivor_record"]["phone"] == "021-6666 7777"
    assert merge["survivor_record"]["external_ids"] == {"erp": "C-1001", "wechat": "gh_42"}
    contact = client.get(f"{RECORDS}/contact/records/{ids['contact']}", headers=admin).json()
    assert contact["account"] == ids["erp"]
    ticket = client.get(f"{RECORDS}/ticket/records/{ids['ticket']}", headers=admin).json()
    assert ticket["account"] == ids["erp"]
    assert_problem(client.get(f"{RECORDS}/account/records/{ids['wechat']}", headers=admin), 404)

    shown = client.get(f"{BASE}/merges/{merge['id']}", headers=admin)
    assert shown.status_code == 200
    assert shown.json()["duplicate_record"]["name"] == "上海第一人民医院"
    listed = client.get(f"{BASE}/merges", headers=admin, params={"object": "account"}).json()
    assert [m["id"] for m in listed["data"]] == [merge["id"]]
    assert_problem(
        client.get(f"{BASE}/merges/{merge['id']}", headers=world.sales_north.headers), 404
    )

    undone = client.post(f"{BASE}/merges/{merge['id']}/undo", headers=admin)
    assert undone.status_code == 200, undone.text
    assert undone.json()["state"] == "undone"
    records, edges, _ = everything(kindred)
    assert {i: data for i, (data, _) in records.items()} == {
        i: data for i, (data, _) in before[0].items()
    }
    assert edges == before[1]
    again = assert_problem(client.post(f"{BASE}/merges/{merge['id']}/undo", headers=admin), 409)
    assert "already undone" in again["detail"]


def test_undo_refused_after_a_conflicting_edit(client: Any, kindred: Any, world: World) -> None:
    ids = hospitals(client, world)
    admin = world.admin.headers
    merge = client.post(
        f"{BASE}/merges",
        headers=admin,
        json={"object": "account", "survivor": ids["erp"], "duplicate": ids["wechat"]},
    ).json()
    edited = client.patch(
        f"{RECORDS}/account/records/{ids['erp']}", headers=admin, json={"phone": "021-6666 0000"}
    )
    assert edited.status_code == 200
    before = everything(kindred)
    refused = assert_problem(client.post(f"{BASE}/merges/{merge['id']}/undo", headers=admin), 409)
    assert refused["conflicts"] == [
        {
            "record": ids["erp"],
            "field": "phone",
            "reason": "changed",
            "message": "the survivor's 'phone' was changed after the merge",
        }
    ]
    assert everything(kindred) == before
    assert client.get(f"{BASE}/merges/{merge['id']}", headers=admin).json()["state"] == "merged"


def test_refusals_are_problems_and_change_nothing(client: Any, kindred: Any, world: World) -> None:
    ids = hospitals(client, world)
    admin, rep = world.admin.headers, world.sales_east.headers
    before = everything(kindred)
    merges = f"{BASE}/merges"
    pair = {"object": "account", "survivor": ids["erp"], "duplicate": ids["wechat"]}
    denied = assert_problem(client.post(merges, headers=rep, json=pair), 403)
    assert "delete" in denied["detail"]
    assert_problem(client.post(merges, headers=admin, json={**pair, "duplicate": ids["erp"]}), 422)
    different = assert_problem(
        client.post(merges, headers=admin, json={**pair, "duplicate": ids["contact"]}), 422
    )
    assert different["errors"][0]["path"] == "/duplicate"
    assert_problem(client.post(merges, headers=admin, json={**pair, "object": "spaceship"}), 404)
    assert_problem(client.post(merges, headers=admin, json={**pair, "object": "product"}), 422)
    assert_problem(client.post(merges, headers=admin, json={**pair, "color": "red"}), 422)
    stale = assert_problem(
        client.post(merges, headers=admin, json={**pair, "duplicate_version": 7}), 412
    )
    assert stale["current_version"] == 1
    override = assert_problem(
        client.post(merges, headers=admin, json={**pair, "overrides": {"tier": "Z"}}), 422
    )
    assert override["errors"][0]["path"] == "/overrides/tier"
    assert_problem(client.post(f"{BASE}/spaceship/candidates", headers=admin, json={}), 404)
    neither = assert_problem(client.post(f"{BASE}/account/candidates", headers=admin, json={}), 422)
    assert neither["errors"][0]["code"] == "one_of"
    unknown = assert_problem(
        client.post(f"{BASE}/account/candidates", headers=admin, json={"values": {"colour": 1}}),
        422,
    )
    assert unknown["errors"][0]["path"] == "/values/colour"
    wrong = assert_problem(
        client.post(f"{BASE}/contact/candidates", headers=admin, json={"record": ids["ticket"]}),
        422,
    )
    assert wrong["errors"][0]["code"] == "wrong_object"
    assert_problem(
        client.get(f"{BASE}/merges/01900000-0000-7000-8000-000000000000", headers=admin), 404
    )
    assert_problem(client.post(f"{BASE}/account/candidates", json={"record": ids["erp"]}), 401)
    assert everything(kindred) == before


def test_merged_customer_values_stay_consent_checked(client: Any, world: World) -> None:
    admin = world.admin.headers
    account = create(client, admin, "account", {"name": "上海瑞金医院"})
    survivor = create(
        client, admin, "contact", {"last_name": "陈", "full_name": "陈美玲", "account": account}
    )
    duplicate = create(
        client,
        admin,
        "contact",
        {
            "last_name": "Chen",
            "full_name": "陈美玲",
            "email": "mei@example.com",
            "account": account,
        },
    )
    found = client.post(f"{BASE}/contact/candidates", headers=admin, json={"record": duplicate})
    assert [m["record"]["id"] for m in found.json()["data"]] == [survivor]
    merged = client.post(
        f"{BASE}/merges",
        headers=admin,
        json={"object": "contact", "survivor": survivor, "duplicate": duplicate},
    )
    assert merged.status_code == 201, merged.text
    assert "email" not in merged.json()["survivor_record"]  # no consent, no value
    shown = client.get(
        f"{BASE}/merges/{merged.json()['id']}", headers={**admin, "X-Purpose": "service"}
    ).json()
    assert "email" not in shown["duplicate_record"]
    assert shown["duplicate_record"]["meta"]["withheld"][0]["reason"] == "no-consent"
    assert {"field": "email", "withheld": True} in shown["survivor_changes"]
    assert "mei@example.com" not in str(shown)


def test_undo_refused_when_the_duplicate_can_no_longer_be_restored(
    client: Any, kindred: Any, world: World
) -> None:
    """The duplicate's parent account was deleted after the merge: restoring it would point
    at nothing. The undo is refused — its first writes rolled back with it."""
    admin = world.admin.headers
    group = create(client, admin, "account", {"name": "申康医院发展中心"})
    region = create(client, admin, "account", {"name": "上海市卫健委"})
    survivor = create(
        client, admin, "account", {"name": "上海市第一人民医院", "parent_account": group}
    )
    duplicate = create(
        client,
        admin,
        "account",
        {"name": "上海第一人民医院", "parent_account": region, "website": "https://a.example"},
    )
    merge = client.post(
        f"{BASE}/merges",
        headers=admin,
        json={"object": "account", "survivor": survivor, "duplicate": duplicate},
    ).json()
    assert client.delete(f"{RECORDS}/account/records/{region}", headers=admin).status_code == 204
    before = everything(kindred)
    refused = assert_problem(client.post(f"{BASE}/merges/{merge['id']}/undo", headers=admin), 409)
    assert refused["conflicts"][0]["record"] == duplicate
    assert refused["conflicts"][0]["reason"] == "invalid"
    assert refused["conflicts"][0]["path"] == "/parent_account"
    assert everything(kindred) == before
    kept = client.get(f"{RECORDS}/account/records/{survivor}", headers=admin).json()
    assert kept["website"] == "https://a.example"
