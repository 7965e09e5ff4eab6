"""Identity and passport sign-in over HTTP: DID documents resolve publicly; a staff member sees
a customer's DID only if they may see the customer; a customer signs in by signing a challenge
with their DID key (replays, wrong keys, wrong DIDs and expired challenges refused with a
specific reason, and each attempt uses its challenge up) or by a magic link; a passport
session is not a staff token and a staff token is not a passport session."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from kindred.sovereignty.identity import did_key
from kindred.sovereignty.models import PassportChallenge
from tests.api.conftest import World
from tests.scenarios.test_messaging import smtp_server

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def wallet_customer(kindred: Any) -> tuple[str, Ed25519PrivateKey]:
    wallet = Ed25519PrivateKey.generate()
    with kindred.database.write() as session:
        identity = kindred.identities.register(
            session, "contact", "c-wallet", public_key=wallet.public_key().public_bytes_raw()
        )
    return identity.did, wallet


def signed_in(client: Any, did: str, wallet: Ed25519PrivateKey) -> Any:
    issued = client.post("/api/v1/passport/challenge", json={"did": did})
    assert issued.status_code == 201, issued.text
    body = issued.json()
    signature = b64(wallet.sign(body["sign"].encode()))
    return client.post(
        "/api/v1/passport/session",
        json={"did": did, "challenge": body["challenge"], "signature": signature},
    )


def test_did_documents_resolve_without_signing_in(client: Any, kindred: Any) -> None:
    enterprise = client.get("/.well-known/did.json")
    assert enterprise.status_code == 200
    assert enterprise.json()["id"] == "did:web:localhost%3A8000"
    erp = client.get("/domains/erp/did.json").json()
    assert erp["id"] == "did:web:localhost%3A8000:domains:erp"
    assert client.get("/domains/nowhere/did.json").status_code == 404
    did = did_key(Ed25519PrivateKey.generate().public_key())
    resolved = client.get(f"/api/v1/dids/{did}")
    assert resolved.status_code == 200 and resolved.json()["id"] == did
    bad = client.get("/api/v1/dids/did:key:zNotBase58!")
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_staff_see_a_customer_did_only_when_they_may_see_the_customer(
    client: Any, world: World
) -> None:
    created = client.post(
        "/api/v1/objects/contact/records",
        json={"first_name": "Mei", "last_name": "Chen", "territory": world.territories["east"]},
        headers=world.sales_east.headers,
    )
    assert created.status_code == 201, created.text
    contact = created.json()["id"]
    seen = client.get(
        f"/api/v1/objects/contact/records/{contact}/did", headers=world.sales_east.headers
    )
    assert seen.status_code == 200
    assert seen.json()["did"].startswith("did:key:z6Mk") and seen.json()["custody"] == "custodial"
    hidden = client.get(
        f"/api/v1/objects/contact/records/{contact}/did", headers=world.sales_north.headers
    )
    assert hidden.status_code == 404


def test_signing_in_by_did_signature(client: Any, kindred: Any) -> None:
    did, wallet = wallet_customer(kindred)
    opened = signed_in(client, did, wallet)
    assert opened.status_code == 201, opened.text
    token = opened.json()["token"]
    me = client.get("/api/v1/passport/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json() == {
        "did": did,
        "subject": {"object": "contact", "id": "c-wallet"},
        "via": "did-signature",
    }
    # A passport session is not a staff token.
    staff = client.get(
        "/api/v1/objects/contact/records", headers={"Authorization": f"Bearer {token}"}
    )
    assert staff.status_code == 401


def test_refused_sign_ins_say_why_and_use_the_challenge_up(client: Any, kindred: Any) -> None:
    did, wallet = wallet_customer(kindred)
    stranger = Ed25519PrivateKey.generate()

    def refused(response: Any, reason: str) -> None:
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["reason"] == reason
        assert "token" not in response.json()

    # Signed by another key: refused, and the challenge is gone (no second try).
    body = client.post("/api/v1/passport/challenge", json={"did": did}).json()
    wrong = {"did": did, "challenge": body["challenge"]}
    forged = client.post(
        "/api/v1/passport/session",
        json={**wrong, "signature": b64(stranger.sign(body["sign"].encode()))},
    )
    refused(forged, "bad-signature")
    retry = client.post(
        "/api/v1/passport/session",
        json={**wrong, "signature": b64(wallet.sign(body["sign"].encode()))},
    )
    refused(retry, "replayed")

    # A successful sign-in's challenge cannot be replayed.
    body = client.post("/api/v1/passport/challenge", json={"did": did}).json()
    good = {
        "did": did,
        "challenge": body["challenge"],
        "signature": b64(wallet.sign(body["sign"].encode())),
    }
    assert client.post("/api/v1/passport/session", json=good).status_code == 201
    refused(client.post("/api/v1/passport/session", json=good), "replayed")

    # A challenge issued to another DID.
    other = kindred.identities
    with kindred.database.write() as session:
        other_did = other.register(session, "contact", "c-other").did
    body = client.post("/api/v1/passport/challenge", json={"did": other_did}).json()
    mismatched = client.post(
        "/api/v1/passport/session",
        json={
            "did": did,
            "challenge": body["challenge"],
            "signature": b64(wallet.sign(body["sign"].encode())),
        },
    )
    refused(mismatched, "wrong-did")

    # Expired.
    body = client.post("/api/v1/passport/challenge", json={"did": did}).json()
    with kindred.database.write() as session:
        session.execute(sa.update(PassportChallenge).values(expires_at=time.time() - 1))
    late = client.post(
        "/api/v1/passport/session",
        json={
            "did": did,
            "challenge": body["challenge"],
            "signature": b64(wallet.sign(body["sign"].encode())),
        },
    )
    refused(late, "expired")
    refused(
        client.post(
            "/api/v1/passport/session",
            json={"did": did, "challenge": "made-up", "signature": b64(b"x" * 64)},
        ),
        "unknown",
    )
    # Unknown DIDs get no challenge; incomplete requests are 422 with every missing field.
    unknown = did_key(stranger.public_key())
    assert client.post("/api/v1/passport/challenge", json={"did": unknown}).status_code == 404
    incomplete = client.post("/api/v1/passport/session", json={"did": did})
    assert incomplete.status_code == 422
    assert {e["path"] for e in incomplete.json()["errors"]} == {"/challenge", "/signature"}


def test_a_staff_token_is_not_a_passport_session(client: Any, world: World) -> None:
    response = client.get("/api/v1/passport/me", headers=world.admin.headers)
    assert response.status_code == 401
    assert response.json()["reason"] == "invalid"


def test_a_custodial_customer_signs_in_by_magic_link(client: Any, kindred: Any) -> None:
    with kindred.database.write() as session:
        contact = kindred.records.create(
            session,
            SYSTEM,
            "contact",
            {"first_name": "Lei", "last_name": "Li", "email": "lilei@example.com"},
        )
    with smtp_server() as (recorder, smtp):
        kindred.settings.smtp_host, kindred.settings.smtp_port = smtp.host, smtp.port
        asked = client.post("/api/v1/passport/magic-link", json={"email": "lilei@example.com"})
        unknown = client.post("/api/v1/passport/magic-link", json={"email": "nobody@example.com"})
        assert kindred.passport.mail.settle(timeout=60)  # links are mailed in the background
    # The same answer either way: whether an address is known is not revealed.
    assert asked.status_code == unknown.status_code == 202
    assert asked.json() == unknown.json()
    [envelope] = recorder.envelopes
    assert envelope.rcpt_tos == ["lilei@example.com"]
    body = recorder.parsed().get_content()
    token = re.search(r"token=([A-Za-z0-9_-]+)", body).group(1)  # type: ignore[union-attr]
    opened = client.post("/api/v1/passport/session", json={"magic_link": token})
    assert opened.status_code == 201, opened.text
    me = client.get(
        "/api/v1/passport/me", headers={"Authorization": f"Bearer {opened.json()['token']}"}
    ).json()
    assert me["subject"] == {"object": "contact", "id": contact["id"]}
    assert me["via"] == "magic-link"
    again = client.post("/api/v1/passport/session", json={"magic_link": token})
    assert again.status_code == 401 and again.json()["reason"] == "replayed"


def test_a_custodial_customer_takes_their_key_and_kindred_forgets_it(
    client: Any, kindred: Any
) -> None:
    with kindred.database.write() as session:
        did = kindred.identities.register(session, "contact", "c-taker").did
        link = kindred.passport.magic_link(session, did)
    token = client.post("/api/v1/passport/session", json={"magic_link": link}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post("/api/v1/passport/key", headers=headers, json={"confirm": "ok"})
    assert refused.status_code == 422
    taken = client.post(
        "/api/v1/passport/key",
        headers=headers,
        json={"confirm": "I will keep my key safe; Kindred forgets it"},
    )
    assert taken.status_code == 200 and taken.headers["cache-control"] == "no-store"
    jwk = taken.json()["jwk"]
    wallet = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(jwk["d"] + "="))
    assert did_key(wallet.public_key()) == did  # the same DID, now in the customer's hands
    with kindred.database.read() as session:
        identity = kindred.identities.by_did(session, did)
        assert identity.custody == "customer" and identity.private_key is None
    again = client.post(
        "/api/v1/passport/key",
        headers=headers,
        json={"confirm": "I will keep my key safe; Kindred forgets it"},
    )
    assert again.status_code == 409
    assert signed_in(client, did, wallet).status_code == 201  # signs in by DID from now on
