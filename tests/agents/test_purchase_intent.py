"""The article's case end to end: a purchase intent → compliance, inventory and service agents
in parallel over HTTP to the four reference systems (each its own process and storage) →
one joined recommendation, with a human approval only when the credit policy asks for it.
Started by the API, by a scenario's start_agent step and by an event trigger."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from kindred.agents.demo import seed_case
from kindred.agents.models import AgentRun
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from tests.agents.conftest import ok, run_async, steps, trace
from tests.conftest import service_principal
from tests.reference.conftest import TODAY


@pytest.fixture
def world(make_kindred: Any, systems: dict[str, str]) -> Any:
    kindred = make_kindred(
        inventory_url=systems["erp"],
        insurance_url=systems["insurance"],
        contracts_url=systems["contracts"],
        knowledge_url=systems["knowledge"],
    )
    # As in the demo: the example agents act as a service principal of the integration role.
    principal = service_principal(kindred, roles=("integration",))
    with kindred.database.write() as session:
        installed = kindred.agents.install_examples(session, run_as=principal)
        kindred.intents = seed_case(session, kindred.records, today=TODAY.isoformat())
    assert installed == [
        "compliance_check",
        "inventory_check",
        "service_check",
        "purchase_intent_review",
    ]
    return kindred


def review(kindred: Any, case: str, **kwargs: Any) -> dict[str, Any]:
    intent = kindred.intents[case]
    return run_async(
        kindred,
        lambda runtime: runtime.start(
            "purchase_intent_review", {"purchase_intent": intent}, **kwargs
        ),
    )


@pytest.mark.parametrize(
    ("case", "action", "compliance", "inventory", "service"),
    [
        ("beijing", "proceed", "approve", "in_stock", "ok"),
        ("shanghai", "proceed", "approve", "in_stock", "conditions"),
        ("chengdu", "propose_alternative", "approve", "in_stock", "incompatible"),
        ("xian", "decline", "reject", "in_stock", "conditions"),
        ("jinan", "decline", "reject", "in_stock", "ok"),
    ],
)
def test_three_agents_in_parallel_give_one_recommendation(
    world: Any, case: str, action: str, compliance: str, inventory: str, service: str
) -> None:
    result = review(world, case)
    assert result["status"] == "succeeded", result
    outputs = result["outputs"]
    assert outputs["action"] == action
    assert outputs["compliance"]["decision"] == compliance
    assert outputs["inventory"]["status"] == inventory
    assert outputs["service"]["status"] == service
    assert outputs["approval"] == "not required"
    run = trace(world, result["id"])
    children = {c["agent"]: c for c in run["children"]}
    assert set(children) == {"compliance_check", "inventory_check", "service_check"}
    # Fan-out: the three agent steps all started before any of them finished.
    fan_out = [s for s in run["steps"] if s["kind"] == "agent"]
    assert len(fan_out) == 3
    assert max(s["started_at"] for s in fan_out) < min(s["finished_at"] for s in fan_out)
    join = next(s for s in run["steps"] if s["step"] == "recommendation")
    assert join["started_at"] >= max(s["finished_at"] for s in fan_out)
    # The compliance agent's tool calls went to the reference systems over HTTP.
    compliance_steps = {s["step"]: s for s in children["compliance_check"]["steps"]}
    call = compliance_steps["qualification"]["trace"]["calls"][0]
    assert call["system"] == "insurance" and call["status"] == 201
    assert compliance_steps["policy"]["trace"]["rules"]  # every row evaluated is in the trace


def test_reasons_name_the_evidence(world: Any) -> None:
    xian = review(world, "xian")["outputs"]
    assert xian["reason"] == "insurance: designation_suspended"
    chengdu = review(world, "chengdu")["outputs"]
    assert chengdu["reason"] == "not compatible with the installed MD-CT 16"
    assert chengdu["service"]["document"]  # the knowledge-base document that says so
    summary = review(world, "beijing")["outputs"]
    assert summary["summary_ai_generated"] is False  # no LLM configured: the fallback text
    assert "北京安和医院" in summary["summary"] and "proceed" in summary["summary"]


def test_a_human_approval_only_when_the_policy_requires_it(world: Any) -> None:
    waiting = review(world, "wuhan")
    assert waiting["status"] == "waiting"
    with world.database.read() as session:
        tasks = world.agents.tasks(session, SYSTEM_PRINCIPAL)
    assert [t["id"] for t in tasks] == waiting["waiting_for"]
    task = tasks[0]
    assert task["assignee"]["role"] == "compliance"
    assert task["details"]["reason"].startswith("overdue invoices")
    assert task["title"].startswith("Approve the purchase by 武汉汉江妇幼保健院")
    with world.database.write() as session:
        world.agents.decide(session, SYSTEM_PRINCIPAL, task["id"], "rejected", {}, "collect first")
    final = run_async(world, lambda runtime: runtime.resume(waiting["id"]))
    assert final["status"] == "succeeded"
    assert final["outputs"]["action"] == "decline"
    assert final["outputs"]["reason"] == "declined by compliance: collect first"
    assert final["outputs"]["approval"] == "rejected"
    with world.database.read() as session:
        assert world.agents.verify(session, waiting["id"])["intact"]
        for child in trace(world, waiting["id"])["children"]:
            assert world.agents.verify(session, child["id"])["intact"]


def test_an_unavailable_system_follows_the_declared_route_and_is_in_the_trace(
    world: Any, systems: dict[str, str]
) -> None:
    # The finance system fails every attempt: the compliance agent's fallback says "unknown
    # history", its policy sends the intent to review.
    ok(systems["contracts"], "POST", "/_admin/fail-next", {"status": 503, "count": 2})
    result = review(world, "guangzhou")
    assert result["status"] == "waiting"
    compliance = next(
        c for c in trace(world, result["id"])["children"] if c["agent"] == "compliance_check"
    )
    payments = {s["step"]: s for s in compliance["steps"]}["payments"]
    assert (payments["status"], payments["attempts"], payments["error_code"]) == (
        "fallback",
        2,
        "http-5xx",
    )
    assert [c["status"] for c in payments["trace"]["calls"]] == [503]  # the last attempt's calls
    assert compliance["outputs"]["decision"] == "review"


def test_a_system_that_never_answers_times_out_within_the_step_bound(
    world: Any, systems: dict[str, str]
) -> None:
    ok(systems["knowledge"], "POST", "/_admin/fail-next", {"delay": 5, "count": 4})
    result = review(world, "hangzhou")
    assert result["status"] == "succeeded"  # the service agent's fallback route
    service = next(
        c for c in trace(world, result["id"])["children"] if c["agent"] == "service_check"
    )
    compatibility = {s["step"]: s for s in service["steps"]}["compatibility"]
    assert compatibility["status"] == "fallback" and compatibility["error_code"] == "timeout"
    # Two attempts, each ended by the step's timeout (the system would answer after 5 s).
    log = compatibility["trace"]["attempt_log"]
    assert [(a["attempt"], a["error"]["code"]) for a in log] == [(1, "timeout"), (2, "timeout")]
    assert result["outputs"]["service"]["compatibility"] == "unknown"
    ok(systems["knowledge"], "POST", "/_admin/fail-next", {"count": 0})


def test_with_an_llm_the_summary_is_labelled_ai_generated(
    make_kindred: Any, systems: dict[str, str], llm_server: str, world: Any
) -> None:
    kindred = make_kindred(
        inventory_url=systems["erp"],
        insurance_url=systems["insurance"],
        contracts_url=systems["contracts"],
        knowledge_url=systems["knowledge"],
        llm_url=llm_server,
    )
    kindred.intents = world.intents
    result = review(kindred, "beijing")
    assert result["outputs"]["summary_ai_generated"] is True
    assert result["outputs"]["summary"].startswith("【AI生成】")
    summary = steps(kindred, result["id"])["summary"]
    assert summary["trace"]["llm"]["prompt_tokens"] > 0


def test_a_scenario_step_starts_the_review(world: Any) -> None:
    from kindred.scenarios.executors import start_agent
    from kindred.scenarios.steps import StepContext

    # The scenario acts as its run-as principal: the agent run it starts acts with that
    # principal's rights (its trace names them).
    with world.database.read() as session:
        rep = world.auth.acting_principal(session, service_principal(world, roles=("integration",)))
    step = StepContext(
        run_id="run-1",
        step_id="review",
        scenario="intent-review",
        version=1,
        chain_depth=0,
        idempotency_key="run-1:review",
        principal=rep,
    )

    async def go(runtime: Any) -> dict[str, Any]:
        started = await start_agent(
            world,
            {
                "workflow": "purchase_intent_review",
                "inputs": {"purchase_intent": world.intents["beijing"]},
            },
            step,
        )
        again = await start_agent(
            world,
            {
                "workflow": "purchase_intent_review",
                "inputs": {"purchase_intent": world.intents["beijing"]},
            },
            step,
        )
        assert again["run"] == started["run"]  # the step's key: one run
        return dict(await runtime.resume(started["run"]))

    final = run_async(world, go)
    assert final["status"] == "succeeded" and final["outputs"]["action"] == "proceed"
    row = trace(world, final["id"])
    assert row["trigger"]["kind"] == "scenario" and row["trigger"]["scenario"] == "intent-review"
    assert row["started_by"] == rep.user_id


def test_an_event_trigger_starts_one_run_per_event(world: Any) -> None:
    import asyncio

    from kindred.events.runtime import EventRuntime, RuntimeJobs

    event = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "urn:test:sales",
        "type": "sales.purchase_intent.created",
        "data": {"purchase_intent_id": world.intents["guangzhou"], "account_id": "x"},
    }

    async def main() -> None:
        runtime = EventRuntime(world, RuntimeJobs(consumers=("agents",)))
        await runtime.start()
        try:
            report = await world.events.ingest([event], channel="api")
            assert report.accepted
            again = await world.events.ingest([event], channel="api")  # a duplicate delivery
            # Stored once: the redelivery is accepted, flagged a duplicate, and not appended.
            assert [(a["id"], a["duplicate"]) for a in again.accepted] == [("evt-1", True)]
            assert again.rejected == []
            assert again.accepted[0]["position"] == report.accepted[0]["position"]
            for _ in range(300):
                await asyncio.sleep(0.05)
                with world.database.read() as session:
                    statuses = list(
                        session.execute(
                            sa.select(AgentRun.status).where(AgentRun.parent_id.is_(None))
                        ).scalars()
                    )
                if statuses and all(s in ("succeeded", "waiting", "failed") for s in statuses):
                    break
        finally:
            await runtime.stop()
            agent_runtime = world.extras.pop("agent_runtime", None)
            if agent_runtime is not None:
                await agent_runtime.aclose()

    asyncio.run(main())
    with world.database.read() as session:
        runs = [
            (run.trigger, run.inputs, run.status)
            for run in session.execute(
                sa.select(AgentRun).where(AgentRun.parent_id.is_(None))
            ).scalars()
        ]
    assert runs == [
        (
            {
                "kind": "event",
                "type": "sales.purchase_intent.created",
                "id": "evt-1",
                "source": "urn:test:sales",
            },
            {"purchase_intent": world.intents["guangzhou"]},
            "succeeded",
        )
    ]
