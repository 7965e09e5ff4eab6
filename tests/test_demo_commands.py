"""What `kindred demo` prints under "Where to look" works pasted into a shell: every command
and URL answers 2xx from the running demo, and each shows what its note says (tier-A
accounts; the fault event on a seeded device sets off the device-fault chain, whose run the
next command shows; the consented contact's email). Run against a real demo, with curl."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import free_port

KINDRED = str(Path(sys.executable).with_name("kindred"))
# Every command's status follows its body on a line of its own.
STATUS = "curl() { command curl -w '\\n%{http_code}' \"$@\"; }"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A served demo; yields "Where to look" as label → line."""
    if shutil.which("curl") is None:
        pytest.fail("curl is needed: the demo's commands are curl commands")
    folder = tmp_path_factory.mktemp("demo")
    environment = {
        **os.environ,
        "KINDRED_DATABASE_URL": f"sqlite:///{folder / 'kindred.db'}",
        "KINDRED_PASSWORD_TIME_COST": "1",
        "KINDRED_PASSWORD_MEMORY_KIB": "64",
        "COLUMNS": "100",  # the commands print whole however narrow the terminal
    }
    lines: dict[str, str] = {}
    with subprocess.Popen(
        [KINDRED, "demo", "-n", "10", "--port", str(free_port())],
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        seen: list[str] = []
        looking = False
        for line in process.stdout:
            seen.append(line)
            if line.startswith("Where to look"):
                looking = True
            elif looking and line.startswith("  ") and len(line) > 12 and line[2] != " ":
                lines[line[2:12].strip()] = line[12:].rstrip("\n")
            elif looking and not line.startswith("  "):
                looking = False
            if "serving on" in line:
                break
        else:
            pytest.fail("the demo did not start serving:\n" + "".join(seen))
        try:
            yield lines
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def shell(demo: dict[str, str], command: str) -> tuple[int, Any]:
    """Run a printed command as pasted (after the sign-in line): its status and JSON body."""
    script = "\n".join(["set -e", demo["Sign in"], 'test -n "$TOKEN"', STATUS, command])
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body) if body.strip().startswith(("{", "[")) else body


def url_status(url: str) -> int:
    done = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return int(done.stdout)


def items(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body.get("data") or [])


def test_every_printed_line_answers(demo: dict[str, str]) -> None:
    assert {"Sign in", "Accounts", "Event", "Its run", "Consent", "DID"} <= set(demo), demo
    for label, line in demo.items():
        if line.startswith("http"):
            url = line.split()[0]
            assert 200 <= url_status(url) < 300, (label, url)
        elif line.startswith("curl"):
            if label == "Event":
                continue  # sent once, by the next test (it has an effect)
            status, _ = shell(demo, line)
            assert 200 <= status < 300, (label, line, status)
        else:
            assert label == "Sign in" and line.startswith("TOKEN=$(curl"), (label, line)


def test_accounts_are_tier_a_biggest_first(demo: dict[str, str]) -> None:
    assert " -g " in demo["Accounts"]  # [tier] is no glob for curl
    status, body = shell(demo, demo["Accounts"])
    assert status == 200
    accounts = items(body)
    assert accounts and {a["tier"] for a in accounts} == {"A"}
    revenues = [float(a.get("annual_revenue") or 0) for a in accounts]
    assert revenues == sorted(revenues, reverse=True)


def test_the_event_sets_off_the_chain_the_next_command_shows(demo: dict[str, str]) -> None:
    status, body = shell(demo, demo["Event"])
    assert 200 <= status < 300, body
    assert "CT-0042" not in demo["Event"]  # a device that exists
    deadline = time.monotonic() + 60
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, body = shell(demo, demo["Its run"])
        assert status == 200
        runs = items(body)
        if (
            runs
            and runs[0]["event"]["id"].startswith("paste-")
            and runs[0]["status"]
            in (
                "succeeded",
                "failed",
            )
        ):
            break
        time.sleep(0.5)
    assert runs and runs[0]["event"]["id"].startswith("paste-"), runs
    assert (runs[0]["scenario"], runs[0]["status"]) == ("device-fault-service-chain", "succeeded")
    # Pasted again a second later: a new event, a new run (not a duplicate dropped).
    time.sleep(1.1)
    status, body = shell(demo, demo["Event"])
    assert 200 <= status < 300


def test_the_consented_contact_shows_its_email(demo: dict[str, str]) -> None:
    status, body = shell(demo, demo["Consent"])
    assert status == 200 and body.get("email"), body
    without = demo["Consent"].replace("-H 'X-Purpose: marketing' ", "")
    assert without != demo["Consent"]
    status, body = shell(demo, without)
    assert status == 200 and "email" not in body and body["meta"]["withheld"], body


def readme_gets() -> list[str]:
    """The concrete ``GET /api/v1/…`` examples of the README's "What you can do" table (those
    with no placeholder to fill in)."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## What you can do", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"`GET (/api/v1/[^`\s]+(?: [^`&]+)?(?:&[^`\s]+)*)`", table)
    return [path for path in found if not re.search(r"[{}<>…]", path)]


def test_the_readmes_get_examples_answer_with_data(demo: dict[str, str]) -> None:
    """Each concrete GET in the README's table works against the demo as written, and the
    search example finds something (it once named words no demo record holds)."""
    from urllib.parse import quote

    examples = readme_gets()
    assert any(path.startswith("/api/v1/search?") for path in examples), examples
    base = demo["Console"].split()[0].rstrip("/")
    for path in examples:
        url = base + quote(path, safe="/?=&,[]:")
        status, body = shell(demo, f"curl -s -g -H \"Authorization: Bearer $TOKEN\" '{url}'")
        assert status == 200, (path, status, body)
        if path.startswith("/api/v1/search?"):
            assert items(body), (path, body)
