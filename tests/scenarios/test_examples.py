"""The article's chains, as shipped, on demo data: each example is a valid definition, and
the demo's trigger events make the chains act — a work order for the faulty device, guide
pop-up and coupon events for the shortage, a complaint ticket for the negative mention and a
renewal opportunity plus task for an expiring contract."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.events.catalog import BUILTIN
from kindred.events.runtime import EventRuntime, RuntimeJobs
from kindred.records.seed import seed_demo_data
from kindred.records.service import RequestContext
from kindred.scenarios.definition import check_definition
from kindred.scenarios.evaluate import matches
from kindred.scenarios.examples import example_definitions
from kindred.scenarios.models import ScenarioRun, ScenarioRunStep
from tests.scenarios.test_engine import until

EXAMPLES = [raw["name"] for raw in example_definitions()]


@pytest.mark.parametrize("raw", example_definitions(), ids=EXAMPLES)
def test_every_example_is_a_valid_definition(raw: dict[str, Any]) -> None:
    compiled, errors = check_definition(
        raw, known_type=lambda p: any(matches([p], t) for t in BUILTIN)
    )
    assert errors == [] and compiled is not None


def test_the_demo_sets_the_chains_off(kindred: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from kindred.cli.commands import _demo_scenarios

    seed_demo_data(kindred.database, customers=40, seed=3)
    _demo_scenarios(kindred)
    # The demo runs them and shows what they did, one row per scenario and outcome.
    shown = capsys.readouterr().out
    for line in (
        "device-fault-service-chain",
        "stock-shortage-coupon",
        "negative-mention-care",
        "contract-renewal",
    ):
        assert any(line in row and "succeeded" in row for row in shown.splitlines()), shown
    assert "work_order ✓" in shown and "ticket ✓" in shown

    async def main() -> None:
        runtime = EventRuntime(kindred, RuntimeJobs(consumers=("scenarios",)))
        await runtime.start()
        try:
            await runtime.run_scheduler_once()  # contract expiries, as the server's scheduler

            def settled() -> bool:
                with kindred.database.read() as session:
                    statuses = session.execute(sa.select(ScenarioRun.status)).scalars().all()
                return len(statuses) >= 3 and all(s in ("succeeded", "failed") for s in statuses)

            await until(settled, 30)
        finally:
            await runtime.stop()

    asyncio.run(main())
    with kindred.database.read() as session:
        runs = {
            r.scenario: r.status
            for r in session.execute(sa.select(ScenarioRun)).scalars()
            if r.scenario != "contract-renewal"
        }
        renewals = (
            session.execute(
                sa.select(ScenarioRun.status).where(ScenarioRun.scenario == "contract-renewal")
            )
            .scalars()
            .all()
        )
        steps = {
            (s.run_id, s.step): (s.status, s.error_code)
            for s in session.execute(sa.select(ScenarioRunStep)).scalars()
        }
    assert runs == {
        "device-fault-service-chain": "succeeded",
        "stock-shortage-coupon": "succeeded",
        "negative-mention-care": "succeeded",
    }
    assert renewals and set(renewals) == {"succeeded"}
    # Without an inventory connector configured the reservation fails and the chain goes on.
    assert ("failed_handled", "inventory-unconfigured") in steps.values() or (
        "failed_handled",
        "unavailable",
    ) in steps.values()
    created = {
        step: output["id"]
        for (step, output) in _outputs(kindred)
        if step in ("work_order", "ticket", "renewal", "task")
    }
    context = RequestContext(SYSTEM_PRINCIPAL)
    with kindred.database.read() as session:
        work_order, _ = kindred.records.get(session, context, "ticket", created["work_order"])
        complaint, _ = kindred.records.get(session, context, "ticket", created["ticket"])
        renewal, _ = kindred.records.get(session, context, "opportunity", created["renewal"])
    assert (work_order["kind"], work_order["priority"]) == ("work_order", "urgent")
    assert complaint["kind"] == "complaint" and "设备故障" in complaint["description"]
    assert renewal["name"].startswith("Renewal — ")


def _outputs(kindred: Any) -> list[tuple[str, Any]]:
    with kindred.database.read() as session:
        return [
            (s.step, s.output)
            for s in session.execute(sa.select(ScenarioRunStep)).scalars()
            if s.status == "succeeded" and s.output
        ]
