"""``kindred events …`` on both dialects: publish a file, read the log, browse types, and
work the dead-letter queue (list, show, fix, replay, discard) — with readable errors and
non-zero exits for bad input, and nothing changed by a refused command."""

from __future__ import annotations

import asyncio
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


@pytest.fixture
def cli(kindred: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KINDRED_DATABASE_URL", kindred.settings.database_url)
    monkeypatch.setenv("KINDRED_BUS_URL", kindred.settings.effective_bus_url)
    monkeypatch.setenv("KINDRED_MODE", "test")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def event(index: int, severity: str = "major") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"cli-{index}",
        "source": "urn:test:cli",
        "type": "iot.device.fault",
        "data": {"device_id": f"dev-{index}", "code": "E1", "severity": severity},
    }


def stored(kindred: Any) -> list[str]:
    async def read() -> list[str]:
        await kindred.events.start()
        page, _ = await kindred.events.bus.read(limit=100)
        return [s.event.id for s in page]

    return asyncio.run(read())


def letters(kindred: Any) -> list[Any]:
    with kindred.database.read() as session:
        return list(
            session.execute(sa.text("SELECT id, status, reason FROM event_dead_letters")).all()
        )


def test_publish_jsonl_with_a_bad_event(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in [event(1), event(2, "apocalyptic"), event(3)]))
    result = cli.invoke(app, ["events", "publish", str(path)])
    assert result.exit_code == 2, result.output
    assert "stored 2, duplicates 0, refused 1" in result.output
    assert "event 1: schema_violation" in result.output
    assert stored(kindred) == ["cli-1", "cli-3"]

    again = cli.invoke(app, ["events", "publish", str(path)])
    assert "stored 0, duplicates 2, refused 1" in again.output
    assert stored(kindred) == ["cli-1", "cli-3"]

    read = cli.invoke(app, ["events", "read", "--limit", "1"])
    assert read.exit_code == 0
    assert json.loads(read.output.splitlines()[0])["id"] == "cli-1"
    assert "more: --after" in read.output


def test_publish_refuses_a_file_that_is_not_json(
    cli: CliRunner, kindred: Any, tmp_path: Path
) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[{not json")
    result = cli.invoke(app, ["events", "publish", str(path)])
    assert result.exit_code == 2
    assert "is not JSON" in result.output
    assert stored(kindred) == [] and letters(kindred) == []


def test_dead_letter_fix_and_replay(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(event(7, "apocalyptic")))
    cli.invoke(app, ["events", "publish", str(path)])
    [(letter_id, status, reason)] = letters(kindred)
    assert (status, reason) == ("open", "schema_violation")

    listed = cli.invoke(app, ["events", "dead-letters", "list"])
    assert listed.exit_code == 0 and letter_id in listed.output
    shown = cli.invoke(app, ["events", "dead-letters", "show", letter_id])
    assert "/data/severity" in shown.output and "apocalyptic" in shown.output

    still_bad = cli.invoke(app, ["events", "dead-letters", "replay", letter_id])
    assert still_bad.exit_code == 2
    assert stored(kindred) == []

    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(event(7, "critical")))
    assert (
        cli.invoke(
            app, ["events", "dead-letters", "fix", letter_id, "--file", str(fixed)]
        ).exit_code
        == 0
    )
    replayed = cli.invoke(app, ["events", "dead-letters", "replay", letter_id])
    assert replayed.exit_code == 0, replayed.output
    assert "replayed" in replayed.output
    assert stored(kindred) == ["cli-7"]
    assert letters(kindred)[0].status == "replayed"

    missing = cli.invoke(app, ["events", "dead-letters", "show", "nope"])
    assert missing.exit_code == 1 and "no dead letter nope" in missing.output


def test_dead_letter_discard_needs_a_note(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**event(8), "type": "iot.device.unknown"}))
    cli.invoke(app, ["events", "publish", str(path)])
    [(letter_id, _, reason)] = letters(kindred)
    assert reason == "unknown_type"
    blank = cli.invoke(app, ["events", "dead-letters", "discard", letter_id, "--note", " "])
    assert blank.exit_code == 2
    assert letters(kindred)[0].status == "open"
    done = cli.invoke(app, ["events", "dead-letters", "discard", letter_id, "--note", "typo"])
    assert done.exit_code == 0
    assert letters(kindred)[0].status == "discarded"


def test_types_and_consumers(cli: CliRunner, kindred: Any) -> None:
    listed = cli.invoke(app, ["events", "types", "--domain", "pos"])
    assert listed.exit_code == 0 and "pos.transaction.completed" in listed.output
    shown = cli.invoke(app, ["events", "types", "--show", "iot.device.fault"])
    assert json.loads(shown.output)["schema"]["required"] == ["device_id", "code", "severity"]
    missing = cli.invoke(app, ["events", "types", "--show", "iot.device.nope"])
    assert missing.exit_code == 1 and "no event type" in missing.output
    bad_seek = cli.invoke(app, ["events", "seek", "timeline"])
    assert bad_seek.exit_code == 2 and "exactly one of" in bad_seek.output
    unknown = cli.invoke(app, ["events", "seek", "nobody", "--offset", "0"])
    assert unknown.exit_code == 1 and "no consumer group nobody" in unknown.output
    worker = cli.invoke(app, ["worker", "--consumer", "nope"])
    assert worker.exit_code == 2 and "unknown consumer" in worker.output
