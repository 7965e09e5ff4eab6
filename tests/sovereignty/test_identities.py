"""Identities on both dialects: a customer record created is a customer with a did:key (in the
same transaction, evidenced on the ledger), custodial keys are stored wrapped and usable only
for their own DID, a customer-held key never gives us signing power, and the enterprise and
its data domains resolve as did:web with rotatable keys."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.errors import Conflict, NotFound, ValidationFailed
from kindred.ledger.models import LedgerEntry
from kindred.records.service import RequestContext
from kindred.sovereignty.identity import did_key, key_fragment, verify
from kindred.sovereignty.models import CustomerIdentity

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)


def identities(kindred: Any) -> list[CustomerIdentity]:
    with kindred.database.read() as session:
        found = list(session.execute(sa.select(CustomerIdentity)).scalars())
        session.expunge_all()
    return found


def ledger_kinds(kindred: Any) -> list[str]:
    with kindred.database.read() as session:
        return list(session.execute(sa.select(LedgerEntry.kind)).scalars())


def test_a_new_contact_gets_a_custodial_did_that_signs_for_it(kindred: Any) -> None:
    with kindred.database.write() as session:
        contact = kindred.records.create(
            session, SYSTEM, "contact", {"first_name": "Li", "last_name": "Wei"}
        )
        kindred.records.create(session, SYSTEM, "account", {"name": "Ruijin Hospital"})
    [identity] = identities(kindred)  # the account is not a customer person: no DID
    assert (identity.subject_object, identity.subject_id) == ("contact", contact["id"])
    assert identity.custody == "custodial" and identity.did.startswith("did:key:z6Mk")
    assert ledger_kinds(kindred).count("sovereignty.identity.registered") == 1
    with kindred.database.read() as session:
        key = kindred.identities.custodial_key(session, identity.did)
        document = kindred.identities.resolve(session, identity.did)
    assert did_key(key.public_key()) == identity.did
    assert verify(key_fragment(identity.did), document, key.sign(b"nonce"), b"nonce")
    # Stored wrapped: the raw private key does not appear in the row.
    raw = key.private_bytes_raw()
    assert identity.private_key is not None and raw not in bytes(identity.private_key)


def test_a_rolled_back_registration_leaves_no_did(kindred: Any) -> None:
    with pytest.raises(RuntimeError), kindred.database.write() as session:
        kindred.records.create(session, SYSTEM, "contact", {"first_name": "A", "last_name": "B"})
        raise RuntimeError("the request failed after the insert")
    assert identities(kindred) == []
    assert "sovereignty.identity.registered" not in ledger_kinds(kindred)


@pytest.mark.parametrize("count", [30, 120])  # a small batch and a larger one
def test_bulk_created_contacts_each_get_their_own_did(kindred: Any, count: int) -> None:
    with kindred.database.write() as session:
        created = kindred.records.bulk(
            session,
            SYSTEM,
            "contact",
            "create",
            [{"first_name": f"C{i}", "last_name": "Bulk"} for i in range(count)],
        )
    found = identities(kindred)
    assert len(found) == count and len({i.did for i in found}) == count
    assert {i.subject_id for i in found} == {record["id"] for record in created}
    assert all(i.custody == "custodial" for i in found)
    assert ledger_kinds(kindred).count("sovereignty.identity.registered") == count
    with kindred.database.read() as session:  # each custodial key signs for its own DID
        for identity in found[:: max(1, count // 10)]:
            key = kindred.identities.custodial_key(session, identity.did)
            assert did_key(key.public_key()) == identity.did
            assert kindred.identities.of_subject(session, "contact", identity.subject_id).did == (
                identity.did
            )


def test_a_customer_held_key_gives_us_no_signing_power(kindred: Any) -> None:
    wallet = Ed25519PrivateKey.generate()
    with kindred.database.write() as session:
        identity = kindred.identities.register(
            session, "lead", "lead-1", public_key=wallet.public_key().public_bytes_raw()
        )
    assert identity.custody == "customer" and identity.private_key is None
    assert identity.did == did_key(wallet.public_key())
    with kindred.database.read() as session, pytest.raises(Conflict):
        kindred.identities.custodial_key(session, identity.did)
    with kindred.database.write() as session, pytest.raises(Conflict):
        kindred.identities.register(session, "lead", "lead-1", public_key=b"\x01" * 32)
    with kindred.database.write() as session, pytest.raises(ValidationFailed):
        kindred.identities.register(session, "lead", "lead-2", public_key=b"short")
    assert [i.subject_id for i in identities(kindred)] == ["lead-1"]  # nothing else written


def test_a_wrapped_key_only_unwraps_for_its_own_did(kindred: Any) -> None:
    with kindred.database.write() as session:
        first = kindred.identities.register(session, "contact", "c-1")
        second = kindred.identities.register(session, "contact", "c-2")
        # Copy the first customer's wrapped key onto the second: it must not unwrap there.
        session.execute(
            sa.update(CustomerIdentity)
            .where(CustomerIdentity.did == second.did)
            .values(private_key=first.private_key)
        )
    with kindred.database.read() as session, pytest.raises(InvalidTag):
        kindred.identities.custodial_key(session, second.did)


def test_enterprise_and_domain_did_web_documents_and_rotation(kindred: Any) -> None:
    host = kindred.settings.public_host.replace(":", "%3A")
    with kindred.database.write() as session:
        enterprise = kindred.identities.web_document(session)
        method, key = kindred.identities.signing_key(session, "erp")
        erp = kindred.identities.resolve(session, f"did:web:{host}:domains:erp")
    assert enterprise["id"] == f"did:web:{host}"
    assert erp["id"] == f"did:web:{host}:domains:erp"
    assert erp["assertionMethod"] == [method]
    assert verify(method, erp, key.sign(b"m"), b"m")
    with kindred.database.write() as session:
        kindred.identities.rotate(session, "erp")
        new_method, new_key = kindred.identities.signing_key(session, "erp")
        rotated = kindred.identities.resolve(session, erp["id"])
    assert new_method != method
    assert [m["id"] for m in rotated["verificationMethod"]] == [method, new_method]
    assert rotated["assertionMethod"] == [new_method]
    assert verify(new_method, rotated, new_key.sign(b"m"), b"m")
    with kindred.database.read() as session, pytest.raises(NotFound):
        kindred.identities.resolve(session, f"did:web:{host}:domains:nowhere")
    with kindred.database.read() as session, pytest.raises(NotFound):
        kindred.identities.resolve(session, "did:web:evil.example")
