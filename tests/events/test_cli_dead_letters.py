"""`kindred events dead-letters list` reads well in an 80-column terminal: each letter on two
lines cut to the terminal's width (its full id, when, status and reason intact), the whole of
every field with --wide (a table) or --json (JSON Lines) — run as a user runs it, in a
terminal of a given width (COLUMNS)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.cells import cell_len

from tests.conftest import TEST_SECRET

LONG = "设备故障两天了还没人来修 " * 8  # wide (CJK) characters, longer than any line


def bad_events() -> list[dict[str, Any]]:
    return [
        {  # breaks the schema: a long, detailed message
            "specversion": "1.0",
            "id": "dl-1",
            "source": "urn:test:plant",
            "type": "iot.device.fault",
            "data": {"device_id": "CT-1", "code": "E42", "severity": LONG},
        },
        {  # a type nobody defined
            "specversion": "1.0",
            "id": "dl-2",
            "source": "urn:test:plant",
            "type": "iot.device.meltdown.of.the.reactor.cooling.pump.number.seven",
            "data": {"note": LONG},
        },
    ]


def dead_letters(kindred: Any, columns: int, *options: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "COLUMNS": str(columns),
        "KINDRED_DATABASE_URL": kindred.settings.database_url,
        "KINDRED_BUS_URL": kindred.settings.effective_bus_url,
        "KINDRED_SECRET_KEY": TEST_SECRET,
        "KINDRED_MODE": "test",
    }
    kindred_cli = str(Path(sys.executable).with_name("kindred"))
    return subprocess.run(
        [kindred_cli, "events", "dead-letters", "list", *options],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_the_list_fits_the_terminal(kindred: Any) -> None:
    report = asyncio.run(kindred.events.ingest(bad_events(), channel="test"))
    asyncio.run(kindred.events.close())
    assert len(report.rejected) == 2
    letters = {r.dead_letter_id: r.reason for r in report.rejected}

    narrow = dead_letters(kindred, 80)
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), narrow.stdout
    for letter_id, reason in letters.items():
        # Id, status and reason intact on one line (copy the id into `show ID`).
        [head] = [line for line in lines if letter_id in line]
        assert " open " in head and head.rstrip().endswith(reason), narrow.stdout
    assert sum("…" in line for line in lines) >= 2  # the long details are cut, visibly

    wider = dead_letters(kindred, 160)
    assert all(cell_len(line) <= 160 for line in wider.stdout.splitlines())
    assert len(wider.stdout) > len(narrow.stdout)  # more of each detail when there is room

    stored = {
        letter.id: letter.detail
        for letter in kindred.events.list_dead_letters(status="open", limit=10)
    }
    as_json = dead_letters(kindred, 80, "--json")
    assert as_json.returncode == 0, as_json.stderr
    parsed = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {p["id"]: p["detail"] for p in parsed} == stored  # every detail whole
    assert {p["id"]: p["reason"] for p in parsed} == letters

    wide = dead_letters(kindred, 80, "--wide")
    assert wide.returncode == 0, wide.stderr
    for letter_id, detail in stored.items():
        [row] = [line for line in wide.stdout.splitlines() if letter_id in line]
        assert " ".join(detail.split()) in row  # the whole detail on the letter's row
