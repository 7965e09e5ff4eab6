"""Every customer record gets its DID when it is created, whichever path creates it — the
API (one record or a bulk), the seed (``kindred seed``, the demo's), a CSV import or a scenario
step — in the same transaction; the record's ``did`` field shows it; a failed creation leaves
no identity behind; records older than this (no DID) get one when the service starts; the
sovereignty KPIs count every customer. Both dialects."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.cli import app
from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)
from kindred.config import get_settings
from kindred.errors import ValidationFailed
from kindred.ledger.models import LedgerEntry
from kindred.records.models import RecordRow
from kindred.records.service import RequestContext
from kindred.records.transfer import Importer
from kindred.sovereignty.models import CustomerIdentity
from tests.api.conftest import World, world  # noqa: F401  (the fixture)
from tests.api.test_records_api import problem
from tests.conftest import TEST_SECRET

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
RECORDS = "/api/v1/objects/{}/records"
REGISTERED = "sovereignty.identity.registered"


def identities(kindred: Any) -> dict[tuple[str, str], str]:
    """(object, record id) → DID, for every customer identity held."""
    with kindred.database.read() as session:
        rows = session.execute(
            sa.select(
                CustomerIdentity.subject_object, CustomerIdentity.subject_id, CustomerIdentity.did
            )
        ).all()
    return {(row[0], row[1]): row[2] for row in rows}


def customer_records(kindred: Any) -> dict[tuple[str, str], Any]:
    """(object, record id) → the ``did`` its data holds, for every contact and lead."""
    with kindred.database.read() as session:
        rows = session.execute(
            sa.select(RecordRow.object, RecordRow.id, RecordRow.data).where(
                RecordRow.object.in_(["contact", "lead"])
            )
        ).all()
    return {(row[0], row[1]): (row[2] or {}).get("did") for row in rows}


def registered(kindred: Any) -> int:
    with kindred.database.read() as session:
        return int(
            session.execute(
                sa.select(sa.func.count()).where(LedgerEntry.kind == REGISTERED)
            ).scalar_one()
        )


def assert_every_customer_has_its_did(kindred: Any) -> dict[tuple[str, str], str]:
    """Every contact and lead has exactly one identity, and its ``did`` field names it."""
    held = customer_records(kindred)
    dids = identities(kindred)
    assert held, "no customer records to check"
    assert set(dids) == set(held)
    assert held == dids
    assert all(did.startswith("did:key:z6Mk") for did in dids.values())
    assert len(set(dids.values())) == len(dids)
    return dids


def read_did(client: Any, headers: dict[str, str], object_name: str, record_id: str) -> str:
    """The record's DID as staff read it: ``…/{id}/did`` and the record's ``did`` field,
    which must agree."""
    at = client.get(f"{RECORDS.format(object_name)}/{record_id}/did", headers=headers)
    assert at.status_code == 200, at.text
    record = client.get(f"{RECORDS.format(object_name)}/{record_id}", headers=headers)
    assert record.status_code == 200, record.text
    assert record.json()["did"] == at.json()["did"]
    return str(at.json()["did"])


# -- the API ------------------------------------------------------------------------------------


def test_a_contact_and_a_lead_created_by_the_api_show_their_did(
    client: Any,
    kindred: Any,
    world: World,  # noqa: F811  (the fixture)
) -> None:
    headers = world.admin.headers
    contact = client.post(
        RECORDS.format("contact"), json={"first_name": "Mei", "last_name": "Chen"}, headers=headers
    )
    assert contact.status_code == 201, contact.text
    assert contact.json()["did"].startswith("did:key:z6Mk")  # the answer to the create, too
    lead = client.post(RECORDS.format("lead"), json={"name": "王芳"}, headers=headers)
    assert lead.status_code == 201, lead.text
    assert read_did(client, headers, "contact", contact.json()["id"]) == contact.json()["did"]
    assert read_did(client, headers, "lead", lead.json()["id"]) == lead.json()["did"]
    assert_every_customer_has_its_did(kindred)
    # The change history shows the DID issued with the record (the create's values).
    history = client.get(
        f"{RECORDS.format('contact')}/{contact.json()['id']}/history", headers=headers
    )
    assert history.status_code == 200, history.text
    assert history.json()["data"][-1]["after"]["did"] == contact.json()["did"]


def test_bulk_created_customers_each_show_their_own_did(
    client: Any,
    kindred: Any,
    world: World,  # noqa: F811  (the fixture)
) -> None:
    response = client.post(
        f"{RECORDS.format('contact')}/bulk",
        json={
            "operation": "create",
            "records": [{"first_name": f"C{n}", "last_name": "Bulk"} for n in range(5)],
        },
        headers=world.admin.headers,
    )
    assert response.status_code == 200, response.text
    written = response.json()["data"]
    dids = assert_every_customer_has_its_did(kindred)
    assert [r["did"] for r in written] == [dids[("contact", r["id"])] for r in written]
    for record in written[:2]:
        assert read_did(client, world.admin.headers, "contact", record["id"]) == record["did"]
    assert registered(kindred) == 5


def test_a_failed_creation_leaves_no_identity_behind(
    client: Any,
    kindred: Any,
    world: World,  # noqa: F811  (the fixture)
) -> None:
    before = registered(kindred)
    invalid = client.post(
        RECORDS.format("contact"), json={"first_name": "No last name"}, headers=world.admin.headers
    )
    assert problem(invalid, 422)["errors"][0]["path"] == "/last_name"
    # A bulk with one bad item writes none of them, and issues no DID for the good ones.
    bulk = client.post(
        f"{RECORDS.format('lead')}/bulk",
        json={"operation": "create", "records": [{"name": "Good"}, {"company": "no name"}]},
        headers=world.admin.headers,
    )
    assert problem(bulk, 422)["errors"][0]["path"] == "/records/1/name"
    assert identities(kindred) == {} and customer_records(kindred) == {}
    assert registered(kindred) == before


def test_the_did_is_issued_never_written_by_a_client(
    client: Any,
    kindred: Any,
    world: World,  # noqa: F811  (the fixture)
) -> None:
    headers = world.admin.headers
    chosen = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    refused = client.post(
        RECORDS.format("contact"),
        json={"first_name": "Li", "last_name": "Wei", "did": chosen},
        headers=headers,
    )
    body = problem(refused, 422)
    assert body["errors"][0]["path"] == "/did"
    assert "issued" in body["errors"][0]["message"]
    assert identities(kindred) == {} and customer_records(kindred) == {}

    created = client.post(
        RECORDS.format("contact"), json={"first_name": "Li", "last_name": "Wei"}, headers=headers
    ).json()
    url = f"{RECORDS.format('contact')}/{created['id']}"
    changed = client.patch(url, json={"did": chosen}, headers=headers)
    assert problem(changed, 422)["errors"][0]["path"] == "/did"
    cleared = client.patch(url, json={"did": None}, headers=headers)
    assert problem(cleared, 422)["errors"][0]["path"] == "/did"
    # Sending the record back as it was read (its DID unchanged) is fine.
    same = client.patch(url, json={"did": created["did"], "title": "Buyer"}, headers=headers)
    assert same.status_code == 200, same.text
    assert same.json()["did"] == created["did"] == identities(kindred)[("contact", created["id"])]


# -- a CSV import and a scenario step -----------------------------------------------------------


def test_imported_customers_get_their_did(kindred: Any) -> None:
    text = "First Name,Last Name,Email\nWei,Zhang,wei@example.com\nAnna,Li,anna@example.com\n"
    with kindred.database.write() as session:
        report = Importer(kindred.records).run(
            session,
            SYSTEM,
            "contact",
            io.StringIO(text),
            preset=None,
            mapping={"First Name": "first_name", "Last Name": "last_name", "Email": "email"},
            mode="all_or_nothing",
            upsert_on=None,
        )
    assert report.created == 2 and report.committed
    dids = assert_every_customer_has_its_did(kindred)
    assert set(report.record_ids) == {record_id for _, record_id in dids}


def test_a_skipped_import_row_leaves_no_identity(kindred: Any) -> None:
    text = "Last Name,Email\nZhang,wei@example.com\nLi,not-an-email\n"
    with kindred.database.write() as session:
        report = Importer(kindred.records).run(
            session,
            SYSTEM,
            "contact",
            io.StringIO(text),
            preset=None,
            mapping={"Last Name": "last_name", "Email": "email"},
            mode="skip_bad_rows",
            upsert_on=None,
        )
    assert (report.created, report.skipped) == (1, 1)
    assert len(assert_every_customer_has_its_did(kindred)) == 1
    assert registered(kindred) == 1


def test_a_contact_created_by_a_scenario_step_gets_its_did(kindred: Any) -> None:
    from tests.scenarios.test_engine import fault, finished, runs, save, steps, until, with_engine

    save(
        kindred,
        """
name: fault-contact
title: A fault reported by someone new
when: {events: [iot.device.fault]}
then:
  - id: reporter
    action: create_record
    with: {object: contact, values: {last_name: "Reporter {{ event.data.device_id }}"}}
""",
    )

    async def body() -> None:
        await kindred.events.ingest([fault("f-1")], channel="test")
        await until(finished(kindred, 1))

    with_engine(kindred, body)
    [run] = runs(kindred)
    assert run.status == "succeeded", run.error
    output = steps(kindred, run.id)["reporter"].output
    assert output is not None
    created = output["id"]
    dids = assert_every_customer_has_its_did(kindred)
    assert list(dids) == [("contact", created)]


# -- the seed and the demo ----------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_SECRET_KEY", TEST_SECRET)  # the test services unwrap its keys
    monkeypatch.setenv("KINDRED_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("KINDRED_PASSWORD_MEMORY_KIB", "64")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_kindred_seed_gives_every_contact_and_lead_its_did(
    cli: CliRunner,
    kindred: Any,
    client: Any,
    world: World,  # noqa: F811  (the fixture)
) -> None:
    result = cli.invoke(app, ["seed", "--customers", "30", "--seed", "5"])
    assert result.exit_code == 0, result.output
    dids = assert_every_customer_has_its_did(kindred)
    assert {name for name, _ in dids} == {"contact", "lead"}
    assert registered(kindred) == len(dids)
    # Each is usable: the DID endpoint answers and custodial keys unwrap for their own DID.
    (object_name, record_id), did = sorted(dids.items())[0]
    assert read_did(client, world.admin.headers, object_name, record_id) == did
    with kindred.database.read() as session:
        key = kindred.identities.custodial_key(session, did)
    from kindred.sovereignty.identity import did_key

    assert did_key(key.public_key()) == did
    # The KPIs count every customer.
    kpis = client.get("/api/v1/sovereignty/kpis", headers=world.compliance.headers)
    assert kpis.status_code == 200, kpis.text
    assert kpis.json()["customers"] == len(dids)


def test_the_demo_data_has_a_did_for_every_contact(cli: CliRunner, kindred: Any) -> None:
    from kindred.agents.demo import seed_case

    result = cli.invoke(app, ["seed", "--customers", "12", "--seed", "42"])
    assert result.exit_code == 0, result.output
    with kindred.database.write() as session:
        seed_case(session, kindred.records)  # the agents' demo hospitals and their people
    assert_every_customer_has_its_did(kindred)


# -- records older than this: a DID at start-up -------------------------------------------------


def test_customers_without_a_did_get_one_when_the_service_starts(
    kindred: Any,
    client: Any,
    world: World,  # noqa: F811  (the fixture)
) -> None:
    with kindred.database.write() as session:
        created = kindred.records.bulk(
            session,
            SYSTEM,
            "contact",
            "create",
            [{"first_name": f"Old{n}", "last_name": "Record"} for n in range(3)],
        )
        lead = kindred.records.create(session, SYSTEM, "lead", {"name": "Old lead"})
    ids = [r["id"] for r in created]
    kept = identities(kindred)[("contact", ids[0])]
    # As an older version left them: two contacts and the lead without an identity, and
    # no contact showing its DID in the field.
    with kindred.database.write() as session:
        session.execute(
            sa.delete(CustomerIdentity).where(
                CustomerIdentity.subject_id.in_([ids[1], ids[2], lead["id"]])
            )
        )
        for record_id in [*ids, lead["id"]]:
            row = session.get(RecordRow, record_id)
            row.data = {k: v for k, v in row.data.items() if k != "did"}
    assert len(identities(kindred)) == 1

    kindred.bootstrap()  # what every start does
    dids = assert_every_customer_has_its_did(kindred)
    assert dids[("contact", ids[0])] == kept  # an identity held is kept, not replaced
    assert read_did(client, world.admin.headers, "contact", ids[1]) == dids[("contact", ids[1])]
    kpis = client.get("/api/v1/sovereignty/kpis", headers=world.compliance.headers)
    assert kpis.json()["customers"] == 4
    # A second start finds nothing to do.
    before = registered(kindred)
    kindred.bootstrap()
    assert identities(kindred) == dids and registered(kindred) == before


def test_no_identity_is_issued_for_a_write_that_fails_validation(kindred: Any) -> None:
    # Inside the transaction, before any rollback could hide it: nothing was issued.
    with kindred.database.write() as session:
        with pytest.raises(ValidationFailed):
            kindred.records.bulk(
                session,
                SYSTEM,
                "contact",
                "create",
                [{"last_name": "Fine"}, {"last_name": "Fine too", "email": "not-an-email"}],
            )
        held = session.execute(sa.select(sa.func.count()).select_from(CustomerIdentity))
        assert held.scalar_one() == 0
        issued = session.execute(sa.select(sa.func.count()).where(LedgerEntry.kind == REGISTERED))
        assert issued.scalar_one() == 0
