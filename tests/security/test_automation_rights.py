"""Automation runs with its author's rights, not the system's (issue 16, items 1–3).

Each test replays an attack found on a running server: a sales rep making themselves admin
through a scenario (on a device event, or on their own contract's expiry), copying another
territory's account through a lookup, editing or switching off other people's scenarios, and
reading other territories' records and hidden fields in a run's history. Every refused
attempt is shown to have changed nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import sqlalchemy as sa

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.events.schedule import ScheduleSettings, time_driven_events
from kindred.records.service import RequestContext
from kindred.scenarios.definition import load_text
from kindred.scenarios.models import ScenarioRow, ScenarioRun, ScenarioVersion
from tests.api.conftest import World
from tests.conftest import service_principal
from tests.scenarios.test_engine import finished, runs, steps, until, with_engine

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
YAML = {"Content-Type": "application/yaml"}


def fault(event_id: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:plant",
        "type": "iot.device.fault",
        "data": {"device_id": "CT-1", "code": "E42", "severity": "major", **data},
    }


def save_and_enable(client: Any, person: Any, text: str) -> str:
    created = client.post(
        "/api/v1/scenarios", content=text.encode(), headers={**person.headers, **YAML}
    )
    assert created.status_code == 201, created.text
    name = created.json()["name"]
    enabled = client.post(f"/api/v1/scenarios/{name}/enable", headers=person.headers)
    assert enabled.status_code == 200, enabled.text
    return str(name)


def user_data(kindred: Any, user_id: str) -> dict[str, Any]:
    with kindred.database.read() as session:
        record, _ = kindred.records.get(session, SYSTEM, "user", user_id)
    return record


def change_log(kindred: Any, record_id: str) -> list[Any]:
    with kindred.database.read() as session:
        return list(
            session.execute(
                sa.text(
                    "SELECT action, actor_id, acting_for FROM change_log WHERE record_id = :id "
                    "ORDER BY id"
                ),
                {"id": record_id},
            ).all()
        )


def ledger_kinds(kindred: Any) -> list[str]:
    with kindred.database.read() as session:
        return list(
            session.execute(sa.text("SELECT kind FROM ledger_entries ORDER BY idx")).scalars()
        )


ESCALATE = """
name: promote-me
title: Make me admin
when: {{events: [{event}]}}
then:
  - id: promote
    action: update_record
    with: {{object: user, id: "{user}", values: {{roles: [admin, sales]}}}}
"""


def test_a_sales_rep_cannot_make_themselves_admin_through_a_scenario(
    client: Any, world: World, kindred: Any
) -> None:
    me = world.sales_east
    before = user_data(kindred, me.id)
    save_and_enable(client, me, ESCALATE.format(event="iot.device.fault", user=me.id))

    async def body() -> None:
        await kindred.events.ingest([fault("e-1")], channel="test")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.status == "failed" and run.run_as == me.id
    assert steps(kindred, run.id)["promote"].error_code in ("permission-denied", "forbidden")
    assert "manage users" in (steps(kindred, run.id)["promote"].error or "") or "may not" in (
        steps(kindred, run.id)["promote"].error or ""
    )
    # Nothing changed: same roles, same version, no change-log entry, still a sales rep.
    assert user_data(kindred, me.id)["roles"] == before["roles"] == ["sales"]
    assert user_data(kindred, me.id)["version"] == before["version"]
    assert [row.action for row in change_log(kindred, me.id)] == ["create"]
    assert client.get("/api/v1/auth/me", headers=me.headers).json()["roles"] == ["sales"]


def test_a_contract_expiring_in_my_territory_does_not_escalate_me_either(
    client: Any, world: World, kindred: Any
) -> None:
    me = world.sales_east
    account = client.post(
        "/api/v1/objects/account/records",
        json={"name": "Ruijin", "territory": world.territories["east"]},
        headers=me.headers,
    ).json()
    today = dt.date.today()
    contract = client.post(
        "/api/v1/objects/contract/records",
        json={
            "number": "C-1",
            "account": account["id"],
            "status": "active",
            "start_date": (today - dt.timedelta(days=360)).isoformat(),
            "end_date": (today + dt.timedelta(days=5)).isoformat(),
            "territory": world.territories["east"],
        },
        headers=me.headers,
    )
    assert contract.status_code == 201, contract.text
    save_and_enable(client, me, ESCALATE.format(event="contract.contract.expiring", user=me.id))
    with kindred.database.read() as session:
        due = time_driven_events(session, today, ScheduleSettings())
    assert [e["type"] for e in due] == ["contract.contract.expiring"]

    async def body() -> None:
        await kindred.events.ingest(due, channel="scheduler")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.status == "failed"
    assert user_data(kindred, me.id)["roles"] == ["sales"]
    assert client.get("/api/v1/auth/me", headers=me.headers).json()["roles"] == ["sales"]


COPY = """
name: copy-account
title: Copy an account into my activity
when: {{events: [iot.device.fault]}}
lookups:
  - {{name: target, object: account, id: event.data.account}}
then:
  - id: copy
    action: create_record
    with:
      object: activity
      values:
        subject: "{{{{ target.name }}}} {{{{ target.annual_revenue }}}} {{{{ target.tax_id }}}}"
        kind: note
        territory: "{territory}"
"""


def test_a_lookup_reads_as_the_author_so_other_territories_stay_out_of_reach(
    client: Any, world: World, kindred: Any
) -> None:
    with kindred.database.write() as session:
        north = kindred.records.create(
            session,
            SYSTEM,
            "account",
            {
                "name": "Peking Union",
                "annual_revenue": 9_000_000,
                "tax_id": "91110000100000000X",
                "territory": world.territories["north"],
            },
        )
    save_and_enable(client, world.sales_east, COPY.format(territory=world.territories["east"]))

    async def body() -> None:
        await kindred.events.ingest([fault("e-1", account=north["id"])], channel="test")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    # The lookup found nothing (not visible to the author), so the template had nothing
    # to copy: whatever the run did, no activity holds the north account's data.
    assert run.variables["target"] is None
    with kindred.database.read() as session:
        subjects = session.execute(
            sa.text("SELECT data FROM records WHERE object = 'activity'")
        ).scalars()
        text = " ".join(str(s) for s in subjects)
    assert "Peking Union" not in text and "9000000" not in text and "91110000" not in text


TOUCH = """
name: touch-east
title: Note the fault on the account
when: {{events: [iot.device.fault]}}
then:
  - id: note
    action: update_record
    with: {{object: account, id: "{account}", values: {{description: "fault {{{{ event.id }}}}"}}}}
"""


def test_writes_name_the_scenario_version_author_and_event_in_change_log_and_ledger(
    client: Any, world: World, kindred: Any
) -> None:
    me = world.sales_east
    account = client.post(
        "/api/v1/objects/account/records",
        json={"name": "Ruijin", "territory": world.territories["east"]},
        headers=me.headers,
    ).json()
    save_and_enable(client, me, TOUCH.format(account=account["id"]))

    async def body() -> None:
        await kindred.events.ingest([fault("e-7")], channel="test")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.status == "succeeded", run.error
    [created, update] = change_log(kindred, account["id"])
    assert created.action == "create" and created.acting_for is None
    assert update.actor_id == me.id
    acting = update.acting_for
    acting = orjson.loads(acting) if isinstance(acting, str | bytes) else acting
    assert acting["scenario"] == "touch-east" and acting["version"] == 1
    assert acting["run"] == run.id and acting["run_as"] == acting["author"] == me.id
    assert acting["event"] == {"id": "e-7", "source": "urn:test:plant", "type": "iot.device.fault"}
    assert "automation.changes" in ledger_kinds(kindred)
    history = client.get(
        f"/api/v1/objects/account/records/{account['id']}/history", headers=me.headers
    ).json()
    assert history["data"][0]["acting_for"]["scenario"] == "touch-east"


def test_a_demoted_authors_scenario_loses_the_rights_with_them(
    client: Any, world: World, kindred: Any
) -> None:
    me = world.sales_east
    account = client.post(
        "/api/v1/objects/account/records",
        json={"name": "Ruijin", "territory": world.territories["east"]},
        headers=me.headers,
    ).json()
    save_and_enable(client, me, TOUCH.format(account=account["id"]))
    demoted = client.patch(
        f"/api/v1/objects/user/records/{me.id}",
        json={"roles": ["analyst"]},
        headers=world.admin.headers,
    )
    assert demoted.status_code == 200, demoted.text
    assert "auth.rights.changed" in ledger_kinds(kindred)

    async def body() -> None:
        await kindred.events.ingest([fault("e-1")], channel="test")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.status == "failed"
    with kindred.database.read() as session:
        record, _ = kindred.records.get(session, SYSTEM, "account", account["id"])
    assert record["version"] == account["version"] and record.get("description") is None


def test_user_and_territory_changes_need_the_right_to_manage_users(
    client: Any, world: World, kindred: Any
) -> None:
    # A role with every action on every object (users and territories included), but not
    # user administration.
    every = {"actions": ["read", "create", "update", "delete"]}
    role = client.put(
        "/api/v1/roles/integration",
        json={"description": "all objects", "permissions": {"objects": {"*": every}}},
        headers=world.admin.headers,
    )
    assert role.status_code == 200, role.text
    headers = world.integration.headers
    before = user_data(kindred, world.integration.id)
    refused = client.patch(
        f"/api/v1/objects/user/records/{world.integration.id}",
        json={"roles": ["admin"]},
        headers=headers,
    )
    assert refused.status_code == 403
    assert "manage users" in refused.json()["detail"]
    territory = client.post(
        "/api/v1/objects/territory/records", json={"name": "Mine", "code": "MI"}, headers=headers
    )
    assert territory.status_code == 403
    assert user_data(kindred, world.integration.id)["version"] == before["version"]
    with kindred.database.read() as session:
        assert (
            session.execute(
                sa.text("SELECT count(*) FROM records WHERE object = 'territory'")
            ).scalar_one()
            == 3
        )


# -- item 2: ownership -----------------------------------------------------------------------

ADMINS = """
name: contract-renewal-test
title: Renewal offer
when: {events: [contract.contract.expiring]}
then:
  - {id: tell, action: notify, with: {role: sales, title: "renew"}}
"""


def scenario_state(kindred: Any, name: str) -> tuple[int, bool, int]:
    with kindred.database.read() as session:
        row = session.get(ScenarioRow, name)
        assert row is not None
        versions = session.execute(
            sa.select(sa.func.count())
            .select_from(ScenarioVersion)
            .where(ScenarioVersion.name == name)
        ).scalar_one()
        return row.version, row.enabled, int(versions)


def test_authors_cannot_change_or_switch_off_each_others_scenarios(
    client: Any, world: World, kindred: Any
) -> None:
    name = save_and_enable(client, world.admin, ADMINS)
    before, ledger_before = scenario_state(kindred, name), len(ledger_kinds(kindred))
    url = f"/api/v1/scenarios/{name}"
    edited = ADMINS.replace("renew", "renew now")
    put = client.put(url, content=edited.encode(), headers={**world.sales_east.headers, **YAML})
    assert put.status_code == 403
    assert client.post(url + "/disable", headers=world.sales_east.headers).status_code == 403
    assert client.post(url + "/disable", headers=world.service_east.headers).status_code == 403
    assert scenario_state(kindred, name) == before == (1, True, 1)
    assert len(ledger_kinds(kindred)) == ledger_before

    # Another rep's own scenario: not theirs to change either (not the owner, not the team).
    mine = save_and_enable(
        client, world.sales_north, ADMINS.replace("contract-renewal-test", "north-one")
    )
    assert (
        client.post(
            f"/api/v1/scenarios/{mine}/disable", headers=world.sales_east.headers
        ).status_code
        == 403
    )
    # The owner and an admin may; an admin's new version runs with the admin's rights.
    assert (
        client.post(
            f"/api/v1/scenarios/{mine}/disable", headers=world.sales_north.headers
        ).status_code
        == 200
    )
    saved = client.put(
        f"/api/v1/scenarios/{mine}",
        content=ADMINS.replace("contract-renewal-test", "north-one").encode(),
        headers={**world.admin.headers, **YAML},
    )
    assert saved.status_code == 200 and saved.json()["run_as"] == world.admin.id
    # …and from then on runs with more rights than its owner has: the owner can't change it.
    assert (
        client.post(
            f"/api/v1/scenarios/{mine}/enable", headers=world.sales_north.headers
        ).status_code
        == 403
    )


def test_only_someone_covering_a_service_principal_may_grant_it(
    client: Any, world: World, kindred: Any
) -> None:
    robot = service_principal(kindred, roles=("admin",), email="robot@example.com")
    name = save_and_enable(
        client, world.sales_east, ADMINS.replace("contract-renewal-test", "mine")
    )
    url = f"/api/v1/scenarios/{name}/run-as"
    refused = client.put(url, json={"principal": robot}, headers=world.sales_east.headers)
    assert refused.status_code == 403
    person = client.put(url, json={"principal": world.sales_north.id}, headers=world.admin.headers)
    assert person.status_code == 422  # automation runs as its author or a service principal
    assert scenario_state(kindred, name)[0] == 1
    granted = client.put(url, json={"principal": robot}, headers=world.admin.headers)
    assert granted.status_code == 200 and granted.json()["run_as"] == robot
    # Now it runs with rights its owner does not hold: the owner may no longer change it.
    edited = ADMINS.replace("contract-renewal-test", "mine").replace("renew", "again")
    assert (
        client.put(
            f"/api/v1/scenarios/{name}",
            content=edited.encode(),
            headers={**world.sales_east.headers, **YAML},
        ).status_code
        == 403
    )
    assert "scenarios.run_as" in ledger_kinds(kindred)


# -- item 3: run history shows no more than record reads would ---------------------------------

LEAKY = """
name: leaky
title: Look up an account and a contract
when: {{events: [contract.contract.expiring]}}
lookups:
  - {{name: target, object: account, id: event.data.account_id}}
  - {{name: deal, object: contract, id: event.data.contract_id}}
then:
  - id: note
    action: notify
    with: {{user: "{user}", title: "{{{{ target.name }}}} {{{{ deal.value }}}}"}}
"""


def test_run_history_is_filtered_like_record_reads(client: Any, world: World, kindred: Any) -> None:
    # The admin's scenario, in a team the service engineer shares: the engineer may look
    # at its runs, but sees only what their own record reads show.
    with kindred.database.write() as session:
        team = kindred.records.create(session, SYSTEM, "team", {"name": "Key accounts"})
        for person in (world.admin, world.service_east):
            kindred.records.update(
                session, SYSTEM, "user", person.id, {"team": team["id"]}, if_match=None
            )
        north = kindred.records.create(
            session,
            SYSTEM,
            "account",
            {
                "name": "Peking Union",
                "annual_revenue": 9_000_000,
                "territory": world.territories["north"],
            },
        )
        east = kindred.records.create(
            session, SYSTEM, "account", {"name": "Ruijin", "territory": world.territories["east"]}
        )
        deal = kindred.records.create(
            session,
            SYSTEM,
            "contract",
            {
                "number": "C-9",
                "account": east["id"],
                "start_date": "2026-01-01",
                "end_date": "2026-12-31",
                "value": 123456,
                "territory": world.territories["east"],
            },
        )
    # Relogin is not needed: team membership is read per request.
    save_and_enable(client, world.admin, LEAKY.format(user=world.admin.id))
    event = {
        "specversion": "1.0",
        "id": "x-1",
        "source": "urn:test:scheduler",
        "type": "contract.contract.expiring",
        "data": {
            "contract_id": deal["id"],
            "account_id": north["id"],
            "end_date": "2026-12-31",
            "days_left": 5,
            "value": 123456.0,
        },
    }

    async def body() -> None:
        await kindred.events.ingest([event], channel="test")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.status == "succeeded", run.error
    # The admin sees everything the run saw.
    full = client.get(f"/api/v1/scenario-runs/{run.id}", headers=world.admin.headers).json()
    assert full["variables"]["target"]["name"] == "Peking Union"
    assert full["event"]["data"]["value"] == 123456.0
    # The engineer (contract value hidden, north not theirs) sees neither.
    seen = client.get(f"/api/v1/scenario-runs/{run.id}", headers=world.service_east.headers)
    assert seen.status_code == 200, seen.text
    body_text = seen.text
    assert "Peking Union" not in body_text and "9000000" not in body_text
    assert "123456" not in body_text
    detail = seen.json()
    assert "withheld" in detail["variables"]["target"]
    assert detail["variables"]["deal"]["meta"]["withheld"] == ["value"]
    assert "withheld" in detail["event"]["data"]
    assert detail["steps"][0]["input"] == {"withheld": "this run acted with rights you do not have"}
    # Someone outside the scenario's team does not learn the run exists.
    assert (
        client.get(f"/api/v1/scenario-runs/{run.id}", headers=world.sales_north.headers).status_code
        == 404
    )
    listed = client.get("/api/v1/scenario-runs", headers=world.sales_north.headers).json()["data"]
    assert listed == []


def test_a_runs_own_rows_keep_the_principal_it_ran_as(kindred: Any) -> None:
    principal = service_principal(kindred)
    definition = load_text(ADMINS.replace("contract.contract.expiring", "iot.device.fault"))
    with kindred.database.write() as session:
        kindred.scenarios.create(session, definition, None, run_as=principal)
        kindred.scenarios.set_enabled(session, definition["name"], True, None)

    async def body() -> None:
        await kindred.events.ingest([fault("e-1")], channel="test")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    with kindred.database.read() as session:
        assert session.execute(sa.select(ScenarioRun.run_as)).scalars().all() == [principal]
