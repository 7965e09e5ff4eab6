"""Journeys through the design area of the console in a real browser (issue 17, item 9).

(c) An admin adds a custom object with a field and a validation rule in the designer; the
record form generated for it rejects a bad value with the rule's message at the field, and
the API holds no record after the rejection and one after a good value.
(e) The CSV import wizard imports a HubSpot contacts export with two bad rows: the preview
shows the preset's mapping, the dry run reports exactly the two bad rows, the import writes
the good ones, the error-row download holds the two. An analyst cannot import.
"""

from __future__ import annotations

import csv
import io
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Console, accessible
from tests.browser.test_console_journeys import sign_in

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
CITY = "Journeyville"
HUBSPOT_HEADER = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Mobile Phone Number",
    "Job Title",
    "City",
    "Street Address",
    "Preferred language",
    "Lifecycle Stage",
    "Contact owner",
    "Create Date",
    "Last Activity Date",
]
ROWS = [
    [
        "51001",
        "Wei",
        "Zhang",
        "wei.zhang@ruijin.example",
        "+86 21 6437 0045",
        "",
        "Head nurse",
        CITY,
        "197 Ruijin 2nd Rd",
        "zh",
        "lead",
        "Li Na",
        "2026-01-04 10:12",
        "2026-02-01",
    ],
    [
        "51002",
        "Anna",
        "Schmidt",
        "anna.schmidt@zs.example",
        "+86 21 6404 1990",
        "",
        "Procurement",
        CITY,
        "180 Fenglin Rd",
        "en",
        "customer",
        "Li Na",
        "2026-01-05 09:00",
        "",
    ],
    [
        "51003",
        "Mei",
        "Chen",
        "mei.chen(at)huashan.example",
        "",
        "",
        "Engineer",
        CITY,
        "12 Wulumuqi Rd",
        "zh",
        "lead",
        "",
        "2026-01-06 14:30",
        "",
    ],
    [
        "51004",
        "Jun",
        "Wang",
        "jun.wang@renji.example",
        "",
        "+86 139 1234 5678",
        "Buyer",
        CITY,
        "160 Pujian Rd",
        "zh",
        "subscriber",
        "",
        "2026-01-07 08:45",
        "",
    ],
    [
        "51005",
        "Lin",
        "",
        "lin@xinhua.example",
        "",
        "",
        "Director",
        CITY,
        "",
        "en",
        "lead",
        "",
        "2026-01-08 11:00",
        "",
    ],
    [
        "51006",
        "Hao",
        "Liu",
        "hao.liu@tongren.example",
        "",
        "",
        "Pharmacist",
        CITY,
        "",
        "zh",
        "customer",
        "",
        "2026-01-09 16:20",
        "",
    ],
    [
        "51007",
        "Sara",
        "Kim",
        "sara.kim@parkway.example",
        "+86 21 6445 5999",
        "",
        "Buyer",
        CITY,
        "",
        "en",
        "lead",
        "",
        "2026-01-10 10:00",
        "",
    ],
]
BAD_LINES = {4: "Email", 6: "Last Name"}  # line in the file (the header is line 1) → column


def hubspot_export() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HUBSPOT_HEADER)
    writer.writerows(ROWS)
    return out.getvalue().encode("utf-8-sig")


def count(console: Console, token: str, object_name: str, query: str) -> int:
    page = console.api("GET", f"/api/v1/objects/{object_name}/records?limit=200&{query}", token)
    return len(page["data"])


@pytest.fixture
def csp_violations(page: Page) -> Iterator[list[str]]:
    """Console messages about the Content-Security-Policy while the journey runs."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(f"{page.url}: {message.text[:120]}")
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    yield seen


def screenshot(page: Page, name: str) -> None:
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / name), full_page=False)


# -- (e) the CSV import wizard -------------------------------------------------------------


def test_the_import_wizard_imports_a_hubspot_export_with_two_bad_rows(
    console: Console, page: Page, csp_violations: list[str], tmp_path: Path
) -> None:
    admin = "admin@kindred.demo"
    token = console.token(admin)
    assert count(console, token, "contact", f"filter[city]={CITY}") == 0
    sign_in(page, console, admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", level=1, name="Import records")).to_be_visible()
    accessible(page)

    # 1: upload.
    page.get_by_label("CSV file").set_input_files(
        files=[
            {
                "name": "hubspot-contacts-export.csv",
                "mimeType": "text/csv",
                "buffer": hubspot_export(),
            }
        ]
    )
    page.get_by_role("button", name="Upload").click()

    # 2: the HubSpot contacts preset fits the file and is chosen.
    expect(page.get_by_role("heading", name="Step 2 of 6: Preset or object")).to_be_visible()
    preset = page.get_by_role("radio", name="HubSpot contacts fits this file")
    expect(preset).to_be_checked()
    accessible(page)
    page.get_by_role("button", name="Next").click()

    # 3: the preview shows the preset's mapping and marks the bad email.
    expect(page.get_by_role("heading", name="Step 3 of 6: Column mapping")).to_be_visible()
    mapping = page.get_by_role("table", name="Which field each column of the file fills")
    expected = {
        "Email": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Lifecycle Stage": "lifecycle",
        "Job Title": "title",
        "Record ID": "",
    }
    for column, field in expected.items():
        expect(page.get_by_label(f"Field for column {column}", exact=True)).to_have_value(field)
    expect(mapping.get_by_text("from the preset").first).to_be_visible()
    preview = page.get_by_role("table", name="The first 7 rows as they would be imported")
    expect(
        preview.get_by_text("mei.chen(at)huashan.example' is not a valid email address")
    ).to_be_visible()
    accessible(page)

    # 4: the dry run reports exactly the two bad rows, with their messages; nothing written.
    page.get_by_role("button", name="Dry run").click()
    expect(
        page.get_by_text("7 rows checked: 5 would be created, 2 rows have errors.")
    ).to_be_visible()
    errors = page.get_by_role("table", name="Rows with errors")
    rows = errors.get_by_role("row")
    expect(rows).to_have_count(3)  # the header and two rows
    expect(rows.nth(1)).to_contain_text("4")
    expect(rows.nth(1)).to_contain_text("is not a valid email address")
    expect(rows.nth(2)).to_contain_text("6")
    expect(rows.nth(2)).to_contain_text("Last Name")
    assert count(console, token, "contact", f"filter[city]={CITY}") == 0
    accessible(page)
    screenshot(page, "console-import.png")

    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download error rows").click()
    saved = tmp_path / "errors.csv"
    downloaded.value.save_as(saved)
    lines = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert lines[0] == ["line", "errors", *HUBSPOT_HEADER]
    assert {int(line[0]): line[1].split(":")[0] for line in lines[1:]} == BAD_LINES
    assert [line[2:] for line in lines[1:]] == [ROWS[2], ROWS[4]]

    # 5 and 6: the import with its progress bar, then the summary.
    expect(
        page.get_by_role("radio", name="Import the good rows, skip the bad ones")
    ).to_be_checked()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("5 records created, 0 updated, 2 rows skipped.")).to_be_visible()
    accessible(page)
    assert count(console, token, "contact", f"filter[city]={CITY}") == 5
    imported = console.api(
        "GET", f"/api/v1/objects/contact/records?limit=50&filter[city]={CITY}&sort=last_name", token
    )["data"]
    assert [r["last_name"] for r in imported] == ["Kim", "Liu", "Schmidt", "Wang", "Zhang"]
    assert {r["lifecycle"] for r in imported} == {"lead", "customer", "subscriber"}

    # The error rows of the import itself: the same two.
    with page.expect_download() as again:
        page.get_by_role("button", name="Download error rows").click()
    final = tmp_path / "final.csv"
    again.value.save_as(final)
    assert [
        line[0] for line in list(csv.reader(io.StringIO(final.read_text("utf-8-sig"))))[1:]
    ] == [
        "4",
        "6",
    ]
    page.get_by_role("link", name="Show the imported records").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert csp_violations == []


def test_an_analyst_cannot_import(console: Console, page: Page) -> None:
    analyst = "analyst@kindred.demo"
    token = console.token(analyst)
    admin = console.token("admin@kindred.demo")
    before = count(console, admin, "contact", f"filter[city]={CITY}")
    sign_in(page, console, analyst)
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Records")).to_be_visible()
    expect(navigation.get_by_role("link", name="Import")).to_have_count(0)
    accessible(page)
    request = urllib.request.Request(
        f"{console.base_url}/api/v1/imports?filename=x.csv",
        data=hubspot_export(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    assert refused.value.headers["Content-Type"].startswith("application/problem+json")
    assert b"do not allow creating" in refused.value.read()
    refused.value.close()
    assert count(console, admin, "contact", f"filter[city]={CITY}") == before


# -- (c) the object & field designer -------------------------------------------------------


def test_an_admin_designs_an_object_whose_form_enforces_its_rule(
    console: Console, page: Page, csp_violations: list[str]
) -> None:
    admin = "admin@kindred.demo"
    token = console.token(admin)
    sign_in(page, console, admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Objects & fields").click()
    expect(page.get_by_role("heading", level=1, name="Objects & fields")).to_be_visible()
    expect(page.get_by_role("table", name="Every object, standard and custom")).to_contain_text(
        "account"
    )
    accessible(page)

    # A new custom object with labels in both languages (its name follows the label).
    form = page.get_by_role("region", name="New custom object")
    form.get_by_label("Label", exact=True).fill("Solar plant")
    form.get_by_label("Plural label").fill("Solar plants")
    form.get_by_label("Chinese label").fill("光伏电站")
    expect(form.get_by_label("Name", exact=True)).to_have_value("solar_plant")
    form.get_by_role("button", name="Create object").click()
    expect(page.get_by_role("heading", level=1, name="Solar plant solar_plant")).to_be_visible()
    accessible(page)

    # A field: a bad name is refused at the name input, then the field is added.
    add = page.get_by_role("region", name="Add a field")
    add.get_by_label("Name", exact=True).fill("Capacity kW")
    add.get_by_label("Type").select_option("number")
    add.get_by_label("Label", exact=True).fill("Capacity (kW)")
    add.get_by_label("Chinese label").fill("装机容量")
    add.get_by_role("button", name="Add a field").click()
    name_input = add.get_by_label("Name", exact=True)
    expect(name_input).to_have_attribute("aria-invalid", "true")
    described = name_input.get_attribute("aria-describedby") or ""
    error_id = next(part for part in described.split() if part.endswith("-error"))
    expect(page.locator(f"[id='{error_id}']")).to_contain_text("should match pattern")
    expect(add.get_by_label("Label", exact=True)).to_have_value("Capacity (kW)")  # kept
    name_input.fill("capacity_kw")
    add.get_by_role("button", name="Add a field").click()
    fields = page.get_by_role("table", name="Fields of Solar plant")
    expect(fields.get_by_role("rowheader", name="Capacity (kW)")).to_be_visible()
    expect(name_input).to_have_value("")
    definition = console.api("GET", "/api/v1/metadata/objects/solar_plant", token)
    assert {f["name"]: f["type"] for f in definition["fields"]} == {
        "name": "text",
        "capacity_kw": "number",
    }

    # A validation rule: invalid CEL is refused at the rule, then saved.
    page.get_by_role("button", name="Add a rule").click()
    rule = page.get_by_role("group", name="Rule 1")
    rule.get_by_label("Rule name").fill("positive_capacity")
    editor = rule.get_by_role("textbox", name="Expression (CEL)")
    editor.fill("record.capacity_kw >")
    rule.get_by_label("Message shown when it fails").fill("Capacity must be more than 0 kW.")
    rule.get_by_label("Shown at field").select_option("/capacity_kw")
    page.get_by_role("button", name="Save rules").click()
    expect(rule.locator(".field-error")).to_contain_text("syntax error")
    expect(editor).to_have_attribute("aria-invalid", "true")
    accessible(page)
    editor.fill("!has(record.capacity_kw) || record.capacity_kw > 0")
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_text("Saved (version 3).")).to_be_visible()
    expect(rule.locator(".field-error")).to_have_count(0)
    definition = console.api("GET", "/api/v1/metadata/objects/solar_plant", token)
    assert definition["validation_rules"] == [
        {
            "name": "positive_capacity",
            "expression": "!has(record.capacity_kw) || record.capacity_kw > 0",
            "message": "Capacity must be more than 0 kW.",
            "path": "/capacity_kw",
        }
    ]
    history = page.get_by_role("table", name="Every version of Solar plant, newest first")
    expect(history.get_by_role("row")).to_have_count(4)  # header + versions 1–3
    accessible(page)
    screenshot(page, "console-designer.png")

    # The record form generated for the object rejects a bad value with the rule's message.
    # The admin's rights on the new object were read again when it was created: no new sign-in.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Records").click()
    page.get_by_label("Object", exact=True).select_option("solar_plant")
    page.get_by_role("link", name="New Solar plant").click()
    expect(page.get_by_role("heading", level=1, name="New Solar plant")).to_be_visible()
    accessible(page)
    page.get_by_label("Name", exact=True).fill("Dezhou rooftop")
    capacity = page.get_by_label("Capacity (kW)")
    capacity.fill("-5")
    page.get_by_role("button", name="Create").click()
    expect(capacity).to_have_attribute("aria-invalid", "true")
    described = capacity.get_attribute("aria-describedby") or ""
    messages = " ".join(
        page.locator(f"[id='{part}']").inner_text() for part in described.split() if part
    )
    assert "Capacity must be more than 0 kW." in messages
    accessible(page)
    assert count(console, token, "solar_plant", "") == 0
    expect(page.get_by_label("Name", exact=True)).to_have_value("Dezhou rooftop")  # kept

    capacity.fill("850")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(r"/records/solar_plant/[0-9a-f-]{36}$"))
    records: list[dict[str, Any]] = console.api(
        "GET", "/api/v1/objects/solar_plant/records", token
    )["data"]
    assert [(r["name"], r["capacity_kw"]) for r in records] == [("Dezhou rooftop", 850)]
    accessible(page)
    assert csp_violations == []
