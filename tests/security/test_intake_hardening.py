"""Intake hardening: what reaches the server before (or instead of) a signed-in caller.

The attacks this reproduces (issue 16, items 5, 6, 11 and 14):

- 200 MiB sent *chunked* with no token to a records endpoint was read whole (the size limit
  looked at Content-Length only, and FastAPI reads a declared body before it runs the
  dependency that authenticates) and then answered 400.
- 200 × 1 MiB posts with bad signatures to the channel webhooks each left a whole dead
  letter, open forever (retention purged resolved ones only).
- Cursors rebuilt with the right hash but values of the wrong type, integers beyond 64 bits
  and lone surrogates reached SQL or orjson and came back as 500s; SQL parameters reached
  the server log.
- ``/metrics`` was public; a custom field could be named ``included`` (a response envelope
  key); there was no access log.

The body-size and authentication-order tests talk to a real uvicorn server over real sockets:
a chunked upload keeps sending until the answer is readable, and the test asserts the answer
came before every chunk was sent (the positive signal: the response itself).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from kindred.app import create_app
from kindred.events import channels
from kindred.events.models import DeadLetter
from kindred.records.query import ListQuery, sort_signature
from tests.conftest import make_test_settings

PASSWORD = "correct-horse-battery"
TOKEN = "wechat-token-for-tests"
SECRET = "webhook-secret-for-tests"
RECORDS = "/api/v1/objects/account/records"
PROBLEM = "application/problem+json"
# Small limits keep the uploads short: the server's request limit and the chunk size.
LIMIT = 64 * 1024
CHUNK = 16 * 1024
# 64 MiB in all: far more than socket buffers hold, so an answer that only comes after the
# whole body was read cannot be seen before the last chunk.
CHUNKS = 4096


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def make_kindred(database_url: str) -> Iterator[Callable[..., Any]]:
    """Services over the test's private database with the given setting overrides."""
    from kindred.services import Kindred

    made: list[Any] = []

    def make(**overrides: Any) -> Any:
        values = {"wechat_token": TOKEN, "webhook_secret": SECRET, **overrides}
        services = Kindred.create(settings=make_test_settings(database_url, **values))
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


def make_user(kindred: Any, roles: list[str]) -> tuple[str, dict[str, str]]:
    """A user with ``roles``: (id, headers with a bearer token)."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    with kindred.database.write() as session:
        user = kindred.auth.create_user(
            session, email=email, name="tester", password=PASSWORD, roles=roles
        )
    token, _ = kindred.auth.sign_in(kindred.database, email, PASSWORD, "127.0.0.1")
    return user["id"], {"Authorization": f"Bearer {token}"}


def record_state(kindred: Any) -> tuple[Any, ...]:
    with kindred.database.read() as session:
        return (
            session.execute(sa.text("SELECT id, version FROM records ORDER BY id")).all(),
            session.execute(sa.text("SELECT count(*) FROM change_log")).scalar_one(),
        )


def letters(kindred: Any) -> list[DeadLetter]:
    with kindred.database.read() as session:
        rows = list(session.execute(sa.select(DeadLetter).order_by(DeadLetter.id)).scalars())
        session.expunge_all()
    return rows


def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"] == f"https://kindred.dev/problems/{slug}", body
    return body


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@dataclass
class Server:
    port: int
    kindred: Any


@contextmanager
def serving(kindred: Any) -> Iterator[Server]:
    """A real uvicorn server for ``kindred`` on a free loopback port, in a thread."""
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # log_config=None: uvicorn's loggers propagate, so caplog sees what the server logs.
    config = uvicorn.Config(create_app(kindred, bootstrap=False), log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:  # the positive signal: uvicorn says it is serving
        assert thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield Server(port, kindred)
    finally:
        server.should_exit = True
        thread.join()
        listener.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks_sent: int

    def json(self) -> Any:
        return orjson.loads(self.body)


def _read_answer(connection: socket.socket, chunks_sent: int) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = connection.recv(65536)
        assert piece, f"the connection closed before an answer: {data!r}"
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:])
    }
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        piece = connection.recv(65536)
        if not piece:
            break
        rest += piece
    return Answer(status, headers, rest[:length], chunks_sent)


def upload_chunked(
    server: Server,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    source: str = "127.0.0.1",
    first: bytes = b'{"name": "',
) -> Answer:
    """POST a chunked body of ``CHUNKS`` × ``CHUNK`` bytes, checking before each chunk whether
    the server has answered; stop sending once it has (or has closed)."""
    connection = socket.create_connection(("127.0.0.1", server.port), source_address=(source, 0))
    connection.settimeout(120)  # a guard against hanging, not a bound any assertion uses
    try:
        lines = [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            "Transfer-Encoding: chunked",
            "Content-Type: application/json",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        connection.sendall(b"%x\r\n%s\r\n" % (len(first), first))
        frame = b"%x\r\n" % CHUNK + b"a" * CHUNK + b"\r\n"
        sent = 0
        for _ in range(CHUNKS):
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break
            try:
                connection.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
        else:
            connection.sendall(b"0\r\n\r\n")
        return _read_answer(connection, sent)
    finally:
        connection.close()


def cursor(signature: str, values: list[Any]) -> str:
    raw = orjson.dumps({"s": signature, "v": values})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -- item 5: request size and authentication before the body --------------------------------------


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(
    make_kindred: Callable[..., Any],
) -> None:
    kindred = make_kindred(max_request_bytes=LIMIT)
    _, admin = make_user(kindred, ["admin"])
    before = record_state(kindred)
    with serving(kindred) as server:
        # A declared body (FastAPI reads it) and a body the endpoint reads itself.
        for path in (RECORDS, "/api/v1/events"):
            answer = upload_chunked(server, path, admin)
            assert answer.status == 413, answer
            assert answer.chunks_sent < CHUNKS, "the answer came only after the whole body"
            assert answer.headers["content-type"].startswith(PROBLEM)
            body = answer.json()
            assert body["type"].endswith("/payload-too-large")
            assert f"{LIMIT} bytes" in body["detail"]
            assert answer.headers["x-request-id"]
    assert record_state(kindred) == before


def test_a_declared_content_length_over_the_limit_is_refused_before_reading(
    make_kindred: Callable[..., Any],
) -> None:
    kindred = make_kindred(max_request_bytes=LIMIT)
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        response = client.post(RECORDS, content=b"x" * (LIMIT + 1))
        assert_problem(response, 413, "payload-too-large")


def test_a_body_for_a_signed_in_route_is_not_read_without_a_valid_credential(
    make_kindred: Callable[..., Any],
) -> None:
    kindred = make_kindred(max_request_bytes=LIMIT)
    before = record_state(kindred)
    forged = {"Authorization": "Bearer not-a-token"}
    with serving(kindred) as server:
        for path, headers in [
            (RECORDS, {}),
            (RECORDS, forged),
            (RECORDS, {"X-API-Key": "kdr_nobody_0000"}),
            ("/api/v1/events", {}),
            ("/api/v1/metadata/objects", forged),
            # A customer's passport route: its own credential, the same order.
            ("/api/v1/passport/consents", {}),
        ]:
            answer = upload_chunked(server, path, headers)
            assert answer.status == 401, (path, headers, answer)
            assert answer.chunks_sent < CHUNKS, (path, "the body was read before sign-in")
            assert answer.headers["content-type"].startswith(PROBLEM)
            assert answer.headers["www-authenticate"] == "Bearer"
    assert record_state(kindred) == before


def test_signed_in_routes_refuse_before_parsing_the_body(
    make_kindred: Callable[..., Any],
) -> None:
    """Malformed JSON without a credential: the answer is about the credential (401), not
    about the body (400) — proof that the body was not parsed first."""
    kindred = make_kindred()
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        response = client.post(
            RECORDS, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 401, "unauthenticated")


def test_which_routes_need_a_principal_is_read_from_their_dependencies(
    make_kindred: Callable[..., Any],
) -> None:
    from kindred.api.limits import principal_routes

    app = create_app(make_kindred(), bootstrap=False)
    guarded = {(method, route.path) for route in principal_routes(app) for method in route.methods}
    for needed in [
        ("POST", "/api/v1/objects/{object_name}/records"),
        ("PATCH", "/api/v1/objects/{object_name}/records/{record_id}"),
        ("POST", "/api/v1/events"),
        ("POST", "/api/v1/metadata/objects"),
        ("POST", "/api/v1/passport/consents"),
    ]:
        assert needed in guarded, needed
    for public in [
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/passport/challenge"),
        ("POST", "/api/v1/passport/session"),
        ("POST", "/api/v1/channels/pos"),
        ("POST", "/api/v1/channels/wechat"),
        ("GET", "/healthz"),
    ]:
        assert public not in guarded, public
    # Public routes with a body still work without any credential.
    with TestClient(app) as client:
        response = client.post("/api/v1/passport/challenge", json={"did": "did:key:z6Mkbogus"})
        assert response.status_code != 401, response.text


# -- item 6: dead letters from unauthenticated senders ----------------------------------------


def wechat_query(token: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "signature": channels.wechat_signature(token, timestamp, "nonce1"),
        "timestamp": timestamp,
        "nonce": "nonce1",
    }


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "X-Kindred-Timestamp": timestamp,
        "X-Kindred-Signature": channels.webhook_signature(secret, timestamp, body),
        "Content-Type": "application/json",
    }


def test_unauthenticated_floods_are_counted_and_sampled_not_stored(
    make_kindred: Callable[..., Any],
) -> None:
    kindred = make_kindred(
        channel_failures_per_minute=1000,
        channel_failure_samples_per_hour=3,
        channel_failure_sample_bytes=512,
    )
    big = b"<xml>" + b"x" * (256 * 1024) + b"</xml>"
    failures = {
        c: metric("kindred_channel_auth_failures_total", channel=c) for c in ("wechat", "pos")
    }
    dropped = {
        c: metric("kindred_channel_auth_samples_dropped_total", channel=c, reason="source_limit")
        for c in ("wechat", "pos")
    }
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        for _ in range(20):
            forged = client.post(
                "/api/v1/channels/wechat", params=wechat_query("guess"), content=big
            )
            assert_problem(forged, 401, "bad-signature")
            wrong = client.post("/api/v1/channels/pos", content=big, headers=signed(big, "guess"))
            assert_problem(wrong, 401, "bad-signature")
    kept = letters(kindred)
    assert sorted(letter.channel for letter in kept) == ["pos"] * 3 + ["wechat"] * 3
    digest = hashlib.sha256(big).hexdigest()
    for letter in kept:
        assert letter.reason == "bad_signature"
        assert letter.payload == big[:512]
        assert letter.payload_bytes == len(big) and letter.truncated
        assert letter.context is not None
        assert letter.context["sha256"] == digest
        assert letter.context["sample"] is True
    for channel in ("wechat", "pos"):
        assert metric("kindred_channel_auth_failures_total", channel=channel) == (
            failures[channel] + 20
        )
        assert (
            metric(
                "kindred_channel_auth_samples_dropped_total", channel=channel, reason="source_limit"
            )
            == dropped[channel] + 17
        )


def test_a_source_that_keeps_failing_is_rate_limited_before_its_body_is_read(
    make_kindred: Callable[..., Any],
) -> None:
    kindred = make_kindred(max_request_bytes=LIMIT, channel_failures_per_minute=5)
    body = orjson.dumps(
        {
            "transaction_id": "T-1",
            "store_id": "S",
            "occurred_at": "2026-12-01T09:30:00Z",
            "total": 1,
            "currency": "CNY",
        }
    )
    with serving(kindred) as server:

        def post(source: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            connection = http.client.HTTPConnection(
                "127.0.0.1", server.port, source_address=(source, 0)
            )
            try:
                connection.request("POST", "/api/v1/channels/pos", body=body, headers=headers)
                response = connection.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            finally:
                connection.close()

        statuses = [post("127.0.0.2", signed(body, "guess"))[0] for _ in range(5)]
        assert statuses == [401] * 5
        status, headers, content = post("127.0.0.2", signed(body, "guess"))
        assert status == 429
        assert headers["content-type"].startswith(PROBLEM)
        assert orjson.loads(content)["type"].endswith("/too-many-requests")
        assert int(headers["retry-after"]) >= 1
        # The source is refused whatever it sends, and before its body is read.
        assert post("127.0.0.2", signed(body))[0] == 429
        answer = upload_chunked(server, "/api/v1/channels/pos", source="127.0.0.2")
        assert answer.status == 429 and answer.chunks_sent < CHUNKS
        # Another source is not.
        status, _, content = post("127.0.0.3", signed(body))
        assert status == 200, content
    assert [letter.reason for letter in letters(kindred)] == ["bad_signature"] * 5


def test_a_limited_source_is_heard_again_once_its_allowance_refills() -> None:
    from kindred.events.guard import SourceGuard, SourceRateLimited

    now = [1000.0]
    guard = SourceGuard(
        failures_per_minute=3, samples_per_hour=2, sample_bytes=16, quota=10, clock=lambda: now[0]
    )
    assert [guard.failed("pos", "10.0.0.1") for _ in range(3)] == [True, True, False]
    with pytest.raises(SourceRateLimited) as refused:
        guard.admit("pos", "10.0.0.1")
    assert refused.value.retry_after == 20  # one failure's worth at 3 a minute
    guard.admit("pos", "10.0.0.2")  # others are not affected
    now[0] += 20
    guard.admit("pos", "10.0.0.1")
    # Samples: two per channel and source in each hour.
    assert guard.failed("wechat", "10.0.0.1") is True
    now[0] = 3600.0 * 2
    assert [guard.failed("pos", "10.0.0.1") for _ in range(3)] == [True, True, False]


def test_the_dead_letter_quota_drops_unauthenticated_samples_only(
    make_kindred: Callable[..., Any],
) -> None:
    kindred = make_kindred(dead_letter_quota=2, channel_failures_per_minute=1000)
    dropped = metric("kindred_channel_auth_samples_dropped_total", channel="pos", reason="quota")
    bad = orjson.dumps(
        {
            "transaction_id": "T-1",
            "store_id": "S",
            "occurred_at": "2026-12-01T09:30:00Z",
            "total": "ten",
            "currency": "CNY",
        }
    )
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        for _ in range(4):
            forged = client.post("/api/v1/channels/pos", content=bad, headers=signed(bad, "x"))
            assert_problem(forged, 401, "bad-signature")
        assert len(letters(kindred)) == 2
        # A signed sender's refused event is real work: stored although the quota is full.
        refused = client.post("/api/v1/channels/pos", content=bad, headers=signed(bad))
        assert_problem(refused, 422)
        assert refused.json()["rejected"][0]["dead_letter"]
    assert [letter.reason for letter in letters(kindred)] == [
        "bad_signature",
        "bad_signature",
        "schema_violation",
    ]
    assert (
        metric("kindred_channel_auth_samples_dropped_total", channel="pos", reason="quota")
        == dropped + 2
    )


def test_retention_purges_unresolved_dead_letters_after_their_own_period(
    make_kindred: Callable[..., Any],
) -> None:
    from kindred.events.runtime import EventRuntime, RuntimeJobs

    kindred = make_kindred(dead_letter_retention_days=30, bus_retention_days=365)
    ids = [
        kindred.events.dead_letter_now(channel="http", reason="malformed", detail="x", payload=b"{")
        for _ in range(3)
    ]
    old, recent, resolved = ids
    kindred.events.discard_dead_letter(resolved, "noise", None)
    with kindred.database.write() as session:
        session.execute(
            sa.update(DeadLetter)
            .where(DeadLetter.id.in_([old, resolved]))
            .values(received_at=datetime.now(UTC) - timedelta(days=40))
        )
    import asyncio

    runtime = EventRuntime(kindred, RuntimeJobs(retention=True))
    report = asyncio.run(runtime.run_retention_once())
    assert report["unresolved_dead_letters"] == 1
    # The resolved one follows the event log's retention (365 days here): kept.
    assert sorted(letter.id for letter in letters(kindred)) == sorted([recent, resolved])
    with kindred.database.read() as session:
        kinds = session.execute(sa.text("SELECT kind FROM ledger_entries")).scalars().all()
    assert "events.dead_letter.expired" in kinds


# -- item 11: no plain 500s, no SQL parameters in logs ------------------------------------------


def _account_list(client: Any, headers: dict[str, str], sort: str | None, values: list[Any]) -> Any:
    query = ListQuery(sort=[(sort, False)] if sort else [])
    params = {"cursor": cursor(sort_signature(query), values)}
    if sort:
        params["sort"] = sort
    return client.get(RECORDS, params=params, headers=headers)


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        # The default order (id): one value.
        (None, [{"a": 1}]),
        (None, [[1]]),
        (None, [True]),
        (None, [None]),
        (None, [1]),
        # A text field: the value, then the id.
        ("name", [{"a": 1}, "x"]),
        ("name", [[1], "x"]),
        ("name", [True, "x"]),
        ("name", ["x", None]),
        ("name", ["a\x00b", "x"]),  # PostgreSQL text cannot hold NUL
        # A number field.
        ("annual_revenue", ["ten", "x"]),
        ("annual_revenue", [{"$dec": "1e999999"}, "x"]),
        # created_at: any type but a timestamp.
        ("created_at", ["x", "x"]),
        ("created_at", [1, "x"]),
        ("created_at", [True, "x"]),
        ("created_at", [None, "x"]),
        ("created_at", [[1], "x"]),
        ("created_at", [{"a": 1}, "x"]),
        ("created_at", [{"$dt": "2026-01-01"}, "x"]),  # no zone: not one we wrote
        # Wrong shapes.
        ("name", "x"),
    ],
)
def test_tampered_cursors_are_400s(
    make_kindred: Callable[..., Any], sort: str | None, values: Any
) -> None:
    kindred = make_kindred()
    _, admin = make_user(kindred, ["admin"])
    with TestClient(create_app(kindred, bootstrap=False), raise_server_exceptions=False) as client:
        body = assert_problem(_account_list(client, admin, sort, values), 400, "malformed-request")
        assert "cursor" in body["detail"]


def test_a_real_cursor_still_pages(make_kindred: Callable[..., Any]) -> None:
    kindred = make_kindred()
    _, admin = make_user(kindred, ["admin"])
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        for index in range(3):
            created = client.post(
                RECORDS, json={"name": f"A{index}", "annual_revenue": index}, headers=admin
            )
            assert created.status_code == 201, created.text
        for sort in (None, "name", "-annual_revenue", "created_at"):
            params = {"limit": "1", **({"sort": sort} if sort else {})}
            seen = []
            while True:
                page = client.get(RECORDS, params=params, headers=admin)
                assert page.status_code == 200, page.text
                seen += [r["name"] for r in page.json()["data"]]
                if not page.json()["next_cursor"]:
                    break
                params["cursor"] = page.json()["next_cursor"]
            assert sorted(seen) == ["A0", "A1", "A2"], (sort, seen)


@pytest.mark.parametrize(
    ("raw", "path", "code"),
    [
        (b'{"name": "a\\ud800b"}', "/name", "invalid_unicode"),
        (
            b'{"name": "x", "annual_revenue": 123456789012345678901234567890}',
            "/annual_revenue",
            "integer_range",
        ),
        (b'{"name": "x", "tags": {"deep": ["ok", "\\udfff"]}}', "/tags/deep/1", "invalid_unicode"),
    ],
)
def test_values_json_cannot_carry_are_422s(
    make_kindred: Callable[..., Any], raw: bytes, path: str, code: str
) -> None:
    kindred = make_kindred()
    _, admin = make_user(kindred, ["admin"])
    before = record_state(kindred)
    with TestClient(create_app(kindred, bootstrap=False), raise_server_exceptions=False) as client:
        for url in (RECORDS, f"{RECORDS}/bulk"):
            payload = raw if url == RECORDS else b'{"operation": "create", "records": [%s]}' % raw
            response = client.post(
                url, content=payload, headers={**admin, "Content-Type": "application/json"}
            )
            body = assert_problem(response, 422, "validation-failed")
            expected = path if url == RECORDS else "/records/0" + path
            assert [(e["path"], e["code"]) for e in body["errors"]] == [(expected, code)]
    assert record_state(kindred) == before


@pytest.mark.parametrize(
    ("method", "url", "payload"),
    [
        ("POST", "/api/v1/agents/x/runs", {"version": 10**30}),
        ("POST", "/api/v1/agents/x/runs", {"version": 2**63}),
        ("GET", "/api/v1/events/" + "9" * 30, None),
        ("GET", "/api/v1/events?after=" + "9" * 30, None),
        ("GET", f"/api/v1/ledger/entries/{10**30}/proof", None),
        ("GET", "/api/v1/ledger/entries/-1/proof", None),
        ("GET", f"/api/v1/ledger/consistency?first=1&second={10**30}", None),
    ],
)
def test_integers_beyond_64_bits_are_4xx(
    make_kindred: Callable[..., Any], method: str, url: str, payload: Any
) -> None:
    kindred = make_kindred()
    _, admin = make_user(kindred, ["admin"])
    with TestClient(create_app(kindred, bootstrap=False), raise_server_exceptions=False) as client:
        response = client.request(
            method,
            url,
            content=None if payload is None else _big_json(payload),
            headers={**admin, "Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith(PROBLEM)


def _big_json(payload: dict[str, Any]) -> bytes:
    # orjson refuses integers beyond 64 bits; the attack sends them as JSON text.
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in payload.items()) + "}").encode()


@pytest.mark.parametrize(
    "url",
    [
        f"{RECORDS}?filter[name]=a%00b",
        f"{RECORDS}?where=record.name%20%3D%3D%20%27a%00b%27",
        f"{RECORDS}/a%00b",
    ],
)
def test_nul_characters_in_urls_are_400s(make_kindred: Callable[..., Any], url: str) -> None:
    """PostgreSQL text cannot hold NUL: such an id or value failed in SQL there."""
    kindred = make_kindred()
    _, admin = make_user(kindred, ["admin"])
    with TestClient(create_app(kindred, bootstrap=False), raise_server_exceptions=False) as client:
        body = assert_problem(client.get(url, headers=admin), 400, "malformed-request")
        assert "NUL" in body["detail"]


def test_sql_parameters_never_reach_the_log(
    make_kindred: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """An UPDATE that fails with the caller's value among its parameters (a trigger refuses
    it): the client gets a problem with the request id; the log says what failed and
    where, and holds no parameter (SQLAlchemy's error text lists them)."""
    kindred = make_kindred()
    _, admin = make_user(kindred, ["admin"])
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        created = client.post(RECORDS, json={"name": "Ruijin"}, headers=admin)
        assert created.status_code == 201, created.text
    _refuse_updates(kindred)
    marker = f"secret-{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    with serving(kindred) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        try:
            connection.request(
                "PATCH",
                f"{RECORDS}/{created.json()['id']}",
                body=orjson.dumps({"name": marker}),
                headers={**admin, "Content-Type": "application/json", "X-Request-ID": "req-500"},
            )
            response = connection.getresponse()
            assert response.status == 500
            assert response.getheader("Content-Type", "").startswith(PROBLEM)
            body = orjson.loads(response.read())
        finally:
            connection.close()
    assert body["request_id"] == "req-500"
    assert marker not in str(body)
    formatter = logging.Formatter("%(message)s")
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert marker not in logged
    assert "req-500" in logged
    assert "UPDATE records" in logged  # the statement is there, its parameters are not


def _refuse_updates(kindred: Any) -> None:
    """A trigger that makes every UPDATE of a record fail inside the database."""
    with kindred.database.write() as session:
        if kindred.database.dialect == "sqlite":
            # The missing table is only looked up when the trigger fires.
            session.execute(
                sa.text(
                    "CREATE TRIGGER refuse_updates BEFORE UPDATE ON records "
                    "BEGIN INSERT INTO no_such_table VALUES (1); END"
                )
            )
            return
        session.execute(
            sa.text(
                "CREATE FUNCTION refuse_updates() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'updates are refused by this test'; END $$ LANGUAGE plpgsql"
            )
        )
        session.execute(
            sa.text(
                "CREATE TRIGGER refuse_updates BEFORE UPDATE ON records "
                "FOR EACH ROW EXECUTE FUNCTION refuse_updates()"
            )
        )


def test_no_route_answers_a_plain_500_when_the_database_fails(
    make_kindred: Callable[..., Any], database_url: str, request: pytest.FixtureRequest
) -> None:
    """Every route of the app, called with a valid token after the database went away:
    whatever the status, an error is problem+json."""
    kindred = make_kindred()
    _, admin = make_user(kindred, ["admin"])
    app = create_app(kindred, bootstrap=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        _break_database(kindred, database_url, request)
        answered = 0
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute):
                continue  # the documentation pages
            path = route.path
            for name in route.param_convertors:
                path = path.replace("{" + name + "}", "x").replace("{" + name + ":path}", "x")
            for method in sorted(route.methods or ()):
                if method in ("HEAD", "OPTIONS"):
                    continue
                response = client.request(method, path, json={}, headers=admin)
                answered += 1
                if response.status_code >= 400:
                    assert response.headers["content-type"].startswith(PROBLEM), (
                        method,
                        path,
                        response.status_code,
                        response.text[:200],
                    )
        assert answered > 100


def _break_database(kindred: Any, database_url: str, request: pytest.FixtureRequest) -> None:
    kindred.database.engine.dispose()
    if kindred.database.dialect == "sqlite":
        path = sa.engine.make_url(database_url).database or ""
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    admin = request.getfixturevalue("postgres_admin_engine")
    name = sa.engine.make_url(database_url).database
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# -- item 14: /metrics, envelope names, access log ------------------------------------------------


def test_metrics_need_the_scrape_token_when_one_is_set(make_kindred: Callable[..., Any]) -> None:
    kindred = make_kindred(metrics_token="scrape-token-for-tests")
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        assert_problem(client.get("/metrics"), 401, "unauthenticated")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert_problem(wrong, 401, "unauthenticated")
        scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})
        assert scraped.status_code == 200
        assert "kindred_events_dead_letters" in scraped.text


def test_metrics_without_a_token_answer_loopback_only(make_kindred: Callable[..., Any]) -> None:
    kindred = make_kindred()
    app = create_app(kindred, bootstrap=False)
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        assert local.get("/metrics").status_code == 200
        # Through a proxy on the same host: not a local scrape.
        proxied = local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert_problem(proxied, 403, "permission-denied")
    for address in ("203.0.113.9", "10.1.2.3", "::ffff:8.8.8.8"):
        with TestClient(app, client=(address, 50000)) as remote:
            body = assert_problem(remote.get("/metrics"), 403, "permission-denied")
            assert "KINDRED_METRICS_TOKEN" in body["detail"]


@pytest.mark.parametrize("name", ["included", "next_cursor", "items", "meta", "version"])
def test_fields_cannot_take_envelope_names(make_kindred: Callable[..., Any], name: str) -> None:
    kindred = make_kindred()
    _, admin = make_user(kindred, ["admin"])

    def definitions() -> Any:
        with kindred.database.read() as session:
            return session.execute(
                sa.text("SELECT name, version FROM object_definitions ORDER BY name")
            ).all()

    before = definitions()
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        added = client.post(
            "/api/v1/metadata/objects/account/fields",
            json={"name": name, "type": "text"},
            headers=admin,
        )
        body = assert_problem(added, 422, "validation-failed")
        assert [e["path"] for e in body["errors"]] == ["/name"]
        assert name in body["errors"][0]["message"]
        created = client.post(
            "/api/v1/metadata/objects",
            json={
                "name": "gadget",
                "label": "Gadget",
                "label_plural": "Gadgets",
                "fields": [{"name": "title", "type": "text"}, {"name": name, "type": "json"}],
            },
            headers=admin,
        )
        body = assert_problem(created, 422, "validation-failed")
        assert [e["path"] for e in body["errors"]] == ["/fields/1/name"]
    assert definitions() == before


def test_the_access_log_has_one_line_per_request_and_no_personal_data(
    make_kindred: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    kindred = make_kindred()
    user_id, admin = make_user(kindred, ["admin"])
    marker = f"zhang-wei-{uuid.uuid4().hex[:6]}"
    caplog.set_level(logging.INFO, logger="kindred.access")
    with TestClient(create_app(kindred, bootstrap=False)) as client:
        created = client.post(
            RECORDS, json={"name": marker}, headers={**admin, "X-Request-ID": "req-create"}
        )
        assert created.status_code == 201
        record_id = created.json()["id"]
        fetched = client.get(
            f"{RECORDS}/{record_id}?fields=name&include=", headers={**admin, "X-Request-ID": "r2"}
        )
        assert fetched.status_code == 200
        client.get(f"{RECORDS}?filter[name]={marker}", headers={"X-Request-ID": "anon"})
        client.get("/api/v1/nowhere", headers={"X-Request-ID": "lost"})
    lines = [record for record in caplog.records if record.name == "kindred.access"]
    entries = {
        entry["request_id"]: entry for entry in (orjson.loads(r.getMessage()) for r in lines)
    }
    assert entries["req-create"] == {
        **entries["req-create"],
        "method": "POST",
        "route": "/api/v1/objects/{object_name}/records",
        "principal": user_id,
        "status": 201,
    }
    assert entries["r2"]["route"] == "/api/v1/objects/{object_name}/records/{record_id}"
    assert entries["anon"]["principal"] == "anonymous" and entries["anon"]["status"] == 401
    assert entries["lost"]["route"] is None and entries["lost"]["status"] == 404
    for entry in entries.values():
        assert set(entry) == {"method", "route", "principal", "status", "duration_ms", "request_id"}
        assert entry["duration_ms"] >= 0
    text = "\n".join(r.getMessage() for r in lines)
    assert marker not in text and record_id not in text
