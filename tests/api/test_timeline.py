"""A record's timeline (``GET …/records/{id}/timeline``): its changes, the events keyed by
it, scenario and agent runs about it and its customer's consents, merged newest first — each
source cut for the reader as its own endpoint cuts it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from kindred.agents.models import AgentRun
from kindred.scenarios.models import ScenarioRun
from tests.api.conftest import World
from tests.api.test_consents_api import customer, passport_headers
from tests.api.test_events_api import heartbeat
from tests.api.test_records_api import problem

CONTACTS = "/api/v1/objects/contact/records"


def timeline(client: Any, headers: dict[str, str], contact: str, **params: Any) -> Any:
    response = client.get(f"{CONTACTS}/{contact}/timeline", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def runs_about(kindred: Any, contact: str, starter: str) -> None:
    """A finished scenario run and agent run about the contact (as the engines store them)."""
    now = dt.datetime.now(dt.UTC)
    with kindred.database.write() as session:
        session.add(
            ScenarioRun(
                id=str(uuid.uuid4()),
                scenario="welcome_new_contact",
                version=1,
                status="failed",
                key=contact,
                event={"id": "e-1", "type": "crm.contact.created"},
                variables={},
                chain_depth=0,
                started_at=now,
                event_at=now.timestamp(),
                finished_at=now,
                error="smtp unreachable",
            )
        )
        run_id = str(uuid.uuid4())
        session.add(
            AgentRun(
                id=run_id,
                agent="churn_watch",
                version=1,
                root_id=run_id,
                status="succeeded",
                idempotency_key=run_id,
                inputs={},
                trigger={"kind": "manual"},
                customer_id=contact,
                started_by=starter,
                started_at=now,
                deadline=now.timestamp() + 60,
            )
        )


def test_changes_consents_events_and_runs_newest_first(
    client: Any, world: World, kindred: Any
) -> None:
    contact = customer(client, world)
    rep, admin = world.sales_east.headers, world.admin.headers
    url = f"{CONTACTS}/{contact}"
    changed = client.patch(
        url,
        json={"last_name": "Chen-Li", "email": "mei.li@example.com"},
        headers={**admin, "If-Match": '"v1"'},
    )
    assert changed.status_code == 200, changed.text

    # The customer consents to marketing email from the rep.
    asked = client.post(
        "/api/v1/consent-requests",
        headers=rep,
        json={
            "object": "contact",
            "record_id": contact,
            "dimensions": ["contact.email"],
            "purpose": "marketing",
            "valid_for": "30d",
        },
    )
    assert asked.status_code == 201, asked.text
    approved = client.post(
        f"/api/v1/passport/consent-requests/{asked.json()['id']}/approve",
        headers=passport_headers(client, kindred, contact),
    )
    assert approved.status_code == 200, approved.text

    event = {**heartbeat("dev-7"), "partitionkey": contact}
    posted = client.post("/api/v1/events", json=event, headers=world.integration.headers)
    assert posted.status_code in (200, 201, 202), posted.text
    runs_about(kindred, contact, world.admin.id)

    seen = timeline(client, admin, contact)
    kinds = [item["kind"] for item in seen["data"]]
    assert set(kinds) == {"change", "consent", "event", "scenario_run", "agent_run"}, kinds
    assert seen["omitted"] == []
    moments = [dt.datetime.fromisoformat(i["at"]) for i in seen["data"]]
    assert moments == sorted(moments, reverse=True)
    changes = [i for i in seen["data"] if i["kind"] == "change"]
    assert [c["title"] for c in changes] == ["update", "create"]
    update = {c["field"]: c for c in changes[0]["changes"]}
    assert update["last_name"] == {
        "field": "last_name",
        "before": "Chen",
        "after": "Chen-Li",
        "withheld": None,
    }
    assert changes[0]["actor"] == "admin"  # the user's name, not their id
    (consent,) = [i for i in seen["data"] if i["kind"] == "consent"]
    assert (consent["title"], consent["status"], consent["detail"]) == (
        "marketing",
        "active",
        "contact.email",
    )
    (opened,) = [i for i in seen["data"] if i["kind"] == "event"]
    assert (opened["title"], opened["actor"]) == ("iot.device.heartbeat", "urn:test:devices")
    (scenario_run,) = [i for i in seen["data"] if i["kind"] == "scenario_run"]
    assert (scenario_run["title"], scenario_run["status"], scenario_run["detail"]) == (
        "welcome_new_contact",
        "failed",
        "smtp unreachable",
    )
    assert [i["title"] for i in seen["data"] if i["kind"] == "agent_run"] == ["churn_watch"]


def test_each_source_is_cut_for_the_reader(client: Any, world: World, kindred: Any) -> None:
    contact = customer(client, world)
    admin, rep = world.admin.headers, world.sales_east.headers
    changed = client.patch(
        f"{CONTACTS}/{contact}",
        json={"last_name": "Chen-Li", "email": "mei.li@example.com"},
        headers={**admin, "If-Match": '"v1"'},
    )
    assert changed.status_code == 200, changed.text
    runs_about(kindred, contact, world.admin.id)

    seen = timeline(client, rep, contact)
    # The rep reads email only with a purpose and a consent: the history withholds it too.
    update = next(i for i in seen["data"] if i["kind"] == "change" and i["title"] == "update")
    email = next(c for c in update["changes"] if c["field"] == "email")
    assert email == {"field": "email", "before": None, "after": None, "withheld": "no-purpose"}
    assert "mei.li@example.com" not in str(seen)
    assert "mei@example.com" not in str(seen)
    # Not an event-log reader; not the steward of the scenario; not the agent run's starter.
    assert seen["omitted"][0]["source"] == "events"
    assert {i["kind"] for i in seen["data"]} == {"change"}

    # The analyst reads events but never a hidden contact field, even in the history.
    analyst = timeline(client, world.analyst.headers, contact)
    assert analyst["omitted"] == []
    for item in analyst["data"]:
        assert all(c["field"] not in ("email", "phone") for c in item["changes"])

    # A rep of another territory may not see the record: nor its timeline.
    problem(client.get(f"{CONTACTS}/{contact}/timeline", headers=world.sales_north.headers), 404)
    problem(client.get(f"{CONTACTS}/no-such-id/timeline", headers=admin), 404)
    limited = timeline(client, admin, contact, limit=1)
    assert len(limited["data"]) == 1
