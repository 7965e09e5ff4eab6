"""No route answers a bare 500 (issue #18, item 1).

The magic-link route answered ``500 text/plain Internal Server Error``: Starlette's and
uvicorn's own answer to an error no problem handler takes. Handlers registered for
``Exception`` never see a ``BaseException`` such as a stray ``CancelledError``, nor an answer
a route or a mounted app builds itself, nor a request that ends without an answer. Every
route of the app is walked here with a failing dependency — an unreachable database, an
unreachable mail server, the services dependency raising inside the request — and with
answers built outside the handlers; whatever fails, a 5xx is an RFC 9457 problem.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from kindred.api.deps import get_kindred
from kindred.api.problems import PROBLEM_JSON
from kindred.app import create_app
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from kindred.services import Kindred
from tests.conftest import make_test_settings
from tests.scenarios.test_messaging import free_port
from tests.security.test_openapi_errors import (
    BODY_METHODS,
    VALIDATOR,
    fill,
    operations,
    streams,
)

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)


def bare(response: Any) -> str | None:
    """Why ``response`` is a 5xx that is not a valid problem document; None if it is fine."""
    status = int(response.status_code)
    if status < 500:
        return None
    media = response.headers.get("content-type", "").split(";")[0]
    if media != PROBLEM_JSON:
        return f"{status} {media or 'no content type'}: {response.text[:120]!r}"
    body = response.json()
    errors = [error.message for error in VALIDATOR.iter_errors(body)]
    if errors or body.get("status") != status:
        return f"{status} invalid problem {errors}: {response.text[:120]!r}"
    return None


def walk(client: TestClient, app: FastAPI, headers: dict[str, str]) -> dict[str, int]:
    """Call every operation of the app once (ids that name nothing, an empty JSON body);
    fail on any bare 5xx; return how many answered each status."""
    seen: dict[str, int] = {}
    wrong: list[str] = []
    for method, path, operation in operations(app.openapi()):
        signed = "Authorization" in headers or "X-API-Key" in headers
        if streams(operation) and signed:
            continue  # once allowed, an event stream never ends: only its refusals are walked
        body: dict[str, Any] | None = {} if method in BODY_METHODS else None
        response = client.request(method, fill(path, operation), headers=headers, json=body)
        seen[str(response.status_code)] = seen.get(str(response.status_code), 0) + 1
        why = bare(response)
        if why:
            wrong.append(f"{method.upper()} {path} → {why}")
    assert not wrong, "\n".join(wrong)
    return seen


def admin_key(kindred: Any) -> dict[str, str]:
    with kindred.database.write() as session:
        user = kindred.auth.create_user(
            session,
            email="walker@example.com",
            name="walker",
            password=None,
            roles=["admin"],
            context=SYSTEM,
        )
        _, key = kindred.auth.create_api_key(session, user["id"], "route walk")
    return {"X-API-Key": key}


def test_every_route_answers_a_problem_when_the_database_is_unreachable() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/kindred"
    services = Kindred.create(settings=make_test_settings(url))
    try:
        app = create_app(services, bootstrap=False)
        # No lifespan: the background runtime would need the database it cannot reach.
        client = TestClient(app, raise_server_exceptions=False)
        anonymous = walk(client, app, {})
        staff = walk(client, app, {"X-API-Key": "kdr_" + "x" * 40})
    finally:
        services.close()
    # Nearly every operation needs the database (to authenticate the key, first of all).
    assert staff.get("503", 0) > 0.6 * sum(staff.values()), staff
    assert anonymous.get("503", 0) > 0, anonymous  # the public ones (DID documents …)


def test_every_route_answers_a_problem_when_mail_is_down(kindred: Any) -> None:
    headers = admin_key(kindred)
    with kindred.database.write() as session:
        kindred.records.create(
            session, SYSTEM, "contact", {"first_name": "Lei", "last_name": "Li", "email": "l@x.cn"}
        )
    kindred.settings.smtp_host, kindred.settings.smtp_port = "127.0.0.1", free_port()
    kindred.passport.mail.first_pause = 0.01
    app = create_app(kindred, bootstrap=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        seen = walk(client, app, headers)
        known = client.post("/api/v1/passport/magic-link", json={"email": "l@x.cn"})
        assert known.status_code == 202, known.text
        assert kindred.passport.mail.settle(timeout=60)
    assert kindred.passport.mail.failed == 1
    assert sum(seen.values()) > 150, seen


@pytest.mark.parametrize(
    "failure",
    [
        lambda: RuntimeError("the services are gone"),
        # A BaseException: the handlers registered for Exception never see it, and uvicorn
        # answers it with its own text/plain 500.
        lambda: asyncio.CancelledError(),
    ],
    ids=["error", "cancelled"],
)
def test_every_route_answers_a_problem_when_a_dependency_raises(
    kindred: Any, failure: Callable[[], BaseException]
) -> None:
    app = create_app(kindred, bootstrap=False)

    async def failing() -> Any:
        raise failure()

    app.dependency_overrides[get_kindred] = failing
    # No lifespan: the failure is in the request, not in start-up.
    client = TestClient(app, raise_server_exceptions=False)
    anonymous = walk(client, app, {})
    staff = walk(client, app, {"Authorization": "Bearer not-checked"})
    # Every operation that takes the services (all but a few: health, the documents).
    assert staff.get("500", 0) > 0.6 * sum(staff.values()), staff
    assert anonymous.get("500", 0) > 0.6 * sum(anonymous.values()), anonymous


def test_answers_built_outside_the_handlers_are_problems(kindred: Any) -> None:
    app = create_app(kindred, bootstrap=False)

    @app.get("/_test/plain")
    def plain() -> PlainTextResponse:
        return PlainTextResponse("Internal Server Error", status_code=500)

    @app.get("/_test/gateway")
    def gateway() -> HTMLResponse:
        return HTMLResponse("<h1>Bad gateway</h1>", status_code=502, headers={"Retry-After": "3"})

    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        return None  # an app that ends the request without an answer

    app.mount("/_test/silent", silent)
    client = TestClient(app, raise_server_exceptions=False)
    plain_answer = client.get("/_test/plain", headers={"X-Request-ID": "req-plain"})
    gateway_answer = client.get("/_test/gateway")
    silent_answer = client.get("/_test/silent/x")
    for response in (plain_answer, gateway_answer, silent_answer):
        assert bare(response) is None, response.text
        assert "Internal Server Error" not in response.text and "<h1>" not in response.text
    assert plain_answer.status_code == 500
    assert plain_answer.json()["type"] == "https://kindred.dev/problems/internal-error"
    assert plain_answer.json()["request_id"] == "req-plain"
    assert plain_answer.headers["x-request-id"] == "req-plain"
    assert gateway_answer.status_code == 502 and gateway_answer.headers["retry-after"] == "3"
    assert gateway_answer.json()["type"] == "https://kindred.dev/problems/bad-gateway"
    assert silent_answer.status_code == 500
    assert silent_answer.json()["detail"] == (
        "the request ended without an answer; it has been logged"
    )
    assert silent_answer.json()["request_id"] == silent_answer.headers["x-request-id"]
