"""Split deliveries (issue 28 item 8): when no single warehouse can deliver the quantity in
time, the ERP plans shipments from several warehouses, the inventory agent proposes them and
the review proceeds naming the split; it holds only when stock and inbound together fall
short. The reference ERP runs as its own process; every service's calendar is 2030-01-14."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kindred.agents.demo import CASES
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from tests.agents.conftest import call, ok, run_async, shipped_agents, steps, trace
from tests.reference.conftest import TODAY

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
EAST = "region=East%20China"


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def stock(base: str, sku: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(base, "GET", f"/api/stock?sku={sku}")
    return rows


# -- the ERP's plan ---------------------------------------------------------------------------


def test_four_units_across_two_east_china_warehouses_cover_an_order_of_three(erp: str) -> None:
    # Given the issue's case: four units in East China, two in each of its two warehouses.
    ok(erp, "POST", "/_admin/stock", [
        {"warehouse": "WH-SH", "sku": "T-SPLIT-A", "on_hand": 2},
        {"warehouse": "WH-HZ", "sku": "T-SPLIT-A", "on_hand": 2},
    ])  # fmt: skip
    before = stock(erp, "T-SPLIT-A")
    # No single warehouse can deliver three ...
    assert ok(erp, "GET", f"/api/delivery-windows?sku=T-SPLIT-A&quantity=3&{EAST}") == []
    # ... the two together can, tomorrow: the larger share first, then the rest.
    plan = ok(erp, "GET", f"/api/split-delivery?sku=T-SPLIT-A&quantity=3&{EAST}")
    assert plan == {
        "sku": "T-SPLIT-A",
        "quantity": 3,
        "region": "East China",
        "available": 4,
        "complete": True,
        "earliest": day(1),
        "latest": day(2),
        "shipments": [
            {
                "warehouse": "WH-SH",
                "region": "East China",
                "quantity": 2,
                "earliest": day(1),
                "latest": day(2),
                "source": "stock",
                "transit_days": 1,
            },
            {
                "warehouse": "WH-HZ",
                "region": "East China",
                "quantity": 1,
                "earliest": day(1),
                "latest": day(2),
                "source": "stock",
                "transit_days": 1,
            },
        ],
    }
    # A plan is a proposal: nothing is reserved.
    assert stock(erp, "T-SPLIT-A") == before


def test_an_inbound_shipment_completes_the_split_on_its_arrival(erp: str) -> None:
    ok(erp, "POST", "/_admin/stock", [{"warehouse": "WH-SH", "sku": "T-SPLIT-B", "on_hand": 2}])
    ok(erp, "POST", "/_admin/inbound", [
        {"warehouse": "WH-HZ", "sku": "T-SPLIT-B", "quantity": 1, "in_days": 5},
    ])  # fmt: skip
    assert ok(erp, "GET", f"/api/delivery-windows?sku=T-SPLIT-B&quantity=3&{EAST}") == []
    plan = ok(erp, "GET", f"/api/split-delivery?sku=T-SPLIT-B&quantity=3&{EAST}")
    assert (plan["complete"], plan["earliest"], plan["available"]) == (True, day(6), 3)
    assert [
        (s["warehouse"], s["quantity"], s["earliest"], s["source"]) for s in plan["shipments"]
    ] == [
        ("WH-SH", 2, day(1), "stock"),
        ("WH-HZ", 1, day(6), "inbound"),
    ]


def test_the_soonest_plan_ships_from_as_few_warehouses_as_that_date_allows(erp: str) -> None:
    # One unit in each East China warehouse (tomorrow), three in Beijing (three days to
    # Shanghai): four units are complete in three days either way, from two warehouses.
    ok(erp, "POST", "/_admin/stock", [
        {"warehouse": "WH-SH", "sku": "T-SPLIT-C", "on_hand": 1},
        {"warehouse": "WH-HZ", "sku": "T-SPLIT-C", "on_hand": 1},
        {"warehouse": "WH-BJ", "sku": "T-SPLIT-C", "on_hand": 3},
    ])  # fmt: skip
    plan = ok(erp, "GET", f"/api/split-delivery?sku=T-SPLIT-C&quantity=4&{EAST}")
    assert plan["earliest"] == day(3)
    assert [(s["warehouse"], s["quantity"], s["earliest"]) for s in plan["shipments"]] == [
        ("WH-SH", 1, day(1)),
        ("WH-BJ", 3, day(3)),
    ]
    # Two units come from East China alone, tomorrow.
    two = ok(erp, "GET", f"/api/split-delivery?sku=T-SPLIT-C&quantity=2&{EAST}")
    assert [(s["warehouse"], s["quantity"]) for s in two["shipments"]] == [
        ("WH-SH", 1),
        ("WH-HZ", 1),
    ]
    assert two["earliest"] == day(1)


def test_when_stock_and_inbound_together_fall_short_there_is_no_plan(erp: str) -> None:
    ok(erp, "POST", "/_admin/stock", [
        {"warehouse": "WH-SH", "sku": "T-SPLIT-D", "on_hand": 2},
        {"warehouse": "WH-GZ", "sku": "T-SPLIT-D", "on_hand": 1},
    ])  # fmt: skip
    ok(erp, "POST", "/_admin/inbound", [
        {"warehouse": "WH-BJ", "sku": "T-SPLIT-D", "quantity": 1, "in_days": 20},
    ])  # fmt: skip
    plan = ok(erp, "GET", f"/api/split-delivery?sku=T-SPLIT-D&quantity=5&{EAST}")
    assert (plan["complete"], plan["earliest"], plan["shipments"], plan["available"]) == (
        False,
        None,
        [],
        4,
    )
    # Exactly what there is, counting the inbound unit: complete when it has come.
    four = ok(erp, "GET", f"/api/split-delivery?sku=T-SPLIT-D&quantity=4&{EAST}")
    assert four["complete"] is True
    assert [s["warehouse"] for s in four["shipments"]][-1] == "WH-BJ"
    assert four["earliest"] == max(s["earliest"] for s in four["shipments"]) > day(20)


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("sku=T-SPLIT-E", 400, "bad_request"),
        ("sku=T-SPLIT-E&quantity=0", 400, "bad_request"),
        ("sku=T-SPLIT-E&quantity=two", 400, "bad_request"),
        ("sku=T-SPLIT-E&quantity=2&region=Atlantis", 400, "bad_request"),
        ("quantity=2", 400, "bad_request"),
        ("sku=NOPE&quantity=2", 404, "unknown_sku"),
    ],
)
def test_a_bad_plan_request_is_refused_and_changes_nothing(
    erp: str, query: str, status: int, error: str
) -> None:
    ok(erp, "POST", "/_admin/stock", [{"warehouse": "WH-SH", "sku": "T-SPLIT-E", "on_hand": 3}])
    before = stock(erp, "T-SPLIT-E")
    answered, body = call(erp, "GET", f"/api/split-delivery?{query}")
    assert (answered, body["error"]) == (status, error)
    assert body["message"]
    assert stock(erp, "T-SPLIT-E") == before


# -- the agents ---------------------------------------------------------------------------------


@pytest.fixture
def world(make_kindred: Any, systems: dict[str, str]) -> Any:
    kindred = shipped_agents(make_kindred, systems)
    return kindred


def review(kindred: Any, intent: str) -> dict[str, Any]:
    return run_async(
        kindred,
        lambda runtime: runtime.start("purchase_intent_review", {"purchase_intent": intent}),
    )


def intent_like(kindred: Any, case: str, **changes: Any) -> str:
    """Another purchase intent of a demo case's hospital, with ``changes``."""
    with kindred.database.write() as session:
        original, _ = kindred.records.get(session, SYSTEM, "purchase_intent", kindred.intents[case])
        values = {
            "title": "split delivery test",
            "account": original["account"],
            "product": original["product"],
            "quantity": original["quantity"],
            **changes,
        }
        if original.get("needed_by") and "needed_by" not in changes:
            values["needed_by"] = original["needed_by"]
        created: dict[str, Any] = kindred.records.create(session, SYSTEM, "purchase_intent", values)
    return str(created["id"])


def inventory_steps(kindred: Any, run_id: str) -> dict[str, dict[str, Any]]:
    child = next(c for c in trace(kindred, run_id)["children"] if c["agent"] == "inventory_check")
    return {s["step"]: s for s in child["steps"]}


def test_the_demo_split_case_proceeds_with_a_split_delivery(world: Any) -> None:
    # Zhengzhou (Central China) orders four head coils: Wuhan has one, Shanghai three, no
    # warehouse four.
    result = review(world, world.intents["zhengzhou"])
    assert result["status"] == "succeeded", result
    outputs = result["outputs"]
    assert outputs["action"] == next(c.expected for c in CASES if c.key == "zhengzhou")
    assert outputs["reason"] == f"split delivery from WH-WH (1) and WH-SH (3), complete by {day(2)}"
    inventory = outputs["inventory"]
    assert (inventory["status"], inventory["earliest"], inventory["warehouse"]) == (
        "split",
        day(2),
        "WH-WH, WH-SH",
    )
    assert [(s["warehouse"], s["quantity"], s["earliest"]) for s in inventory["shipments"]] == [
        ("WH-WH", 1, day(1)),
        ("WH-SH", 3, day(2)),
    ]
    split = inventory_steps(world, result["id"])["split"]
    assert split["status"] == "succeeded"
    [request] = split["trace"]["calls"]
    assert (request["system"], request["status"]) == ("inventory", 200)
    assert request["params"] == {"sku": "MRI-COIL-8", "quantity": "4", "region": "Central China"}
    assert "split delivery" in outputs["summary"]


def test_a_split_completing_after_the_needed_date_is_late(world: Any) -> None:
    intent = intent_like(world, "zhengzhou", needed_by=day(1))
    result = review(world, intent)
    assert result["status"] == "succeeded", result
    assert result["outputs"]["inventory"]["status"] == "late"
    assert result["outputs"]["action"] == "proceed"
    assert result["outputs"]["reason"] == (
        f"split delivery from WH-WH (1) and WH-SH (3), complete by {day(2)}, later than needed"
    )


def test_only_when_even_all_warehouses_together_fall_short_the_review_holds(
    world: Any, systems: dict[str, str]
) -> None:
    # Head coils: 7 in stock across warehouses and 2 inbound to Chengdu; 10 are too many.
    windows = ok(systems["erp"], "GET", "/api/split-delivery?sku=MRI-COIL-8&quantity=10")
    assert (windows["complete"], windows["available"]) == (False, 9)
    result = review(world, intent_like(world, "zhengzhou", quantity=10))
    assert result["status"] == "succeeded", result
    assert result["outputs"]["action"] == "hold"
    assert result["outputs"]["inventory"]["status"] == "unavailable"
    assert result["outputs"]["inventory"]["shipments"] == []
    split = inventory_steps(world, result["id"])["split"]
    assert split["status"] == "succeeded" and split["output"]["complete"] is False


def test_a_single_warehouse_in_time_needs_no_split(world: Any) -> None:
    result = review(world, world.intents["hangzhou"])
    assert result["status"] == "succeeded", result
    inventory = result["outputs"]["inventory"]
    assert (inventory["status"], inventory["warehouse"], inventory["shipments"]) == (
        "in_stock",
        "WH-SH",
        [],
    )
    assert result["outputs"]["reason"] == "qualified, in stock and compatible"
    found = inventory_steps(world, result["id"])
    assert found["split"]["status"] == "skipped"
    assert found["split"].get("trace", {}).get("calls", []) == []


def test_the_issues_case_an_east_china_split_instead_of_a_hold(
    world: Any, systems: dict[str, str]
) -> None:
    # Four units in East China across its two warehouses, three ordered by a Shanghai hospital.
    ok(systems["erp"], "POST", "/_admin/stock", [
        {"warehouse": "WH-SH", "sku": "T-SPLIT-EAST", "on_hand": 2, "name": "Test part"},
        {"warehouse": "WH-HZ", "sku": "T-SPLIT-EAST", "on_hand": 2},
    ])  # fmt: skip
    with world.database.write() as session:
        product = world.records.create(
            session,
            SYSTEM,
            "product",
            {
                "name": "Test part",
                "sku": "T-SPLIT-EAST",
                "family": "spare_part",
                "model": "T-SPLIT-EAST",
                "list_price": 1_000.0,
            },
        )
    intent = intent_like(world, "shanghai", product=product["id"], quantity=3)
    result = review(world, intent)
    assert result["status"] == "succeeded", result
    assert result["outputs"]["action"] == "proceed"
    assert result["outputs"]["reason"] == (
        f"split delivery from WH-SH (2) and WH-HZ (1), complete by {day(1)}"
    )
    assert steps(world, result["id"])["recommendation"]["output"]["action"] == "proceed"
