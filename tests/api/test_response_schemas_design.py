"""The CSV import operations describe their response bodies (issue 17, item 1), as the other
routers do (``test_response_schemas*.py``, whose helpers these tests use).

Real responses of every import operation — upload, presets, preview, dry run, the import job
while it runs and when done, the error rows as CSV — and of their refusals are valid against
what the served document declares for their operation and status, on both dialects.
Fixed-shape bodies forbid keys they do not name.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from kindred.api import imports
from tests.api.conftest import World
from tests.api.schema_checks import Api, refs, router_operations, success_schema, validator
from tests.api.test_import_api import BAD_EMAIL, GOOD, hubspot_csv

ROUTERS: tuple[APIRouter, ...] = (imports.router,)
IMPORTS = "/api/v1/imports"
IMPORT = IMPORTS + "/{import_id}"
CSV = ("GET", IMPORT + "/error-rows")
# Open on purpose: a failed import's problem (extension members) and a converted cell's value.
OPEN = {"ImportProblem"}


def test_every_operation_declares_its_success_body(served: dict[str, Any]) -> None:
    checked = 0
    for method, path, _ in router_operations(ROUTERS):
        _, content = success_schema(served, method, path)
        if (method, path) == CSV:
            assert content == {"text/csv": {"schema": {"type": "string"}}}
            continue
        assert list(content) == ["application/json"], (method, path)
        ref = content["application/json"]["schema"]["$ref"]
        assert served["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
        checked += 1
    assert checked == 6
    upload = served["paths"][IMPORTS]["post"]
    assert upload["requestBody"]["content"] == {"text/csv": {"schema": {"type": "string"}}}
    assert {"400", "401", "403", "413", "422"} <= set(upload["responses"])


def test_the_schemas_are_strict_where_the_bodies_are_fixed(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]
    seen_open: set[str] = set()
    for method, path, _ in router_operations(ROUTERS):
        if (method, path) == CSV:
            continue
        _, content = success_schema(served, method, path)
        pending = [content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
        done: set[str] = set()
        while pending:
            name = pending.pop()
            if name in done:
                continue
            done.add(name)
            schema = schemas[name]
            if schema.get("type") == "object" and "properties" in schema:
                assert schema.get("additionalProperties", True) is (name in OPEN), name
                if name in OPEN:
                    seen_open.add(name)
            pending.extend(r.rsplit("/", 1)[1] for r in refs(schema) if r.startswith("#/comp"))
    assert seen_open == OPEN


def test_the_schemas_refuse_what_they_do_not_describe(served: dict[str, Any]) -> None:
    def refused(path: str, body: Any, method: str = "GET") -> bool:
        _, content = success_schema(served, method, path)
        return bool(
            list(validator(served, content["application/json"]["schema"]).iter_errors(body))
        )

    job = {
        "id": "j",
        "filename": "a.csv",
        "state": "uploaded",
        "object": None,
        "preset": None,
        "mode": "skip_bad_rows",
        "headers": ["a"],
        "rows_total": 1,
        "rows_done": 0,
        "report": None,
        "failure": None,
    }
    assert not refused(IMPORT, job)
    assert refused(IMPORT, {**job, "state": "paused"})
    assert refused(IMPORT, {**job, "text": "a\n1\n"})  # the file itself is never answered
    assert refused(IMPORTS, job, "POST")  # the upload says which presets fit
    assert not refused(IMPORTS, {**job, "suggested_presets": []}, "POST")


def test_every_operation_answers_what_the_document_declares(
    client: Any, world: World, document: dict[str, Any]
) -> None:
    api = Api(client, document)
    admin = world.admin.headers
    csv_headers = {**admin, "Content-Type": "text/csv"}
    body = hubspot_csv([GOOD[0], BAD_EMAIL, GOOD[1]])

    api("GET", IMPORTS + "/presets", 200, headers=admin)
    job = api("POST", IMPORTS, 201, content=body, headers=csv_headers, params={"filename": "h.csv"})
    where = {"import_id": job["id"]}
    api("POST", IMPORTS, 400, content=b"", headers=csv_headers)
    api("POST", IMPORTS, 413, content=b"a\n" + b"x" * imports.MAX_BYTES, headers=csv_headers)
    api("POST", IMPORTS, 422, content=body, headers=csv_headers, params={"encoding": "ebcdic"})
    api(
        "POST",
        IMPORTS,
        403,
        content=body,
        headers={**world.analyst.headers, "Content-Type": "text/csv"},
    )
    api("POST", IMPORTS, 401, content=body, headers={"Content-Type": "text/csv"})

    choice = {"preset": "hubspot-contacts"}
    api("POST", IMPORT + "/preview", 200, where=where, json=choice, headers=admin)
    api("POST", IMPORT + "/preview", 400, where=where, json={"preset": "x"}, headers=admin)
    api(
        "POST",
        IMPORT + "/preview",
        422,
        where=where,
        json={"object": "contact", "mapping": {}},
        headers=admin,
    )
    api("POST", IMPORT + "/preview", 404, where=where, json={"object": "nope"}, headers=admin)
    api("GET", IMPORT + "/error-rows", 404, where=where, headers=admin)
    dry = api("POST", IMPORT + "/dry-run", 200, where=where, json=choice, headers=admin)
    assert dry["error_rows"] == 1
    csv_response = client.get(f"{IMPORTS}/{job['id']}/error-rows", headers=admin)
    assert csv_response.status_code == 200
    documented = document["paths"][CSV[1]]["get"]["responses"]["200"]["content"]
    assert csv_response.headers["content-type"].split(";")[0] in documented
    assert csv_response.content.decode("utf-8-sig").startswith('"line","errors"')
    api.seen.add((*CSV, 200))

    api("POST", IMPORT + "/run", 202, where=where, json=choice, headers=admin)
    for _ in range(6000):
        state = api("GET", IMPORT, 200, where=where, headers=admin)
        if state["state"] == "done":
            break
        time.sleep(0.01)
    assert state["report"]["created"] == 2
    api("POST", IMPORT + "/run", 409, where=where, json=choice, headers=admin)
    api("GET", IMPORT, 404, where={"import_id": "nope"}, headers=admin)

    expected = {
        (method, path, success_schema(document, method, path)[0])
        for method, path, _ in router_operations(ROUTERS)
    }
    assert expected - api.seen == set()
