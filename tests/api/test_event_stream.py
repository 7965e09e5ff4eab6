"""The live tail of the event log, GET /api/v1/events/stream (issue 17, item 6), against a real
``kindred serve`` (an endless response needs a real server: the in-process clients collect
whole bodies).

The stream passes the checks of GET /api/v1/events: only readers of the log get it, and each
event's data is redacted for the reader exactly as the log's own read shows it; it starts
from now (or after a position), filters by type and key, sends heartbeats, and ends — with an
``end`` message — when the server is asked to stop, instead of holding the shutdown up.
Absence is asserted only after a later marker event arrived (events arrive in log order).
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kindred.cli.commands import DEMO_PASSWORD
from tests.live_server import live_server

# A safety net against a hang, never a timing assertion.
PATIENCE = 60
STREAM = "/api/v1/events/stream"


class Server:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.tokens: dict[str, str] = {}

    def token(self, email: str) -> str:
        if email not in self.tokens:
            form = urllib.parse.urlencode({"username": email, "password": DEMO_PASSWORD}).encode()
            request = urllib.request.Request(
                f"{self.base_url}/api/v1/auth/token",
                data=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            with urllib.request.urlopen(request, timeout=PATIENCE) as answer:
                self.tokens[email] = str(json.loads(answer.read())["access_token"])
        return self.tokens[email]

    def call(self, method: str, path: str, email: str, body: Any = None, **headers: str) -> Any:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token(email)}",
                "Content-Type": "application/json",
                **headers,
            },
        )
        with urllib.request.urlopen(request, timeout=PATIENCE) as answer:
            return json.loads(answer.read())

    def publish(self, event: dict[str, Any]) -> dict[str, Any]:
        stored = self.call(
            "POST",
            "/api/v1/events",
            ADMIN,
            event,
            **{"Content-Type": "application/cloudevents+json"},
        )
        return dict(stored["events"][0])

    def refusal(self, path: str, token: str | None) -> tuple[int, str, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.base_url + path, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=PATIENCE)
        error = refused.value
        return error.code, error.headers["content-type"], json.loads(error.read())


class Stream:
    """A stream read in a thread; its messages ({event, id, data}) come through a queue."""

    def __init__(self, server: Server, email: str, query: str = "", **headers: str) -> None:
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        request = urllib.request.Request(
            f"{server.base_url}{STREAM}?{query}",
            headers={"Authorization": f"Bearer {server.token(email)}", **headers},
        )
        self.response = urllib.request.urlopen(request, timeout=PATIENCE)
        self.status = self.response.status
        self.content_type = self.response.headers["content-type"]
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        message: dict[str, Any] = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if message:
                        message["data"] = json.loads(message["data"])
                        self.messages.put(message)
                    message = {}
                    continue
                field, _, value = line.partition(": ")
                message[field] = value
        except Exception:  # closed by close(): http.client raises what it may
            pass
        finally:
            self.ended.set()
            self.messages.put(None)

    def next(self) -> dict[str, Any] | None:
        """The next message; None once the stream has ended."""
        return self.messages.get(timeout=PATIENCE)

    def until(self, found: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Every message up to and including the first that ``found`` accepts."""
        seen: list[dict[str, Any]] = []
        while True:
            message = self.next()
            assert message is not None, f"the stream ended first: {seen}"
            seen.append(message)
            if found(message):
                return seen

    def close(self) -> None:
        self.response.close()


ADMIN = "admin@kindred.demo"
ANALYST = "analyst@kindred.demo"
SALES = "sales.east@kindred.demo"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with live_server(tmp_path_factory.mktemp("stream"), customers=5) as (base_url, _):
        yield Server(base_url)


def heartbeat_event(device: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"hb-{uuid.uuid4()}",
        "source": "urn:test:devices",
        "type": "iot.device.heartbeat",
        "partitionkey": device,
        "data": {"device_id": device, "battery_pct": 50},
    }


def birthday_event(contact: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"bd-{uuid.uuid4()}",
        "source": "urn:test:scheduler",
        "type": "customer.birthday.upcoming",
        "data": {"contact_id": contact, "birthday": "1980-05-14", "days_left": 3},
    }


def is_event(event_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["event"] == "event" and m["data"]["event"]["id"] == event_id


def test_a_reader_sees_new_events_redacted_as_the_log_shows_them(server: Server) -> None:
    contact = server.call(
        "POST",
        "/api/v1/objects/contact/records",
        ADMIN,
        {"last_name": "Wu", "birthday": "1980-05-14"},
    )
    before = server.publish(heartbeat_event("dev-before"))  # stored before the stream opens
    stream = Stream(server, ANALYST, "type=customer.birthday.upcoming&heartbeat=1")
    try:
        assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
        ready = stream.next()
        assert ready is not None and ready["event"] == "ready"
        filtered_out = server.publish(heartbeat_event("dev-1"))
        marker = birthday_event(contact["id"])
        stored = server.publish(marker)
        seen = stream.until(is_event(marker["id"]))
    finally:
        stream.close()
    events = [m for m in seen if m["event"] == "event"]
    # Only the marker: not the event stored before the stream began, not the other type.
    assert [m["data"]["event"]["id"] for m in events] == [marker["id"]]
    assert before["position"] not in [m["id"] for m in events]
    assert filtered_out["position"] not in [m["id"] for m in events]
    shown = events[0]
    assert shown["id"] == stored["position"] == shown["data"]["position"]
    # The analyst role hides customers' personal data: the birthday stays out of the stream,
    # exactly as the log's own read shows the event to them.
    data = shown["data"]["event"]["data"]
    assert "birthday" not in data and data["days_left"] == 3
    assert data["meta"]["withheld"] == ["birthday"]
    logged = server.call("GET", f"/api/v1/events/{stored['position']}", ANALYST)
    assert shown["data"] == logged


def test_key_filter_heartbeats_and_resuming_after_a_position(server: Server) -> None:
    stream = Stream(server, ADMIN, "key=dev-B&heartbeat=1")
    try:
        assert stream.next()["event"] == "ready"  # type: ignore[index]
        other = server.publish(heartbeat_event("dev-A"))
        wanted = server.publish(heartbeat_event("dev-B"))
        seen = stream.until(lambda m: m["event"] == "event")
        assert seen[-1]["id"] == wanted["position"]
        assert seen[-1]["data"]["event"]["partitionkey"] == "dev-B"
        beat = stream.until(lambda m: m["event"] == "heartbeat")[-1]
        # The heartbeat says how far the stream has read (past the dev-A event too).
        assert int(beat["data"]["position"]) >= int(wanted["position"])
    finally:
        stream.close()
    # Resuming after the dev-A event (as an SSE client does with Last-Event-ID) delivers what
    # was stored after it, though it was stored before this stream opened.
    resumed = Stream(server, ADMIN, "heartbeat=1", **{"Last-Event-ID": other["position"]})
    try:
        assert resumed.next()["data"]["position"] == other["position"]  # type: ignore[index]
        first = resumed.until(lambda m: m["event"] == "event")[-1]
    finally:
        resumed.close()
    assert first["id"] == wanted["position"]


def test_only_readers_of_the_log_get_the_stream(server: Server) -> None:
    status, media, body = server.refusal(STREAM, server.token(SALES))
    assert (status, media) == (403, "application/problem+json")
    assert "reading the event log" in body["detail"]
    status, media, _ = server.refusal(STREAM, None)
    assert (status, media) == (401, "application/problem+json")
    status, media, body = server.refusal(f"{STREAM}?after=not-a-position", server.token(ADMIN))
    assert (status, media) == (400, "application/problem+json")
    status, _, body = server.refusal(f"{STREAM}?heartbeat=0", server.token(ADMIN))
    assert status == 422 and body["errors"]


def test_open_streams_end_when_the_server_stops(tmp_path: Path) -> None:
    """SIGTERM with streams open: each gets an ``end`` message and its response ends, and the
    server exits (live_server's SIGTERM and wait fail the test if it hung); a client that went
    away before does not hold it up either."""
    with live_server(tmp_path, customers=1) as (base_url, _):
        server = Server(base_url)
        gone = Stream(server, ADMIN, "heartbeat=1")
        assert gone.next()["event"] == "ready"  # type: ignore[index]
        gone.close()
        stream = Stream(server, ADMIN, "heartbeat=1")
        assert stream.next()["event"] == "ready"  # type: ignore[index]
        marker = server.publish(heartbeat_event("dev-stop"))
        stream.until(lambda m: m.get("id") == marker["position"])
    # The block's end sent SIGTERM and waited for the process to exit.
    rest = []
    while (message := stream.next()) is not None:
        rest.append(message)
    assert rest and rest[-1]["event"] == "end"
    assert rest[-1]["data"]["position"] == marker["position"]
    assert stream.ended.is_set()
