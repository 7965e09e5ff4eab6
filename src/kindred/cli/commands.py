"""Top-level commands. Each one builds services from settings and calls the domain.

Heavy modules (SQLAlchemy, pydantic settings, the services, the web app) are imported inside
the commands that use them: ``kindred --help`` and ``kindred <command> --help`` load only
Typer and Rich (tests/test_cli_help.py holds that).
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, Literal

import typer

from kindred.cli import app, console, error_console, report_errors
from kindred.cli import events as events_cli
from kindred.cli import ledger as ledger_cli
from kindred.cli.common import open_services, progress_bar, seed_demo, serve_app
from kindred.cli.demo import DEMO_LOGINS, DEMO_PASSWORD, _demo_scenarios  # noqa: F401

if TYPE_CHECKING:
    from kindred.services import Kindred

users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(events_cli.app, name="events")
app.command("worker")(report_errors(events_cli.worker))
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="apikeys")


@app.command()
@report_errors
def openapi() -> None:
    """Print the API's OpenAPI document (JSON): what the console's typed client is generated
    from (`kindred openapi > web/openapi.json && (cd web && npm run gen:api)`)."""
    print(openapi_document())


def openapi_document() -> str:
    """The OpenAPI document as committed in web/openapi.json (sorted keys, one-space indent)."""
    import json

    from kindred.app import create_app

    with open_services(bootstrap=False) as kindred:
        document = create_app(kindred, bootstrap=False).openapi()
    return json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False)


@app.command()
@report_errors
def migrate() -> None:
    """Create or upgrade the database schema and install standard objects and roles."""
    started = time.perf_counter()
    with open_services(bootstrap=False) as kindred:
        kindred.bootstrap()
        console.print(
            f"[green]database ready[/] ({kindred.database.dialect}, "
            f"{time.perf_counter() - started:.1f}s)"
        )


@app.command()
@report_errors
def seed(
    customers: int = typer.Option(
        1000,
        "--customers",
        "-n",
        min=1,
        max=5_000_000,
        help="How many customer accounts to generate.",
    ),
    seed_value: int = typer.Option(42, "--seed", help="Random seed (same seed, same data)."),
) -> None:
    """Load a deterministic, realistic demo dataset (hospitals, stores, devices, contracts…)."""
    with open_services() as kindred:
        started = time.perf_counter()
        counts = seed_demo(kindred, customers, seed_value)
        elapsed = time.perf_counter() - started
        total = sum(counts.values())
        console.print(
            f"[green]seeded {total:,} records[/] in {elapsed:.1f}s "
            f"({total / max(elapsed, 1e-9):,.0f} rows/s)"
        )


@app.command()
@report_errors
def serve(
    host: str = typer.Option(None, help="Interface (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
) -> None:
    """Serve the HTTP API (migrates first)."""
    from kindred.config import get_settings
    from kindred.services import Kindred

    settings = get_settings()
    # The public host (DIDs, emailed links) follows the address served unless it is set.
    settings = settings.serving_on(host or settings.host, port or settings.port)
    kindred = Kindred.create(settings)
    kindred.bootstrap()
    host, port = settings.host, settings.port
    serve_app(kindred, host, port, workers, f"serving on http://{host}:{port} (docs at /docs)")


@users_app.command("create")
@report_errors
def users_create(
    email: str = typer.Option(..., help="Sign-in email."),
    name: str = typer.Option(..., help="Display name."),
    role: list[str] = typer.Option(["sales"], "--role", "-r", help="Role (repeatable)."),
    territory: list[str] = typer.Option([], "--territory", "-t", help="Territory id (repeatable)."),
    password: str = typer.Option(
        None,
        help="Password (prompted when omitted).",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
    ),
) -> None:
    """Create a user."""
    with open_services() as kindred:
        with kindred.database.write() as session:
            user = kindred.auth.create_user(
                session,
                email=email,
                name=name,
                password=password,
                roles=role,
                territories=territory,
            )
        console.print(f"[green]created user[/] {user['email']} ({user['id']})")


@keys_app.command("create")
@report_errors
def keys_create(
    email: str = typer.Option(..., help="The user the key acts as."),
    name: str = typer.Option(..., help="What the key is for."),
) -> None:
    """Create an API key; it is printed once."""
    with open_services() as kindred:
        with kindred.database.write() as session:
            user_id = kindred.auth.find_user_id(session, email)
            if user_id is None:
                error_console.print(f"[bold red]error:[/] no user with email {email}")
                raise typer.Exit(1)
            row, plaintext = kindred.auth.create_api_key(session, user_id, name)
        console.print(f"API key [bold]{row.name}[/] ({row.id}):")
        console.print(plaintext, highlight=False, soft_wrap=True)


def _context_as(kindred: Kindred, email: str | None) -> Any:
    """Act as a user (their permissions apply) or, without --as, as the system."""
    from kindred.auth.permissions import SYSTEM_PRINCIPAL
    from kindred.records.service import RequestContext

    if email is None:
        return RequestContext(SYSTEM_PRINCIPAL, request_id="cli")
    with kindred.database.read() as session:
        user_id = kindred.auth.find_user_id(session, email)
        if user_id is None:
            error_console.print(f"[bold red]error:[/] no user with email {email}")
            raise typer.Exit(1)
        return RequestContext(kindred.auth.load_principal(session, user_id), request_id="cli")


@app.command("import")
@report_errors
def import_csv(
    object_name: str = typer.Argument(..., help="Object to import into, e.g. contact."),
    path: str = typer.Argument(..., help="CSV file (UTF-8, header row)."),
    preset: str = typer.Option(
        None,
        help="Column preset: hubspot-contacts, hubspot-companies, "
        "salesforce-contacts, salesforce-accounts.",
    ),
    map_: list[str] = typer.Option([], "--map", "-m", help="'CSV column=field' (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate everything, write nothing."),
    skip_bad_rows: bool = typer.Option(
        False,
        "--skip-bad-rows",
        help="Import the good rows and report the bad ones (default: all or nothing).",
    ),
    upsert_on: str = typer.Option(None, help="Update records matching this unique field."),
    as_user: str = typer.Option(None, "--as", help="Import with this user's permissions."),
    errors_out: str = typer.Option(None, help="Write the per-row error report to this CSV."),
) -> None:
    """Import records from CSV with column mapping, presets, dry run and an error report."""
    from pathlib import Path

    from kindred.records.transfer import Importer, import_summary, read_text, write_error_report

    source = Path(path)
    if not source.is_file():
        error_console.print(f"[bold red]error:[/] no such file: {path}")
        raise typer.Exit(2)
    mapping: dict[str, str] = {}
    for item in map_:
        column, separator, target = item.partition("=")
        if not separator or not column or not target:
            error_console.print(f"[bold red]error:[/] --map takes 'CSV column=field', got {item!r}")
            raise typer.Exit(2)
        mapping[column] = target.strip()
    mode: Literal["all_or_nothing", "skip_bad_rows"] = (
        "skip_bad_rows" if skip_bad_rows else "all_or_nothing"
    )
    with open_services() as kindred:
        context = _context_as(kindred, as_user)
        with source.open("rb") as handle:
            total_rows = max(sum(1 for _ in handle) - 1, 0)
        importer = Importer(kindred.records)
        started = time.perf_counter()
        session_factory = kindred.database.write
        with progress_bar() as progress, read_text(source) as stream:
            task = progress.add_task(f"import {object_name}", total=total_rows)
            try:
                with session_factory() as session:
                    report = importer.run(
                        session,
                        context,
                        object_name,
                        stream,
                        preset=preset,
                        mapping=mapping,
                        # A dry run writes nothing either way: it imports every good row so
                        # it can tell what each mode would do with this file.
                        mode="skip_bad_rows" if dry_run else mode,
                        upsert_on=upsert_on,
                        progress=lambda n: progress.advance(task, n),
                    )
                    if dry_run or not report.committed:
                        raise _Rollback(report)
            except _Rollback as rollback:
                report = rollback.report
                report.committed = False
        report.dry_run = dry_run
        if report.committed and report.created + report.updated >= 10_000:
            kindred.database.checkpoint()
        elapsed = time.perf_counter() - started
        if errors_out:
            write_error_report(report, Path(errors_out))
        for error in report.errors[:20]:
            error_console.print(
                f"  line {error.line} {error.column or error.field}: {error.message}",
                markup=False,
            )
        if len(report.errors) > 20:
            error_console.print(f"  … {len(report.errors) - 20} more (use --errors-out FILE)")
        for line in import_summary(report, mode):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        console.print(
            f"{elapsed:.1f}s ({report.rows / max(elapsed, 1e-9):,.0f} rows/s)",
            style="dim",
            highlight=False,
        )
        if report.errors and not skip_bad_rows:
            # As the real run: one bad row and nothing is written (exit 2), dry run or not.
            error_console.print(
                "[bold red]error:[/] the file has invalid rows; nothing "
                + ("would be" if dry_run else "was")
                + " written (fix them, or use --skip-bad-rows)"
            )
            raise typer.Exit(2)


class _Rollback(Exception):
    def __init__(self, report: Any) -> None:
        super().__init__("rollback")
        self.report = report


@app.command("export")
@report_errors
def export(
    object_name: str = typer.Argument(..., help="Object to export, e.g. account."),
    format_: str = typer.Option("csv", "--format", "-f", help="csv or jsonl."),
    out: str = typer.Option(None, "--out", "-o", help="Output file (default: standard output)."),
    where: str = typer.Option(None, help="CEL filter, e.g. \"record.tier == 'A'\"."),
    as_user: str = typer.Option(None, "--as", help="Export with this user's permissions."),
    purpose: str = typer.Option(
        None,
        "--purpose",
        help="Declared purpose (e.g. bulk-export): customer-authorized values are exported "
        "only under the customer's consent for it, and withheld otherwise.",
    ),
) -> None:
    """Export records as CSV or JSON Lines; field permissions, visibility and consents apply."""
    import sys

    from kindred.records.transfer import export_records

    if format_ not in ("csv", "jsonl"):
        error_console.print(f"[bold red]error:[/] --format must be csv or jsonl, not {format_!r}")
        raise typer.Exit(2)
    if purpose is not None:
        from kindred.sovereignty.purposes import purpose as registered_purpose

        registered_purpose(purpose, "--purpose")  # an unknown one: exit 2, naming the known
    with open_services() as kindred:
        context = dataclasses.replace(
            _context_as(kindred, as_user), purpose=purpose, channel="export"
        )
        withheld: list[int] = []
        handle = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout  # noqa: SIM115
        try:
            with kindred.database.read() as session:
                count = export_records(
                    kindred.records,
                    session,
                    context,
                    object_name,
                    handle,
                    format=format_,  # type: ignore[arg-type]
                    where=where,
                    on_withheld=withheld.append,
                )
        finally:
            if out:
                handle.close()
        if out:
            console.print(f"exported {count:,} {object_name} records to {out}")
        if withheld:
            # On stderr: stdout may be the export itself.
            error_console.print(
                f"{sum(withheld):,} customer-authorized values were withheld (no valid consent "
                f"for purpose {purpose or '(none declared: use --purpose)'})"
            )
