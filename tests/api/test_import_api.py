"""CSV import through the API (upload, preview, dry run, import job, error rows), on both
dialects: what each step answers, what the database holds after it, and every refusal."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import sqlalchemy as sa

from kindred.records.imports import MAX_BYTES
from tests.api.conftest import World
from tests.api.test_records_api import problem, state

IMPORTS = "/api/v1/imports"
HUBSPOT_HEADER = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Job Title",
    "City",
    "Preferred language",
    "Lifecycle Stage",
    "Create Date",
]


def hubspot_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HUBSPOT_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # HubSpot writes a byte-order mark


GOOD = [
    [
        "1001",
        "Wei",
        "Zhang",
        "wei.zhang@example.com",
        "+86 21 5555 0101",
        "Head nurse",
        "Shanghai",
        "zh",
        "lead",
        "2026-01-04 10:00",
    ],
    [
        "1002",
        "Anna",
        "Li",
        "anna.li@example.com",
        "+86 21 5555 0102",
        "Buyer",
        "Hangzhou",
        "en",
        "customer",
        "2026-01-05 11:00",
    ],
    ["1003", "Jun", "Wang", "", "", "Engineer", "Suzhou", "zh", "subscriber", "2026-01-06"],
]
BAD_EMAIL = ["1004", "Mei", "Chen", "mei.chen(at)example", "", "", "Nanjing", "zh", "lead", ""]
NO_LAST_NAME = ["1005", "Lin", "", "lin@example.com", "", "", "Ningbo", "en", "lead", ""]


def upload(client: Any, who: Any, body: bytes, **params: str) -> Any:
    return client.post(
        IMPORTS,
        content=body,
        params={"filename": "hubspot-contacts.csv", **params},
        headers={**who.headers, "Content-Type": "text/csv"},
    )


def contacts(kindred: Any) -> list[str]:
    with kindred.database.read() as session:
        rows = session.execute(
            sa.text("SELECT data FROM records WHERE object = 'contact'")
        ).scalars()
        return sorted(str(_data(d).get("last_name")) for d in rows)


def _data(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        import orjson

        return dict(orjson.loads(value))
    return dict(value)


def wait_until_finished(client: Any, who: Any, job_id: str) -> dict[str, Any]:
    """Poll the import until it says it finished (the positive signal)."""
    for _ in range(6000):
        body = client.get(f"{IMPORTS}/{job_id}", headers=who.headers).json()
        if body["state"] in ("done", "failed"):
            return dict(body)
        time.sleep(0.01)
    raise AssertionError(f"the import never finished: {body}")


def test_hubspot_import_end_to_end(client: Any, world: World, kindred: Any) -> None:
    admin = world.admin
    before = contacts(kindred)
    created = upload(client, admin, hubspot_csv([*GOOD[:2], BAD_EMAIL, GOOD[2], NO_LAST_NAME]))
    assert created.status_code == 201, created.text
    job = created.json()
    assert created.headers["location"] == f"{IMPORTS}/{job['id']}"
    assert job["state"] == "uploaded" and job["rows_total"] == 5 and job["rows_done"] == 0
    assert job["headers"] == HUBSPOT_HEADER  # the byte-order mark is not part of "Record ID"
    assert job["suggested_presets"][0] == "hubspot-contacts"

    # The preview: the preset's mapping, the first rows converted, cell errors where they are.
    preview = client.post(
        f"{IMPORTS}/{job['id']}/preview",
        json={"preset": "hubspot-contacts", "limit": 4},
        headers=admin.headers,
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["object"] == "contact"
    mapped = {c["column"]: (c["field"], c["source"]) for c in body["columns"]}
    assert mapped["Email"] == ("email", "preset")
    assert mapped["Lifecycle Stage"] == ("lifecycle", "preset")
    assert mapped["Record ID"] == (None, None) and mapped["Create Date"] == (None, None)
    assert [r["line"] for r in body["rows"]] == [2, 3, 4, 5]
    email_cells = [next(c for c in r["cells"] if c["column"] == "Email") for r in body["rows"]]
    assert email_cells[0] == {
        "column": "Email",
        "raw": "wei.zhang@example.com",
        "value": "wei.zhang@example.com",
        "error": None,
    }
    assert "not a valid email address" in email_cells[2]["error"]
    assert body["missing_required"] == []
    assert {f["name"] for f in body["fields"]} >= {"last_name", "email", "lifecycle"}

    # The dry run: exactly the two bad rows, with their messages, and nothing written.
    snapshot = state(kindred)
    dry = client.post(
        f"{IMPORTS}/{job['id']}/dry-run", json={"preset": "hubspot-contacts"}, headers=admin.headers
    )
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["dry_run"] is True and report["committed"] is False
    assert (report["rows"], report["created"], report["skipped"]) == (5, 3, 2)
    assert report["error_rows"] == 2
    assert {(e["line"], e["field"]) for e in report["errors"]} == {
        (4, "email"),
        (6, "last_name"),
    }
    assert report["record_ids"] == []
    assert state(kindred) == snapshot
    assert contacts(kindred) == before

    # The error rows of the dry run, defused, with the rows' own cells.
    download = client.get(f"{IMPORTS}/{job['id']}/error-rows", headers=admin.headers)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0] == ["line", "errors", *HUBSPOT_HEADER]
    assert [r[0] for r in rows[1:]] == ["4", "6"]
    assert rows[1][2:] == BAD_EMAIL and "Email: " in rows[1][1]
    assert rows[2][2:] == NO_LAST_NAME and "Last Name: " in rows[2][1]

    # The import: a job that reports progress and writes the good rows only.
    started = client.post(
        f"{IMPORTS}/{job['id']}/run", json={"preset": "hubspot-contacts"}, headers=admin.headers
    )
    assert started.status_code == 202, started.text
    assert started.json()["state"] in ("running", "done")
    finished = wait_until_finished(client, admin, job["id"])
    assert finished["state"] == "done", finished
    assert finished["rows_done"] == finished["rows_total"] == 5
    assert finished["report"]["committed"] is True
    assert (finished["report"]["created"], finished["report"]["skipped"]) == (3, 2)
    assert len(finished["report"]["record_ids"]) == 3
    assert contacts(kindred) == sorted([*before, "Zhang", "Li", "Wang"])
    listed = client.get(
        "/api/v1/objects/contact/records",
        params={"filter[city]": "Hangzhou"},
        headers=admin.headers,
    ).json()["data"]
    assert [(r["first_name"], r["lifecycle"], r["language"]) for r in listed] == [
        ("Anna", "customer", "en")
    ]

    # Imported once: a second run is refused and writes nothing.
    snapshot = state(kindred)
    again = client.post(
        f"{IMPORTS}/{job['id']}/run", json={"preset": "hubspot-contacts"}, headers=admin.headers
    )
    problem(again, 409)
    assert state(kindred) == snapshot
    final = client.get(f"{IMPORTS}/{job['id']}/error-rows", headers=admin.headers)
    assert [r[0] for r in list(csv.reader(io.StringIO(final.content.decode("utf-8-sig"))))[1:]] == [
        "4",
        "6",
    ]


def test_all_or_nothing_writes_nothing_when_a_row_is_bad(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin
    job = upload(client, admin, hubspot_csv([GOOD[0], BAD_EMAIL])).json()
    snapshot = state(kindred)
    client.post(
        f"{IMPORTS}/{job['id']}/run",
        json={"preset": "hubspot-contacts", "mode": "all_or_nothing"},
        headers=admin.headers,
    )
    finished = wait_until_finished(client, admin, job["id"])
    assert finished["state"] == "done"
    assert finished["report"]["committed"] is False
    assert finished["report"]["errors"][0]["line"] == 3
    assert state(kindred) == snapshot


def test_explicit_mapping_chinese_labels_and_left_out_columns(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin
    text = "姓,名,城市,备注\nZhao,Lei,Beijing,call back\n"
    job = upload(client, admin, text.encode()).json()
    preview = client.post(
        f"{IMPORTS}/{job['id']}/preview", json={"object": "contact"}, headers=admin.headers
    ).json()
    assert {c["column"]: (c["field"], c["source"]) for c in preview["columns"]} == {
        "姓": ("last_name", "label"),
        "名": ("first_name", "label"),
        "城市": ("city", "label"),
        "备注": (None, None),
    }
    # The user leaves the city out and maps the note to the title: exactly that is imported.
    choice = {"object": "contact", "mapping": {"姓": "last_name", "城市": "", "备注": "title"}}
    chosen = client.post(f"{IMPORTS}/{job['id']}/preview", json=choice, headers=admin.headers)
    columns = {c["column"]: (c["field"], c["source"]) for c in chosen.json()["columns"]}
    assert columns == {
        "姓": ("last_name", "label"),
        "名": (None, None),
        "城市": (None, None),
        "备注": ("title", "explicit"),
    }
    client.post(f"{IMPORTS}/{job['id']}/run", json=choice, headers=admin.headers)
    finished = wait_until_finished(client, admin, job["id"])
    [record_id] = finished["report"]["record_ids"]
    record = client.get(
        f"/api/v1/objects/contact/records/{record_id}", headers=admin.headers
    ).json()
    assert (record["last_name"], record["first_name"], record["city"], record["title"]) == (
        "Zhao",
        None,
        None,
        "call back",
    )


def test_gb18030_files_from_chinese_excel(client: Any, world: World) -> None:
    body = "姓,城市\n张,上海\n".encode("gb18030")
    refused = problem(upload(client, world.admin, body), 400)
    assert "gb18030" in refused["detail"]
    assert refused["errors"][0]["path"] == "/encoding"
    accepted = upload(client, world.admin, body, encoding="gb18030")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["headers"] == ["姓", "城市"]


def test_bad_input_is_refused_with_a_problem(client: Any, world: World, kindred: Any) -> None:
    admin = world.admin
    snapshot = state(kindred)
    assert "empty" in problem(upload(client, admin, b""), 400)["detail"]
    assert "empty" in problem(upload(client, admin, b"  \n"), 400)["detail"]
    workbook = problem(upload(client, admin, b"PK\x03\x04 rest of a zip"), 400)
    assert "Excel" in workbook["detail"] and workbook["errors"][0]["code"] == "not_csv"
    binary = problem(upload(client, admin, b"a,b\n1,\x00\n"), 400)
    assert "binary" in binary["detail"]
    assert "duplicate" in problem(upload(client, admin, b"Email,Email\nx,y\n"), 400)["detail"]
    assert "not valid CSV" in problem(upload(client, admin, b'a,b\n"1,2\n'), 400)["detail"]
    problem(upload(client, admin, b"a\n1\n", encoding="latin-1"), 422)
    too_big = problem(upload(client, admin, b"a\n" + b"x" * MAX_BYTES), 413)
    assert "limited to" in too_big["detail"]

    job = upload(client, admin, hubspot_csv([GOOD[0]])).json()
    path = f"{IMPORTS}/{job['id']}/preview"
    assert (
        "unknown preset"
        in problem(client.post(path, json={"preset": "pipedrive"}, headers=admin.headers), 400)[
            "detail"
        ]
    )
    mismatch = client.post(
        path, json={"preset": "hubspot-contacts", "object": "account"}, headers=admin.headers
    )
    assert "imports contact records" in problem(mismatch, 400)["detail"]
    unknown = problem(
        client.post(
            path,
            json={"object": "contact", "mapping": {"Email": "e_mail", "Nope": "city"}},
            headers=admin.headers,
        ),
        422,
    )
    assert {(e["path"], e["code"]) for e in unknown["errors"]} == {
        ("/mapping/Email", "unknown_field"),
        ("/mapping/Nope", "unknown_column"),
    }
    nothing = problem(
        client.post(path, json={"object": "contact", "mapping": {}}, headers=admin.headers), 422
    )
    assert nothing["errors"][0]["code"] == "empty"
    no_object = problem(client.post(path, json={}, headers=admin.headers), 422)
    assert no_object["errors"][0]["path"] == "/object"
    problem(client.post(path, json={"object": "spaceship"}, headers=admin.headers), 404)
    problem(client.post(path, json={"object": "contact", "x": 1}, headers=admin.headers), 422)
    problem(client.get(f"{IMPORTS}/{job['id']}/error-rows", headers=admin.headers), 404)
    problem(client.get(f"{IMPORTS}/no-such-import", headers=admin.headers), 404)
    assert state(kindred) == snapshot


def test_imports_run_as_the_uploader(client: Any, world: World, kindred: Any) -> None:
    snapshot = state(kindred)
    # An analyst may create nothing: the upload itself is refused.
    problem(upload(client, world.analyst, hubspot_csv([GOOD[0]])), 403)
    # A service engineer may create tickets, not contacts: refused at every step.
    job = upload(client, world.service_east, hubspot_csv([GOOD[0]]))
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]
    for step in ("preview", "dry-run", "run"):
        refused = client.post(
            f"{IMPORTS}/{job_id}/{step}",
            json={"preset": "hubspot-contacts"},
            headers=world.service_east.headers,
        )
        assert "contact" in problem(refused, 403)["detail"]
    # Someone else's import does not exist for you.
    problem(client.get(f"{IMPORTS}/{job_id}", headers=world.admin.headers), 404)
    problem(
        client.post(
            f"{IMPORTS}/{job_id}/run",
            json={"preset": "hubspot-contacts"},
            headers=world.admin.headers,
        ),
        404,
    )
    problem(client.post(IMPORTS, content=b"a\n1\n", headers={"Content-Type": "text/csv"}), 401)
    assert state(kindred) == snapshot


def test_a_column_the_role_may_not_write_is_refused(client: Any, kindred: Any) -> None:
    """A role that may create contacts but not see (so not write) their email is refused at
    the mapping, before anything is written; its preview offers no email field."""
    import pytest

    from kindred.auth.permissions import ObjectGrant, Principal, RolePermissions
    from kindred.errors import ValidationFailed
    from kindred.records.import_jobs.service import jobs_of
    from kindred.records.imports import ImportChoice
    from kindred.records.service import RequestContext

    grant = ObjectGrant(actions=("read", "create"), hidden_fields=("email",))
    principal = Principal(
        user_id="importer",
        name="importer",
        roles=("importer",),
        role_permissions=(RolePermissions(objects={"contact": grant}),),
    )
    context = RequestContext(principal)
    jobs = jobs_of(kindred)
    job = jobs.upload(context, "contacts.csv", hubspot_csv([GOOD[0]]), None)
    snapshot = state(kindred)
    with pytest.raises(ValidationFailed) as refused:
        jobs.dry_run(context, job, ImportChoice(preset="hubspot-contacts"))
    assert [(e["path"], e["code"]) for e in refused.value.errors] == [
        ("/mapping/Email", "not_writable")
    ]
    choice = ImportChoice(preset="hubspot-contacts", mapping={"Last Name": "last_name"})
    preview = jobs.preview(context, job, choice, 5)
    assert "email" not in {f["name"] for f in preview["fields"]}
    report = jobs.dry_run(context, job, choice)
    assert (report.created, report.errors) == (1, [])
    assert state(kindred) == snapshot
