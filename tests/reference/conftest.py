"""Helpers for the reference services: each runs as its own process, tests talk HTTP to it.

A service is started the way operators and ``kindred demo`` start it
(``python -m kindred.reference.<name> --port 0 …``); the test reads the announced URL and,
at the end, checks that the service shut down cleanly on SIGTERM.
"""

from __future__ import annotations

import contextlib
import select
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson

TODAY = date(2030, 1, 14)  # every service's calendar is pinned to this day


@contextlib.contextmanager
def running(module: str, db: Path, *extra: str, today: date | None = TODAY) -> Iterator[str]:
    """``python -m kindred.reference.<module>`` as a subprocess; yields its base URL."""
    command = [sys.executable, "-m", f"kindred.reference.{module}", "--db", str(db)]
    command += ["--port", "0", *extra]
    if today is not None:
        command += ["--today", today.isoformat()]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, f"the reference {module} service did not start within 20 s"
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        yield line.removeprefix("listening on ")
    finally:
        process.terminate()
        try:
            returncode = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        process.stdout.close()
    assert returncode == 0, f"the reference {module} service did not shut down cleanly"


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    params: dict[str, Any] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """A plain HTTP request; returns (status, parsed JSON body). Every answer of these
    services, refusals included, must be JSON — a non-JSON body fails the test here."""
    if params:
        path += "?" + urllib.parse.urlencode(params)
    data = raw if raw is not None else (None if body is None else orjson.dumps(body))
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers.get_content_type() == "application/json"
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            assert error.headers.get_content_type() == "application/json"
            return error.code, orjson.loads(error.read())


def ok(base: str, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
    status, result = call(base, method, path, body, **kwargs)
    assert 200 <= status < 300, (status, result)
    return result


def refused(
    base: str, method: str, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, str, dict[str, Any]]:
    """(status, error code, whole body) of a request that must fail."""
    status, result = call(base, method, path, body, **kwargs)
    assert status >= 400, (status, result)
    assert isinstance(result, dict), result
    assert set(result) >= {"error", "message"}, result
    assert isinstance(result["message"], str) and result["message"], result
    return status, result["error"], result


def check_forced_failures(base: str, path: str) -> None:
    """The shared ``/_admin/fail-next`` contract, against one ``/api`` path of a service."""
    assert ok(base, "POST", "/_admin/fail-next", {"status": 503, "count": 2}) == {
        "status": 503,
        "count": 2,
        "delay": 0,
    }
    assert refused(base, "GET", path)[:2] == (503, "forced_failure")
    assert refused(base, "GET", path)[:2] == (503, "forced_failure")
    assert call(base, "GET", path)[0] == 200
    ok(base, "POST", "/_admin/fail-next", {"status": 429, "count": 3})
    assert refused(base, "GET", path)[:2] == (429, "forced_failure")
    ok(base, "POST", "/_admin/fail-next", {"count": 0})  # clears
    assert call(base, "GET", path)[0] == 200
    # Admin calls are never failed, so a test can always set the world up.
    ok(base, "POST", "/_admin/fail-next", {"status": 500, "count": 1})
    ok(base, "POST", "/_admin/fail-next", {"status": 500, "count": 1})
    assert refused(base, "GET", path)[:2] == (500, "forced_failure")
    # With only a delay the call is handled normally and answered late.
    ok(base, "POST", "/_admin/fail-next", {"delay": 0.4})
    started = time.monotonic()
    assert call(base, "GET", path)[0] == 200
    assert time.monotonic() - started >= 0.4
    for bad in ({"status": 200}, {"count": -1}, {"delay": 61}, {"status": True}, [1]):
        assert refused(base, "POST", "/_admin/fail-next", bad)[:2] == (400, "bad_request")
    assert call(base, "GET", path)[0] == 200
