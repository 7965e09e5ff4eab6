"""Tags set by scenarios' ``set_tag`` read back on the record (issue 18, item 6):
``GET …/records/{id}/tags`` with each tag's provenance (scenario, version, run, principal),
when it was set and until when it is valid, expired ones only when asked for; only for a
reader who may read the record. The record's timeline shows the tags and the reader's own
notifications about it beside the run that wrote them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kindred.scenarios.models import CustomerTag
from tests.api.conftest import World
from tests.api.test_notifications_api import east_customer, fault, run_watch
from tests.api.test_records_api import problem
from tests.conftest import service_principal

RECORDS = "/api/v1/objects/{object}/records/{id}"


def tags(client: Any, person: Any, account: str, **params: Any) -> dict[str, Any]:
    response = client.get(
        RECORDS.format(object="account", id=account) + "/tags",
        headers=person.headers,
        params=params,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_tag_set_by_a_run_reads_back_with_its_provenance(
    client: Any, world: World, kindred: Any
) -> None:
    ids = east_customer(kindred, world)
    [run] = run_watch(kindred, world, fault("f-1"))
    robot = service_principal(kindred)

    listed = tags(client, world.sales_east, ids["account"])
    assert listed["next_cursor"] is None
    [tag] = listed["data"]
    assert tag == {
        "id": tag["id"],
        "tag": "device-fault",
        "note": "Fault E42",
        "set_at": tag["set_at"],
        "valid_until": tag["valid_until"],
        "expired": False,
        "source": "scenario:fault-watch@v1",
        "scenario": "fault-watch",
        "version": 1,
        "run_id": run.id,
        "set_by": robot,
    }
    set_at = dt.datetime.fromisoformat(tag["set_at"])
    valid_until = dt.datetime.fromisoformat(tag["valid_until"])
    assert valid_until - set_at > dt.timedelta(days=29, hours=23)


def test_expired_tags_only_when_asked_for(client: Any, world: World, kindred: Any) -> None:
    ids = east_customer(kindred, world)
    run_watch(kindred, world, fault("f-1"))
    now = dt.datetime.now(dt.UTC)
    # A tag set before provenance had columns of its own, expired yesterday.
    with kindred.database.write() as session:
        session.add(
            CustomerTag(
                id="old-tag",
                account_id=ids["account"],
                tag="vip",
                source="scenario:vip-watch@v3",
                set_at=now - dt.timedelta(days=40),
                valid_until=now - dt.timedelta(days=1),
            )
        )
    assert [t["tag"] for t in tags(client, world.sales_east, ids["account"])["data"]] == [
        "device-fault"
    ]
    every = tags(client, world.sales_east, ids["account"], include_expired="true")["data"]
    assert [(t["tag"], t["expired"]) for t in every] == [("device-fault", False), ("vip", True)]
    assert (every[1]["scenario"], every[1]["version"], every[1]["run_id"]) == ("vip-watch", 3, None)

    # A page at a time, newest first.
    first = tags(client, world.sales_east, ids["account"], include_expired="true", limit=1)
    assert [t["id"] for t in first["data"]] == [every[0]["id"]]
    rest = tags(
        client,
        world.sales_east,
        ids["account"],
        include_expired="true",
        limit=1,
        cursor=first["next_cursor"],
    )
    assert [t["id"] for t in rest["data"]] == ["old-tag"] and rest["next_cursor"] is None


def test_only_readers_of_the_record_see_its_tags(client: Any, world: World, kindred: Any) -> None:
    ids = east_customer(kindred, world)
    run_watch(kindred, world, fault("f-1"))
    url = RECORDS.format(object="account", id=ids["account"]) + "/tags"
    # Another territory's rep: as for the record itself, it does not exist for them.
    hidden = problem(client.get(url, headers=world.sales_north.headers), 404)
    assert "Ruijin" not in str(hidden) and "device-fault" not in str(hidden)
    problem(client.get(url), 401)
    missing = RECORDS.format(object="account", id="no-such-id") + "/tags"
    problem(client.get(missing, headers=world.admin.headers), 404)
    problem(
        client.get(RECORDS.format(object="ghost", id="x") + "/tags", headers=world.admin.headers),
        404,
    )
    # Everyone who reads the record reads its tags; other records carry none.
    for person in (world.sales_east, world.service_east, world.analyst, world.admin):
        assert [t["tag"] for t in tags(client, person, ids["account"])["data"]] == ["device-fault"]
    asset = client.get(
        RECORDS.format(object="asset", id=ids["asset"]) + "/tags", headers=world.admin.headers
    )
    assert asset.status_code == 200 and asset.json() == {"data": [], "next_cursor": None}


def test_the_timeline_shows_what_the_scenario_wrote(
    client: Any, world: World, kindred: Any
) -> None:
    ids = east_customer(kindred, world)
    run_watch(kindred, world, fault("f-1"))
    url = RECORDS.format(object="account", id=ids["account"]) + "/timeline"

    seen = client.get(url, headers=world.sales_east.headers)
    assert seen.status_code == 200, seen.text
    items = seen.json()["data"]
    [tag] = [i for i in items if i["kind"] == "tag"]
    assert (tag["title"], tag["status"], tag["actor"], tag["detail"]) == (
        "device-fault",
        "valid",
        "scenario:fault-watch@v1",
        "Fault E42",
    )
    # The rep's own two notifications about the account, unread; nobody else's.
    notes = [i for i in items if i["kind"] == "notification"]
    assert [(n["title"], n["status"]) for n in notes] == [
        ("Fault E42 at Ruijin Hospital", "unread")
    ] * 2
    assert {n["actor"] for n in notes} == {"scenario:fault-watch"}
    # The service engineer reads the account, its tag, but was not notified.
    service = client.get(url, headers=world.service_east.headers).json()["data"]
    assert [i["kind"] for i in service if i["kind"] in ("tag", "notification")] == ["tag"]
    problem(client.get(url, headers=world.sales_north.headers), 404)
