"""The lawful staff lookup (issue 18): a service desk finds the caller by exact email or phone
although both are customer-authorized (filtering by them is 403, their values withheld without
a consent). On both dialects:

- found by email in any case and by phone in any format (E.164 underneath), as a get shows
  the record under the declared purpose (the values themselves still withheld);
- not found and not visible answer alike: 200 with no records;
- the read is logged by the policy decision point with its purpose (channel ``lookup:…``),
  in the customer's own access log;
- no read on the object, or a role that hides the field: 403 and nothing logged; an unknown
  purpose (or the customer's own): 422 at ``/purpose``; over the per-user budget: 429;
- the digests follow updates and deletes, and erasure removes them: nothing found after.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kindred.api import lookup
from kindred.auth.throttle import AddressBudget
from kindred.records.models import RecordRow
from kindred.sovereignty.credentials import Grantee
from kindred.sovereignty.decision_log import subject_rows
from kindred.sovereignty.lookup import normalize_email, normalize_phone
from kindred.sovereignty.lookup_models import LookupHash
from kindred.sovereignty.models import AccessDecision
from tests.api.conftest import World
from tests.api.schema_checks import Api, router_operations, success_schema

CONTACTS = "/api/v1/objects/contact/records"
LOOKUP = "/api/v1/objects/{object_name}/lookup"
CONTACT_LOOKUP = "/api/v1/objects/contact/lookup"
PROBLEM = "application/problem+json"


def contact(client: Any, world: World, **values: Any) -> str:
    body = {"first_name": "Li", "last_name": "Wang", "email": "Wang.Li@Example.com"}
    body |= {"mobile": "+86 138 1234 5678", "territory": world.territories["east"], **values}
    created = client.post(CONTACTS, headers=world.admin.headers, json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def find(client: Any, who: Any, expect: int = 200, **body: Any) -> Any:
    response = client.post(CONTACT_LOOKUP, headers=who.headers, json={"purpose": "service", **body})
    assert response.status_code == expect, response.text
    if expect >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)
    return response.json()


def ids(found: Any) -> list[str]:
    return [record["id"] for record in found["data"]]


def decisions(kindred: Any) -> list[Any]:
    """Every access-log row (id, object, purpose, accessor, channel), in order."""
    kindred.pdp.log.flush()
    table = AccessDecision.__table__
    columns = [table.c.id, table.c.object, table.c.purpose, table.c.accessor, table.c.channel]
    with kindred.database.read() as session:
        return list(session.execute(sa.select(*columns).order_by(table.c.id)).all())


def digests(kindred: Any, record_id: str) -> int:
    with kindred.database.read() as session:
        statement = sa.select(sa.func.count()).where(LookupHash.record_id == record_id)
        return int(session.execute(statement).scalar_one())


# -- normalization (pure) ------------------------------------------------------------------------


def test_values_are_normalized_before_they_are_hashed() -> None:
    assert normalize_email(" Wang.Li@EXAMPLE.com ") == "wang.li@example.com"
    assert normalize_email("ｗａｎｇ@example.com") == "wang@example.com"  # full-width
    assert normalize_email("not an address") is None
    e164 = "+8613812345678"
    for written in (
        "+86 138 1234 5678",
        "138-1234-5678",
        "0086 138 1234 5678",
        "8613812345678",
        "(+86) 13812345678 转 12",
    ):
        assert normalize_phone(written) == e164, written
    assert (
        normalize_phone("021-6666 7777")
        == normalize_phone("+86 (0)21 6666 7777")
        == "+862166667777"
    )
    assert normalize_phone("+1 415 555 0100") == "+14155550100"
    assert normalize_phone("12345") is None


# -- over HTTP -----------------------------------------------------------------------------------


def test_staff_find_the_caller_by_email_or_phone(client: Any, kindred: Any, world: World) -> None:
    wang = contact(client, world)
    other = contact(client, world, email="someone@example.com", mobile="+86 139 0000 0000")
    # Without the lookup, email is neither filterable nor shown.
    refused = client.get(
        CONTACTS, params={"filter[email]": "wang.li@example.com"}, headers=world.admin.headers
    )
    assert refused.status_code == 403

    by_email = find(client, world.admin, email="WANG.LI@example.COM")
    assert ids(by_email) == [wang] and by_email["next_cursor"] is None
    [record] = by_email["data"]
    assert record["last_name"] == "Wang" and "email" not in record  # still withheld
    assert {w["field"] for w in record["meta"]["withheld"]} >= {"email", "mobile"}
    assert ids(find(client, world.admin, phone="138-1234-5678")) == [wang]
    assert ids(find(client, world.admin, phone="0086 13812345678")) == [wang]
    # The service engineer of the customer's territory finds them too; elsewhere, nobody.
    assert ids(find(client, world.service_east, phone="13812345678")) == [wang]
    assert find(client, world.sales_north, phone="13812345678")["data"] == []
    # Not found: the same answer as not visible.
    assert find(client, world.admin, email="nobody@example.com") == {
        "data": [],
        "next_cursor": None,
    }
    assert other not in ids(find(client, world.admin, email="wang.li@example.com"))

    # With the customer's consent for the purpose, the values show, as on a get.
    with kindred.database.write() as session:
        did = kindred.identities.of_subject(session, "contact", wang).did
        kindred.consents.grant(
            session,
            did,
            dimensions=["contact.email"],
            purpose="service",
            grantee=Grantee("role", "admin"),
            valid_until=datetime.now(UTC) + timedelta(days=30),
        )
    [shown] = find(client, world.admin, email="wang.li@example.com")["data"]
    assert shown["email"].lower() == "wang.li@example.com"


def test_the_lookup_is_logged_with_its_purpose(client: Any, kindred: Any, world: World) -> None:
    wang = contact(client, world)
    before = len(decisions(kindred))
    find(client, world.service_east, email="wang.li@example.com")
    [logged] = decisions(kindred)[before:]
    assert logged.purpose == "service" and logged.channel == "lookup:email"
    assert logged.accessor == world.service_east.id and logged.object == "contact"
    with kindred.database.read() as session:
        did = kindred.identities.of_subject(session, "contact", wang).did
        # In the customer's own access log: what was read, by whom, how and why.
        [reads] = [d for r, d in subject_rows(session, did) if r.id == logged.id]
    assert {d["dimension"] for d in reads} >= {"contact.email", "contact.mobile"}
    assert {(d["purpose"], d["channel"], d["accessor"]) for d in reads} == {
        ("service", "lookup:email", world.service_east.id)
    }
    assert not any(d["allowed"] for d in reads)  # no consent: the values stayed withheld


def test_refusals_change_nothing_and_log_nothing(client: Any, kindred: Any, world: World) -> None:
    contact(client, world)
    admin = world.admin.headers
    before = len(decisions(kindred))

    unknown = find(client, world.admin, 422, email="wang.li@example.com", purpose="curiosity")
    assert [e["path"] for e in unknown["errors"]] == ["/purpose"]
    assert "service" in unknown["errors"][0]["message"]
    own = find(client, world.admin, 422, email="wang.li@example.com", purpose="passport-sign-in")
    assert own["errors"][0]["path"] == "/purpose"
    assert find(client, world.admin, 422, purpose="service")["errors"][0]["code"] == "one_of"
    both = find(client, world.admin, 422, email="wang.li@example.com", phone="13812345678")
    assert both["errors"][0]["code"] == "one_of"
    assert find(client, world.admin, 422, phone="12")["errors"][0]["path"] == "/phone"
    wrong_object = client.post(
        "/api/v1/objects/account/lookup",
        headers=admin,
        json={"email": "wang.li@example.com", "purpose": "service"},
    )
    assert wrong_object.status_code == 422
    ghost = client.post(
        "/api/v1/objects/ghost/lookup",
        headers=admin,
        json={"email": "a@b.cn", "purpose": "service"},
    )
    assert ghost.status_code == 404

    # The analyst may read contacts but not their contact details: no lookup by them.
    hidden = find(client, world.analyst, 403, email="wang.li@example.com")
    assert "email" in hidden["detail"]
    # A role without read on contacts at all.
    roles = {r["name"]: r for r in client.get("/api/v1/roles", headers=admin).json()["data"]}
    integration = roles["integration"]["permissions"]
    integration["objects"]["contact"] = {"actions": []}
    changed = client.put(
        "/api/v1/roles/integration",
        json={"description": "no contacts", "permissions": integration},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    denied = find(client, world.integration, 403, phone="13812345678")
    assert "contact" in denied["detail"]
    assert len(decisions(kindred)) == before  # nothing was read, so nothing was logged


def test_lookups_are_limited_per_user(client: Any, kindred: Any, world: World) -> None:
    contact(client, world)
    kindred.lookup.budget = AddressBudget(2, 3600.0, time.monotonic)
    for _ in range(2):
        find(client, world.admin, email="nobody@example.com")
    limited = client.post(
        CONTACT_LOOKUP,
        headers=world.admin.headers,
        json={"email": "wang.li@example.com", "purpose": "service"},
    )
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.headers["content-type"].startswith(PROBLEM)
    assert "too many lookups" in limited.json()["detail"]
    # Another user's budget is their own.
    assert len(ids(find(client, world.service_east, email="wang.li@example.com"))) == 1


def test_digests_follow_updates_deletes_and_erasure(
    client: Any, kindred: Any, world: World
) -> None:
    admin = world.admin.headers
    wang = contact(client, world)
    assert digests(kindred, wang) == 2  # email and mobile
    changed = client.patch(
        f"{CONTACTS}/{wang}", headers=admin, json={"email": "li.wang@newmail.cn", "mobile": None}
    )
    assert changed.status_code == 200, changed.text
    assert find(client, world.admin, email="wang.li@example.com")["data"] == []
    assert find(client, world.admin, phone="13812345678")["data"] == []
    assert ids(find(client, world.admin, email="LI.WANG@newmail.cn")) == [wang]
    assert digests(kindred, wang) == 1

    gone = contact(client, world, email="gone@example.com")
    assert client.delete(f"{CONTACTS}/{gone}", headers=admin).status_code == 204
    assert digests(kindred, gone) == 0

    with kindred.database.read() as session:
        did = kindred.identities.of_subject(session, "contact", wang).did
    erased = client.post(
        f"/api/v1/data-subjects/{did}/erase",
        headers=world.compliance.headers,
        json={"confirm": "erase this customer"},
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"]["lookup_hashes"] == 1
    assert digests(kindred, wang) == 0
    assert find(client, world.admin, email="li.wang@newmail.cn")["data"] == []


def test_records_written_around_the_service_are_indexed_at_start_up(
    client: Any, kindred: Any, world: World
) -> None:
    seeded = "01900000-0000-7000-8000-0000000000aa"
    with kindred.database.write() as session:
        template = session.get(RecordRow, contact(client, world, email="first@example.com"))
        assert template is not None
        session.add(
            RecordRow(
                id=seeded,
                object="contact",
                data={"last_name": "Seeded", "email": "Seeded@Example.com"},
                version=1,
                owner_id=template.owner_id,
                territory_id=template.territory_id,
                created_at=template.created_at,
                updated_at=template.updated_at,
            )
        )
    assert find(client, world.admin, email="seeded@example.com")["data"] == []
    with kindred.database.write() as session:
        kindred.lookup.reindex(session)
    assert ids(find(client, world.admin, email="seeded@example.com")) == [seeded]


# -- the document --------------------------------------------------------------------------------


def test_the_operation_declares_a_strict_body(served: dict[str, Any]) -> None:
    [(method, path, _)] = list(router_operations([lookup.router]))
    assert (method, path) == ("POST", LOOKUP)
    status, content = success_schema(served, method, path)
    name = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert status == 200 and served["components"]["schemas"][name]["additionalProperties"] is False
    documented = served["paths"][path]["post"]["responses"]
    assert {"401", "403", "404", "422", "429"} <= set(documented)


def test_real_answers_match_the_document(
    client: Any, world: World, document: dict[str, Any]
) -> None:
    api = Api(client, document)
    contact(client, world)
    where = {"object_name": "contact"}
    body = {"email": "wang.li@example.com", "purpose": "service"}
    found = api("POST", LOOKUP, 200, where=where, json=body, headers=world.admin.headers)
    assert len(found["data"]) == 1
    api(
        "POST",
        LOOKUP,
        200,
        where=where,
        json={**body, "email": "x@y.cn"},
        headers=world.admin.headers,
    )
    api(
        "POST", LOOKUP, 422, where=where, json={**body, "purpose": "x"}, headers=world.admin.headers
    )
    api("POST", LOOKUP, 403, where=where, json=body, headers=world.analyst.headers)
    api("POST", LOOKUP, 404, where={"object_name": "ghost"}, json=body, headers=world.admin.headers)
    api("POST", LOOKUP, 401, where=where, json=body)
