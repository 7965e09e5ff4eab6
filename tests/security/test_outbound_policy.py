"""SSRF: the outbound policy of webhook and HTTP scenario steps sees through every spelling of
a non-public address — IPv4 in decimal, octal and hex, IPv6 forms that carry an IPv4 address
(IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64, 6to4, Teredo), link-local,
unique-local, site-local, multicast, unspecified and documentation addresses — and a refused
step opens no connection at all.

The attack this reproduces: ``::127.0.0.1`` (IPv4-compatible), ``64:ff9b::7f00:1`` (NAT64) and
``2002:7f00:1::`` (6to4) were treated as public because Python's ``is_global`` looks at the
IPv6 address only, not at the IPv4 address it carries.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable
from typing import Any

import pytest
from yarl import URL

from kindred.common.failures import ActionFailed
from kindred.config import Settings
from kindred.scenarios.connectors import http_call
from kindred.scenarios.executors import webhook
from kindred.scenarios.messaging import OutboundPolicy
from kindred.scenarios.steps import StepContext

# (URL, a phrase the refusal must contain: it names what the address really is)
REFUSED = [
    # IPv4 loopback, however it is spelled (the resolver decodes the odd forms)
    ("http://127.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://2130706433/", "loopback"),  # decimal
    ("http://0x7f000001/", "loopback"),  # hex
    ("http://017700000001/", "loopback"),  # octal
    ("http://0177.0.0.1/", "loopback"),  # dotted octal
    ("http://0x7f.0x0.0x0.0x1/", "loopback"),  # dotted hex
    ("http://127.000.000.001/", "loopback"),  # zero-padded
    ("http://127\u30020\u30020\u30021/", "loopback"),  # ideographic full stops (IDNA)
    ("http://localhost/", "loopback"),
    # unspecified: connecting to it reaches the local host
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://[::1]/", "loopback"),
    # IPv4-mapped: the socket connects to the IPv4 address itself
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),
    ("http://[0:0:0:0:0:ffff:7f00:1]/", "127.0.0.1"),
    ("http://[::ffff:169.254.169.254]/", "169.254.169.254"),
    # IPv4-compatible (deprecated): refused whatever it carries
    ("http://[::127.0.0.1]/", "127.0.0.1"),
    ("http://[::169.254.169.254]/", "IPv4-compatible"),
    ("http://[::8.8.8.8]/", "IPv4-compatible"),
    # IPv4-translated (SIIT)
    ("http://[::ffff:0:127.0.0.1]/", "IPv4-translated"),
    # NAT64, well-known prefix: the translator connects to the embedded IPv4 address
    ("http://[64:ff9b::127.0.0.1]/", "127.0.0.1"),
    ("http://[64:ff9b::a9fe:a9fe]/", "169.254.169.254"),
    ("http://[64:ff9b::10.0.0.1]/", "10.0.0.1"),
    # NAT64, local-use prefix: where the IPv4 address sits is the operator's choice
    ("http://[64:ff9b:1::a00:1]/", "local-use NAT64"),
    ("http://[64:ff9b:1::808:808]/", "local-use NAT64"),
    # 6to4 and Teredo: tunnels whose embedded IPv4 address names a relay, not the host
    ("http://[2002:7f00:1::]/", "6to4"),
    ("http://[2002:a9fe:a9fe::1]/", "169.254.169.254"),
    ("http://[2002:808:808::1]/", "6to4"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "Teredo"),
    # link-local, the cloud metadata endpoint among them
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25lo]/", "link-local"),
    # private, shared (carrier-grade NAT), unique-local and site-local
    ("http://10.0.0.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "shared"),
    ("http://[fd00::1]/", "unique-local"),
    ("http://[fec0::1]/", "site-local"),
    # multicast (Python counts some of it as global)
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[ff0e::1]/", "multicast"),
    # broadcast, reserved, benchmarking, documentation, discard-only
    ("http://255.255.255.255/", "reserved"),
    ("http://240.0.0.1/", "reserved"),
    ("http://198.18.0.1/", "special-purpose"),
    ("http://192.0.2.1/", "special-purpose"),
    ("http://[2001:db8::1]/", "special-purpose"),
    ("http://[100::1]/", "special-purpose"),
]

# Public destinations, including embedded forms whose IPv4 address is public and is exactly
# where the connection goes (IPv6-only hosts reach IPv4 sites through NAT64 64:ff9b::/96).
ALLOWED = [
    ("http://8.8.8.8/", "8.8.8.8"),
    ("https://93.184.216.34/", "93.184.216.34"),
    ("http://134744072/", "8.8.8.8"),  # the decimal form of 8.8.8.8
    ("http://[2001:4860:4860::8888]/", "2001:4860:4860::8888"),
    ("http://[::ffff:8.8.8.8]/", "::ffff:808:808"),
    ("http://[64:ff9b::8.8.8.8]/", "64:ff9b::808:808"),
]


def run(awaitable: Awaitable[Any]) -> Any:
    async def wrapper() -> Any:
        return await awaitable

    return asyncio.run(wrapper())


def refusal(url: str, policy: OutboundPolicy | None = None) -> ActionFailed:
    with pytest.raises(ActionFailed) as caught:
        run((policy or OutboundPolicy()).resolve(URL(url)))
    return caught.value


@pytest.mark.parametrize(("url", "phrase"), REFUSED, ids=[u for u, _ in REFUSED])
def test_every_form_of_a_non_public_address_is_refused(url: str, phrase: str) -> None:
    error = refusal(url)
    assert error.code == "blocked-destination" and not error.retryable, error
    assert phrase in error.detail, error.detail
    assert "KINDRED_SCENARIO_OUTBOUND_ALLOW" in error.detail


@pytest.mark.parametrize(("url", "address"), ALLOWED, ids=[u for u, _ in ALLOWED])
def test_public_destinations_pass(url: str, address: str) -> None:
    results = run(OutboundPolicy().resolve(URL(url)))
    assert [r["host"] for r in results] == [address]


def test_the_allow_list_names_destinations_not_spellings() -> None:
    loopback = OutboundPolicy(("127.0.0.1",))
    # The IPv4-mapped form is the same destination as the address it carries …
    assert run(loopback.resolve(URL("http://[::ffff:127.0.0.1]/")))[0]["host"] == "::ffff:7f00:1"
    # … a NAT64 or IPv4-compatible form is not (it is the translator's or tunnel's 127.0.0.1).
    for url in ("http://[64:ff9b::7f00:1]/", "http://[::127.0.0.1]/"):
        assert refusal(url, loopback).code == "blocked-destination"
    # An operator who runs a local-use NAT64 prefix allows it explicitly.
    nat64 = OutboundPolicy(("64:ff9b:1::/48",))
    assert run(nat64.resolve(URL("http://[64:ff9b:1::a00:1]/")))[0]["host"] == "64:ff9b:1::a00:1"


# -- a refused step opens no connection ---------------------------------------------------------


class Listener:
    """A real TCP listener on 127.0.0.1 that counts connections and answers each HTTP request
    with ``{"ok": true}``; ``bodies`` are the request bodies it read."""

    def __init__(self) -> None:
        self.connections = 0
        self.bodies: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self.bodies.append(await reader.readexactly(length))
        answer = b'{"ok": true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(answer)).encode() + b"\r\n\r\n" + answer
        )
        await writer.drain()
        writer.close()


def kindred_with(allow: list[str]) -> Any:
    return types.SimpleNamespace(
        settings=Settings(mode="test", scenario_outbound_allow=allow, scenario_secrets={})
    )


def step() -> StepContext:
    return StepContext(
        run_id="run-1",
        step_id="step-1",
        scenario="ssrf",
        version=1,
        chain_depth=0,
        idempotency_key="run-1:step-1",
    )


# Spellings of the listener's own address (or of an address that would reach it).
LOOPBACK_SPELLINGS = [
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "0.0.0.0",
    "[::ffff:127.0.0.1]",
    "[::127.0.0.1]",
    "[::ffff:0:127.0.0.1]",
    "[64:ff9b::127.0.0.1]",
    "[2002:7f00:1::]",
    "localhost",
]


def test_refused_steps_open_no_connection_and_an_allowed_one_arrives() -> None:
    async def main() -> tuple[Listener, list[ActionFailed], Any]:
        listener = Listener()
        port = await listener.start()
        refused: list[ActionFailed] = []
        try:
            nobody = kindred_with([])
            for host in LOOPBACK_SPELLINGS:
                url = f"http://{host}:{port}/hook"
                for attempt in (
                    webhook(nobody, {"url": url, "payload": {"spelling": host}}, step()),
                    http_call(
                        nobody, {"url": url, "method": "POST", "body": {"spelling": host}}, step()
                    ),
                ):
                    try:
                        await attempt
                    except ActionFailed as error:
                        refused.append(error)
            # The positive signal: an allowed request to the same listener arrives.
            control = await webhook(
                kindred_with(["127.0.0.1"]),
                {"url": f"http://127.0.0.1:{port}/hook", "payload": {"control": True}},
                step(),
            )
        finally:
            await listener.stop()
        return listener, refused, control

    listener, refused, control = asyncio.run(main())
    assert control["status"] == 200 and control["body"] == {"ok": True}
    assert len(refused) == 2 * len(LOOPBACK_SPELLINGS)
    assert [e.code for e in refused] == ["blocked-destination"] * len(refused), refused
    # Only the control request reached the listener: the refused ones never connected.
    assert listener.bodies == [b'{"control":true}']
    assert listener.connections == 1
