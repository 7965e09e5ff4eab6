"""The customer's rights over HTTP, on both dialects: the export holds everything (the sealed
history opened for them), staff history shows customer-authorized values only sealed, and
after erasure not one trace of the customer is left anywhere in the database — while the
ledger still verifies and the erasure itself is evidenced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kindred.ledger.models import LedgerEntry
from kindred.sovereignty.credentials import Grantee
from tests.api.conftest import World
from tests.api.test_consents_api import BASE, passport_headers

SECRETS = {
    "first_name": "Xiaoyu",
    "last_name": "Qiangwei-Testperson",
    "email": "xiaoyu.qiangwei@example.com",
    "phone": "+86 21 6666 7777",
    "address": "88 Century Avenue, Pudong",
}
OLD_EMAIL = "old.xiaoyu@example.org"


def every_text(kindred: Any) -> str:
    """Every value of every row of every table, as one text (bytes decoded leniently)."""
    parts = []
    with kindred.database.read() as session:
        inspector = sa.inspect(session.get_bind())
        for table in inspector.get_table_names():
            for row in session.execute(sa.text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        parts.append(bytes(value).decode("latin-1"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def test_export_then_erase_leaves_nothing(client: Any, kindred: Any, world: World) -> None:
    admin = world.admin.headers
    created = client.post(
        BASE,
        headers={**admin, "Idempotency-Key": "create-xiaoyu-1"},
        json={**SECRETS, "email": OLD_EMAIL},
    )
    assert created.status_code == 201, created.text
    contact = created.json()["id"]
    patched = client.patch(f"{BASE}/{contact}", headers=admin, json={"email": SECRETS["email"]})
    assert patched.status_code == 200, patched.text
    with kindred.database.write() as session:
        did = kindred.identities.of_subject(session, "contact", contact).did
        kindred.consents.grant(
            session,
            did,
            dimensions=["contact.email"],
            purpose="service",
            grantee=Grantee("role", "admin"),
            valid_until=datetime.now(UTC) + timedelta(days=30),
        )
    seen = client.get(f"{BASE}/{contact}", headers={**admin, "X-Purpose": "service"}).json()
    assert seen["email"] == SECRETS["email"]

    # Staff history: the customer-authorized values are sealed, the rest as usual.
    history = client.get(f"{BASE}/{contact}/history", headers=admin).json()
    entries = history["data"] if isinstance(history, dict) else history
    created_entry = next(e for e in entries if e["action"] == "create")
    assert created_entry["after"]["email"] == {"$sealed": True}
    assert created_entry["after"]["last_name"] == SECRETS["last_name"]
    assert OLD_EMAIL not in str(history)

    customer = passport_headers(client, kindred, contact)
    export = client.get("/api/v1/passport/export", headers=customer)
    assert export.status_code == 200
    body = export.json()
    assert body["record"]["email"] == SECRETS["email"]
    opened = [e["after"].get("email") for e in body["history"] if e["after"]]
    assert opened == [OLD_EMAIL, SECRETS["email"]]  # the sealed history, opened for them
    assert [c["purpose"] for c in body["consents"]] == ["service"]
    assert any(a["allowed"] for a in body["accesses"])

    kindred.pdp.log.flush()
    before = every_text(kindred)
    assert all(value in before for value in SECRETS.values()) and did in before

    wrong = client.post(
        "/api/v1/passport/erase", headers=customer, json={"confirm": "erase this customer"}
    )
    assert wrong.status_code == 422
    erased = client.post(
        "/api/v1/passport/erase", headers=customer, json={"confirm": "erase everything about me"}
    )
    assert erased.status_code == 200, erased.text
    removed = erased.json()["removed"]
    assert removed["records"] == 1 and removed["identities"] == 1
    assert removed["data_keys_shredded"] == 1 and removed["consents"] == 1
    assert removed["remembered_responses"] == 1

    kindred.pdp.log.flush()
    after = every_text(kindred)
    for name, value in {**SECRETS, "old_email": OLD_EMAIL, "did": did}.items():
        assert value not in after, f"{name} is still in the database after erasure"
    # The evidence stays and verifies; the session of an erased customer is over.
    with kindred.database.read() as session:
        kinds = list(session.execute(sa.select(LedgerEntry.kind)).scalars())
        assert kindred.ledger.verify_log(session).intact
    assert "sovereignty.erasure.completed" in kinds
    assert client.get("/api/v1/passport/me", headers=customer).status_code == 401
    assert client.get(f"{BASE}/{contact}", headers=admin).status_code == 404


def test_only_rights_officers_handle_requests_for_others(
    client: Any, kindred: Any, world: World
) -> None:
    created = client.post(BASE, headers=world.admin.headers, json={"last_name": "Keep"})
    contact = created.json()["id"]
    with kindred.database.read() as session:
        did = kindred.identities.of_subject(session, "contact", contact).did
    refused = client.post(
        f"/api/v1/data-subjects/{did}/erase",
        headers=world.sales_east.headers,
        json={"confirm": "erase this customer"},
    )
    assert refused.status_code == 403
    assert client.get(f"{BASE}/{contact}", headers=world.admin.headers).status_code == 200
    exported = client.get(f"/api/v1/data-subjects/{did}/export", headers=world.compliance.headers)
    assert exported.status_code == 200 and exported.json()["record"]["last_name"] == "Keep"
    done = client.post(
        f"/api/v1/data-subjects/{did}/erase",
        headers=world.compliance.headers,
        json={"confirm": "erase this customer"},
    )
    assert done.status_code == 200
    assert client.get(f"{BASE}/{contact}", headers=world.admin.headers).status_code == 404
