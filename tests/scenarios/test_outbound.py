"""Webhook and HTTP steps reach public addresses only, unless an operator allows a host or
network: a scenario cannot make the server call its own loopback services, the private
network or a cloud metadata endpoint — and a refused call sends nothing at all."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from kindred.common.failures import ActionFailed
from kindred.config import Settings
from kindred.scenarios.connectors import http_call
from kindred.scenarios.executors import webhook
from kindred.scenarios.messaging import OutboundPolicy
from tests.scenarios.test_connectors import fails, run, step


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://192.168.0.10:8080/",
    ],
)
def test_private_destinations_are_refused(url: str) -> None:
    error = fails(OutboundPolicy().resolve(URL(url)))
    assert error.code == "blocked-destination" and not error.retryable
    assert "KINDRED_SCENARIO_OUTBOUND_ALLOW" in error.detail


def test_allowed_hosts_and_networks_and_public_addresses_pass() -> None:
    policy = OutboundPolicy(("10.0.0.0/8", "localhost"))
    assert run(policy.resolve(URL("http://10.1.2.3/")))[0]["host"] == "10.1.2.3"
    assert {r["host"] for r in run(policy.resolve(URL("http://localhost:9/")))} <= {
        "127.0.0.1",
        "::1",
    }
    assert run(OutboundPolicy().resolve(URL("https://93.184.216.34/")))[0]["port"] == 443


def kindred_with(allow: list[str]) -> Any:
    return types.SimpleNamespace(
        settings=Settings(mode="test", scenario_outbound_allow=allow, scenario_secrets={})
    )


def test_a_refused_webhook_sends_nothing_and_an_allowed_one_arrives() -> None:
    received: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response({"ok": True})

    async def main() -> tuple[ActionFailed | None, Any]:
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/hook"
        params = {"url": url, "payload": {"event": "fault"}}
        try:
            refused = None
            try:
                await webhook(kindred_with([]), params, step())
            except ActionFailed as error:
                refused = error
            # The same for HTTP connector steps.
            with pytest.raises(ActionFailed):
                await http_call(
                    kindred_with([]), {"url": url, "method": "POST", "body": {}}, step()
                )
            allowed = await webhook(kindred_with(["127.0.0.1"]), params, step())
        finally:
            await runner.cleanup()
        return refused, allowed

    refused, allowed = asyncio.run(main())
    assert refused is not None and refused.code == "blocked-destination"
    assert allowed["status"] == 200
    assert received == [b'{"event":"fault"}']  # only the allowed call arrived
