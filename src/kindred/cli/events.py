"""``kindred events …`` and ``kindred worker``: publish, read, the type catalog, dead letters,
consumer groups, retention, and consumer processes that scale out beside the server."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
import typer
from rich.table import Table
from rich.text import Text

from kindred.cli import console, error_console, report_errors
from kindred.errors import ValidationFailed

app = typer.Typer(help="Event bus: publish, read, types, dead letters, consumers.")
dead_app = typer.Typer(help="Events that were refused, with why; fix, replay or discard.")
app.add_typer(dead_app, name="dead-letters")
T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _read_events(path: Path) -> list[Any]:
    """A JSON array, one JSON object, or JSON Lines."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            parsed = orjson.loads(text)
            return list(parsed)
        if "\n" in stripped.rstrip():
            return [orjson.loads(line) for line in text.splitlines() if line.strip()]
        return [orjson.loads(text)]
    except orjson.JSONDecodeError as error:
        raise ValidationFailed(f"{path} is not JSON, a JSON array or JSON Lines: {error}") from None


@app.command()
@report_errors
def publish(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CloudEvents JSON/JSONL."),
    batch: int = typer.Option(1000, min=1, max=10_000, help="Events per durable append."),
) -> None:
    """Ingest CloudEvents from a file (refused ones are dead-lettered and listed)."""
    from kindred.cli.common import open_services, progress_bar

    events = _read_events(file)
    accepted = duplicates = rejected = 0
    problems: list[str] = []

    async def main(kindred: Any) -> None:
        nonlocal accepted, duplicates, rejected
        with progress_bar() as progress:
            task = progress.add_task("publishing", total=len(events))
            for start in range(0, len(events), batch):
                chunk = events[start : start + batch]
                report = await kindred.events.ingest(chunk, channel="cli")
                accepted += len(report.accepted)
                duplicates += sum(1 for a in report.accepted if a["duplicate"])
                rejected += len(report.rejected)
                for rejection in report.rejected:
                    problems.append(
                        f"event {start + rejection.index}: {rejection.reason}: {rejection.detail}"
                        f" (dead letter {rejection.dead_letter_id})"
                    )
                progress.advance(task, len(chunk))
        await kindred.events.close()

    with open_services() as kindred:
        _run(main(kindred))
    console.print(
        f"stored {accepted - duplicates:,}, duplicates {duplicates:,}, refused {rejected:,}"
    )
    for line in problems[:50]:
        error_console.print(f"  {line}", markup=False)
    if rejected:
        raise typer.Exit(2)


@app.command()
@report_errors
def read(
    after: str = typer.Option(None, help="Start after this position."),
    since: datetime = typer.Option(None, help="Events stored at or after this time."),
    type: list[str] = typer.Option(None, "--type", "-t", help="Types or patterns (iot.*)."),
    key: str = typer.Option(None, help="Only this partition key."),
    limit: int = typer.Option(20, min=1, max=10_000),
) -> None:
    """Print stored events as JSON Lines (replay from an offset or a time)."""
    from kindred.cli.common import open_services

    async def main(kindred: Any) -> tuple[list[Any], str | None]:
        await kindred.events.start()
        try:
            moment = since.replace(tzinfo=since.tzinfo or UTC) if since else None
            return await kindred.events.bus.read(
                after=after, since=moment, types=type or None, key=key, limit=limit
            )
        except ValueError as error:
            raise ValidationFailed(str(error)) from None
        finally:
            await kindred.events.close()

    with open_services() as kindred:
        page, cursor = _run(main(kindred))
    for stored in page:
        line = {"position": stored.position, **stored.event.to_dict()}
        # Plain stdout: JSON Lines are for pipes, and a terminal-width wrap would break them.
        typer.echo(json.dumps(line, ensure_ascii=False))
    if cursor:
        error_console.print(f"more: --after {cursor}")


@app.command()
@report_errors
def types(
    domain: str = typer.Option(None, help="Only this domain."),
    search: str = typer.Option(None, "--search", "-q", help="Text in name or description."),
    show: str = typer.Option(None, help="Print one type's JSON Schema."),
) -> None:
    """Browse the event type catalog."""
    from kindred.cli.common import open_services
    from kindred.errors import NotFound
    from kindred.events.catalog import search as search_types

    with open_services() as kindred, kindred.database.read() as session:
        if show:
            found = kindred.events.catalog.get(session, show)
            if found is None:
                raise NotFound(f"no event type {show}; see `kindred events types`")
            typer.echo(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
            return
        items = search_types(kindred.events.catalog.all(session), domain=domain, text=search)
    table = Table(title=f"{len(items)} event types")
    table.add_column("type", no_wrap=True)
    table.add_column("v")
    table.add_column("description")
    for item in items:
        table.add_row(item.type, str(item.version), item.description)
    console.print(table)


@app.command()
@report_errors
def consumers() -> None:
    """Consumer groups with their lag and live members."""
    from kindred.cli.common import open_services

    async def main(kindred: Any) -> list[Any]:
        await kindred.events.start()
        try:
            return await kindred.events.bus.groups()
        finally:
            await kindred.events.close()

    with open_services() as kindred:
        groups = _run(main(kindred))
        backend = kindred.events.bus.name
    table = Table(title=f"consumer groups ({backend})")
    for column in ("group", "types", "lag", "members"):
        table.add_column(column)
    for group in groups:
        table.add_row(group.name, ", ".join(group.types), str(group.lag), ", ".join(group.members))
    console.print(table)


@app.command()
@report_errors
def seek(
    group: str = typer.Argument(..., help="Consumer group."),
    offset: str = typer.Option(None, help="Deliver from the event after this position."),
    since: datetime = typer.Option(None, help="Deliver from events stored since this time."),
) -> None:
    """Replay: move a consumer group to an offset or a time."""
    from kindred.cli.common import open_services
    from kindred.errors import NotFound

    if (offset is None) == (since is None):
        raise ValidationFailed("give exactly one of --offset or --since")
    moment = since.replace(tzinfo=since.tzinfo or UTC) if since else None

    async def main(kindred: Any) -> None:
        await kindred.events.start()
        try:
            await kindred.events.bus.seek(group, after=offset, since=moment)
        except KeyError:
            raise NotFound(f"no consumer group {group}") from None
        except ValueError as error:
            raise ValidationFailed(str(error)) from None
        finally:
            await kindred.events.close()

    with open_services() as kindred:
        _run(main(kindred))
        with kindred.database.write() as session:
            kindred.ledger.append(
                session,
                "events.consumer.seek",
                {"group": group, "offset": offset, "time": moment.isoformat() if moment else None},
                [],
            )
    console.print(f"group {group} moved")


@app.command()
@report_errors
def retention(
    older_than_days: float = typer.Option(
        None, help="Delete events stored before now minus this (default: the setting)."
    ),
) -> None:
    """Delete old events (and resolved dead letters) and give the disk space back."""
    from kindred.cli.common import open_services

    async def main(kindred: Any, cutoff: datetime) -> Any:
        await kindred.events.start()
        try:
            return await kindred.events.bus.apply_retention(cutoff)
        finally:
            await kindred.events.close()

    with open_services() as kindred:
        days = (
            older_than_days if older_than_days is not None else kindred.settings.bus_retention_days
        )
        if days <= 0:
            raise ValidationFailed("--older-than-days must be greater than 0")
        cutoff = datetime.now(UTC) - timedelta(days=days)
        report = _run(main(kindred, cutoff))
        purged = kindred.events.purge_resolved_dead_letters(cutoff)
    console.print(
        f"deleted {report.deleted:,} event(s); log {report.bytes_before:,} → "
        f"{report.bytes_after:,} bytes; {purged:,} resolved dead letter(s) removed"
    )


# -- dead letters ------------------------------------------------------------------------------


@dead_app.command("list")
@report_errors
def dead_list(
    status: str = typer.Option("open", help="open, replayed, discarded or any."),
    reason: str = typer.Option(None),
    type: str = typer.Option(None, "--type"),
    channel: str = typer.Option(None),
    limit: int = typer.Option(50, min=1, max=1000),
    wide: bool = typer.Option(
        False, "--wide", help="A table with every field in full (wider than the terminal)."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines, every field (for scripts)."),
) -> None:
    """Dead letters, newest first: two lines each, cut to the terminal's width (--wide: a
    table in full; --json: JSON Lines; `show ID` prints one with its payload)."""
    from kindred.cli.common import open_services

    if status not in ("open", "replayed", "discarded", "any"):
        raise ValidationFailed("--status must be open, replayed, discarded or any")
    with open_services() as kindred:
        letters = kindred.events.list_dead_letters(
            status=None if status == "any" else status,
            reason=reason,
            event_type=type,
            channel=channel,
            limit=limit,
        )
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(_dead_letter_json(letter), ensure_ascii=False))
        return
    if wide:
        _dead_letter_table(letters)
        return
    console.print(
        f"{len(letters)} dead letter(s), newest first (--wide: every field; show ID: one in full)",
        markup=False,
        highlight=False,
    )
    for letter in letters:
        received = letter.received_at.strftime("%Y-%m-%d %H:%M")
        line = Text(f"{letter.id}  {received}  {letter.status}  ", no_wrap=True)
        line.append(letter.reason, style="bold")
        # One line each, cut with an ellipsis at the terminal's width (CJK text included).
        console.print(line, no_wrap=True, overflow="ellipsis", crop=True)
        about = f"  {letter.event_type or '(no type)'} via {letter.channel}: "
        detail = " ".join(letter.detail.split())
        console.print(
            Text(about + detail), no_wrap=True, overflow="ellipsis", crop=True, highlight=False
        )


def _dead_letter_json(letter: Any) -> dict[str, Any]:
    return {
        "id": letter.id,
        "received_at": letter.received_at.isoformat(),
        "status": letter.status,
        "channel": letter.channel,
        "reason": letter.reason,
        "event_type": letter.event_type,
        "event_id": letter.event_id,
        "event_source": letter.event_source,
        "detail": letter.detail,
        "errors": letter.errors,
    }


def _dead_letter_table(letters: list[Any]) -> None:
    """Every field in full, at the table's natural width (pipe it to `less -S`)."""
    from rich.console import Console

    table = Table(title=f"{len(letters)} dead letter(s)")
    for column in ("id", "received", "channel", "reason", "type", "status", "detail"):
        table.add_column(column, no_wrap=True)
    for letter in letters:
        table.add_row(
            letter.id,
            letter.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            letter.channel,
            letter.reason,
            letter.event_type or "",
            letter.status,
            " ".join(letter.detail.split()),
        )
    wide = Console(width=100_000, highlight=False, force_terminal=console.is_terminal)
    with wide.capture() as captured:
        wide.print(table)
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


@dead_app.command("show")
@report_errors
def dead_show(letter_id: str = typer.Argument(...)) -> None:
    """One dead letter: reason, every error with its path, and the payload."""
    from kindred.cli.common import open_services

    with open_services() as kindred:
        letter = kindred.events.get_dead_letter(letter_id)
    console.print(f"[bold]{letter.id}[/] {letter.status} · {letter.channel} · {letter.reason}")
    console.print(letter.detail, markup=False)
    for error in letter.errors:
        console.print(f"  {error.get('path', '')}: {error.get('message', '')}", markup=False)
    typer.echo(letter.payload.decode("utf-8", "replace"))


@dead_app.command("fix")
@report_errors
def dead_fix(
    letter_id: str = typer.Argument(...),
    file: Path = typer.Option(..., "--file", exists=True, dir_okay=False, help="New payload."),
) -> None:
    """Replace a dead letter's payload (then replay it)."""
    from kindred.cli.common import open_services

    with open_services() as kindred:
        kindred.events.fix_dead_letter(letter_id, file.read_bytes(), None)
    console.print(
        f"dead letter {letter_id} updated; replay it with `kindred events dead-letters replay`"
    )


@dead_app.command("replay")
@report_errors
def dead_replay(letter_ids: list[str] = typer.Argument(..., help="One or more ids.")) -> None:
    """Ingest dead letters again; each one that passes is marked replayed."""
    from kindred.cli.common import open_services
    from kindred.errors import KindredError
    from kindred.events.sources import translate_dead_letter

    failed = 0

    async def main(kindred: Any) -> None:
        nonlocal failed
        try:
            for letter_id in letter_ids:
                try:
                    report = await kindred.events.replay_dead_letter(
                        letter_id, actor_id=None, translate=translate_dead_letter
                    )
                except KindredError as error:
                    failed += 1
                    error_console.print(f"[red]{letter_id}[/]: {error.detail}")
                    for item in error.errors[:20]:
                        error_console.print(f"  {item.get('path', '')}: {item.get('message', '')}")
                    continue
                positions = ", ".join(a["position"] for a in report.accepted)
                console.print(f"[green]{letter_id}[/]: replayed → {positions}")
        finally:
            await kindred.events.close()

    with open_services() as kindred:
        _run(main(kindred))
    if failed:
        raise typer.Exit(2)


@dead_app.command("discard")
@report_errors
def dead_discard(
    letter_id: str = typer.Argument(...),
    note: str = typer.Option(..., "--note", help="Why it is dropped (kept on the ledger)."),
) -> None:
    """Close a dead letter without replaying it."""
    from kindred.cli.common import open_services

    with open_services() as kindred:
        kindred.events.discard_dead_letter(letter_id, note, None)
    console.print(f"dead letter {letter_id} discarded")


# -- worker --------------------------------------------------------------------------------------


def worker(
    consumer: list[str] = typer.Option(
        None, "--consumer", "-c", help="Consumer to run (repeatable; default: the setting)."
    ),
    mqtt: bool = typer.Option(False, "--mqtt/--no-mqtt", help="Run the MQTT bridge here."),
    scheduler: bool = typer.Option(False, "--scheduler/--no-scheduler", help="Run the scheduler."),
) -> None:
    """Run event consumers in this process (start several; they split the partitions)."""
    from kindred.cli.common import open_services
    from kindred.events.runtime import EventRuntime, RuntimeJobs, freeze_startup_heap

    async def main(kindred: Any) -> None:
        names = tuple(consumer or kindred.settings.consumers)
        unknown = kindred.consumers.unknown(names)
        if unknown:
            raise ValidationFailed(f"unknown consumer(s): {', '.join(unknown)}")
        runtime = EventRuntime(
            kindred, RuntimeJobs(consumers=names, mqtt=mqtt, scheduler=scheduler)
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await runtime.start()
        if kindred.settings.mode != "test":
            freeze_startup_heap()
        console.print(
            f"worker {runtime.member}: consumers {', '.join(names) or '-'} on "
            f"{kindred.events.bus.name}; Ctrl-C to stop",
            markup=False,
        )
        from kindred.agents.runtime import maintain

        # Agent runs left in flight by a stopped process, and human-task SLAs.
        upkeep = asyncio.create_task(maintain(kindred)) if "agents" in names else None
        try:
            await stop.wait()
        finally:
            if upkeep is not None:
                upkeep.cancel()
            await runtime.stop()
            agent_runtime = kindred.extras.pop("agent_runtime", None)
            if agent_runtime is not None:
                await agent_runtime.aclose()
            await kindred.events.close()
            handled = sum(r.handled for r in runtime.runners)
            console.print(f"worker stopped after handling {handled:,} event(s)")

    with open_services() as kindred:
        _run(main(kindred))
