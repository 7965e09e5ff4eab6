"""What scenarios' ``notify`` sends can be read back (issue 18, item 6): each user's inbox
(``GET /api/v1/notifications``: theirs only, newest first, unread count, cursor paging),
marking one read or unread and all read — each reader's state their own — and the text of a
notification about a record shown only as far as the reader's own read of that record shows
the fields it quotes (permissions, territory, consent), on both dialects."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from kindred.scenarios.models import NotificationRead, ScenarioRun
from tests.api.conftest import World
from tests.api.test_records_api import problem
from tests.scenarios.test_engine import finished, runs, save, steps, until, with_engine

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
INBOX = "/api/v1/notifications"

# A device fault: tag the customer, tell its rep by email address, tell all of sales (the
# text names the customer, so the notification names the account it is about).
WATCH = """
name: fault-watch
title: Device fault → tag the customer, tell the rep and sales
when:
  events: [iot.device.fault]
lookups:
  - {{name: asset, object: asset, match: {{serial_number: event.data.device_id}}}}
  - {{name: customer, object: account, id: asset.account}}
and:
  - asset != null
then:
  - id: tag
    action: set_tag
    with:
      account: {{cel: asset.account}}
      tag: device-fault
      valid_for: 30d
      note: "Fault {{{{ event.data.code }}}}"
  - id: tell_rep
    action: notify
    with:
      user: "{rep}"
      title: "Fault {{{{ event.data.code }}}} at {{{{ customer.name }}}}"
      message: "Call them today"
      link: "/accounts/{{{{ customer.id }}}}"
      record: {{cel: customer.id}}
  - id: tell_sales
    action: notify
    with:
      role: sales
      title: "Fault {{{{ event.data.code }}}} at {{{{ customer.name }}}}"
      record: {{cel: customer.id}}
      object: account
"""


def fault(event_id: str, code: str = "E42") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:plant",
        "type": "iot.device.fault",
        "data": {"device_id": "CT-0042", "code": code, "severity": "major"},
    }


def east_customer(kindred: Any, world: World) -> dict[str, str]:
    """An account in East China (sales_east may read it, sales_north may not) with a device."""
    with kindred.database.write() as session:
        account = kindred.records.create(
            session,
            SYSTEM,
            "account",
            {"name": "Ruijin Hospital", "territory": world.territories["east"]},
        )
        product = kindred.records.create(session, SYSTEM, "product", {"name": "CT", "sku": "CT"})
        asset = kindred.records.create(
            session,
            SYSTEM,
            "asset",
            {
                "serial_number": "CT-0042",
                "product": product["id"],
                "account": account["id"],
                "territory": world.territories["east"],
            },
        )
    return {"account": account["id"], "asset": asset["id"]}


def run_watch(kindred: Any, world: World, *events: dict[str, Any]) -> list[ScenarioRun]:
    """The fault watch, saved and enabled, run by the real engine for the events."""
    save(kindred, WATCH.format(rep=world.sales_east.email))

    async def body() -> None:
        await kindred.events.ingest(list(events), channel="test")
        await until(finished(kindred, len(events)))

    with_engine(kindred, body)
    done = runs(kindred)
    assert [r.status for r in done] == ["succeeded"] * len(events), [r.error for r in done]
    return done


def inbox(client: Any, person: Any, **params: Any) -> dict[str, Any]:
    response = client.get(INBOX, headers=person.headers, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def read_rows(kindred: Any) -> list[tuple[str, str]]:
    with kindred.database.read() as session:
        return sorted(
            (row.notification_id, row.user_id)
            for row in session.execute(sa.select(NotificationRead)).scalars()
        )


def test_a_scenario_notifies_and_the_inbox_reads_it_back(
    client: Any, world: World, kindred: Any
) -> None:
    ids = east_customer(kindred, world)
    [run] = run_watch(kindred, world, fault("f-1"))

    rep = inbox(client, world.sales_east)
    assert rep["unread"] == 2 and rep["next_cursor"] is None
    direct, broadcast = sorted(rep["data"], key=lambda n: n["role"] or "")
    assert direct == {
        "id": direct["id"],
        "title": "Fault E42 at Ruijin Hospital",
        "message": "Call them today",
        "link": f"/accounts/{ids['account']}",
        "role": None,  # to the rep by name (the scenario gave their email)
        "about": {"object": "account", "id": ids["account"]},
        "source": "scenario:fault-watch",
        "scenario": "fault-watch",
        "run_id": run.id,
        "created_at": direct["created_at"],
        "read_at": None,
        "withheld": None,
    }
    assert (broadcast["role"], broadcast["title"]) == ("sales", "Fault E42 at Ruijin Hospital")
    assert steps(kindred, run.id)["tell_rep"].output == {"notification": direct["id"]}

    # Another rep holds the role, not the name; and may not read the East China account: the
    # notification reaches them, its text does not.
    north = inbox(client, world.sales_north)
    assert north["unread"] == 1
    [seen] = north["data"]
    assert seen["id"] == broadcast["id"]
    assert (seen["title"], seen["message"], seen["link"]) == (None, None, None)
    assert seen["withheld"] == "it is about a record you may not see"
    assert "Ruijin" not in str(north)
    # Nobody else is addressed.
    assert inbox(client, world.service_east) == {"data": [], "next_cursor": None, "unread": 0}


def test_read_state_is_each_readers_own(client: Any, world: World, kindred: Any) -> None:
    east_customer(kindred, world)
    run_watch(kindred, world, fault("f-1"))
    rep, north = world.sales_east, world.sales_north
    direct, broadcast = sorted(inbox(client, rep)["data"], key=lambda n: n["role"] or "")

    # The other rep may neither see nor mark the rep's own notification: 404, nothing changed.
    problem(client.post(f"{INBOX}/{direct['id']}/read", headers=north.headers), 404)
    problem(client.delete(f"{INBOX}/{direct['id']}/read", headers=north.headers), 404)
    problem(client.post(f"{INBOX}/no-such-id/read", headers=rep.headers), 404)
    assert read_rows(kindred) == []
    assert inbox(client, rep)["unread"] == 2

    marked = client.post(f"{INBOX}/{broadcast['id']}/read", headers=rep.headers)
    assert marked.status_code == 200, marked.text
    assert marked.json()["read_at"] is not None and marked.json()["id"] == broadcast["id"]
    # Marking again keeps the first read time.
    again = client.post(f"{INBOX}/{broadcast['id']}/read", headers=rep.headers).json()
    assert again["read_at"] == marked.json()["read_at"]
    assert read_rows(kindred) == [(broadcast["id"], rep.id)]
    mine = inbox(client, rep, unread="true")
    assert mine["unread"] == 1 and [n["id"] for n in mine["data"]] == [direct["id"]]
    # The same role notification is still unread for the other rep.
    theirs = inbox(client, north)
    assert theirs["unread"] == 1 and theirs["data"][0]["read_at"] is None

    unread = client.delete(f"{INBOX}/{broadcast['id']}/read", headers=rep.headers)
    assert unread.status_code == 200 and unread.json()["read_at"] is None
    assert inbox(client, rep)["unread"] == 2

    everything = client.post(f"{INBOX}/read-all", headers=rep.headers)
    assert everything.status_code == 200, everything.text
    assert everything.json() == {"marked": 2, "unread": 0}
    assert inbox(client, rep, unread="true")["data"] == []
    assert client.post(f"{INBOX}/read-all", headers=rep.headers).json() == {
        "marked": 0,
        "unread": 0,
    }
    assert inbox(client, north)["unread"] == 1
    assert read_rows(kindred) == sorted([(broadcast["id"], rep.id), (direct["id"], rep.id)])


def test_the_inbox_pages_newest_first(client: Any, world: World, kindred: Any) -> None:
    east_customer(kindred, world)
    run_watch(kindred, world, fault("f-1", "E1"), fault("f-2", "E2"), fault("f-3", "E3"))
    everything = inbox(client, world.sales_east, limit=6)["data"]
    assert len(everything) == 6
    moments = [n["created_at"] for n in everything]
    assert moments == sorted(moments, reverse=True)

    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = inbox(client, world.sales_east, **params)
        walked += [n["id"] for n in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == [n["id"] for n in everything]
    # A cursor of another listing (unread only) is refused, not misread.
    first = inbox(client, world.sales_east, limit=1)["next_cursor"]
    refused = client.get(
        INBOX, headers=world.sales_east.headers, params={"unread": "true", "cursor": first}
    )
    assert problem(refused, 400)["detail"].startswith("this cursor belongs to a query")
    problem(client.get(INBOX, headers=world.sales_east.headers, params={"cursor": "junk"}), 400)
    problem(client.get(INBOX), 401)


# A contract about to expire: its value is hidden from the service role.
QUOTES = """
name: renewal-watch
title: Contract expiring → tell service and the rep
when:
  events: [contract.contract.expiring]
lookups:
  - {{name: deal, object: contract, id: event.data.contract_id}}
then:
  - id: tell_service
    action: notify
    with:
      role: service
      title: "Contract {{{{ deal.number }}}} worth {{{{ deal.value }}}} expires"
      record: {{cel: deal.id}}
      object: contract
  - id: tell_rep
    action: notify
    with:
      user: "{rep}"
      title: "Contract {{{{ deal.number }}}} worth {{{{ deal.value }}}} expires"
      record: {{cel: deal.id}}
      object: contract
"""


def test_quoted_fields_pass_the_readers_own_record_read(
    client: Any, world: World, kindred: Any
) -> None:
    east = world.territories["east"]
    with kindred.database.write() as session:
        account = kindred.records.create(
            session, SYSTEM, "account", {"name": "Ruijin", "territory": east}
        )
        deal = kindred.records.create(
            session,
            SYSTEM,
            "contract",
            {
                "number": "C-9",
                "account": account["id"],
                "start_date": "2026-01-01",
                "end_date": "2026-12-31",
                "value": 123456,
                "territory": east,
            },
        )
    save(kindred, QUOTES.format(rep=world.sales_east.id))
    event = {
        "specversion": "1.0",
        "id": "x-1",
        "source": "urn:test:scheduler",
        "type": "contract.contract.expiring",
        "data": {
            "contract_id": deal["id"],
            "account_id": account["id"],
            "end_date": "2026-12-31",
            "days_left": 5,
        },
    }

    async def body() -> None:
        report = await kindred.events.ingest([event], channel="test")
        assert not report.rejected, report.rejected
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.status == "succeeded", run.error

    # The rep reads the contract's value: the text is shown.
    [rep] = inbox(client, world.sales_east)["data"]
    assert (rep["title"], rep["withheld"]) == ("Contract C-9 worth 123456 expires", None)
    assert rep["about"] == {"object": "contract", "id": deal["id"]}
    # The service engineer sees the contract, not its value: the text is withheld.
    [service] = inbox(client, world.service_east)["data"]
    assert service["withheld"] == "it quotes fields of the record you may not read: value"
    assert "123456" not in str(service)
    # Marking a withheld notification read works like any other.
    marked = client.post(f"{INBOX}/{service['id']}/read", headers=world.service_east.headers)
    assert marked.status_code == 200 and marked.json()["withheld"] == service["withheld"]


UNKNOWN = """
name: tell-nobody
title: Notify a user who does not exist
when:
  events: [iot.device.fault]
then:
  - id: tell
    action: notify
    with: {user: "ghost@example.com", title: "Fault"}
"""


def test_a_notification_to_nobody_fails_the_step_instead_of_vanishing(
    client: Any, world: World, kindred: Any
) -> None:
    save(kindred, UNKNOWN)

    async def body() -> None:
        await kindred.events.ingest([fault("f-1")], channel="test")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.status == "failed"
    tell = steps(kindred, run.id)["tell"]
    assert tell.error_code == "unknown-user" and "ghost@example.com" in (tell.error or "")
    assert inbox(client, world.admin)["data"] == []
