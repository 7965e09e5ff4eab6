"""A run never hangs: when a run fails, its sub-agent runs that are still running or waiting
for a person are cancelled — their finished effects compensated, their open tasks closed
with the reason — and a tree an earlier process left with a finished parent and unfinished
sub-runs is cleaned up by the agents' upkeep (which runs at start-up)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.agents.models import AgentRun, HumanTask
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from tests.agents.conftest import ok, run_async, save, steps, trace

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
SKU = "PM-SPO2-03"
WAREHOUSE = "WH-XA"


@pytest.fixture
def crm(make_kindred: Any, erp: str) -> Any:
    kindred = make_kindred(inventory_url=erp)
    with kindred.database.write() as session:
        account = kindred.records.create(
            session, SYSTEM, "account", {"name": "西安雁塔康复医院", "kind": "hospital"}
        )
    kindred.test_account = account["id"]
    # A sub-agent that reserves stock, then waits for a person.
    save(
        kindred,
        {
            "name": "holder",
            "title": "Reserve, then ask",
            "role": "inventory",
            "inputs": {"account": {"type": "string", "required": True}},
            "reads": [{"name": "account", "object": "account", "id": "inputs.account"}],
            "grants": {"account": ["name"]},
            "tools": ["erp.reserve", "erp.release"],
            "steps": [
                {
                    "id": "reserve",
                    "kind": "tool",
                    "tool": "erp.reserve",
                    "with": {"sku": SKU, "quantity": 1, "warehouse": WAREHOUSE},
                    "compensate": {
                        "tool": "erp.release",
                        "with": {"reservation": {"cel": "output.id"}},
                    },
                },
                {
                    "id": "confirm",
                    "kind": "human",
                    "needs": ["reserve"],
                    "task": {
                        "title": "Confirm the reservation for {{ reads.account.name }}",
                        "assignee": {"role": "compliance"},
                        "sla": "1h",
                    },
                },
            ],
            "outputs": {"value": {}},
        },
    )
    # Its parent: the sub-agent, and a gate whose rejection fails the parent.
    save(
        kindred,
        {
            "name": "coordinator",
            "title": "Coordinate",
            "role": "sales",
            "inputs": {"account": {"type": "string", "required": True}},
            "reads": [{"name": "account", "object": "account", "id": "inputs.account"}],
            "grants": {"account": ["name"]},
            "steps": [
                {
                    "id": "hold",
                    "kind": "agent",
                    "agent": "holder",
                    "with": {"account": {"cel": "inputs.account"}},
                },
                {
                    "id": "gate",
                    "kind": "human",
                    "task": {"title": "Go ahead?", "assignee": {"role": "admin"}, "sla": "1h"},
                },
                {
                    "id": "after",
                    "kind": "rule",
                    "needs": ["gate"],
                    "rules": [{"when": "steps.gate.outcome == 'approved'", "then": {"go": True}}],
                },
            ],
            "outputs": {"value": {}},
        },
    )
    return kindred


def reserved(erp: str) -> int:
    rows = ok(erp, "GET", "/api/stock", params={"sku": SKU})
    return int(next(r["reserved"] for r in rows if r["warehouse"] == WAREHOUSE))


def start_waiting(crm: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The coordinator waiting at its gate, the holder waiting for its confirmation."""
    waiting = run_async(
        crm, lambda runtime: runtime.start("coordinator", {"account": crm.test_account})
    )
    assert waiting["status"] == "waiting", waiting
    child = trace(crm, waiting["id"])["children"][0]
    assert (child["agent"], child["status"]) == ("holder", "waiting")
    return waiting, child


def open_tasks(crm: Any, root: str) -> list[str]:
    with crm.database.read() as session:
        return list(
            session.execute(
                sa.select(HumanTask.title).where(
                    HumanTask.root_id == root, HumanTask.status == "open"
                )
            ).scalars()
        )


def assert_cancelled(crm: Any, erp: str, child_id: str, code: str, before: int) -> None:
    child = trace(crm, child_id)
    assert child["status"] == "cancelled", child
    assert child["error_code"] == code and child["finished_at"] is not None
    assert "cancelled" in child["error"]
    by_step = {s["step"]: s for s in child["steps"]}
    # Its finished effect undone (the reservation released), its open task closed.
    assert by_step["reserve"]["status"] == "compensated"
    reservation = by_step["reserve"]["output"]["id"]
    assert ok(erp, "GET", f"/api/reservations/{reservation}")["status"] == "released"
    assert reserved(erp) == before
    assert by_step["confirm"]["status"] == "cancelled"
    (task,) = child["tasks"]
    assert task["status"] == "cancelled" and task["outcome"] is None
    assert task["comment"] == child["error"]
    with crm.database.read() as session:
        history = crm.agents.task(session, SYSTEM_PRINCIPAL, task["id"])["history"]
        assert [h["action"] for h in history] == ["created", "cancelled"]
        assert history[1]["detail"]["reason"] == child["error"]
        # The cancelled run's trace is on the ledger like any finished run's.
        assert crm.agents.verify(session, child_id)["intact"]


def test_a_failed_parent_cancels_its_waiting_sub_run_and_closes_its_task(
    crm: Any, erp: str
) -> None:
    before = reserved(erp)
    waiting, child = start_waiting(crm)
    assert reserved(erp) == before + 1
    gate = waiting["waiting_for"][0]
    with crm.database.write() as session:
        crm.agents.decide(session, SYSTEM_PRINCIPAL, gate, "rejected", {}, "no")
    final = run_async(crm, lambda runtime: runtime.resume(waiting["id"]))
    assert final["status"] == "failed" and final["error_code"] == "no-rule-matched"
    assert_cancelled(crm, erp, child["id"], "parent-failed", before)
    assert waiting["id"] in trace(crm, child["id"])["error"]
    assert steps(crm, waiting["id"])["hold"]["status"] == "cancelled"
    assert open_tasks(crm, waiting["id"]) == []
    with crm.database.read() as session:
        assert crm.agents.tasks(session, SYSTEM_PRINCIPAL) == []  # nothing left in the queue
        assert crm.agents.verify(session, waiting["id"])["intact"]


@pytest.mark.parametrize("left", ["waiting", "running"])
def test_the_upkeep_ends_sub_runs_an_earlier_process_left_behind(
    crm: Any, erp: str, left: str
) -> None:
    before = reserved(erp)
    waiting, child = start_waiting(crm)
    # As an earlier version left it: the parent ended, the sub-run still waiting (or running
    # under the lease of a process that is gone).
    with crm.database.write() as session:
        session.execute(
            sa.update(AgentRun)
            .where(AgentRun.id == waiting["id"])
            .values(status="failed", error="step inventory failed", error_code="unknown-sku")
        )
        if left == "running":
            session.execute(
                sa.update(AgentRun)
                .where(AgentRun.id == child["id"])
                .values(status="running", lease_until=time.time() - 1)
            )
    run_async(crm, lambda runtime: runtime.resume_expired())
    assert_cancelled(crm, erp, child["id"], "parent-ended", before)
    assert open_tasks(crm, waiting["id"]) == ["Go ahead?"]  # the parent's own: not ours
    # Once is enough: a second pass finds nothing to do.
    run_async(crm, lambda runtime: runtime.resume_expired())
    with crm.database.read() as session:
        history = crm.agents.task(session, SYSTEM_PRINCIPAL, child["tasks"][0]["id"])["history"]
    assert [h["action"] for h in history] == ["created", "cancelled"]
