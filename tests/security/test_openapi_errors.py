"""The OpenAPI document documents every error (issue item 15).

Before: no operation documented a 4xx, and the one error FastAPI documented (422) was an
``application/json`` ``HTTPValidationError`` the API never sends. Now every operation lists
the errors it can answer as ``application/problem+json`` with the ``Problem`` schema, and
real error responses — unauthenticated, forbidden, not found, invalid bodies, an unexpected
bug, an unreachable database — are each documented for their operation and valid against
that schema.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kindred.api.problems import PROBLEM_JSON, PROBLEM_SCHEMA, database_unavailable
from kindred.app import create_app
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from kindred.services import Kindred
from tests.conftest import make_test_settings

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
METHODS = ("get", "put", "post", "patch", "delete")
BODY_METHODS = ("post", "put", "patch")
VALIDATOR = jsonschema.Draft202012Validator(
    PROBLEM_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
# Staff sign in with a bearer token or an API key, customers with a passport session token;
# channels and sign-in itself authenticate their own way (and answer 401 for it).
OWN_AUTHENTICATION = (
    "/api/v1/auth/token",
    "/api/v1/passport/session",
    "/api/v1/channels/",
    "/metrics",
)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def parameters(operation: dict[str, Any], where: str) -> list[dict[str, Any]]:
    return [p for p in operation.get("parameters", []) if p["in"] == where]


def statuses(operation: dict[str, Any]) -> set[int]:
    return {int(code) for code in operation["responses"] if code.isdigit()}


def streams(operation: dict[str, Any]) -> bool:
    """A Server-Sent Events operation: once allowed, its answer never ends (its refusals are
    tested in tests/api/test_event_stream.py, its messages in test_response_schemas_*)."""
    return "text/event-stream" in operation["responses"].get("200", {}).get("content", {})


def needs_staff(operation: dict[str, Any]) -> bool:
    return any("HTTPBearer" in requirement for requirement in operation.get("security", []))


def needs_passport(path: str, operation: dict[str, Any]) -> bool:
    return path.startswith("/api/v1/passport/") and any(
        p["name"].lower() == "authorization" for p in parameters(operation, "header")
    )


@pytest.fixture(scope="module")
def document(sqlite_template_url: str) -> Iterator[dict[str, Any]]:
    services = Kindred.create(settings=make_test_settings(sqlite_template_url))
    try:
        with TestClient(create_app(services, bootstrap=False)) as client:
            response = client.get("/openapi.json")
            assert response.status_code == 200
            yield response.json()
    finally:
        services.close()


# -- the document -----------------------------------------------------------------------------


def test_every_error_of_every_operation_is_problem_json(document: dict[str, Any]) -> None:
    count = 0
    for method, path, operation in operations(document):
        errors = statuses(operation) - set(range(100, 400))
        # Every operation can fail unexpectedly, or find the database unavailable.
        assert {500, 503} <= errors, (method, path, sorted(errors))
        for status in errors:
            response = operation["responses"][str(status)]
            assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, (
                method,
                path,
                status,
            )
            assert response["description"], (method, path, status)
            count += 1
    assert count > 500  # every operation, several errors each
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Problem"] == PROBLEM_SCHEMA
    jsonschema.Draft202012Validator.check_schema(schemas["Problem"])


def test_the_statuses_follow_from_what_each_operation_takes(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        documented = statuses(operation)
        where = (method, path, sorted(documented))
        takes_input = bool(
            operation.get("requestBody")
            or parameters(operation, "path")
            or parameters(operation, "query")
            or method in BODY_METHODS
        )
        if needs_staff(operation):
            # 422: an X-Purpose header that names no registered purpose.
            assert {401, 403, 422, 429} <= documented, where
        if needs_passport(path, operation) or path.startswith(OWN_AUTHENTICATION):
            assert 401 in documented, where
        if takes_input:
            assert {400, 404, 422} <= documented, where
        if any(p["name"].lower() == "if-match" for p in parameters(operation, "header")):
            assert {412, 428} <= documented, where
        if method in BODY_METHODS:
            assert 413 in documented, where
        for code in (401, 429, 503):
            if code in documented:
                # 401 says how to authenticate, 429 and 503 when to come back.
                assert operation["responses"][str(code)]["headers"], (*where, code)
    # Sign-in, passport sign-in and channels are throttled.
    throttled = [
        ("post", "/api/v1/auth/token"),
        ("post", "/api/v1/passport/session"),
        ("post", "/api/v1/passport/challenge"),
        ("post", "/api/v1/passport/magic-link"),
        ("post", "/api/v1/channels/pos"),
        ("get", "/api/v1/channels/wechat"),
    ]
    for method, path in throttled:
        assert 429 in statuses(document["paths"][path][method]), (method, path)
    # An operation that takes nothing but credentials (and a declared purpose) cannot be
    # malformed otherwise.
    assert statuses(document["paths"]["/api/v1/auth/me"]["get"]) == {
        200,
        401,
        403,
        422,
        429,
        500,
        503,
    }
    assert statuses(document["paths"]["/healthz"]["get"]) == {200, 500, 503}
    # The scrape token is a credential (401), loopback-only scraping a permission (403).
    assert statuses(document["paths"]["/metrics"]["get"]) == {200, 401, 403, 500, 503}


def test_success_media_types_are_the_ones_sent(document: dict[str, Any]) -> None:
    def media(path: str, method: str = "get") -> set[str]:
        return set(document["paths"][path][method]["responses"]["200"]["content"])

    assert media("/api/v1/channels/wechat") == {"text/plain"}
    assert media("/api/v1/status-lists/{list_id}") == {"application/statuslist+jwt"}
    assert media("/metrics") == {"text/plain"}
    assert media("/api/v1/auth/me") == {"application/json"}
    runs = document["paths"]["/api/v1/agents/{name}/runs"]["post"]["responses"]
    assert {"200", "202"} <= set(runs)


# -- real error responses ---------------------------------------------------------------------


def conforms(document: dict[str, Any], method: str, path: str, response: Any) -> int:
    """Assert ``response`` is documented for the operation and, if an error, a valid
    Problem whose ``status`` is the response's; returns the status."""
    operation = document["paths"][path][method]
    status = int(response.status_code)
    where = f"{method.upper()} {path} → {status}: {response.text[:300]}"
    assert str(status) in operation["responses"], where
    if status >= 400:
        assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON, where
        body = response.json()
        errors = [e.message for e in VALIDATOR.iter_errors(body)]
        assert not errors, (where, errors)
        assert body["status"] == status, where
    return status


def fill(path: str, operation: dict[str, Any]) -> str:
    """``path`` with a value for every parameter that names nothing that exists."""
    for parameter in parameters(operation, "path"):
        kind = parameter.get("schema", {}).get("type")
        value = "987654" if kind == "integer" else "01900000-0000-7000-8000-00000000dead"
        path = path.replace("{" + parameter["name"] + "}", value)
    return path


@pytest.fixture
def people(kindred: Any) -> dict[str, dict[str, str]]:
    """API-key headers of an administrator and an analyst."""
    headers = {}
    with kindred.database.write() as session:
        for role in ("admin", "analyst"):
            user = kindred.auth.create_user(
                session,
                email=f"{role}@example.com",
                name=role,
                password=None,
                roles=[role],
                context=RequestContext(SYSTEM_PRINCIPAL),
            )
            _, key = kindred.auth.create_api_key(session, user["id"], "errors test")
            headers[role] = {"X-API-Key": key}
    return headers


@pytest.fixture
def served(client: Any) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def test_unauthenticated_requests_are_documented_401s(client: Any, served: dict[str, Any]) -> None:
    checked = 0
    for method, path, operation in operations(served):
        if not (needs_staff(operation) or needs_passport(path, operation)):
            continue
        body = {"json": {}} if method in BODY_METHODS else {}
        response = client.request(method, fill(path, operation), **body)
        assert conforms(served, method, path, response) == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        checked += 1
    assert checked > 100


def test_forbidden_requests_are_documented(
    client: Any, served: dict[str, Any], people: dict[str, dict[str, str]]
) -> None:
    seen: dict[tuple[str, str], int] = {}
    for method, path, operation in operations(served):
        if not needs_staff(operation) or streams(operation):
            continue
        body = {"json": {}} if method in BODY_METHODS else {}
        response = client.request(method, fill(path, operation), headers=people["analyst"], **body)
        seen[method, path] = conforms(served, method, path, response)
    # An analyst may not administer users, the data model or the ledger.
    for operation in (
        ("post", "/api/v1/users"),
        ("post", "/api/v1/metadata/objects"),
        ("post", "/api/v1/ledger/checkpoints"),
        ("post", "/api/v1/search/reindex"),
    ):
        assert seen[operation] == 403, operation
    assert sum(1 for status in seen.values() if status == 403) > 20


def test_requests_for_things_that_do_not_exist_are_documented_404s(
    client: Any, served: dict[str, Any], people: dict[str, dict[str, str]]
) -> None:
    found: dict[tuple[str, str], int] = {}
    for method, path, operation in operations(served):
        if method != "get" or not parameters(operation, "path") or not needs_staff(operation):
            continue
        response = client.get(fill(path, operation), headers=people["admin"])
        found[method, path] = conforms(served, method, path, response)
    assert found["get", "/api/v1/objects/{object_name}/records/{record_id}"] == 404
    assert found["get", "/api/v1/metadata/objects/{name}"] == 404
    assert found["get", "/api/v1/scenarios/{name}"] == 404
    assert sum(1 for status in found.values() if status == 404) > 20


def test_invalid_bodies_are_documented_400s_and_422s(
    client: Any, served: dict[str, Any], people: dict[str, dict[str, str]]
) -> None:
    refused: dict[tuple[str, str], list[int]] = {}
    for method, path, operation in operations(served):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content or not needs_staff(operation):
            continue
        target = fill(path, operation)
        headers = {**people["admin"], "Content-Type": "application/json"}
        malformed = client.request(method, target, content=b'{"name": ', headers=headers)
        wrong = client.request(method, target, content=b"[1, 2]", headers=headers)
        refused[method, path] = [
            conforms(served, method, path, malformed),
            conforms(served, method, path, wrong),
        ]
    assert refused["post", "/api/v1/objects/{object_name}/records/bulk"] == [400, 422]
    assert refused["post", "/api/v1/auth/api-keys"] == [400, 422]
    malformed_400 = sum(1 for pair in refused.values() if pair[0] == 400)
    assert malformed_400 > 15, refused


def test_an_unexpected_error_is_a_problem_500_with_the_request_id(kindred: Any) -> None:
    app = create_app(kindred, bootstrap=False)

    @app.get("/_test/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/_test/boom", headers={"X-Request-ID": "req-boom-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert not list(VALIDATOR.iter_errors(body))
    assert body["type"] == "https://kindred.dev/problems/internal-error"
    assert body["request_id"] == "req-boom-1"
    assert "secret internals" not in response.text


def test_an_unreachable_database_is_a_documented_503_with_retry_after() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/kindred"
    services = Kindred.create(settings=make_test_settings(url))
    try:
        app = create_app(services, bootstrap=False)
        document = app.openapi()
        # No lifespan: the background runtime would need the database it cannot reach.
        client = TestClient(app, raise_server_exceptions=False)
        health = client.get("/healthz")
        signed = client.get("/api/v1/auth/me", headers={"X-API-Key": "kdr_" + "x" * 40})
    finally:
        services.close()
    for path, response in (("/healthz", health), ("/api/v1/auth/me", signed)):
        assert conforms(document, "get", path, response) == 503, response.text
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["type"] == "https://kindred.dev/problems/unavailable"


def test_only_unavailability_is_told_apart_from_bugs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder = sa.create_engine(url)
    waiter = sa.create_engine(url, connect_args={"timeout": 0})
    try:
        with holder.connect() as held:
            held.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            held.commit()
            held.exec_driver_sql("BEGIN IMMEDIATE")
            with pytest.raises(sa.exc.OperationalError) as locked, waiter.connect() as other:
                other.exec_driver_sql("BEGIN IMMEDIATE")
            held.rollback()
        with pytest.raises(sa.exc.OperationalError) as bug, waiter.connect() as other:
            other.exec_driver_sql("SELECT nothing FROM nowhere")
    finally:
        holder.dispose()
        waiter.dispose()
    assert database_unavailable(locked.value)
    assert not database_unavailable(bug.value)
    assert not database_unavailable(RuntimeError(str(uuid.uuid4())))
