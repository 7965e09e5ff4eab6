"""Every purchase intent of the seeded demo data (``kindred seed``, which ``kindred demo``
loads) runs to a recommendation against the reference systems: the seeded accounts carry
well-formed unified social credit codes and the ERP knows the seeded catalogue. And a review
that fails in one agent ends its sibling agents' runs instead of leaving them hanging."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from kindred.agents.models import AgentRun, HumanTask
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.credit_codes import credit_code_problem
from kindred.records.query import ListQuery
from kindred.records.seed import DEVICE_FAMILIES, PRODUCTS, generate, seed_demo_data
from kindred.records.service import RequestContext
from kindred.reference.erp import DEMO_CATALOGUE
from tests.agents.conftest import run_async, trace
from tests.conftest import service_principal

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
RECOMMENDATIONS = {"proceed", "proceed_after_approval", "decline", "propose_alternative", "hold"}


@pytest.fixture
def crm(make_kindred: Any, systems: dict[str, str]) -> Any:
    kindred = make_kindred(
        inventory_url=systems["erp"],
        insurance_url=systems["insurance"],
        contracts_url=systems["contracts"],
        knowledge_url=systems["knowledge"],
    )
    # As in the demo: the example agents act as a service principal of the integration role.
    principal = service_principal(kindred, roles=("integration",))
    with kindred.database.write() as session:
        kindred.agents.install_examples(session, run_as=principal)
    return kindred


def unfinished(kindred: Any) -> list[tuple[str, str]]:
    with kindred.database.read() as session:
        return [
            (row.agent, row.status)
            for row in session.execute(
                sa.select(AgentRun).where(AgentRun.status.in_(("running", "waiting")))
            ).scalars()
        ]


def open_tasks(kindred: Any) -> list[str]:
    with kindred.database.read() as session:
        return list(
            session.execute(sa.select(HumanTask.title).where(HumanTask.status == "open")).scalars()
        )


def test_the_seeded_catalogue_and_credit_codes_are_what_the_systems_know() -> None:
    generated = generate(300, 42)
    for account in generated.rows["account"]:
        assert credit_code_problem(account[2]["tax_id"]) is None, account[2]["tax_id"]
    skus = {row[2]["sku"] for row in generated.rows["product"]}
    wanted = {row[2]["product"] for row in generated.rows["purchase_intent"]}
    products = {row[0]: row[2] for row in generated.rows["product"]}
    assert {products[p]["sku"] for p in wanted} <= set(DEMO_CATALOGUE)
    # Whatever the seed: every product an intent can ask for (a device) is stocked.
    devices = {sku for sku in skus if products_family(generated, sku) in DEVICE_FAMILIES}
    assert len(devices) == sum(1 for p in PRODUCTS if p[1] in DEVICE_FAMILIES)
    assert devices <= set(DEMO_CATALOGUE)


def products_family(generated: Any, sku: str) -> str:
    return str(next(r[2]["family"] for r in generated.rows["product"] if r[2]["sku"] == sku))


def test_every_seeded_purchase_intent_runs_to_a_recommendation(crm: Any) -> None:
    seed_demo_data(crm.database, customers=200, seed=42)
    with crm.database.read() as session:
        intents = [
            r["id"]
            for r in crm.records.list_records(
                session, SYSTEM, "purchase_intent", ListQuery(limit=100)
            ).data
        ]
    assert len(intents) >= 5

    async def review_all(runtime: Any) -> list[dict[str, Any]]:
        return [
            await runtime.start("purchase_intent_review", {"purchase_intent": intent})
            for intent in intents
        ]

    for result in run_async(crm, review_all):
        assert result["status"] in ("succeeded", "waiting"), result
        run = trace(crm, result["id"])
        recommendation = {s["step"]: s for s in run["steps"]}["recommendation"]
        assert recommendation["output"]["action"] in RECOMMENDATIONS
        if result["status"] == "succeeded":
            assert result["outputs"]["action"] in RECOMMENDATIONS
        assert {c["agent"]: c["status"] for c in run["children"]} == {
            "compliance_check": "succeeded",
            "inventory_check": "succeeded",
            "service_check": "succeeded",
        }
    # Nothing hangs: only reviews waiting for an approval are unfinished.
    assert all(r == ("purchase_intent_review", "waiting") for r in unfinished(crm))


def test_a_review_failing_in_one_agent_ends_its_siblings(crm: Any) -> None:
    # What the seeded data used to be: a 16-character tax id (the insurance registry refuses
    # it, so the compliance agent escalates to a person) and a product the ERP does not
    # know (the inventory agent fails, and with it the review).
    with crm.database.write() as session:
        account = crm.records.create(
            session,
            SYSTEM,
            "account",
            {"name": "旧数据医院", "kind": "hospital", "tax_id": "9142000000000001"},
        )
        product = crm.records.create(
            session,
            SYSTEM,
            "product",
            {"name": "Unknown scanner", "sku": "KD-XX-999", "family": "imaging"},
        )
        intent = crm.records.create(
            session,
            SYSTEM,
            "purchase_intent",
            {
                "title": "旧数据",
                "account": account["id"],
                "product": product["id"],
                "quantity": 1,
            },
        )
    result = run_async(
        crm,
        lambda runtime: runtime.start("purchase_intent_review", {"purchase_intent": intent["id"]}),
    )
    assert result["status"] == "failed"
    assert "no SKU 'KD-XX-999'" in result["error"]
    children = {c["agent"]: c for c in trace(crm, result["id"])["children"]}
    assert children["inventory_check"]["status"] == "failed"
    # A sibling finished, was cancelled, or — when the inventory agent failed before the
    # runtime reached it — never started; none is left running or waiting (below).
    for name in ("compliance_check", "service_check"):
        sibling = children.get(name, {"status": "never started"})
        assert sibling["status"] in ("succeeded", "cancelled", "never started"), sibling
    assert unfinished(crm) == []
    assert open_tasks(crm) == []  # no "Insurance registry unavailable" task left open
    with crm.database.read() as session:
        assert crm.agents.verify(session, result["id"])["intact"]
        for child in children.values():
            assert crm.agents.verify(session, child["id"])["intact"]
