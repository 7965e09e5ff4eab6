"""A HubSpot contacts export imports as HubSpot writes it: its lifecycle stage labels are
mapped (not refused), the columns no field takes are named in the CLI's output and in the
API's report, and a dry run says what the real run would do — with the same exit code."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kindred.cli import app
from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)
from kindred.config import get_settings
from tests.api.conftest import world  # noqa: F401  (the API test's users)
from tests.conftest import TEST_SECRET

HEADER = ["Record ID", "First Name", "Last Name", "Email", "Lifecycle Stage", "Create Date"]
# HubSpot's eight lifecycle stages as its export writes them → what Kindred keeps.
STAGES = {
    "Subscriber": "subscriber",
    "Lead": "lead",
    "Marketing Qualified Lead": "lead",
    "Sales Qualified Lead": "lead",
    "Opportunity": "lead",
    "Customer": "customer",
    "Evangelist": "advocate",
    "Other": "lead",  # no counterpart: left empty, so the field's default
}
MIXED = [
    ["101", "Wei", "Zhang", "zhang.wei@example.com", "Customer", "2024-03-01 10:22"],
    ["102", "Anna", "Schmidt", "anna@example.de", "Marketing Qualified Lead", "2024-03-02"],
    ["103", "Min", "Li", "not-an-email", "Lead", "2024-03-03 09:00"],
    ["104", "Omar", "", "omar@example.com", "Evangelist", "2024-03-04 08:00"],
    ["105", "Sara", "Rossi", "sara@example.it", "Other", "2024-03-05 08:00"],
]


def hubspot_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()  # HubSpot writes a byte-order mark


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def contacts(kindred: Any) -> list[dict[str, Any]]:
    with kindred.database.read() as session:
        rows = session.execute(
            sa.text("SELECT data FROM records WHERE object = 'contact' ORDER BY id")
        ).scalars()
        return [row if isinstance(row, dict) else json.loads(row) for row in rows]


def test_hubspot_lifecycle_stages_import(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    rows = [
        [str(n), "Name", f"Person{n}", f"p{n}@example.com", label, "2024-03-01 10:22"]
        for n, label in enumerate(STAGES)
    ]
    source = tmp_path / "hubspot-contacts.csv"
    source.write_text(hubspot_csv(rows), encoding="utf-8")
    result = cli.invoke(app, ["import", "contact", str(source), "--preset", "hubspot-contacts"])
    assert result.exit_code == 0, result.output
    assert "imported: 8 created" in result.output
    # The columns left out are named, not dropped silently.
    assert "not imported" in result.output and "Record ID, Create Date" in result.output
    # The stages that became another one are shown (a spelling like Customer is not).
    assert "'Evangelist' → advocate (1 row)" in result.output
    assert "'Other' → empty" in result.output
    assert "'Customer'" not in result.output
    stored = {r["last_name"]: r["lifecycle"] for r in contacts(kindred)}
    assert stored == {f"Person{n}": value for n, value in enumerate(STAGES.values())}


def test_a_dry_run_says_what_the_real_run_would_do(
    cli: CliRunner, kindred: Any, tmp_path: Path
) -> None:
    source = tmp_path / "hubspot-contacts.csv"
    source.write_text(hubspot_csv(MIXED), encoding="utf-8")
    base = ["import", "contact", str(source), "--preset", "hubspot-contacts"]

    # All or nothing: two bad rows, so nothing — and the dry run says so, and why.
    dry = cli.invoke(app, [*base, "--dry-run"])
    assert dry.exit_code == 2, dry.output
    assert "would import nothing of 5 rows: 2 row(s) would be refused" in dry.output
    assert "line 4 Email" in dry.output and "line 5 Last Name" in dry.output
    assert "with --skip-bad-rows the other 3 would be imported (3 created" in dry.output
    assert contacts(kindred) == []
    real = cli.invoke(app, base)
    assert real.exit_code == dry.exit_code
    assert "nothing was written" in real.output and contacts(kindred) == []

    # Skipping bad rows: the dry run and the real run agree, exit code included.
    dry_skip = cli.invoke(app, [*base, "--skip-bad-rows", "--dry-run"])
    assert dry_skip.exit_code == 0, dry_skip.output
    assert "would import: 3 created, 0 updated, 2 skipped of 5 rows" in dry_skip.output
    assert "2 row(s) would be refused: line 4 Email" in dry_skip.output
    assert contacts(kindred) == []
    real_skip = cli.invoke(app, [*base, "--skip-bad-rows"])
    assert real_skip.exit_code == dry_skip.exit_code
    assert "imported: 3 created, 0 updated, 2 skipped of 5 rows" in real_skip.output
    assert sorted(r["last_name"] for r in contacts(kindred)) == ["Rossi", "Schmidt", "Zhang"]


def test_the_api_report_names_ignored_columns_and_translations(
    client: Any,
    world: Any,  # noqa: F811
) -> None:
    admin = world.admin.headers
    uploaded = client.post(
        "/api/v1/imports",
        content=hubspot_csv(MIXED).encode("utf-8"),
        params={"filename": "hubspot-contacts.csv"},
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    job = uploaded.json()["id"]
    choice = {"preset": "hubspot-contacts", "mode": "skip_bad_rows"}
    preview = client.post(f"/api/v1/imports/{job}/preview", json=choice, headers=admin)
    assert preview.status_code == 200, preview.text
    lifecycle = [
        cell
        for row in preview.json()["rows"]
        for cell in row["cells"]
        if cell["column"] == "Lifecycle Stage"
    ]
    assert [c["value"] for c in lifecycle] == ["customer", "lead", "lead", "advocate", None]
    assert all(c["error"] is None for c in lifecycle)
    dry = client.post(f"/api/v1/imports/{job}/dry-run", json=choice, headers=admin)
    assert dry.status_code == 200, dry.text
    report = dry.json()["report"] if "report" in dry.json() else dry.json()
    assert report["ignored_columns"] == ["Record ID", "Create Date"]
    assert {(t["value"], t["to"], t["rows"]) for t in report["translated"]} == {
        ("Marketing Qualified Lead", "lead", 1),
        ("Evangelist", "advocate", 1),
        ("Other", None, 1),
    }
    assert {e["field"] for e in report["errors"]} == {"email", "last_name"}
