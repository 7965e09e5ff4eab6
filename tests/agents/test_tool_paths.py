"""A tool argument is one path segment: it cannot walk to another path of the business system
(a model or an event may have written it). Against the real ERP reference service."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from kindred.agents.tools import (
    ReleaseIn,
    ReserveIn,
    ToolContext,
    release_stock,
    reserve_stock,
    segment,
)
from kindred.common.failures import ActionFailed
from tests.agents.conftest import ok


def context(session: aiohttp.ClientSession, erp: str, key: str) -> ToolContext:
    return ToolContext(session, {"inventory": erp}, key, time.monotonic() + 10)


def test_a_reservation_id_cannot_reach_another_path(erp: str) -> None:
    async def go() -> tuple[str, Any]:
        async with aiohttp.ClientSession() as session:
            held = await reserve_stock(
                context(session, erp, "k-1"),
                ReserveIn(sku="PM-SPO2-03", quantity=1, warehouse="WH-SH"),
            )
            reservation = held["id"] if isinstance(held, dict) else held.id
            # Unescaped, this path resolves to /api/reservations/<id> and releases it.
            walked = f"../reservations/{reservation}"
            with pytest.raises(ActionFailed):
                await release_stock(context(session, erp, "k-2"), ReleaseIn(reservation=walked))
            for dots in ("..", "."):
                with pytest.raises(ActionFailed) as refused:
                    await release_stock(context(session, erp, "k-3"), ReleaseIn(reservation=dots))
                assert refused.value.code == "invalid-argument"
            return reservation, None

    reservation, _ = asyncio.run(go())
    assert ok(erp, "GET", f"/api/reservations/{reservation}")["status"] != "released"
    assert segment("a/b?c#d") == "a%2Fb%3Fc%23d"
