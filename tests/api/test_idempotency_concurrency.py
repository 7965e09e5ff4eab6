"""``Idempotency-Key`` under real concurrency (issue 28 item 1): requests with the same key
fired at once from threads against a running server write once, on both dialects. Every
route that takes the key is covered: record create, bulk, and agent runs (whose key is the
``idempotency_key`` body field)."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from kindred.agents.models import AgentRun
from kindred.app import create_app
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.db import utcnow
from kindred.records.models import IdempotencyKey, RecordRow
from kindred.records.service import RequestContext

PASSWORD = "correct-horse-battery"
BASE = "/api/v1/objects/purchase_intent/records"
CONCURRENT = 8
PROBLEM = "application/problem+json"

AGENT = {
    "name": "intake",
    "title": "Intake",
    "role": "service",
    "inputs": {"note": {"type": "string", "required": True}},
    "steps": [
        {
            "id": "grade",
            "kind": "rule",
            "rules": [{"when": "inputs.note == 'urgent'", "then": {"grade": "high"}}],
            "default": {"grade": "normal"},
        }
    ],
    "outputs": {"value": {"grade": {"cel": "steps.grade.grade"}}},
}


@contextmanager
def serving(kindred: Any) -> Iterator[str]:
    """A real uvicorn server for ``kindred`` on a free loopback port, in a thread; yields
    its base URL."""
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(kindred, bootstrap=False), log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:  # the positive signal: uvicorn says it is serving
        assert thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        listener.close()


def fire(base_url: str, path: str, calls: list[tuple[Any, dict[str, str]]]) -> list[httpx.Response]:
    """POST every (body, headers) of ``calls`` at once, one thread each: a barrier releases
    them together so the requests overlap in the server."""
    barrier = threading.Barrier(len(calls))
    # The timeout guards against a hang; no assertion depends on it.
    with httpx.Client(base_url=base_url, timeout=120) as client:

        def post(call: tuple[Any, dict[str, str]]) -> httpx.Response:
            body, headers = call
            barrier.wait()
            return client.post(path, json=body, headers=headers)

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(post, calls))


def admin_headers(kindred: Any) -> tuple[str, dict[str, str]]:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    with kindred.database.write() as session:
        user = kindred.auth.create_user(
            session, email=email, name="admin", password=PASSWORD, roles=["admin"]
        )
    token, _ = kindred.auth.sign_in(kindred.database, email, PASSWORD, "127.0.0.1")
    return str(user["id"]), {"Authorization": f"Bearer {token}"}


@pytest.fixture
def setup(kindred: Any) -> dict[str, Any]:
    """An admin, and the account and product a purchase intent needs."""
    user_id, headers = admin_headers(kindred)
    context = RequestContext(SYSTEM_PRINCIPAL)
    with kindred.database.write() as session:
        account = kindred.records.create(session, context, "account", {"name": "Ruijin"})
        product = kindred.records.create(
            session, context, "product", {"name": "Ultrasound", "sku": "US-1"}
        )
    return {
        "user": user_id,
        "headers": headers,
        "intent": {"account": account["id"], "product": product["id"], "quantity": 2},
    }


def intents(kindred: Any, title: str) -> list[str]:
    with kindred.database.read() as session:
        rows = session.execute(
            sa.select(RecordRow.id, RecordRow.data).where(RecordRow.object == "purchase_intent")
        ).all()
    return [row.id for row in rows if row.data.get("title") == title]


def stored_keys(kindred: Any, user_id: str, key: str) -> list[tuple[int, str]]:
    with kindred.database.read() as session:
        rows = session.execute(
            sa.select(IdempotencyKey.status_code, IdempotencyKey.fingerprint).where(
                IdempotencyKey.principal_id == user_id, IdempotencyKey.key == key
            )
        ).all()
    return [(row.status_code, row.fingerprint) for row in rows]


def assert_in_progress(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    assert response.json()["type"].endswith("/idempotency-in-progress")
    assert response.headers["retry-after"] == "1"


def assert_one_write(responses: list[httpx.Response], status: int) -> dict[str, Any]:
    """Every answer is the one write (once as itself, else replayed) or a 409 to retry;
    returns the written body."""
    written = [r for r in responses if r.status_code == status]
    for other in (r for r in responses if r.status_code != status):
        assert other.status_code == 409, other.text
        assert_in_progress(other)
    assert written, [r.text for r in responses]
    first = [r for r in written if "idempotent-replayed" not in r.headers]
    assert len(first) == 1, [r.json()["id"] for r in first]
    for replay in written:
        assert replay.json() == first[0].json()
    for replay in (r for r in written if r is not first[0]):
        assert replay.headers["idempotent-replayed"] == "true"
    body: dict[str, Any] = first[0].json()
    return body


def test_concurrent_creates_with_one_key_write_one_record(
    kindred: Any, setup: dict[str, Any]
) -> None:
    headers = {**setup["headers"], "Idempotency-Key": "intent-concurrent-1"}
    body = {**setup["intent"], "title": "Ten probes"}
    with serving(kindred) as url:
        responses = fire(url, BASE, [(body, headers)] * CONCURRENT)
    record = assert_one_write(responses, 201)
    assert intents(kindred, "Ten probes") == [record["id"]]
    for response in (r for r in responses if r.status_code == 201):
        assert response.headers["location"] == f"{BASE}/{record['id']}"
    assert [status for status, _ in stored_keys(kindred, setup["user"], "intent-concurrent-1")] == [
        201
    ]


def test_concurrent_bulk_with_one_key_writes_once(kindred: Any, setup: dict[str, Any]) -> None:
    headers = {**setup["headers"], "Idempotency-Key": "intent-bulk-1"}
    body = {
        "operation": "create",
        "records": [{**setup["intent"], "title": f"Bulk {n}"} for n in range(3)],
    }
    with serving(kindred) as url:
        responses = fire(url, f"{BASE}/bulk", [(body, headers)] * CONCURRENT)
    result = assert_one_write(responses, 200)
    assert result["count"] == 3
    ids = [record["id"] for record in result["data"]]
    assert [intents(kindred, f"Bulk {n}") for n in range(3)] == [[i] for i in ids]


def test_one_key_for_two_bodies_at_once_writes_one_and_refuses_the_other(
    kindred: Any, setup: dict[str, Any]
) -> None:
    headers = {**setup["headers"], "Idempotency-Key": "intent-two-bodies"}
    first = {**setup["intent"], "title": "Body A"}
    second = {**setup["intent"], "title": "Body B"}
    calls = [(first if n % 2 == 0 else second, headers) for n in range(CONCURRENT)]
    with serving(kindred) as url:
        responses = fire(url, BASE, calls)
    written = {r.json()["title"] for r in responses if r.status_code == 201}
    assert len(written) == 1, [r.text for r in responses]
    winner = written.pop()
    loser = "Body B" if winner == "Body A" else "Body A"
    for (body, _), response in zip(calls, responses, strict=True):
        if body["title"] == loser:
            assert response.status_code in (409, 422), response.text
            assert response.headers["content-type"].startswith(PROBLEM)
            if response.status_code == 422:
                assert response.json()["errors"] == [
                    {
                        "path": "/header/Idempotency-Key",
                        "code": "key_reused",
                        "message": "use a new key for a new request",
                    }
                ]
            else:
                assert_in_progress(response)
        else:
            assert response.status_code in (201, 409), response.text
    assert len(intents(kindred, winner)) == 1
    assert intents(kindred, loser) == []


def test_concurrent_failures_leave_no_reservation_behind(
    kindred: Any, setup: dict[str, Any]
) -> None:
    key = "intent-fails-first"
    headers = {**setup["headers"], "Idempotency-Key": key}
    invalid = {**setup["intent"], "title": "Too few", "quantity": 0}
    with serving(kindred) as url:
        responses = fire(url, BASE, [(invalid, headers)] * CONCURRENT)
        for response in responses:
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["path"] == "/quantity"
            assert "idempotent-replayed" not in response.headers
        assert intents(kindred, "Too few") == []
        assert stored_keys(kindred, setup["user"], key) == []
        # The key is free: a corrected request with it runs (it is not a replay of a failure).
        fixed = httpx.post(
            f"{url}{BASE}", json={**invalid, "quantity": 1}, headers=headers, timeout=120
        )
    assert fixed.status_code == 201, fixed.text
    assert "idempotent-replayed" not in fixed.headers
    assert intents(kindred, "Too few") == [fixed.json()["id"]]


def test_an_expired_key_is_taken_over_once_under_concurrency(
    kindred: Any, setup: dict[str, Any]
) -> None:
    key = "intent-expired"
    old = utcnow() - dt.timedelta(seconds=kindred.settings.idempotency_ttl_seconds + 60)
    with kindred.database.write() as session:
        session.add(
            IdempotencyKey(
                principal_id=setup["user"],
                key=key,
                fingerprint="0" * 64,
                status_code=201,
                response={"id": "long-gone"},
                headers={},
                created_at=old,
            )
        )
    headers = {**setup["headers"], "Idempotency-Key": key}
    body = {**setup["intent"], "title": "After expiry"}
    with serving(kindred) as url:
        responses = fire(url, BASE, [(body, headers)] * CONCURRENT)
    record = assert_one_write(responses, 201)
    assert record["id"] != "long-gone"
    assert intents(kindred, "After expiry") == [record["id"]]
    stored = stored_keys(kindred, setup["user"], key)
    assert len(stored) == 1 and stored[0][0] == 201 and stored[0][1] != "0" * 64


def test_concurrent_agent_runs_with_one_key_start_one_run(
    kindred: Any, setup: dict[str, Any]
) -> None:
    body = {"inputs": {"note": "urgent"}, "idempotency_key": "intake-once"}
    with serving(kindred) as url:
        saved = httpx.post(f"{url}/api/v1/agents", json=AGENT, headers=setup["headers"])
        assert saved.status_code == 201, saved.text
        responses = fire(url, "/api/v1/agents/intake/runs", [(body, setup["headers"])] * CONCURRENT)
    for response in responses:
        assert response.status_code in (200, 202), response.text
    assert len({r.json()["id"] for r in responses}) == 1
    with kindred.database.read() as session:
        runs = session.execute(sa.select(AgentRun.id).where(AgentRun.agent == "intake")).all()
    assert [row.id for row in runs] == [responses[0].json()["id"]]
