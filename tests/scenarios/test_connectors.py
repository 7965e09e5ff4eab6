"""The reference ERP service and the connector actions, over real sockets.

The ERP runs as a subprocess (``python -m kindred.reference.erp``) with its calendar pinned,
so delivery windows are exact dates. Each test stocks its own SKUs, so tests share one
server without seeing each other's reservations.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Iterator
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
import pytest

from kindred.common.failures import ActionFailed
from kindred.common.http import MAX_RESPONSE_BYTES
from kindred.scenarios.connectors import http_call, release_inventory, reserve_inventory
from kindred.scenarios.steps import StepContext

TODAY = date(2030, 1, 14)
WAREHOUSES = ["WH-SH", "WH-BJ", "WH-GZ", "WH-CD", "WH-WH", "WH-XA", "WH-SY", "WH-HZ"]


@contextlib.contextmanager
def run_erp(db: Path, *extra: str) -> Iterator[str]:
    """The reference ERP as a subprocess; yields its base URL and checks a clean exit."""
    command = [
        sys.executable,
        "-m",
        "kindred.reference.erp",
        "--db",
        str(db),
        "--port",
        "0",
        "--today",
        TODAY.isoformat(),
        *extra,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the reference ERP did not start within 20 s"
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
    assert returncode == 0, "the reference ERP did not shut down cleanly"


@pytest.fixture(scope="module")
def erp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_erp(tmp_path_factory.mktemp("erp") / "erp.db") as base:
        yield base


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """A plain HTTP request; returns (status, parsed JSON body)."""
    data = raw if raw is not None else (None if body is None else orjson.dumps(body))
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, orjson.loads(error.read())


def ok(base: str, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
    status, result = call(base, method, path, body, **kwargs)
    assert 200 <= status < 300, (status, result)
    return result


def stock(base: str, sku: str, **levels: int) -> None:
    """Set on-hand stock: ``stock(base, "X", SH=3, BJ=1)``."""
    ok(
        base,
        "POST",
        "/_admin/stock",
        [{"warehouse": f"WH-{wh}", "sku": sku, "on_hand": n} for wh, n in levels.items()],
    )


def levels(base: str, sku: str) -> dict[str, tuple[int, int, int]]:
    """(on_hand, reserved, available) per warehouse that has any."""
    rows = ok(base, "GET", f"/api/stock?sku={sku}")
    return {
        r["warehouse"]: (r["on_hand"], r["reserved"], r["available"])
        for r in rows
        if r["on_hand"] or r["reserved"]
    }


def reserve(base: str, key: str, sku: str, quantity: int = 1, **extra: Any) -> tuple[int, Any]:
    return call(
        base, "POST", "/api/reservations", {"sku": sku, "quantity": quantity, **extra}, key=key
    )


def step(key: str = "run-1:step-1") -> StepContext:
    return StepContext(
        run_id="run-1",
        step_id="step-1",
        scenario="restock-ct-tube",
        version=3,
        chain_depth=0,
        idempotency_key=key,
    )


def kindred_at(url: str | None, **settings: Any) -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(inventory_url=url, **settings))


def run(awaitable: Awaitable[Any]) -> Any:
    async def wrapper() -> Any:
        return await awaitable

    return asyncio.run(wrapper())


def fails(awaitable: Awaitable[Any]) -> ActionFailed:
    with pytest.raises(ActionFailed) as caught:
        run(awaitable)
    return caught.value


# -- the reference service --------------------------------------------------------------------


def test_warehouses_are_seeded(erp: str) -> None:
    warehouses = ok(erp, "GET", "/api/warehouses")
    assert [w["id"] for w in warehouses] == WAREHOUSES
    assert warehouses[0] == {"id": "WH-SH", "name": "Shanghai", "region": "East China"}
    assert {w["name"] for w in warehouses} >= {"Beijing", "Xi'an", "Shenyang", "Hangzhou"}


def test_stock_per_warehouse_and_region(erp: str) -> None:
    stock(erp, "T-STOCK", SH=4, HZ=2, BJ=1)
    rows = ok(erp, "GET", "/api/stock?sku=T-STOCK")
    assert [r["warehouse"] for r in rows] == WAREHOUSES  # every node, zeros included
    assert rows[0] == {
        "warehouse": "WH-SH",
        "region": "East China",
        "sku": "T-STOCK",
        "on_hand": 4,
        "reserved": 0,
        "available": 4,
    }
    east = ok(erp, "GET", "/api/stock?sku=T-STOCK&region=east%20china")
    assert [(r["warehouse"], r["available"]) for r in east] == [("WH-SH", 4), ("WH-HZ", 2)]

    status, body = call(erp, "GET", "/api/stock?sku=NOPE")
    assert (status, body["error"]) == (404, "unknown_sku")
    status, body = call(erp, "GET", "/api/stock")
    assert (status, body["error"]) == (400, "bad_request")
    status, body = call(erp, "GET", "/api/stock?sku=T-STOCK&region=Mars")
    assert status == 400 and "East China" in body["message"]


def test_delivery_windows(erp: str) -> None:
    stock(erp, "T-WIN", SH=3, BJ=1)
    ok(
        erp,
        "POST",
        "/_admin/inbound",
        [
            {"warehouse": "WH-BJ", "sku": "T-WIN", "quantity": 1, "in_days": 5},
            {"warehouse": "WH-BJ", "sku": "T-WIN", "quantity": 4, "arrives_on": "2030-01-25"},
        ],
    )
    day = TODAY.toordinal()

    def iso(offset: int) -> str:
        return date.fromordinal(day + offset).isoformat()

    windows = ok(erp, "GET", "/api/delivery-windows?sku=T-WIN&quantity=2&region=North%20China")
    assert windows == [
        # Shanghai ships today; about 1,070 km to Beijing is three days.
        {
            "warehouse": "WH-SH",
            "region": "East China",
            "earliest": iso(3),
            "latest": iso(5),
            "available": 3,
            "source": "stock",
            "transit_days": 3,
        },
        # Beijing has 1 now; the shipment in five days makes 2, delivered locally next day.
        {
            "warehouse": "WH-BJ",
            "region": "North China",
            "earliest": iso(6),
            "latest": iso(7),
            "available": 2,
            "source": "inbound",
            "transit_days": 1,
        },
    ]
    # Four only from Beijing, once the second shipment is in (11 days out).
    [only] = ok(erp, "GET", "/api/delivery-windows?sku=T-WIN&quantity=4&region=North%20China")
    assert (only["warehouse"], only["earliest"], only["available"]) == ("WH-BJ", iso(12), 6)
    assert ok(erp, "GET", "/api/delivery-windows?sku=T-WIN&quantity=7") == []
    # Without a region every window is the local one.
    local = ok(erp, "GET", "/api/delivery-windows?sku=T-WIN&quantity=1")
    assert [(w["warehouse"], w["earliest"]) for w in local] == [
        ("WH-SH", iso(1)),
        ("WH-BJ", iso(1)),
    ]
    status, _ = call(erp, "GET", "/api/delivery-windows?sku=T-WIN&quantity=0")
    assert status == 400
    status, _ = call(erp, "GET", "/api/delivery-windows?sku=NOPE&quantity=1")
    assert status == 404


def test_inbound_that_has_arrived_is_booked_into_stock(erp: str) -> None:
    stock(erp, "T-ARRIVE", GZ=1)
    ok(
        erp,
        "POST",
        "/_admin/inbound",
        {"warehouse": "WH-GZ", "sku": "T-ARRIVE", "quantity": 3, "in_days": 0},
    )
    assert levels(erp, "T-ARRIVE") == {"WH-GZ": (4, 0, 4)}


def test_reservation_reserves_stock(erp: str) -> None:
    stock(erp, "T-RES", SH=5)
    status, reservation = reserve(erp, "k-res-1", "T-RES", 2, reference="SO-2030-0001")
    assert status == 201
    assert reservation["id"].startswith("RSV-")
    assert {k: reservation[k] for k in ("sku", "quantity", "warehouse", "status", "reference")} == {
        "sku": "T-RES",
        "quantity": 2,
        "warehouse": "WH-SH",
        "status": "reserved",
        "reference": "SO-2030-0001",
    }
    assert levels(erp, "T-RES") == {"WH-SH": (5, 2, 3)}
    assert ok(erp, "GET", f"/api/reservations/{reservation['id']}") == reservation


def test_reservation_picks_the_warehouse(erp: str) -> None:
    stock(erp, "T-PICK", SH=2, HZ=5, BJ=9, WH=3)

    def where(key: str, quantity: int, **extra: Any) -> str:
        status, body = reserve(erp, key, "T-PICK", quantity, **extra)
        assert status == 201, body
        return str(body["warehouse"])

    assert where("pick-1", 1, warehouse="WH-SH") == "WH-SH"  # as asked
    assert where("pick-2", 1, region="East China") == "WH-HZ"  # most available in the region
    # No East China node has 6: the one node with enough, wherever it is.
    assert where("pick-3", 6, region="East China") == "WH-BJ"
    assert where("pick-4", 3, region="Central China") == "WH-WH"
    assert where("pick-5", 1) == "WH-HZ"  # no region: most available (BJ 3, HZ 4 left)
    status, body = reserve(erp, "pick-6", "T-PICK", 2, warehouse="WH-SH")
    assert (status, body["error"], body["available"]) == (409, "insufficient_stock", 1)
    status, body = reserve(erp, "pick-7", "T-PICK", 5)
    assert (status, body["error"], body["available"]) == (409, "insufficient_stock", 3)


def test_reservation_outside_the_region_comes_from_the_nearest_node(erp: str) -> None:
    stock(erp, "T-NEAR", SH=5, GZ=3, XA=2)
    # For Chengdu: Xi'an (about 600 km) before Guangzhou (1,240 km) and Shanghai (1,660 km).
    status, body = reserve(erp, "near-1", "T-NEAR", 2, region="Southwest China")
    assert (status, body["warehouse"]) == (201, "WH-XA")
    status, body = reserve(erp, "near-2", "T-NEAR", 2, region="Southwest China")
    assert (status, body["warehouse"]) == (201, "WH-GZ")


def test_same_key_returns_the_same_reservation(erp: str) -> None:
    stock(erp, "T-IDEM", CD=3)
    first_status, first = reserve(erp, "k-idem", "T-IDEM", 2)
    again_status, again = reserve(erp, "k-idem", "T-IDEM", 2)
    assert (first_status, again_status) == (201, 200)
    assert again == first
    assert levels(erp, "T-IDEM") == {"WH-CD": (3, 2, 1)}
    status, body = reserve(erp, "k-idem", "T-IDEM", 1)
    assert (status, body["error"]) == (422, "idempotency_key_reused")
    assert levels(erp, "T-IDEM") == {"WH-CD": (3, 2, 1)}


def test_concurrent_reservations_for_the_last_units(erp: str) -> None:
    stock(erp, "T-LAST", XA=7)

    async def race() -> list[tuple[int, Any]]:
        async with aiohttp.ClientSession() as session:

            async def one(n: int) -> tuple[int, Any]:
                async with session.post(
                    f"{erp}/api/reservations",
                    json={"sku": "T-LAST", "quantity": 1},
                    headers={"Idempotency-Key": f"last-{n}"},
                ) as response:
                    return response.status, await response.json()

            return await asyncio.gather(*(one(n) for n in range(20)))

    results = asyncio.run(race())
    made = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status == 409]
    assert len(made) == 7 and len(refused) == 13
    assert len({r["id"] for r in made}) == 7
    assert all(body["error"] == "insufficient_stock" for body in refused)
    assert levels(erp, "T-LAST") == {"WH-XA": (7, 7, 0)}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"quantity": 1}, "'sku' is required"),
        ({"sku": "T-BAD"}, "'quantity' is required"),
        ({"sku": "T-BAD", "quantity": 0}, "'quantity'"),
        ({"sku": "T-BAD", "quantity": "2"}, "not a string"),
        ({"sku": "T-BAD", "quantity": 1.5}, "'quantity'"),
        ({"sku": "T-BAD", "quantity": 1, "colour": "red"}, "unknown fields: colour"),
        ({"sku": "T-BAD", "quantity": 1, "region": "Atlantis"}, "unknown region"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_reservation_bodies(erp: str, body: Any, fragment: str) -> None:
    status, answer = call(erp, "POST", "/api/reservations", body, key="k-bad")
    assert status == 400, answer
    assert fragment in answer["message"]


def test_reservation_refusals(erp: str) -> None:
    stock(erp, "T-REF", SY=1)
    status, body = call(erp, "POST", "/api/reservations", {"sku": "T-REF", "quantity": 1})
    assert (status, body["error"]) == (400, "idempotency_key_required")
    status, body = call(erp, "POST", "/api/reservations", raw=b"{not json", key="k-ref-0")
    assert (status, body["error"]) == (400, "bad_request")
    status, body = reserve(erp, "k-ref-1", "NO-SUCH-SKU")
    assert (status, body["error"]) == (404, "unknown_sku")
    status, body = reserve(erp, "k-ref-2", "T-REF", warehouse="WH-XX")
    assert (status, body["error"]) == (404, "unknown_warehouse")
    status, body = reserve(erp, "k-ref-3", "T-REF", 2)
    assert (status, body) == (
        409,
        {
            "error": "insufficient_stock",
            "message": "no warehouse has 2 of T-REF available (at most 1 in one warehouse)",
            "available": 1,
        },
    )
    assert levels(erp, "T-REF") == {"WH-SY": (1, 0, 1)}  # nothing was reserved


def test_release(erp: str) -> None:
    stock(erp, "T-REL", GZ=2)
    _, reservation = reserve(erp, "k-rel", "T-REL", 2)
    assert levels(erp, "T-REL") == {"WH-GZ": (2, 2, 0)}
    released = ok(erp, "DELETE", f"/api/reservations/{reservation['id']}")
    assert released["status"] == "released" and released["id"] == reservation["id"]
    assert levels(erp, "T-REL") == {"WH-GZ": (2, 0, 2)}
    again = ok(erp, "DELETE", f"/api/reservations/{reservation['id']}")
    assert again == released
    assert levels(erp, "T-REL") == {"WH-GZ": (2, 0, 2)}  # not released twice
    status, body = call(erp, "DELETE", "/api/reservations/RSV-999999")
    assert (status, body["error"]) == (404, "unknown_reservation")


def test_admin_refuses_stock_below_reserved(erp: str) -> None:
    stock(erp, "T-ADMIN", WH=3)
    reserve(erp, "k-admin", "T-ADMIN", 2)
    status, body = call(
        erp, "POST", "/_admin/stock", {"warehouse": "WH-WH", "sku": "T-ADMIN", "on_hand": 1}
    )
    assert (status, body["error"]) == (409, "below_reserved")
    status, _ = call(
        erp, "POST", "/_admin/stock", {"warehouse": "WH-ZZ", "sku": "T-ADMIN", "on_hand": 1}
    )
    assert status == 404


def test_forced_failures(erp: str) -> None:
    ok(erp, "POST", "/_admin/fail-next", {"status": 503, "count": 2})
    assert call(erp, "GET", "/api/warehouses")[0] == 503
    status, body = call(erp, "GET", "/api/warehouses")
    assert (status, body["error"]) == (503, "forced_failure")
    assert call(erp, "GET", "/api/warehouses")[0] == 200


def test_state_survives_a_restart_and_demo_seeds_once(tmp_path: Path) -> None:
    db = tmp_path / "erp.db"
    with run_erp(db, "--seed-demo") as base:
        skus = {s["sku"] for s in ok(base, "GET", "/api/skus")}
        assert {"CT-TUBE-01", "MRI-COIL-8", "US-PROBE-C5"} <= skus
        assert levels(base, "CT-TUBE-01") == {
            "WH-SH": (2, 0, 2),
            "WH-BJ": (1, 0, 1),
            "WH-CD": (1, 0, 1),
        }
        status, reservation = reserve(base, "k-restart", "CT-TUBE-01", 2, region="East China")
        assert (status, reservation["warehouse"]) == (201, "WH-SH")
        # Guangzhou has none now; its inbound tube lands in nine days.
        windows = ok(
            base, "GET", "/api/delivery-windows?sku=CT-TUBE-01&quantity=2&region=South%20China"
        )
        assert [(w["warehouse"], w["source"]) for w in windows] == [("WH-GZ", "inbound")]
        assert windows[0]["earliest"] == (TODAY + timedelta(days=10)).isoformat()
    with run_erp(db, "--seed-demo") as base:
        assert ok(base, "GET", f"/api/reservations/{reservation['id']}") == reservation
        assert levels(base, "CT-TUBE-01")["WH-SH"] == (2, 2, 0)  # not re-seeded
        assert reserve(base, "k-restart", "CT-TUBE-01", 2, region="East China") == (
            200,
            reservation,
        )
        status, _ = reserve(base, "k-restart-2", "CT-TUBE-01", 2)
        assert status == 409


# -- reserve_inventory ------------------------------------------------------------------------


def test_reserve_inventory_and_retry_with_the_same_step(erp: str) -> None:
    stock(erp, "C-OK", SH=1, HZ=3)
    kindred = kindred_at(erp)
    params = {"sku": "C-OK", "quantity": "2", "region": "East China"}
    first = run(reserve_inventory(kindred, params, step("run-ok:s1")))
    assert {k: first[k] for k in ("sku", "quantity", "warehouse", "status")} == {
        "sku": "C-OK",
        "quantity": 2,
        "warehouse": "WH-HZ",
        "status": "reserved",
    }
    assert first["reference"] == "kindred scenario restock-ct-tube run run-1"
    again = run(reserve_inventory(kindred, params, step("run-ok:s1")))
    assert again["id"] == first["id"]
    assert levels(erp, "C-OK") == {"WH-SH": (1, 0, 1), "WH-HZ": (3, 2, 1)}
    other = run(reserve_inventory(kindred, {**params, "quantity": 1}, step("run-ok:s2")))
    assert other["id"] != first["id"]


def test_reserve_inventory_in_a_warehouse_with_a_reference(erp: str) -> None:
    stock(erp, "C-WH", BJ=2)
    kindred = kindred_at(erp + "/")  # a trailing slash is fine
    result = run(
        reserve_inventory(
            kindred,
            {"sku": "C-WH", "quantity": 2.0, "warehouse": "WH-BJ", "reference": "工单 T-1001"},
            step("run-wh:s1"),
        )
    )
    assert (result["warehouse"], result["reference"]) == ("WH-BJ", "工单 T-1001")


def test_reserve_inventory_insufficient_stock(erp: str) -> None:
    stock(erp, "C-SHORT", CD=1)
    error = fails(
        reserve_inventory(kindred_at(erp), {"sku": "C-SHORT", "quantity": 3}, step("run-short"))
    )
    assert (error.code, error.retryable) == ("insufficient-stock", False)
    assert "C-SHORT" in error.detail and "1 available" in error.detail
    error = fails(
        reserve_inventory(
            kindred_at(erp),
            {"sku": "C-SHORT", "quantity": 2, "warehouse": "WH-CD"},
            step("run-short-2"),
        )
    )
    assert error.code == "insufficient-stock" and "in WH-CD: 1 available" in error.detail


def test_reserve_inventory_unknown_sku_and_warehouse(erp: str) -> None:
    stock(erp, "C-UNK", SH=1)
    error = fails(reserve_inventory(kindred_at(erp), {"sku": "C-NONE", "quantity": 1}, step("u1")))
    assert (error.code, error.retryable) == ("unknown-sku", False)
    error = fails(
        reserve_inventory(
            kindred_at(erp), {"sku": "C-UNK", "quantity": 1, "warehouse": "WH-MARS"}, step("u2")
        )
    )
    assert (error.code, error.retryable) == ("unknown-warehouse", False)


@pytest.mark.parametrize(
    "settings",
    [SimpleNamespace(inventory_url=None), SimpleNamespace(inventory_url=""), SimpleNamespace()],
)
def test_reserve_inventory_unconfigured(settings: SimpleNamespace) -> None:
    kindred = SimpleNamespace(settings=settings)
    error = fails(reserve_inventory(kindred, {"sku": "X", "quantity": 1}, step()))
    assert (error.code, error.retryable) == ("inventory-unconfigured", False)
    assert "KINDRED_INVENTORY_URL" in error.detail


def test_reserve_inventory_bad_url_setting() -> None:
    error = fails(
        reserve_inventory(kindred_at("erp.internal:8600"), {"sku": "X", "quantity": 1}, step())
    )
    assert (error.code, error.retryable) == ("inventory-unconfigured", False)
    assert "KINDRED_INVENTORY_URL" in error.detail


@pytest.mark.parametrize(
    "params",
    [{"quantity": 1}, {"sku": "X", "quantity": 0}, {"sku": "X", "quantity": "two"}, {"sku": "X"}],
)
def test_reserve_inventory_bad_parameters(erp: str, params: dict[str, Any]) -> None:
    error = fails(reserve_inventory(kindred_at(erp), params, step()))
    assert (error.code, error.retryable) == ("payload-invalid", False)


def test_reserve_inventory_503_is_retryable_and_the_retry_reserves_once(erp: str) -> None:
    stock(erp, "C-503", WH=2)
    kindred = kindred_at(erp)
    params = {"sku": "C-503", "quantity": 1}
    ok(erp, "POST", "/_admin/fail-next", {"status": 503, "count": 1})
    error = fails(reserve_inventory(kindred, params, step("run-503")))
    assert (error.code, error.retryable) == ("http-5xx", True)
    assert levels(erp, "C-503") == {"WH-WH": (2, 0, 2)}
    result = run(reserve_inventory(kindred, params, step("run-503")))
    assert result["status"] == "reserved"
    assert levels(erp, "C-503") == {"WH-WH": (2, 1, 1)}


def test_reserve_inventory_timeout_is_retryable_and_the_retry_finds_the_reservation(
    erp: str,
) -> None:
    stock(erp, "C-SLOW", SH=3)
    params = {"sku": "C-SLOW", "quantity": 1}
    # The ERP reserves, then answers after 1 s; the action gives up after 0.3 s.
    ok(erp, "POST", "/_admin/fail-next", {"delay": 1.0, "count": 1})
    error = fails(reserve_inventory(kindred_at(erp, inventory_timeout=0.3), params, step("slow")))
    assert (error.code, error.retryable) == ("timeout", True)
    assert levels(erp, "C-SLOW") == {"WH-SH": (3, 1, 2)}  # it did happen
    result = run(reserve_inventory(kindred_at(erp), params, step("slow")))
    assert levels(erp, "C-SLOW") == {"WH-SH": (3, 1, 2)}  # and only once
    assert ok(erp, "GET", f"/api/reservations/{result['id']}")["sku"] == "C-SLOW"


def test_reserve_inventory_unreachable_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = fails(
        reserve_inventory(
            kindred_at(f"http://127.0.0.1:{port}"), {"sku": "X", "quantity": 1}, step()
        )
    )
    assert (error.code, error.retryable) == ("http-unreachable", True)


def test_release_inventory(erp: str) -> None:
    stock(erp, "C-REL", GZ=1)
    kindred = kindred_at(erp)
    made = run(reserve_inventory(kindred, {"sku": "C-REL", "quantity": 1}, step("rel")))
    released = run(release_inventory(kindred, {"reservation": made["id"]}, step("rel:undo")))
    assert (released["id"], released["status"]) == (made["id"], "released")
    assert levels(erp, "C-REL") == {"WH-GZ": (1, 0, 1)}
    error = fails(release_inventory(kindred, {"reservation": "RSV-000000"}, step("rel:2")))
    assert (error.code, error.retryable) == ("unknown-reservation", False)


# -- http_call --------------------------------------------------------------------------------


def test_http_call_get(erp: str) -> None:
    stock(erp, "H-GET", SH=4)
    result = run(http_call(None, {"url": f"{erp}/api/stock?sku=H-GET&region=East%20China"}, step()))
    assert result["status"] == 200
    assert [(r["warehouse"], r["available"]) for r in result["body"]] == [
        ("WH-SH", 4),
        ("WH-HZ", 0),
    ]


def test_http_call_post_is_idempotent_per_step(erp: str) -> None:
    stock(erp, "H-POST", BJ=2)
    params = {
        "method": "post",
        "url": f"{erp}/api/reservations",
        "body": {"sku": "H-POST", "quantity": 1},
        "headers": {"X-Trace": "abc"},
    }
    first = run(http_call(None, params, step("http-post")))
    again = run(http_call(None, params, step("http-post")))
    assert (first["status"], again["status"]) == (201, 200)
    assert again["body"]["id"] == first["body"]["id"]
    assert levels(erp, "H-POST") == {"WH-BJ": (2, 1, 1)}
    deleted = run(
        http_call(
            None,
            {"method": "DELETE", "url": f"{erp}/api/reservations/{first['body']['id']}"},
            step("d"),
        )
    )
    assert deleted["body"]["status"] == "released"


def test_http_call_4xx_is_not_retryable(erp: str) -> None:
    error = fails(http_call(None, {"url": f"{erp}/api/reservations/RSV-404404"}, step()))
    assert (error.code, error.retryable) == ("http-4xx", False)
    assert "404" in error.detail and "unknown_reservation" in error.detail
    error = fails(http_call(None, {"url": f"{erp}/no/such/route"}, step()))
    assert (error.code, error.retryable) == ("http-4xx", False)
    stock(erp, "H-409", SH=1)
    error = fails(
        http_call(
            None,
            {
                "method": "POST",
                "url": f"{erp}/api/reservations",
                "body": {"sku": "H-409", "quantity": 9},
            },
            step("h409"),
        )
    )
    assert (error.code, error.retryable) == ("http-4xx", False)


@pytest.mark.parametrize(
    ("status", "code"), [(503, "http-5xx"), (500, "http-5xx"), (429, "http-429")]
)
def test_http_call_5xx_and_429_are_retryable(erp: str, status: int, code: str) -> None:
    ok(erp, "POST", "/_admin/fail-next", {"status": status, "count": 1})
    error = fails(http_call(None, {"url": f"{erp}/api/warehouses"}, step()))
    assert (error.code, error.retryable) == (code, True)


def test_http_call_timeout_is_retryable(erp: str) -> None:
    ok(erp, "POST", "/_admin/fail-next", {"delay": 1.0, "count": 1})
    error = fails(http_call(None, {"url": f"{erp}/api/warehouses", "timeout": 0.2}, step()))
    assert (error.code, error.retryable) == ("timeout", True)


def test_http_call_caps_the_response_body(erp: str) -> None:
    name = "x" * 190
    ok(
        erp,
        "POST",
        "/_admin/stock",
        [
            {"warehouse": "WH-SH", "sku": f"H-BIG-{n:04d}", "on_hand": 1, "name": name}
            for n in range(500)
        ],
    )
    result = run(http_call(None, {"url": f"{erp}/api/skus"}, step()))
    assert result["status"] == 200
    assert isinstance(result["body"], str)  # cut short, so not parsed
    assert len(result["body"].encode()) == MAX_RESPONSE_BYTES


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"url": "ftp://example.com/file"}, "url-invalid"),
        ({"url": "file:///etc/passwd"}, "url-invalid"),
        ({"url": "not a url"}, "url-invalid"),
        ({}, "url-invalid"),
        ({"url": "http://127.0.0.1:9/", "method": "TRACE"}, "payload-invalid"),
        ({"url": "http://127.0.0.1:9/", "body": {"a": 1}}, "payload-invalid"),
        ({"url": "http://127.0.0.1:9/", "method": "POST", "body": {1, 2}}, "payload-invalid"),
        ({"url": "http://127.0.0.1:9/", "headers": {"X-A": "1\r\nX-B: 2"}}, "payload-invalid"),
        ({"url": "http://127.0.0.1:9/", "headers": {"Idempotency-Key": "mine"}}, "payload-invalid"),
        ({"url": "http://127.0.0.1:9/", "headers": ["X-A"]}, "payload-invalid"),
        ({"url": "http://127.0.0.1:9/", "timeout": 0}, "payload-invalid"),
    ],
)
def test_http_call_refuses_bad_requests(params: dict[str, Any], code: str) -> None:
    error = fails(http_call(None, params, step()))
    assert (error.code, error.retryable) == (code, False)
