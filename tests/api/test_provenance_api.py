"""Provenance over HTTP, on both dialects: every written value records its source, collector,
time, validity and legal basis; expired values are flagged and kept out of automated reads;
customers dispute values, staff verify them, and the KPIs follow. Scenario lookups read as
their own agent, for their declared purpose, through the same consent checks."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kindred.scenarios.definition import check_definition
from kindred.scenarios.engine import scenario_reader
from kindred.sovereignty.credentials import Grantee
from kindred.sovereignty.models import FieldProvenance
from tests.api.conftest import World
from tests.api.test_consents_api import BASE, passport_headers


def provenance(client: Any, headers: dict[str, str], contact: str) -> dict[str, Any]:
    response = client.get(f"{BASE}/{contact}/provenance", headers=headers)
    assert response.status_code == 200, response.text
    return {row["field"]: row for row in response.json()["data"]}


def test_provenance_expiry_disputes_and_kpis(client: Any, kindred: Any, world: World) -> None:
    kindred.provenance.validity_days["contact.phone"] = 730
    admin = world.admin.headers
    created = client.post(
        BASE,
        headers={**admin, "X-Source-System": "wechat-mini", "X-Legal-Basis": "contract"},
        json={"last_name": "Zhao", "title": "Head of Radiology", "phone": "+86 10 1234 5678"},
    )
    assert created.status_code == 201, created.text
    contact = created.json()["id"]
    held = provenance(client, admin, contact)
    assert held["title"]["source_system"] == "wechat-mini"
    assert held["title"]["legal_basis"] == "contract"
    assert held["title"]["collector"] == world.admin.id
    assert held["title"]["valid_until"] is None
    phone_until = datetime.fromisoformat(held["phone"]["valid_until"])
    assert timedelta(days=729) < phone_until - datetime.now(UTC) < timedelta(days=731)

    # Expired: flagged on reads, and automated reads (scenarios, agents) do not see it.
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    patched = client.patch(
        f"{BASE}/{contact}/provenance/title", headers=admin, json={"valid_until": past}
    )
    assert patched.status_code == 200 and patched.json()["expired"] is True
    read = client.get(f"{BASE}/{contact}", headers=admin).json()
    assert read["title"] == "Head of Radiology" and read["meta"]["expired"] == ["title"]
    with kindred.database.read() as session:
        compiled, _ = check_definition(
            {"name": "reader", "title": "x", "when": {"events": ["iot.*"]}, "then": NOTIFY},
            known_type=lambda name: True,
        )
        assert compiled is not None
        reader = scenario_reader(
            compiled, 1, kindred.auth.acting_principal(session, world.admin.id)
        )
        automated, _ = kindred.records.get(session, reader, "contact", contact)
    assert "title" not in automated and automated["meta"]["expired"] == ["title"]

    bad = client.patch(
        f"{BASE}/{contact}/provenance/title", headers=admin, json={"legal_basis": "vibes"}
    )
    assert bad.status_code == 422
    assert provenance(client, admin, contact)["title"]["legal_basis"] == "contract"
    hidden = client.get(f"{BASE}/{contact}/provenance", headers=world.sales_north.headers)
    assert hidden.status_code == 404

    # The customer disputes; the KPIs show it until staff verify.
    customer = passport_headers(client, kindred, contact)
    disputed = client.post(
        "/api/v1/passport/disputes",
        headers=customer,
        json={"dimension": "contact.title", "reason": "I left that job in 2025"},
    )
    assert disputed.status_code == 201 and disputed.json()["disputed_at"]
    unknown = client.post(
        "/api/v1/passport/disputes",
        headers=customer,
        json={"dimension": "account.name", "reason": "not mine"},
    )
    assert unknown.status_code == 422
    kpis = client.get("/api/v1/sovereignty/kpis", headers=world.compliance.headers).json()
    assert kpis["disputed"] == 1 and kpis["tag_accuracy"] < 1.0
    assert (
        client.get("/api/v1/sovereignty/kpis", headers=world.sales_east.headers).status_code == 403
    )
    client.patch(f"{BASE}/{contact}/provenance/title", headers=admin, json={"verified": True})
    kpis = client.get("/api/v1/sovereignty/kpis", headers=world.compliance.headers).json()
    assert kpis["disputed"] == 0 and kpis["tag_accuracy"] == 1.0
    assert kpis["verified_share"] > 0

    # Authorization validity: every allowed read of customer data was under a consent.
    with kindred.database.write() as session:
        did = kindred.identities.of_subject(session, "contact", contact).did
        kindred.consents.grant(
            session,
            did,
            dimensions=["contact.phone"],
            purpose="service",
            grantee=Grantee("role", "admin"),
            valid_until=datetime.now(UTC) + timedelta(days=1),
        )
    seen = client.get(f"{BASE}/{contact}", headers={**admin, "X-Purpose": "service"}).json()
    assert seen["phone"] == "+86 10 1234 5678"
    kpis = client.get("/api/v1/sovereignty/kpis", headers=world.compliance.headers).json()
    assert kpis["authorization_validity_compliance"] == 1.0 and kpis["authorized_accesses"] >= 1
    assert kpis["consent_rate"] == 1.0  # the one customer has a live consent


NOTIFY = [{"id": "tell", "action": "notify", "with": {"role": "ops", "title": "x"}}]


def test_scenario_lookups_read_as_their_agent_for_their_purpose(
    client: Any, kindred: Any, world: World
) -> None:
    created = client.post(
        BASE,
        headers=world.admin.headers,
        json={"last_name": "Wu", "email": "wu@example.com"},
    )
    contact = created.json()["id"]
    definition = {
        "name": "care-followup",
        "title": "Follow up",
        "when": {"events": ["iot.*"]},
        "purpose": "service",
        "then": NOTIFY,
    }
    compiled, errors = check_definition(definition, known_type=lambda name: True)
    assert compiled is not None, errors
    _, errors = check_definition({**definition, "purpose": "gossip"}, known_type=lambda n: True)
    assert [e["path"] for e in errors] == ["/purpose"]
    with kindred.database.read() as session:
        acting = kindred.auth.acting_principal(session, world.admin.id)
    reader = scenario_reader(compiled, 1, acting)
    assert (reader.agent, reader.purpose, reader.channel) == (
        "scenario:care-followup",
        "service",
        "scenario",
    )

    def email() -> Any:
        with kindred.database.read() as session:
            found = kindred.scenarios.find_record(session, reader, "contact", contact, None)
        return found.get("email")

    assert email() is None
    with kindred.database.write() as session:
        did = kindred.identities.of_subject(session, "contact", contact).did
        kindred.consents.grant(
            session,
            did,
            dimensions=["contact.email"],
            purpose="service",
            grantee=Grantee("agent", "scenario:care-followup"),
            valid_until=datetime.now(UTC) + timedelta(days=1),
        )
    assert email() == "wu@example.com"
    other = dataclasses.replace(reader, agent="scenario:someone-else")
    with kindred.database.read() as session:
        assert "email" not in kindred.scenarios.find_record(
            session, other, "contact", contact, None
        )
    with kindred.database.read() as session:
        rows = session.execute(sa.select(FieldProvenance.field)).scalars().all()
    assert "email" in rows and time.time() > 0
