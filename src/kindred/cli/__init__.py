"""The ``kindred`` command line: demo, serve, migrate, seed, users, API keys, import, export.

Errors from the domain are printed as one readable line and a non-zero exit code; the full
problem detail (field paths) follows when there is one.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from kindred import __version__
from kindred.errors import KindredError

console = Console()
error_console = Console(stderr=True)

app = typer.Typer(
    name="kindred",
    help="Kindred CRM: self-hosted, AI-native CRM platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def report_errors(function: F) -> F:
    """Turn domain errors into a readable message and exit code 1 (2 for bad input)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except KindredError as error:
            # Whole lines (the terminal wraps them; a path or value stays copyable), and the
            # text as it is: a message may hold brackets that are no markup.
            error_console.print(
                Text.assemble(("error:", "bold red"), " ", error.detail), soft_wrap=True
            )
            for item in error.errors[:50]:
                error_console.print(
                    f"  {item.get('path', '')}: {item.get('message', '')}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            if len(error.errors) > 50:
                error_console.print(f"  … and {len(error.errors) - 50} more")
            raise typer.Exit(2 if error.status in (400, 422) else 1) from None

    return wrapper  # type: ignore[return-value]


def version_callback(value: bool) -> None:
    if value:
        console.print(f"kindred {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    context: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=version_callback, is_eager=True, help="Show the version."
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        envvar="KINDRED_DATABASE_URL",
        help="Database URL (default: sqlite:///var/kindred.db).",
    ),
) -> None:
    if database_url:
        os.environ["KINDRED_DATABASE_URL"] = database_url
    # Help and completion need no settings: shown even when those are bad, and without
    # importing pydantic and the settings (fast). (The group's callback runs before the
    # subcommand's arguments are parsed: hence the argv.)
    if context.resilient_parsing or "--help" in sys.argv[1:]:
        return
    from pydantic import ValidationError

    from kindred.config import get_settings

    if database_url:
        get_settings.cache_clear()
    try:  # bad settings: one line each naming the variable, not a traceback
        get_settings()
    except ValidationError as error:
        for item in error.errors():
            where = f"KINDRED_{str(item['loc'][0]).upper()}: " if item["loc"] else ""
            message = str(item["msg"]).removeprefix("Value error, ")
            error_console.print(f"[bold red]error:[/] {where}{message}")
        raise typer.Exit(2) from None


def main() -> None:
    from kindred.cli import commands  # noqa: F401  (registers the commands)

    app()
