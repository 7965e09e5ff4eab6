"""The demo's reference systems never outlive it: SIGTERM to ``kindred demo`` stops them
(uvicorn re-raises the signal once it has shut down, which used to kill the demo before it
could), and a reference system started for a parent's lifetime stops by itself when that
parent dies by SIGKILL. Real processes, real signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kindred.reference import PARENT_VARIABLE


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its new parent) is gone for our purpose.
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def wait_until(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_reference_system_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    # A parent that starts the ERP for its own lifetime, reports the ERP's pid, then waits.
    parent_code = f"""
import os, subprocess, sys, time
erp = subprocess.Popen(
    [sys.executable, "-m", "kindred.reference.erp", "--db", {str(tmp_path / "erp.db")!r},
     "--port", "0"],
    stdout=subprocess.PIPE, text=True,
    env={{**os.environ, {PARENT_VARIABLE!r}: str(os.getpid())}},
)
print(erp.stdout.readline().strip(), erp.pid, flush=True)
time.sleep(120)
"""
    with subprocess.Popen(
        [sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        line = parent.stdout.readline().split()
        assert line[:2] == ["listening", "on"], line
        erp = int(line[-1])
        assert alive(erp)
        parent.kill()  # SIGKILL: no handler, no cleanup of its own
    assert wait_until(lambda: not alive(erp), 10), "the ERP outlived its parent"


def test_sigterm_to_the_demo_stops_its_reference_systems(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "KINDRED_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "KINDRED_PASSWORD_TIME_COST": "1",
        "KINDRED_PASSWORD_MEMORY_KIB": "1024",
    }
    port = free_port()
    with subprocess.Popen(
        [
            str(Path(sys.executable).with_name("kindred")),
            "demo",
            "-n",
            "20",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        cwd=tmp_path,
    ) as demo:
        assert demo.stdout is not None
        output = []
        try:
            for line in demo.stdout:
                output.append(line)
                if "serving on" in line:
                    break
            assert any("serving on" in line for line in output), "".join(output[-20:])
            # The line comes once the server answers: acting on it at once finds it up.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                assert answer.status == 200
            started = children(demo.pid)
            assert len(started) == 4, started  # the four reference systems
            demo.send_signal(signal.SIGTERM)
            assert demo.wait(timeout=30) == 128 + signal.SIGTERM
            assert wait_until(lambda: not any(alive(pid) for pid in started), 15), [
                pid for pid in started if alive(pid)
            ]
        finally:
            if demo.poll() is None:
                demo.kill()


def test_serving_on_a_taken_port_says_so_and_exits_3(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(Path(sys.executable).with_name("kindred")), "serve", "--port", str(port)],
            env={**os.environ, "KINDRED_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"},
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "address already in use" in result.stderr
    assert "serving on" not in result.stdout  # never announced
