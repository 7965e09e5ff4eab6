"""``kindred ledger …``: checkpoints, proof bundles, whole-log verification, offline checks."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kindred.cli import console, error_console, report_errors

app = typer.Typer(help="Tamper-evident evidence log (RFC 9162).", no_args_is_help=True)


@app.command()
@report_errors
def checkpoint() -> None:
    """Sign the current tree head and print the checkpoint (a C2SP signed note)."""
    from kindred.cli.commands import _services

    with _services() as kindred, kindred.database.write() as session:
        stored = kindred.ledger.checkpoint(session)
        note = stored.note
    console.print(note, end="", markup=False, highlight=False)


@app.command("public-key")
@report_errors
def public_key() -> None:
    """Print the active verifier key (give it to third parties out of band)."""
    from kindred.cli.commands import _services

    with _services() as kindred, kindred.database.write() as session:
        key = kindred.ledger.active_public_key(session)
    console.print(key, markup=False, highlight=False)


@app.command()
@report_errors
def prove(
    index: int = typer.Argument(..., min=0, help="Entry index."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the bundle here."),
) -> None:
    """Export a proof bundle for one entry (verifiable offline with verify-bundle)."""
    from kindred.cli.commands import _services

    with _services() as kindred, kindred.database.write() as session:
        bundle = kindred.ledger.bundle(session, index)
    text = json.dumps(bundle, indent=2)
    if out:
        out.write_text(text + "\n")
        console.print(f"bundle for entry {index} (tree size {bundle['tree_size']}) → {out}")
    else:
        console.print(text, markup=False, highlight=False)


@app.command()
@report_errors
def verify() -> None:
    """Recompute the whole log; exit 0 only if it is intact."""
    from kindred.cli.commands import _services

    with _services() as kindred, kindred.database.read() as session:
        report = kindred.ledger.verify_log(session)
    if report.intact:
        console.print(
            f"[green]intact[/]: {report.entries:,} entries, "
            f"{report.checkpoints:,} checkpoints verified"
        )
        return
    error_console.print(f"[bold red]TAMPERED[/]: {len(report.problems)} problem(s)")
    for problem in report.problems[:50]:
        error_console.print(f"  {problem}", markup=False)
    raise typer.Exit(1)


@app.command("verify-bundle")
def verify_bundle_command(
    bundle: Path = typer.Option(..., exists=True, dir_okay=False, help="Proof bundle JSON."),
    key: str = typer.Option(..., help="Verifier key text, or a file containing it."),
) -> None:
    """Verify a bundle offline: no database, no server."""
    from kindred.ledger.verifier import VerificationError, verify_bundle

    key_text = Path(key).read_text().strip() if Path(key).is_file() else key
    try:
        leaf = verify_bundle(json.loads(bundle.read_text()), key_text)
    except (VerificationError, json.JSONDecodeError) as error:
        error_console.print(f"[bold red]INVALID[/]: {error}", markup=True)
        raise typer.Exit(1) from None
    console.print(
        f"[green]valid[/]: entry {leaf.get('i')} ({leaf.get('k')}) is in the log", markup=True
    )
