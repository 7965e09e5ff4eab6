"""``kindred ledger …``: checkpoints, proof bundles, whole-log verification, offline checks."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kindred.cli import console, error_console, report_errors

app = typer.Typer(help="Tamper-evident evidence log (RFC 9162).", no_args_is_help=True)
checkpoints_app = typer.Typer(help="Signed checkpoints kept outside the database.")
app.add_typer(checkpoints_app, name="checkpoints", no_args_is_help=True)
MAX_LINES = 1000  # problems printed by verify; the API lists them all


@app.command()
@report_errors
def checkpoint() -> None:
    """Sign the current tree head and print the checkpoint (a C2SP signed note)."""
    from kindred.cli.common import open_services

    with open_services() as kindred, kindred.database.write() as session:
        stored = kindred.ledger.checkpoint(session)
        note = stored.note
    console.print(note, end="", markup=False, highlight=False)


@app.command("public-key")
@report_errors
def public_key() -> None:
    """Print the active verifier key (give it to third parties out of band)."""
    from kindred.cli.common import open_services

    with open_services() as kindred, kindred.database.write() as session:
        key = kindred.ledger.active_public_key(session)
    console.print(key, markup=False, highlight=False)


@app.command()
@report_errors
def prove(
    index: int = typer.Argument(..., min=0, help="Entry index."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the bundle here."),
) -> None:
    """Export a proof bundle for one entry (verifiable offline with verify-bundle)."""
    from kindred.cli.common import open_services

    with open_services() as kindred, kindred.database.write() as session:
        bundle = kindred.ledger.bundle(session, index)
    text = json.dumps(bundle, indent=2)
    if out:
        out.write_text(text + "\n")
        console.print(f"bundle for entry {index} (tree size {bundle['tree_size']}) → {out}")
    else:
        console.print(text, markup=False, highlight=False)


@app.command()
@report_errors
def verify(
    witness: list[Path] = typer.Option(
        [],
        "--witness",
        exists=True,
        dir_okay=False,
        help="A checkpoint exported with `checkpoints export` (repeatable): the log must "
        "still extend it.",
    ),
    key: list[str] = typer.Option(
        [],
        "--key",
        help="A verifier key pinned out of band, text or file (repeatable); trusted beside "
        "the keys the database holds.",
    ),
) -> None:
    """Recompute the whole log from the stored bytes; exit 0 only if it is intact.

    Checks every entry (leaf, leaf hash, kind and created_at columns, payload commitment),
    every stored checkpoint, and that the log still extends the newest checkpoint the
    witness directory and every --witness file hold. One line per problem."""
    from kindred.cli.common import open_services
    from kindred.errors import ValidationFailed, field_error
    from kindred.ledger.note import NoteError, Verifier
    from kindred.ledger.witness import WitnessCopy

    keys = [Path(k).read_text().strip() if Path(k).is_file() else k for k in key]
    for position, text in enumerate(keys):
        try:
            Verifier.parse(text)
        except NoteError as error:
            raise ValidationFailed(
                "bad --key", errors=[field_error(f"/key/{position}", "key", str(error))]
            ) from None
    # Undecodable bytes stay visible as U+FFFD, so the note fails to verify and is reported.
    copies = [
        WitnessCopy(f"file {path}", path.read_bytes().decode("utf-8", "replace"))
        for path in witness
    ]
    with open_services() as kindred, kindred.database.read() as session:
        report = kindred.ledger.verify_log(session, copies=copies, keys=keys)
    if report.intact:
        console.print(
            f"[green]intact[/]: {report.entries:,} entries, "
            f"{report.checkpoints:,} checkpoints verified"
        )
        if report.witnessed is None:
            console.print(
                "[yellow]no witness holds a checkpoint yet[/]: entries deleted together "
                "with their checkpoints would go unnoticed"
            )
        else:
            console.print(
                f"the log extends the newest witnessed checkpoint (size {report.witnessed:,})"
            )
        return
    error_console.print(f"[bold red]TAMPERED[/]: {len(report.problems)} problem(s)")
    for problem in report.problems[:MAX_LINES]:
        # soft_wrap: one problem stays one line, whatever the terminal's width.
        error_console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
    if len(report.problems) > MAX_LINES:
        error_console.print(
            f"  … and {len(report.problems) - MAX_LINES:,} more (GET /api/v1/ledger/verify "
            "lists them all)"
        )
    raise typer.Exit(1)


@checkpoints_app.command("export")
@report_errors
def export_checkpoint(
    out: Path = typer.Option(None, "--out", "-o", help="Write the checkpoint here."),
) -> None:
    """Print (or write) the newest signed checkpoint, for a copy outside this host.

    Keep the copies (a ticket, another machine, the auditor's inbox): `ledger verify
    --witness FILE` later shows whether the log still extends them."""
    from kindred.cli.common import open_services

    with open_services() as kindred, kindred.database.write() as session:
        note = kindred.ledger.newest_checkpoint_note(session)
    if out:
        out.write_text(note, encoding="utf-8")
        console.print(f"checkpoint at size {note.splitlines()[1]} → {out}")
    else:
        console.print(note, end="", markup=False, highlight=False, soft_wrap=True)


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
