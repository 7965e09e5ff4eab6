"""Consents end to end over HTTP, on both dialects: a rep asks, the customer approves in their
passport, the rep then sees exactly the consented dimension for the consented purpose; a
revocation is in force for the very next read; wallets sign their own consents; the customer
sees every dimension held about them and every access; bad requests change nothing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kindred.sovereignty.credentials import ConsentGrant, Grantee, StatusReference, issue_consent
from kindred.sovereignty.identity import key_fragment
from kindred.sovereignty.models import Consent
from kindred.sovereignty.status_list import read_status_list_token
from tests.api.conftest import World

BASE = "/api/v1/objects/contact/records"


def customer(client: Any, world: World) -> str:
    created = client.post(
        BASE,
        headers=world.sales_east.headers,
        json={
            "first_name": "Mei",
            "last_name": "Chen",
            "email": "mei@example.com",
            "phone": "+86 21 5555 0101",
            "territory": world.territories["east"],
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def passport_headers(client: Any, kindred: Any, contact: str) -> dict[str, str]:
    with kindred.database.write() as session:
        did = kindred.identities.of_subject(session, "contact", contact).did
        link = kindred.passport.magic_link(session, did)
    opened = client.post("/api/v1/passport/session", json={"magic_link": link})
    assert opened.status_code == 201, opened.text
    return {"Authorization": f"Bearer {opened.json()['token']}"}


def read(client: Any, headers: dict[str, str], contact: str, purpose: str | None) -> Any:
    extra = {"X-Purpose": purpose} if purpose else {}
    return client.get(f"{BASE}/{contact}", headers={**headers, **extra})


def consents(kindred: Any) -> list[Consent]:
    with kindred.database.read() as session:
        found = list(session.execute(sa.select(Consent)).scalars())
        session.expunge_all()
    return found


def test_ask_approve_read_revoke(client: Any, kindred: Any, world: World) -> None:
    contact = customer(client, world)
    rep = world.sales_east.headers
    before = read(client, rep, contact, "marketing").json()
    assert "email" not in before and before["last_name"] == "Chen"
    reasons = {w["field"]: w["reason"] for w in before["meta"]["withheld"]}
    assert reasons["email"] == "no-consent" and reasons["phone"] == "no-consent"
    only_email = client.get(
        f"{BASE}/{contact}", params={"fields": "email"}, headers={**rep, "X-Purpose": "marketing"}
    )
    assert only_email.status_code == 403
    assert only_email.json()["type"].endswith("/consent-required")
    assert only_email.json()["request_consent"] == "/api/v1/consent-requests"
    assert read(client, rep, contact, None).json()["meta"]["withheld"][0]["reason"] == "no-purpose"

    asked = client.post(
        "/api/v1/consent-requests",
        headers=rep,
        json={
            "object": "contact",
            "record_id": contact,
            "dimensions": ["contact.email"],
            "purpose": "marketing",
            "valid_for": "30d",
            "note": "New CT scanner launch event",
        },
    )
    assert asked.status_code == 201, asked.text
    customer_headers = passport_headers(client, kindred, contact)
    pending = client.get("/api/v1/passport/consent-requests", headers=customer_headers).json()
    assert [r["state"] for r in pending["data"]] == ["pending"]
    approved = client.post(
        f"/api/v1/passport/consent-requests/{asked.json()['id']}/approve", headers=customer_headers
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    consent_id = approved.json()["consent"]

    after = read(client, rep, contact, "marketing").json()
    assert after["email"] == "mei@example.com"  # consented: email, marketing, this rep
    assert "phone" not in after  # not consented
    assert "email" not in read(client, rep, contact, "sales").json()  # another purpose
    other_rep = read(client, world.admin.headers, contact, "marketing").json()
    assert "email" not in other_rep  # another grantee

    revoked = client.delete(f"/api/v1/passport/consents/{consent_id}", headers=customer_headers)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert "email" not in read(client, rep, contact, "marketing").json()  # the very next read

    # The revocation is public in the signed status list.
    document = client.get("/.well-known/did.json").json()
    jwk = document["verificationMethod"][0]["publicKeyJwk"]
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))
    token = client.get("/api/v1/status-lists/1")
    assert token.headers["content-type"].startswith("application/statuslist+jwt")
    bits = read_status_list_token(token.text, public, now=datetime.now(UTC))
    assert bits.is_revoked(revoked.json()["status"]["index"])

    # The customer sees every dimension held, its class, and who accessed it.
    data = client.get("/api/v1/passport/data", headers=customer_headers).json()
    by_dimension = {d["dimension"]: d for d in data["dimensions"]}
    assert by_dimension["contact.email"]["value"] == "mei@example.com"
    assert by_dimension["contact.email"]["class"] == "customer_authorized"
    assert by_dimension["contact.last_name"]["class"] == "enterprise_owned"
    accesses = by_dimension["contact.email"]["accesses"]
    assert any(a["accessor"] == world.sales_east.id and a["allowed"] for a in accesses)
    assert any(a["accessor"] == world.admin.id and not a["allowed"] for a in accesses)
    log = client.get("/api/v1/passport/access-log", headers=customer_headers).json()["data"]
    assert {(e["purpose"], e["allowed"]) for e in log} >= {("marketing", True), ("sales", False)}


def test_invalid_grants_are_refused_and_change_nothing(
    client: Any, kindred: Any, world: World
) -> None:
    contact = customer(client, world)
    headers = passport_headers(client, kindred, contact)
    bad = client.post(
        "/api/v1/passport/consents",
        headers=headers,
        json={
            "dimensions": ["contact.email", "contact.shoe_size", "contact.last_name"],
            "purpose": "fortune-telling",
            "grantee": {"kind": "user", "id": world.sales_east.id},
            "valid_for": "30d",
        },
    )
    assert bad.status_code == 422
    problems = {(e["path"], e["code"]) for e in bad.json()["errors"]}
    assert problems == {
        ("/dimensions/1", "unknown-dimension"),
        ("/dimensions/2", "unknown-dimension"),  # enterprise-owned: nothing to consent to
        ("/purpose", "unknown-purpose"),
    }
    backwards = client.post(
        "/api/v1/passport/consents",
        headers=headers,
        json={
            "dimensions": ["contact.email"],
            "purpose": "service",
            "grantee": {"kind": "role", "id": "service"},
            "valid_from": "2030-01-01T00:00:00Z",
            "valid_until": "2029-01-01T00:00:00Z",
        },
    )
    assert backwards.status_code == 422
    assert (
        client.delete("/api/v1/passport/consents/urn:uuid:nope", headers=headers).status_code == 404
    )
    assert consents(kindred) == []
    # A staff token is not a passport: no granting on a customer's behalf.
    staff = client.post(
        "/api/v1/passport/consents",
        headers=world.admin.headers,
        json={
            "dimensions": ["contact.email"],
            "purpose": "service",
            "grantee": {"kind": "role", "id": "admin"},
            "valid_for": "1d",
        },
    )
    assert staff.status_code == 401
    assert consents(kindred) == []


def test_a_role_grant_a_shortened_grant_and_a_wallet_signed_grant(
    client: Any, kindred: Any, world: World
) -> None:
    contact = customer(client, world)
    headers = passport_headers(client, kindred, contact)
    granted = client.post(
        "/api/v1/passport/consents",
        headers=headers,
        json={
            "dimensions": ["contact.phone"],
            "purpose": "service",
            "grantee": {"kind": "role", "id": "service"},
            "valid_for": "90d",
        },
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["credential"].count("~") >= 2  # an SD-JWT with disclosures
    service_rep = world.service_east.headers
    assert read(client, service_rep, contact, "service").json()["phone"] == "+86 21 5555 0101"
    sooner = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    shortened = client.patch(
        f"/api/v1/passport/consents/{granted.json()['id']}",
        headers=headers,
        json={"valid_until": sooner.isoformat()},
    )
    assert shortened.status_code == 200, shortened.text
    assert shortened.json()["id"] != granted.json()["id"]
    states = {c.id: c.state for c in consents(kindred)}
    assert states == {granted.json()["id"]: "revoked", shortened.json()["id"]: "active"}
    assert read(client, service_rep, contact, "service").json()["phone"] == "+86 21 5555 0101"

    # A customer with their own wallet signs a prepared grant themselves.
    wallet = Ed25519PrivateKey.generate()
    with kindred.database.write() as session:
        identity = kindred.identities.register(
            session, "lead", "lead-wallet", public_key=wallet.public_key().public_bytes_raw()
        )
        link_headers = {}
        token, _ = kindred.passport._open(session, identity.did, "did-signature")
        link_headers = {"Authorization": f"Bearer {token}"}
    prepared = client.post(
        "/api/v1/passport/consents/prepare",
        headers=link_headers,
        json={
            "dimensions": ["lead.email"],
            "purpose": "sales",
            "grantee": {"kind": "role", "id": "sales"},
            "valid_for": "30d",
        },
    ).json()

    def signed(key: Ed25519PrivateKey) -> str:
        grant = ConsentGrant(
            id=prepared["id"],
            subject=identity.did,
            dimensions=tuple(prepared["dimensions"]),
            purpose=prepared["purpose"],
            grantee=Grantee("role", "sales"),
            valid_from=datetime.fromisoformat(prepared["valid_from"]),
            valid_until=datetime.fromisoformat(prepared["valid_until"]),
            status=StatusReference(prepared["status"]["uri"], prepared["status"]["index"]),
            issued_at=datetime.fromisoformat(prepared["issued_at"]),
        )
        return issue_consent(grant, key, kid=key_fragment(identity.did))

    forged = client.post(
        "/api/v1/passport/consents/submit",
        headers=link_headers,
        json={"credential": signed(Ed25519PrivateKey.generate())},
    )
    assert forged.status_code == 422 and forged.json()["code"] == "bad-signature"
    assert {c.id: c.state for c in consents(kindred)}[prepared["id"]] == "prepared"
    submitted = client.post(
        "/api/v1/passport/consents/submit",
        headers=link_headers,
        json={"credential": signed(wallet)},
    )
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["state"] == "active"


def test_customer_authorized_fields_cannot_be_probed_by_filters(
    client: Any, kindred: Any, world: World
) -> None:
    customer(client, world)
    admin = {**world.admin.headers, "X-Purpose": "marketing"}
    for params in (
        {"filter[email]": "mei@example.com"},
        {"where": "record.email == 'mei@example.com'"},
        {"sort": "phone"},
    ):
        probed = client.get(BASE, headers=admin, params=params)
        assert probed.status_code == 403, (params, probed.text)
        assert "customer-authorized" in probed.json()["detail"]
    fine = client.get(BASE, headers=admin, params={"filter[last_name]": "Chen"})
    assert fine.status_code == 200 and len(fine.json()["data"]) == 1
