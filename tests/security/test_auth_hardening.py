"""Sign-in throttling, password changes and the installation secret (issue 16, items 7, 9, 10).

Each test first replays the attack as reported, then checks what is refused, how (RFC 9457
problem+json, ``Retry-After``) and that a refused request changed nothing:

- 40 wrong passwords then the right one used to sign in; now the account locks after a few
  failures with a growing back-off, the right password is refused while locked, unknown
  emails behave exactly like known ones, each client address has a failure budget, password
  checks per process are bounded, and API keys and passport sign-ins are throttled alike;
- changing one's own password needed no current password, and earlier tokens stayed valid;
  now it does, an administrator's reset is on the ledger, and earlier tokens are refused at
  once;
- a published development secret signed every local/test installation's tokens (a forged
  passport session took a custodial customer's private key); now each installation
  generates its own, kept beside the database, owner-only, and production refuses weak ones.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kindred.app import create_app
from kindred.auth.models import ApiKey, SignInFailure, UserCredential
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.config import Settings, estimated_entropy_bits, get_settings
from kindred.ledger.models import LedgerEntry, LedgerPayload
from kindred.records.service import RequestContext
from kindred.services import Kindred
from tests.api.test_records_api import problem
from tests.conftest import make_test_settings
from tests.scenarios.test_messaging import smtp_server

# The secret every installation used when KINDRED_SECRET_KEY was not set, as published in the
# source of earlier versions. Kept here only to prove it opens nothing any more.
PUBLISHED_SECRET = "kindred-local-development-secret-change-me"
PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "staple-battery-horse-2"
SYSTEM = RequestContext(SYSTEM_PRINCIPAL)


class Clock:
    """The throttle's clock, moved by the test: lockouts expire without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Site:
    """One Kindred over the test's database, with clients at chosen addresses."""

    def __init__(self, kindred: Kindred) -> None:
        self.kindred = kindred
        self.app = create_app(kindred, bootstrap=False)
        self.clock = Clock()
        kindred.auth.throttle.clock = self.clock

    def client(self, address: str = "203.0.113.10") -> TestClient:
        return TestClient(self.app, client=(address, 50000))

    def user(self, email: str, roles: list[str] | None = None) -> str:
        with self.kindred.database.write() as session:
            user = self.kindred.auth.create_user(
                session, email=email, name=email, password=PASSWORD, roles=roles or ["sales"]
            )
        return str(user["id"])

    def failures(self) -> list[tuple[Any, ...]]:
        with self.kindred.database.read() as session:
            return [
                tuple(row)
                for row in session.execute(
                    sa.select(
                        SignInFailure.key,
                        SignInFailure.failures,
                        SignInFailure.last_failure_at,
                        SignInFailure.locked_until,
                    ).order_by(SignInFailure.key)
                )
            ]

    def ledger(self, kind: str) -> list[dict[str, Any]]:
        with self.kindred.database.read() as session:
            return [
                dict(payload)
                for payload in session.execute(
                    sa.select(LedgerPayload.payload)
                    .join(LedgerEntry, LedgerEntry.index == LedgerPayload.index)
                    .where(LedgerEntry.kind == kind)
                    .order_by(LedgerEntry.index)
                ).scalars()
            ]


@pytest.fixture
def make_site(database_url: str) -> Iterator[Callable[..., Site]]:
    made: list[Kindred] = []

    def make(**overrides: Any) -> Site:
        kindred = Kindred.create(settings=make_test_settings(database_url, **overrides))
        made.append(kindred)
        return Site(kindred)

    yield make
    for kindred in made:
        kindred.close()


def sign_in(client: TestClient, email: str, password: str) -> Any:
    return client.post("/api/v1/auth/token", data={"username": email, "password": password})


def bearer(response: Any) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def throttled(response: Any, retry_after: int | None = None) -> dict[str, Any]:
    body = problem(response, 429)
    assert body["type"] == "https://kindred.dev/problems/too-many-attempts"
    seconds = int(response.headers["Retry-After"])
    assert seconds == body["retry_after"] and seconds >= 1
    if retry_after is not None:
        assert seconds == retry_after
    assert "access_token" not in body and "token" not in body
    return body


# -- item 7: sign-in throttling --------------------------------------------------------------


def test_forty_wrong_passwords_lock_the_account_and_the_right_one_is_refused(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    site.user("victim@example.com")
    client = site.client()
    # The reported attack: 40 wrong passwords, then the right one.
    answers = [sign_in(client, "victim@example.com", f"guess-{n:04}") for n in range(40)]
    assert [a.status_code for a in answers[:5]] == [401] * 5  # five tries, then locked
    for answer in answers[5:]:
        throttled(answer, retry_after=60)
    locked = site.failures()
    throttled(sign_in(client, "victim@example.com", PASSWORD), retry_after=60)
    # Refused attempts while locked are not checked, counted or used to extend the lock.
    assert site.failures() == locked
    [(_, failures, _, _)] = locked
    assert failures == 5

    # The lock ends; one more failure locks again, for twice as long.
    site.clock.advance(61)
    problem(sign_in(client, "victim@example.com", "guess-again"), 401)
    throttled(sign_in(client, "victim@example.com", PASSWORD), retry_after=120)
    site.clock.advance(119)
    throttled(sign_in(client, "victim@example.com", PASSWORD), retry_after=1)
    site.clock.advance(2)
    # Then the right password signs in, and the account's failures are forgotten.
    bearer(sign_in(client, "victim@example.com", PASSWORD))
    assert site.failures() == []
    problem(sign_in(client, "victim@example.com", "one-typo"), 401)


def test_a_throttled_unknown_email_behaves_like_a_throttled_known_one(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    site.user("known@example.com")

    def replay(email: str, address: str) -> list[tuple[int, str | None, Any]]:
        client = site.client(address)
        seen = []
        for n in range(8):
            answer = sign_in(client, email, f"guess-{n:04}")
            body = answer.json()
            seen.append((answer.status_code, answer.headers.get("Retry-After"), body["detail"]))
        return seen

    known = replay("known@example.com", "198.51.100.1")
    unknown = replay("nobody@example.com", "198.51.100.2")
    assert known == unknown
    assert [status for status, _, _ in known] == [401] * 5 + [429] * 3
    # The lockout table names no email address, known or not.
    keys = [key for key, *_ in site.failures()]
    assert len(keys) == 2 and not any("example.com" in key for key in keys)


def test_lockouts_and_password_changes_hold_across_processes(
    make_site: Callable[..., Site],
) -> None:
    """Two servers over one database (as several API processes): each has its own caches and
    address budgets, but an account locked through one is locked on the other, and a token
    ended by a password change on one is refused by the other at once."""
    first, second = make_site(), make_site()
    second.kindred.auth.throttle.clock = first.clock
    user_id = first.user("rep@example.com")
    one, other = first.client("198.51.100.1"), second.client("198.51.100.2")
    token = bearer(sign_in(other, "rep@example.com", PASSWORD))
    assert other.get("/api/v1/auth/me", headers=token).status_code == 200  # cached there
    for n in range(5):
        problem(sign_in(one if n % 2 else other, "rep@example.com", f"guess-{n:04}"), 401)
    throttled(sign_in(one, "rep@example.com", PASSWORD), retry_after=60)
    throttled(sign_in(other, "rep@example.com", PASSWORD), retry_after=60)
    first.clock.advance(61)
    fresh = bearer(sign_in(one, "rep@example.com", PASSWORD))
    changed = one.put(
        f"/api/v1/users/{user_id}/password",
        json={"password": NEW_PASSWORD, "current_password": PASSWORD},
        headers=fresh,
    )
    assert changed.status_code == 204, changed.text
    problem(other.get("/api/v1/auth/me", headers=token), 401)
    problem(other.get("/api/v1/auth/me", headers=fresh), 401)


def test_each_client_address_has_a_failure_budget(make_site: Callable[..., Site]) -> None:
    site = make_site(signin_address_failures=3, signin_address_refill_seconds=30)
    site.user("rep@example.com")
    guesser, colleague = site.client("203.0.113.5"), site.client("198.51.100.7")
    # Password spraying: one guess per account, many accounts, from one address.
    for n in range(3):
        problem(sign_in(guesser, f"user{n}@example.com", "Winter2026!"), 401)
    body = throttled(sign_in(guesser, "rep@example.com", PASSWORD), retry_after=30)
    assert "from your address" in body["detail"]
    failures = site.failures()
    throttled(sign_in(guesser, "user9@example.com", "Winter2026!"))
    assert site.failures() == failures  # refused before any check: nothing recorded
    # Another address is unaffected; the budget refills with time.
    bearer(sign_in(colleague, "rep@example.com", PASSWORD))
    site.clock.advance(30)
    bearer(sign_in(guesser, "rep@example.com", PASSWORD))


def test_password_checks_per_process_are_bounded(make_site: Callable[..., Site]) -> None:
    site = make_site(password_hash_concurrency=1, password_hash_wait_seconds=0)
    site.user("rep@example.com")
    client = site.client()
    gate = site.kindred.auth.throttle.hashing
    with gate.slot():  # every slot taken (as by a check in progress)
        busy = sign_in(client, "rep@example.com", PASSWORD)
        body = problem(busy, 503)
        assert body["type"] == "https://kindred.dev/problems/sign-in-busy"
        assert int(busy.headers["Retry-After"]) >= 1
        problem(sign_in(client, "nobody@example.com", "guess-0001"), 503)
    assert site.failures() == []  # nothing was checked, so nothing was counted
    # Failed and successful checks give their slot back.
    for n in range(3):
        problem(sign_in(client, "rep@example.com", f"guess-{n}"), 401)
    bearer(sign_in(client, "rep@example.com", PASSWORD))
    with gate.slot():
        pass


def test_api_key_guessing_is_throttled_per_address(make_site: Callable[..., Site]) -> None:
    site = make_site(signin_address_failures=3, signin_address_refill_seconds=60)
    user_id = site.user("integration@example.com", roles=["integration"])
    with site.kindred.database.write() as session:
        _, key = site.kindred.auth.create_api_key(session, user_id, "ERP sync")
    guesser, erp = site.client("203.0.113.66"), site.client("198.51.100.20")
    records = "/api/v1/objects/account/records"
    for _ in range(3):
        guess = f"kdr_{secrets.token_urlsafe(6)}_{secrets.token_urlsafe(32)}"
        problem(guesser.get(records, headers={"X-API-Key": guess}), 401)
    body = throttled(guesser.get(records, headers={"X-API-Key": key}), retry_after=60)
    assert "from your address" in body["detail"]
    throttled(guesser.get(records, headers={"Authorization": f"Bearer {key}"}))
    assert erp.get(records, headers={"X-API-Key": key}).status_code == 200
    site.clock.advance(60)
    assert guesser.get(records, headers={"X-API-Key": key}).status_code == 200


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_passport_signature_failures_lock_the_did(make_site: Callable[..., Site]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    site = make_site()
    wallet, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    with site.kindred.database.write() as session:
        did = site.kindred.identities.register(
            session, "contact", "c-wallet", public_key=wallet.public_key().public_bytes_raw()
        ).did
    client = site.client()

    def attempt(signer: Any) -> Any:
        issued = client.post("/api/v1/passport/challenge", json={"did": did})
        if issued.status_code != 201:
            return issued
        body = issued.json()
        return client.post(
            "/api/v1/passport/session",
            json={
                "did": did,
                "challenge": body["challenge"],
                "signature": b64(signer.sign(body["sign"].encode())),
            },
        )

    for _ in range(5):
        problem(attempt(stranger), 401)
    # Locked: no challenge is issued, and a signed challenge is refused too.
    throttled(attempt(wallet), retry_after=60)
    with site.kindred.database.write() as session:
        nonce = site.kindred.passport.challenge(session, did)[0]
    from kindred.sovereignty.passport import signed_text

    text = signed_text(site.kindred.identities.public_host, nonce)
    throttled(
        client.post(
            "/api/v1/passport/session",
            json={"did": did, "challenge": nonce, "signature": b64(wallet.sign(text))},
        ),
        retry_after=60,
    )
    site.clock.advance(61)
    assert attempt(wallet).status_code == 201


def test_passport_links_are_throttled_per_address_and_per_client(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(signin_address_failures=8, signin_address_refill_seconds=60)
    with site.kindred.database.write() as session:
        site.kindred.records.create(
            session,
            SYSTEM,
            "contact",
            {"first_name": "Lei", "last_name": "Li", "email": "lilei@example.com"},
        )

    def ask(client: TestClient, email: str) -> list[tuple[int, str | None]]:
        url = "/api/v1/passport/magic-link"
        answers = [client.post(url, json={"email": email}) for _ in range(6)]
        return [(a.status_code, a.headers.get("Retry-After")) for a in answers]

    # Per address asked for: a known and an unknown one behave alike.
    with smtp_server() as (recorder, smtp):
        site.kindred.settings.smtp_host, site.kindred.settings.smtp_port = smtp.host, smtp.port
        known = ask(site.client("198.51.100.1"), "lilei@example.com")
        unknown = ask(site.client("198.51.100.2"), "nobody@example.com")
        assert site.kindred.passport.mail.settle(timeout=60)  # mailed in the background
    assert known == unknown == [(202, None)] * 5 + [(429, "60")]
    assert len(recorder.envelopes) == 5  # the known address got five links, then no more

    # Per client: guessing magic-link tokens spends the address's budget.
    guesser = site.client("203.0.113.9")
    for _ in range(8):
        refused = guesser.post(
            "/api/v1/passport/session", json={"magic_link": secrets.token_urlsafe(32)}
        )
        assert refused.status_code == 401 and refused.json()["reason"] == "unknown"
    throttled(
        guesser.post("/api/v1/passport/session", json={"magic_link": secrets.token_urlsafe(32)})
    )
    with site.kindred.database.write() as session:
        did = site.kindred.identities.register(session, "contact", "c-link").did
        link = site.kindred.passport.magic_link(session, did)
    throttled(guesser.post("/api/v1/passport/session", json={"magic_link": link}))
    assert (
        site.client("198.51.100.3")
        .post("/api/v1/passport/session", json={"magic_link": link})
        .status_code
        == 201
    )


# -- item 9: password changes ----------------------------------------------------------------


def credential(site: Site, user_id: str) -> tuple[str, int]:
    with site.kindred.database.read() as session:
        row = session.get(UserCredential, user_id)
        assert row is not None
        return row.password_hash, row.session_generation


def test_changing_ones_own_password_needs_the_current_one(make_site: Callable[..., Site]) -> None:
    site = make_site()
    user_id = site.user("rep@example.com")
    client = site.client()
    headers = bearer(sign_in(client, "rep@example.com", PASSWORD))
    url = f"/api/v1/users/{user_id}/password"
    before = credential(site, user_id)
    # The reported attack: a stolen session sets a new password without knowing the old one.
    body = problem(client.put(url, json={"password": NEW_PASSWORD}, headers=headers), 422)
    assert body["errors"][0]["path"] == "/current_password"
    body = problem(
        client.put(
            url,
            json={"password": NEW_PASSWORD, "current_password": "not-the-password"},
            headers=headers,
        ),
        403,
    )
    assert body["detail"] == "the current password is wrong"
    assert credential(site, user_id) == before
    assert site.ledger("auth.password.changed") == []
    bearer(sign_in(client, "rep@example.com", PASSWORD))  # still the old password

    changed = client.put(
        url, json={"password": NEW_PASSWORD, "current_password": PASSWORD}, headers=headers
    )
    assert changed.status_code == 204, changed.text
    problem(sign_in(client, "rep@example.com", PASSWORD), 401)
    bearer(sign_in(client, "rep@example.com", NEW_PASSWORD))
    [entry] = site.ledger("auth.password.changed")
    assert entry["user_id"] == user_id and entry["by"] == user_id


def test_guessing_the_current_password_locks_the_account(make_site: Callable[..., Site]) -> None:
    site = make_site()
    user_id = site.user("rep@example.com")
    client = site.client()
    headers = bearer(sign_in(client, "rep@example.com", PASSWORD))
    url = f"/api/v1/users/{user_id}/password"
    for n in range(5):
        guess = {"password": NEW_PASSWORD, "current_password": f"guess-{n:04}"}
        problem(client.put(url, json=guess, headers=headers), 403)
    right = {"password": NEW_PASSWORD, "current_password": PASSWORD}
    throttled(client.put(url, json=right, headers=headers), retry_after=60)
    throttled(sign_in(client, "rep@example.com", PASSWORD), retry_after=60)  # the same account
    assert credential(site, user_id)[1] == 0


def test_earlier_tokens_are_refused_right_after_a_password_change(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    user_id = site.user("rep@example.com", roles=["sales", "integration"])
    laptop, phone = site.client("198.51.100.1"), site.client("198.51.100.2")
    on_laptop = bearer(sign_in(laptop, "rep@example.com", PASSWORD))
    on_phone = bearer(sign_in(phone, "rep@example.com", PASSWORD))
    created = laptop.post("/api/v1/auth/api-keys", json={"name": "sync"}, headers=on_laptop)
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"]}
    changed = laptop.put(
        f"/api/v1/users/{user_id}/password",
        json={"password": NEW_PASSWORD, "current_password": PASSWORD},
        headers=on_laptop,
    )
    assert changed.status_code == 204, changed.text
    # At once, with no wait for the tokens to expire: neither device's session works.
    for client, headers in ((laptop, on_laptop), (phone, on_phone)):
        body = problem(client.get("/api/v1/auth/me", headers=headers), 401)
        assert body["detail"] == "this session ended when the password was changed; sign in again"
    assert (
        laptop.get(
            "/api/v1/auth/me", headers=bearer(sign_in(laptop, "rep@example.com", NEW_PASSWORD))
        ).status_code
        == 200
    )
    # API keys are separate credentials, revoked one by one (kept: integrations).
    assert laptop.get("/api/v1/auth/me", headers=key).status_code == 200


def test_an_admin_reset_is_on_the_ledger_and_ends_the_users_sessions(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    admin_id = site.user("admin@example.com", roles=["admin"])
    user_id = site.user("rep@example.com")
    other_id = site.user("colleague@example.com")
    client = site.client()
    admin = bearer(sign_in(client, "admin@example.com", PASSWORD))
    rep = bearer(sign_in(client, "rep@example.com", PASSWORD))
    colleague = bearer(sign_in(client, "colleague@example.com", PASSWORD))
    # Someone not allowed to manage users may not reset another's password: nothing changes.
    before = credential(site, user_id)
    body = problem(
        client.put(
            f"/api/v1/users/{user_id}/password",
            json={"password": NEW_PASSWORD, "current_password": PASSWORD},
            headers=colleague,
        ),
        403,
    )
    assert body["detail"] == "you may only change your own password"
    assert credential(site, user_id) == before
    # A locked-out user is unlocked by the reset.
    for n in range(5):
        problem(sign_in(client, "rep@example.com", f"guess-{n:04}"), 401)
    throttled(sign_in(client, "rep@example.com", PASSWORD))

    reset = client.put(
        f"/api/v1/users/{user_id}/password",
        json={"password": NEW_PASSWORD},
        headers={**admin, "X-Request-ID": "req-reset-1"},
    )
    assert reset.status_code == 204, reset.text
    [entry] = site.ledger("auth.password.reset")
    assert entry == {"user_id": user_id, "by": admin_id, "request_id": "req-reset-1"}
    problem(client.get("/api/v1/auth/me", headers=rep), 401)
    assert client.get("/api/v1/auth/me", headers=colleague).status_code == 200
    assert client.get("/api/v1/auth/me", headers=admin).status_code == 200
    bearer(sign_in(client, "rep@example.com", NEW_PASSWORD))
    assert other_id and site.ledger("auth.password.changed") == []


def test_api_key_changes_are_on_the_ledger(make_site: Callable[..., Site]) -> None:
    site = make_site()
    user_id = site.user("integration@example.com", roles=["integration"])
    client = site.client()
    headers = {**bearer(sign_in(client, "integration@example.com", PASSWORD))}
    created = client.post(
        "/api/v1/auth/api-keys",
        json={"name": "ERP sync"},
        headers={**headers, "X-Request-ID": "r1"},
    )
    assert created.status_code == 201
    key_id, plaintext = created.json()["id"], created.json()["key"]
    assert client.delete(f"/api/v1/auth/api-keys/{key_id}", headers=headers).status_code == 204
    [made] = site.ledger("auth.api_key.created")
    assert made == {
        "key_id": key_id,
        "user_id": user_id,
        "name": "ERP sync",
        "by": user_id,
        "request_id": "r1",
    }
    [revoked] = site.ledger("auth.api_key.revoked")
    assert revoked["key_id"] == key_id and revoked["by"] == user_id
    # The key itself is never on the ledger.
    with site.kindred.database.read() as session:
        payloads = session.execute(sa.select(LedgerPayload.payload)).scalars().all()
        assert session.get(ApiKey, key_id) is not None
    assert plaintext not in repr(payloads) and plaintext[4:12] not in repr(payloads)


# -- item 10: the installation's secret ------------------------------------------------------


def fresh_install_settings(url: str, **overrides: Any) -> Settings:
    """The test settings, but with KINDRED_SECRET_KEY unset, as on a first start."""
    settings = make_test_settings(url, **overrides)
    values = settings.model_dump(exclude={"secret_key"})
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def no_secret_in_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv("KINDRED_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # where a PostgreSQL installation keeps its var/ folder
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def secret_file(url: str, working: Path) -> Path:
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        return database.with_name(database.stem + "-secret-key")
    return working / "var" / "kindred-secret-key"


def test_a_fresh_install_refuses_tokens_forged_with_the_published_secret(
    database_url: str, no_secret_in_environment: None, tmp_path: Path
) -> None:
    settings = fresh_install_settings(database_url)
    assert settings.secret_key != PUBLISHED_SECRET and len(settings.secret_key) >= 64
    kindred = Kindred.create(settings=settings)
    try:
        site = Site(kindred)
        admin_id = site.user("admin@example.com", roles=["admin"])
        with kindred.database.write() as session:
            did = kindred.identities.register(session, "contact", "c-custodial").did
        client = site.client()
        now = int(time.time())
        # A staff token for the admin, signed with the published secret.
        forged = jwt.encode(
            {"sub": admin_id, "iat": now, "exp": now + 3600, "iss": "kindred", "jti": "x"},
            PUBLISHED_SECRET,
            algorithm="HS256",
        )
        body = problem(
            client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}), 401
        )
        assert "invalid" in body["detail"]
        # A passport session for a custodial customer, with the key derived from it.
        passport_key = HKDF(
            algorithm=SHA256(), length=32, salt=b"kindred-passport", info=b"passport sessions"
        ).derive(PUBLISHED_SECRET.encode())
        session_token = jwt.encode(
            {
                "sub": did,
                "aud": "kindred-passport",
                "iat": now,
                "exp": now + 900,
                "via": "magic-link",
                "jti": "x",
            },
            passport_key,
            algorithm="HS256",
        )
        taken = client.post(
            "/api/v1/passport/key",
            headers={"Authorization": f"Bearer {session_token}"},
            json={"confirm": "I will keep my key safe; Kindred forgets it"},
        )
        problem(taken, 401)
        assert "jwk" not in taken.json()
        with kindred.database.read() as session:
            identity = kindred.identities.by_did(session, did)
            assert identity.custody == "custodial" and identity.private_key is not None
    finally:
        kindred.close()


def test_the_generated_secret_is_owner_only_and_stable_across_restarts(
    database_url: str, no_secret_in_environment: None, tmp_path: Path
) -> None:
    path = secret_file(database_url, tmp_path)
    assert not path.exists()
    first = fresh_install_settings(database_url)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first.secret_key
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    again = fresh_install_settings(database_url)
    assert again.secret_key == first.secret_key
    # Tokens issued before a restart are still good after it.
    kindred = Kindred.create(settings=first)
    try:
        site = Site(kindred)
        site.user("rep@example.com")
        token = bearer(sign_in(site.client(), "rep@example.com", PASSWORD))
    finally:
        kindred.close()
    restarted = Kindred.create(settings=again)
    try:
        assert Site(restarted).client().get("/api/v1/auth/me", headers=token).status_code == 200
    finally:
        restarted.close()


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    database = tmp_path / "kindred.db"
    program = (
        "from kindred.config import Settings; "
        "print(Settings(_env_file=None, mode='local').secret_key)"
    )
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("KINDRED_")
    }
    environment["KINDRED_DATABASE_URL"] = f"sqlite:///{database}"
    started = [
        subprocess.Popen(
            [sys.executable, "-c", program],
            env=environment,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [process.communicate(timeout=120) for process in started]
    assert all(process.returncode == 0 for process in started), results
    secrets_seen = {out.strip() for out, _ in results}
    path = tmp_path / "kindred-secret-key"
    assert secrets_seen == {path.read_text().strip()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kindred-secret-key"]


def test_a_secret_file_others_can_read_is_refused(
    tmp_path: Path, no_secret_in_environment: None
) -> None:
    url = f"sqlite:///{tmp_path / 'kindred.db'}"
    secret = Settings(_env_file=None, mode="local", database_url=url).secret_key
    path = tmp_path / "kindred-secret-key"
    path.chmod(0o644)
    with pytest.raises(ValueError, match="readable by other users") as refused:
        Settings(_env_file=None, mode="local", database_url=url)
    assert secret not in str(refused.value) and str(path) in str(refused.value)
    path.write_text("too short\n")
    path.chmod(0o600)
    with pytest.raises(ValueError, match="does not hold a secret key"):
        Settings(_env_file=None, mode="local", database_url=url)


WEAK_SECRETS = [
    "a" * 32,  # the reported one
    "a" * 200,
    "ab" * 40,
    "kindred!" * 8,
    "abcdefghijklmnopqrstuvwxyz0123456789",
    "0123456789" * 5,
    "Password1!Password1!Password1!Password1!",
    "short",
]


@pytest.mark.parametrize("weak", WEAK_SECRETS)
def test_production_refuses_weak_secrets_without_echoing_them(weak: str) -> None:
    with pytest.raises(ValueError, match="KINDRED_SECRET_KEY is too weak") as refused:
        Settings(_env_file=None, mode="production", secret_key=weak)
    assert weak not in str(refused.value)


def test_production_accepts_random_secrets() -> None:
    for secret in (
        secrets.token_urlsafe(48),
        secrets.token_urlsafe(32),
        secrets.token_hex(32),
        "q7Vd-2mPx_Lk9ZtR0bWc4NyE8sHgJf3uAo6iTe1KrXaQ",  # a fixed 44-character random one
    ):
        assert Settings(_env_file=None, mode="production", secret_key=secret).secret_key == secret
    assert estimated_entropy_bits("a" * 64) == 0
    assert estimated_entropy_bits(secrets.token_urlsafe(48)) > 256


def test_the_cli_names_a_weak_secret_in_one_line_and_never_prints_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_secret_in_environment: None
) -> None:
    from kindred.cli import app
    from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)

    database = tmp_path / "kindred.db"
    monkeypatch.setenv("KINDRED_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("KINDRED_MODE", "production")
    monkeypatch.setenv("KINDRED_SECRET_KEY", "a" * 32)
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "error: KINDRED_SECRET_KEY is too weak for production" in output
    assert "a" * 32 not in output and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []  # no database, and production generates no secret
