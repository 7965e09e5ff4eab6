"""CSV import (presets, mapping, dry run, all-or-nothing, skip-bad-rows, error report) and
CSV / JSON Lines export honouring permissions — through the real CLI, on both dialects."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kindred.cli import app
from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)
from kindred.config import get_settings
from kindred.sovereignty.credentials import Grantee
from tests.conftest import TEST_SECRET

HUBSPOT = (
    "\ufeffFirst Name,Last Name,Email,Phone Number,Job Title,City,Favourite colour\n"
    "Wei,Zhang,Zhang.Wei@Example.com,+86 21 5555 0101,Chief physician,Shanghai,blue\n"
    "Anna,Schmidt,anna@example.de,+49 30 1234567,Procurement lead,Berlin,green\n"
    "Min,Li,li.min@example.cn,,Head nurse,Hangzhou,red\n"
)
BROKEN = (
    "First Name,Last Name,Email\n"
    "Good,One,good.one@example.com\n"
    "Bad,Email,not-an-email\n"
    "No,,missing.last@example.com\n"
    "Good,Two,good.two@example.com\n"
)


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    # The same secret as the test's services: keys the CLI wraps, they can unwrap.
    monkeypatch.setenv("KINDRED_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("KINDRED_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("KINDRED_PASSWORD_MEMORY_KIB", "64")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def contacts(kindred: Any) -> list[dict[str, Any]]:
    with kindred.database.read() as session:
        rows = (
            session.execute(
                sa.text("SELECT data FROM records WHERE object = 'contact' ORDER BY id")
            )
            .scalars()
            .all()
        )
    return [row if isinstance(row, dict) else json.loads(row) for row in rows]


def change_log_count(kindred: Any) -> int:
    with kindred.database.read() as session:
        return int(session.execute(sa.text("SELECT count(*) FROM change_log")).scalar_one())


def test_hubspot_preset_import(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    source = tmp_path / "hubspot.csv"
    source.write_text(HUBSPOT, encoding="utf-8")
    result = cli.invoke(app, ["import", "contact", str(source), "--preset", "hubspot-contacts"])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output
    rows = contacts(kindred)
    assert [(r["first_name"], r["last_name"], r["email"]) for r in rows] == [
        ("Wei", "Zhang", "zhang.wei@example.com"),
        ("Anna", "Schmidt", "anna@example.de"),
        ("Min", "Li", "li.min@example.cn"),
    ]
    assert rows[0]["title"] == "Chief physician" and "phone" not in rows[2]
    assert change_log_count(kindred) == 3


def test_bad_rows_abort_everything_and_are_reported(
    cli: CliRunner, kindred: Any, tmp_path: Path
) -> None:
    source = tmp_path / "broken.csv"
    source.write_text(BROKEN, encoding="utf-8")
    report = tmp_path / "errors.csv"
    result = cli.invoke(
        app,
        [
            "import",
            "contact",
            str(source),
            "--map",
            "First Name=first_name",
            "--map",
            "Last Name=last_name",
            "--map",
            "Email=email",
            "--errors-out",
            str(report),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "nothing was written" in result.output
    assert contacts(kindred) == [] and change_log_count(kindred) == 0
    with report.open() as handle:
        errors = list(csv.DictReader(handle))
    assert [(e["line"], e["column"], e["code"]) for e in errors] == [
        ("3", "Email", "format"),
        ("4", "Last Name", "required"),
    ]


def test_skip_bad_rows_imports_the_good_ones(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    source = tmp_path / "broken.csv"
    source.write_text(BROKEN, encoding="utf-8")
    result = cli.invoke(
        app, ["import", "contact", str(source), "--preset", "hubspot-contacts", "--skip-bad-rows"]
    )
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output and "2 skipped" in result.output
    assert [r["last_name"] for r in contacts(kindred)] == ["One", "Two"]


def test_dry_run_writes_nothing(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    source = tmp_path / "hubspot.csv"
    source.write_text(HUBSPOT, encoding="utf-8")
    result = cli.invoke(
        app, ["import", "contact", str(source), "--preset", "hubspot-contacts", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "would import: 3 created" in result.output
    assert contacts(kindred) == [] and change_log_count(kindred) == 0


def test_upsert_on_a_unique_field(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    first = tmp_path / "accounts.csv"
    first.write_text("Name,Tax ID,Tier\nRuijin,T-1,A\nHuashan,T-2,B\n", encoding="utf-8")
    assert cli.invoke(app, ["import", "account", str(first)]).exit_code == 0
    second = tmp_path / "accounts2.csv"
    second.write_text(
        "Name,Tax ID,Tier\nRuijin Hospital,T-1,B\nZhongshan,T-3,C\n", encoding="utf-8"
    )
    result = cli.invoke(app, ["import", "account", str(second), "--upsert-on", "tax_id"])
    assert result.exit_code == 0, result.output
    assert "1 created, 1 updated" in result.output


def test_bad_invocations_exit_non_zero_with_a_message(
    cli: CliRunner, kindred: Any, tmp_path: Path
) -> None:
    source = tmp_path / "hubspot.csv"
    source.write_text(HUBSPOT, encoding="utf-8")
    cases = [
        (["import", "contact", str(tmp_path / "missing.csv")], "no such file"),
        (["import", "contact", str(source), "--map", "Nope=email"], "no column 'Nope'"),
        (["import", "contact", str(source), "--map", "Email=colour"], "no field 'colour'"),
        (["import", "contact", str(source), "--preset", "zoho"], "unknown preset"),
        (["import", "account", str(source), "--preset", "hubspot-contacts"], "imports contact"),
        (["import", "starship", str(source)], "unknown object 'starship'"),
        (["export", "account", "--format", "xml"], "--format must be csv or jsonl"),
    ]
    for arguments, message in cases:
        result = cli.invoke(app, arguments)
        assert result.exit_code != 0, arguments
        assert message in result.output, (arguments, result.output)
    assert contacts(kindred) == []


def test_export_honours_field_permissions(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    source = tmp_path / "hubspot.csv"
    source.write_text(HUBSPOT, encoding="utf-8")
    assert (
        cli.invoke(
            app, ["import", "contact", str(source), "--preset", "hubspot-contacts"]
        ).exit_code
        == 0
    )
    with kindred.database.write() as session:
        kindred.auth.create_user(
            session, email="analyst@example.com", name="Analyst", password=None, roles=["analyst"]
        )
    full = tmp_path / "full.csv"
    # No purpose declared: the customer-authorized emails do not leave, and the CLI says so.
    plain = cli.invoke(app, ["export", "contact", "--out", str(full)])
    assert plain.exit_code == 0
    assert "values were withheld" in plain.output
    with full.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["email"] for r in rows] == ["", "", ""]
    # Under consents for bulk export (two of the three customers gave one), theirs do.
    with kindred.database.write() as session:
        for row in rows[:2]:
            did = kindred.identities.of_subject(session, "contact", row["id"]).did
            kindred.consents.grant(
                session,
                did,
                dimensions=["contact.email"],
                purpose="bulk-export",
                grantee=Grantee("role", "admin"),
                valid_until=datetime.now(UTC) + timedelta(days=1),
            )
    purposeful = cli.invoke(
        app, ["export", "contact", "--out", str(full), "--purpose", "bulk-export"]
    )
    assert purposeful.exit_code == 0, purposeful.output
    with full.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["email"] for r in rows] == ["zhang.wei@example.com", "anna@example.de", ""]
    limited = tmp_path / "limited.jsonl"
    result = cli.invoke(
        app,
        [
            "export",
            "contact",
            "--format",
            "jsonl",
            "--out",
            str(limited),
            "--as",
            "analyst@example.com",
            "--where",
            "record.city == 'Shanghai' || record.city == 'Berlin'",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in limited.read_text().splitlines()]
    assert [line["last_name"] for line in lines] == ["Zhang", "Schmidt"]
    assert all("email" not in line and "phone" not in line for line in lines)
