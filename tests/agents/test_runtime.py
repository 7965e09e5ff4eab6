"""The agent runtime over real parts: the CRM on both dialects, the reference ERP and LLM
servers as processes. Orchestration (fan-out, joins, conditional edges), timeouts, retries,
exception routes, compensation, human tasks, scoped reads, traces on the ledger."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.agents.models import AgentRun, AgentRunStep, HumanTask
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kindred.records.service import RequestContext
from tests.agents.conftest import call, ok, run_async, save, steps, trace
from tests.agents.otlp_schema import parse_otlp

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)


@pytest.fixture
def crm(make_kindred: Any, erp: str) -> Any:
    kindred = make_kindred(inventory_url=erp)
    with kindred.database.write() as session:
        account = kindred.records.create(
            session,
            SYSTEM,
            "account",
            {
                "name": "上海第一人民医院",
                "kind": "hospital",
                "tax_id": "12310000425005730X",
                "city": "上海",
            },
        )
        contact = kindred.records.create(
            session,
            SYSTEM,
            "contact",
            {
                "last_name": "王",
                "first_name": "芳",
                "email": "wang.fang@example.cn",
                "account": account["id"],
            },
        )
        for index in range(3):
            kindred.records.create(
                session,
                SYSTEM,
                "ticket",
                {"subject": f"CT fault {index}", "account": account["id"], "kind": "work_order"},
            )
    kindred.test_account = account["id"]
    kindred.test_contact = contact["id"]
    return kindred


def base_agent(**changes: Any) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "name": "probe",
        "title": "Probe",
        "role": "service",
        "inputs": {"account": {"type": "string", "required": True}},
        "reads": [{"name": "account", "object": "account", "id": "inputs.account"}],
        "grants": {"account": ["name", "city"], "ticket": ["subject", "status", "kind"]},
        "tools": [
            "crm.work_orders",
            "erp.spot_stock",
            "erp.delivery_windows",
            "erp.reserve",
            "erp.release",
        ],
        "steps": [
            {
                "id": "history",
                "kind": "tool",
                "tool": "crm.work_orders",
                "with": {"account": {"cel": "reads.account.id"}},
            },
            {
                "id": "stock",
                "kind": "tool",
                "tool": "erp.spot_stock",
                "with": {"sku": "CT-TUBE-01"},
            },
            {
                "id": "decision",
                "kind": "rule",
                "needs": ["history", "stock"],
                "rules": [
                    {"when": "steps.stock.total_available == 0", "then": {"verdict": "backorder"}},
                    {"when": "steps.history.count >= 3", "then": {"verdict": "review"}},
                ],
                "default": {"verdict": "ok"},
            },
        ],
        "outputs": {
            "value": {
                "verdict": {"cel": "steps.decision.verdict"},
                "tickets": {"cel": "steps.history.count"},
            }
        },
    }
    agent.update(changes)
    return agent


def start(kindred: Any, name: str = "probe", **kwargs: Any) -> dict[str, Any]:
    inputs = kwargs.pop("inputs", {"account": kindred.test_account})
    return run_async(kindred, lambda runtime: runtime.start(name, inputs, **kwargs))


# -- definitions -------------------------------------------------------------------------------


def test_an_invalid_definition_is_refused_with_every_problem_and_nothing_is_saved(crm: Any) -> None:
    broken = base_agent(
        grants={"account": ["name", "no_such_field"], "nothing": ["x"]},
        tools=["crm.work_orders", "erp.spot_stock", "no.such_tool"],
        steps=[
            {"id": "history", "kind": "tool", "tool": "crm.work_orders", "with": {"account": 42}},
            {
                "id": "stock",
                "kind": "tool",
                "tool": "erp.reserve",
                "with": {"sku": "X", "colour": "red"},
            },
            {
                "id": "a",
                "kind": "rule",
                "needs": ["b"],
                "rules": [{"when": "steps.x ==", "then": {}}],
            },
            {"id": "b", "kind": "rule", "needs": ["a", "ghost"], "default": {}},
            {"id": "talk", "kind": "llm", "prompt": "Hi {{ reads.account.name"},
        ],
        outputs={"value": {}, "schema": {"type": "nope"}},
    )
    with crm.database.write() as session, pytest.raises(ValidationFailed) as caught:
        crm.agents.save(session, broken, actor_id=None)
    problems = {(e["path"], e["code"]) for e in caught.value.errors}
    expected = {
        ("/grants/account/1", "unknown-field"),
        ("/grants/nothing", "unknown-object"),
        ("/tools/2", "unknown-tool"),
        ("/steps/1/tool", "tool-not-granted"),
        ("/steps/1/with/colour", "unknown-param"),
        ("/steps/1/with/quantity", "required"),
        ("/steps/2/rules/0/when", "invalid_cel"),
        ("/steps/3/needs/1", "unknown-step"),
        ("/steps", "cycle"),
        ("/steps/4/prompt", "template"),
        ("/steps/4/fallback", "required"),
        ("/outputs/schema", "schema"),
    }
    assert expected <= problems, problems - expected
    literal = [e for e in caught.value.errors if e["path"] == "/steps/0/with/account"]
    assert literal and "string" in literal[0]["message"]
    cel = next(e for e in caught.value.errors if e["code"] == "invalid_cel")
    assert cel["line"] == 1 and "column" in cel
    with crm.database.read() as session:
        assert crm.agents.all(session) == []


def test_saving_again_makes_a_version_and_a_run_pins_its_version(crm: Any) -> None:
    assert save(crm, base_agent())["version"] == 1
    assert save(crm, base_agent())["version"] == 1  # unchanged: no new version
    changed = base_agent()
    changed["steps"][2]["default"] = {"verdict": "fine"}
    changed["steps"][2]["rules"] = []
    assert save(crm, changed)["version"] == 2
    old = start(crm, version=1)
    new = start(crm)
    assert (old["version"], old["outputs"]["verdict"]) == (1, "review")
    assert (new["version"], new["outputs"]["verdict"]) == (2, "fine")
    with crm.database.write() as session, pytest.raises(Conflict):
        crm.agents.save(session, base_agent(), actor_id=None, expected_version=1)


# -- orchestration -----------------------------------------------------------------------------


def test_independent_steps_run_in_parallel_and_the_join_waits_for_both(crm: Any, erp: str) -> None:
    save(crm, base_agent())
    # Both branches are slowed: if they ran one after the other, their intervals would not overlap.
    ok(erp, "POST", "/_admin/fail-next", {"delay": 0.3, "count": 1})
    slow = base_agent()
    slow["steps"][0] = {
        "id": "history",
        "kind": "tool",
        "tool": "erp.delivery_windows",
        "with": {"sku": "CT-TUBE-01"},
    }
    slow["steps"][2]["rules"][1] = {
        "when": "size(steps.history.windows) > 100",
        "then": {"verdict": "many"},
    }
    slow["outputs"]["value"]["tickets"] = {"cel": "size(steps.history.windows)"}
    save(crm, slow)
    result = start(crm)
    assert result["status"] == "succeeded", result
    by_step = steps(crm, result["id"])
    first, second = by_step["history"], by_step["stock"]
    assert (
        first["started_at"] < second["finished_at"] and second["started_at"] < first["finished_at"]
    )
    join = by_step["decision"]
    assert join["started_at"] >= max(first["finished_at"], second["finished_at"])
    assert join["trace"]["rules"][0] == {
        "row": 0,
        "when": "steps.stock.total_available == 0",
        "value": False,
    }


def test_a_false_when_skips_the_step_and_later_steps_still_run(crm: Any) -> None:
    agent = base_agent()
    agent["steps"][1]["when"] = "reads.account.city == '北京'"
    agent["steps"][2]["rules"][0]["when"] = "has(steps.stock) && steps.stock.total_available == 0"
    save(crm, agent)
    result = start(crm)
    by_step = steps(crm, result["id"])
    assert by_step["stock"]["status"] == "skipped"
    assert by_step["stock"]["trace"]["when"]["value"] is False
    assert result["outputs"]["verdict"] == "review"


def test_a_timeout_is_retried_then_the_fallback_route_continues_the_run(crm: Any, erp: str) -> None:
    agent = base_agent()
    agent["steps"][1].update(
        timeout="150ms",
        retry={"attempts": 2, "backoff": "10ms"},
        on_error={"route": "fallback", "value": {"rows": [], "total_available": -1}},
    )
    save(crm, agent)
    ok(erp, "POST", "/_admin/fail-next", {"delay": 1.0, "count": 2})
    result = start(crm)
    stock = steps(crm, result["id"])["stock"]
    assert result["status"] == "succeeded"
    assert (stock["status"], stock["attempts"], stock["error_code"]) == ("fallback", 2, "timeout")
    assert stock["output"] == {"rows": [], "total_available": -1}
    assert stock["trace"]["error"]["code"] == "timeout"
    assert result["outputs"]["verdict"] == "review"


def test_a_failing_system_escalates_to_a_person_whose_decision_becomes_the_output(
    crm: Any, erp: str
) -> None:
    agent = base_agent()
    agent["steps"][1]["on_error"] = {
        "route": "escalate",
        "task": {
            "title": "ERP unavailable: enter stock for {{ reads.account.name }}",
            "details": {"error": {"cel": "error.message"}},
            "assignee": {"role": "service"},
            "modifiable": ["total_available"],
        },
    }
    save(crm, agent)
    ok(erp, "POST", "/_admin/fail-next", {"status": 503, "count": 1})
    waiting = start(crm)
    assert waiting["status"] == "waiting" and len(waiting["waiting_for"]) == 1
    task_id = waiting["waiting_for"][0]
    with crm.database.read() as session:
        task = crm.agents.task(session, SYSTEM_PRINCIPAL, task_id)
    assert task["reason"] == "error" and "503" in task["details"]["error"]
    assert task["title"] == "ERP unavailable: enter stock for 上海第一人民医院"
    with crm.database.write() as session:
        crm.agents.decide(
            session,
            SYSTEM_PRINCIPAL,
            task_id,
            "modified",
            {"total_available": 0},
            "checked by phone",
        )
    final = run_async(crm, lambda runtime: runtime.resume(waiting["id"]))
    assert final["status"] == "succeeded"
    assert final["outputs"]["verdict"] == "backorder"  # the person's value decided
    stock = steps(crm, waiting["id"])["stock"]
    assert stock["output"]["values"] == {"total_available": 0}
    assert stock["trace"]["decision"]["by"] == SYSTEM_PRINCIPAL.user_id


def test_when_a_later_step_fails_earlier_effects_are_compensated(crm: Any, erp: str) -> None:
    agent = base_agent()
    agent["steps"] = [
        {
            "id": "reserve",
            "kind": "tool",
            "tool": "erp.reserve",
            "with": {"sku": "PM-SPO2-03", "quantity": 2, "warehouse": "WH-SH"},
            "compensate": {"tool": "erp.release", "with": {"reservation": {"cel": "output.id"}}},
        },
        {
            "id": "check",
            "kind": "rule",
            "needs": ["reserve"],
            "rules": [{"when": "false", "then": {}}],
        },
    ]
    agent["outputs"] = {"value": {}}
    save(crm, agent)
    before = ok(erp, "GET", "/api/stock", params={"sku": "PM-SPO2-03", "region": "East China"})
    result = start(crm)
    assert result["status"] == "failed" and result["error_code"] == "no-rule-matched"
    reserve = steps(crm, result["id"])["reserve"]
    assert reserve["status"] == "compensated"
    reservation = reserve["output"]["id"]
    assert ok(erp, "GET", f"/api/reservations/{reservation}")["status"] == "released"
    assert reserve["trace"]["compensation"]["status"] == "succeeded"
    after = ok(erp, "GET", "/api/stock", params={"sku": "PM-SPO2-03", "region": "East China"})
    assert after == before  # nothing stays reserved


def test_the_same_idempotency_key_returns_the_same_run_and_acts_once(crm: Any, erp: str) -> None:
    agent = base_agent()
    agent["steps"][1] = {
        "id": "stock",
        "kind": "tool",
        "tool": "erp.reserve",
        "with": {"sku": "PM-SPO2-03", "quantity": 1, "warehouse": "WH-BJ"},
    }
    agent["steps"][2]["rules"] = []
    save(crm, agent)
    first = start(crm, idempotency_key="intent-1")
    again = start(crm, idempotency_key="intent-1")
    assert first["id"] == again["id"]
    with crm.database.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AgentRun)) == 1
    status, body = call(
        erp, "GET", "/api/reservations/" + steps(crm, first["id"])["stock"]["output"]["id"]
    )
    assert status == 200 and body["quantity"] == 1


# -- scoped reads ------------------------------------------------------------------------------


def test_an_agent_reads_only_granted_fields_and_no_unconsented_customer_data(crm: Any) -> None:
    agent = base_agent(
        inputs={"contact": {"type": "string", "required": True}},
        reads=[{"name": "person", "object": "contact", "id": "inputs.contact"}],
        grants={"contact": ["last_name", "email"]},
        tools=[],
        steps=[
            {
                "id": "echo",
                "kind": "rule",
                "default": {
                    "email": {"cel": "has(reads.person.email) ? reads.person.email : 'none'"}
                },
            }
        ],
        outputs={"value": {"email": {"cel": "steps.echo.email"}}},
    )
    save(crm, agent)
    result = start(crm, inputs={"contact": crm.test_contact})
    assert result["outputs"] == {"email": "none"}
    run = trace(crm, result["id"])
    person = run["reads"]["values"]["person"]
    assert person["last_name"] == "王" and "first_name" not in person  # not granted
    assert "email" not in person and person["_withheld"]  # customer-authorized: no consent
    assert run["reads"]["trace"][0]["withheld"] == ["email"]


def test_a_tool_reading_an_ungranted_object_is_refused_at_save_time(crm: Any) -> None:
    agent = base_agent(grants={"account": ["name"]})
    with crm.database.write() as session, pytest.raises(ValidationFailed) as caught:
        crm.agents.save(session, agent, actor_id=None)
    assert ("/steps/0/tool", "object-not-granted") in {
        (e["path"], e["code"]) for e in caught.value.errors
    }


# -- human tasks -------------------------------------------------------------------------------


def _approval_agent() -> dict[str, Any]:
    agent = base_agent()
    agent["steps"].append(
        {
            "id": "approval",
            "kind": "human",
            "needs": ["decision"],
            "when": "steps.decision.verdict == 'review'",
            "task": {
                "title": "Approve {{ reads.account.name }}",
                "details": {"proposal": {"discount": 0.05}},
                "assignee": {"role": "compliance"},
                "sla": "1h",
                "on_timeout": "escalate",
                "escalate_to": {"role": "admin"},
                "modifiable": ["discount"],
            },
        }
    )
    # The approval may be skipped (its `when`): then steps.approval is not set.
    agent["outputs"]["value"]["approval"] = {
        "cel": "has(steps.approval) ? steps.approval.outcome : 'not required'"
    }
    return agent


def test_a_human_step_waits_and_only_its_assignee_may_decide(crm: Any) -> None:
    from kindred.auth.permissions import BUILTIN_ROLES, Principal

    save(crm, _approval_agent())
    waiting = start(crm)
    assert waiting["status"] == "waiting"
    task_id = waiting["waiting_for"][0]
    sales = Principal("u-sales", "Sales", ("sales",), (BUILTIN_ROLES["sales"][1],))
    manager = Principal("u-comp", "Compliance", ("compliance",), (BUILTIN_ROLES["compliance"][1],))
    with crm.database.write() as session, pytest.raises(PermissionDenied):
        crm.agents.decide(session, sales, task_id, "approved")
    with crm.database.write() as session, pytest.raises(ValidationFailed) as caught:
        crm.agents.decide(session, manager, task_id, "modified", {"price": 1})
    assert caught.value.errors[0]["code"] == "not-modifiable"
    with crm.database.read() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None and task.status == "open" and task.decided_by is None
        assert [t["id"] for t in crm.agents.tasks(session, manager)] == [task_id]
        assert crm.agents.tasks(session, sales) == []
    with crm.database.write() as session:
        crm.agents.decide(session, manager, task_id, "modified", {"discount": 0.03}, "cap it")
    with crm.database.write() as session, pytest.raises(Conflict):
        crm.agents.decide(session, manager, task_id, "approved")
    final = run_async(crm, lambda runtime: runtime.resume(waiting["id"]))
    assert final["status"] == "succeeded" and final["outputs"]["approval"] == "modified"
    with crm.database.read() as session:
        history = crm.agents.task(session, manager, task_id)["history"]
    assert [h["action"] for h in history] == ["created", "modified"]
    assert history[1]["detail"] == {"values": {"discount": 0.03}, "comment": "cap it"}


def test_an_overdue_task_is_escalated_or_decided_by_its_sla_route(crm: Any) -> None:
    save(crm, _approval_agent())
    waiting = start(crm)
    task_id = waiting["waiting_for"][0]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    with crm.database.write() as session:
        changed = crm.agents.expire_tasks(session, now=later)
    assert changed == [
        {"task": task_id, "action": "escalated", "resume": False, "root": waiting["id"]}
    ]
    with crm.database.read() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None and (task.assignee_role, task.escalations, task.status) == (
            "admin",
            1,
            "open",
        )
    with crm.database.write() as session:
        session.execute(sa.update(HumanTask).values(on_timeout="reject"))
    with crm.database.write() as session:
        changed = crm.agents.expire_tasks(session, now=later + dt.timedelta(hours=2))
    assert changed[0]["action"] == "rejected"
    final = run_async(crm, lambda runtime: runtime.resume(waiting["id"]))
    assert final["outputs"]["approval"] == "rejected"


# -- durability --------------------------------------------------------------------------------


def test_a_run_left_running_by_a_stopped_runtime_is_resumed_from_its_last_step(
    crm: Any, erp: str
) -> None:
    agent = base_agent()
    agent["steps"][1] = {
        "id": "stock",
        "kind": "tool",
        "tool": "erp.reserve",
        "needs": ["history"],
        "with": {"sku": "PM-SPO2-03", "quantity": 1, "warehouse": "WH-GZ"},
    }
    agent["steps"][2]["rules"] = []
    save(crm, agent)
    ok(erp, "POST", "/_admin/fail-next", {"delay": 5.0, "count": 1})

    async def stop_midway(runtime: Any) -> str:
        import asyncio

        summary = await runtime.start("probe", {"account": crm.test_account}, wait=False)
        for _ in range(200):  # until the first step is durable and the second in flight
            await asyncio.sleep(0.02)
            by_step = await asyncio.to_thread(steps, crm, summary["id"])
            if "history" in by_step:
                break
        return str(summary["id"])

    run_id = run_async(crm, stop_midway)  # the runtime closes with the run in flight
    with crm.database.read() as session:
        row = session.get(AgentRun, run_id)
        assert row is not None and row.status == "running"
        done = {
            s.step
            for s in session.execute(
                sa.select(AgentRunStep).where(AgentRunStep.run_id == run_id)
            ).scalars()
        }
    assert done == {"history"}
    history_before = steps(crm, run_id)["history"]
    with crm.database.write() as session:
        session.execute(sa.update(AgentRun).values(lease_until=0))  # its runtime is gone
    resumed = run_async(crm, lambda runtime: runtime.resume_expired())
    assert resumed == [run_id]
    by_step = steps(crm, run_id)
    assert trace(crm, run_id)["status"] == "succeeded"
    assert by_step["history"]["started_at"] == history_before["started_at"]  # not redone
    reservation = by_step["stock"]["output"]["id"]
    # The interrupted call and the resumed one carried the same key: one reservation only.
    assert ok(erp, "GET", f"/api/reservations/{reservation}")["quantity"] == 1


# -- traces ------------------------------------------------------------------------------------


def test_a_finished_run_is_on_the_ledger_and_an_edited_trace_is_detected(crm: Any) -> None:
    save(crm, base_agent())
    result = start(crm)
    with crm.database.read() as session:
        proof = crm.agents.verify(session, result["id"])
        document = crm.agents.otlp(session, result["id"])
    parse_otlp(document)  # valid against opentelemetry-proto
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert proof["intact"] and proof["bundle"]["index"] == proof["ledger_index"]
    names = {s["name"] for s in spans}
    assert {
        "invoke_agent probe",
        "execute_tool crm.work_orders",
        "execute_tool erp.spot_stock",
    } <= names
    tool_span = next(s for s in spans if s["name"] == "execute_tool erp.spot_stock")
    attributes = {a["key"]: a["value"] for a in tool_span["attributes"]}
    assert attributes["gen_ai.operation.name"] == {"stringValue": "execute_tool"}
    assert attributes["gen_ai.tool.name"] == {"stringValue": "erp.spot_stock"}
    assert len({s["traceId"] for s in spans}) == 1
    stock_step = steps(crm, result["id"])["stock"]
    assert stock_step["trace"]["calls"][0]["status"] == 200
    assert stock_step["trace"]["calls"][0]["params"] == {"sku": "CT-TUBE-01"}
    with crm.database.write() as session:
        session.execute(
            sa.update(AgentRunStep)
            .where(AgentRunStep.run_id == result["id"], AgentRunStep.step == "decision")
            .values(output={"verdict": "ok"})
        )
    with crm.database.read() as session:
        tampered = crm.agents.verify(session, result["id"])
    assert not tampered["intact"] and tampered["problems"]


def test_runs_are_queryable_by_customer(crm: Any) -> None:
    save(crm, base_agent())
    result = start(crm)
    with crm.database.read() as session:
        mine = crm.agents.runs(session, customer=crm.test_account)
        other = crm.agents.runs(session, customer="01900000-0000-7000-8000-000000000000")
    assert [r["id"] for r in mine] == [result["id"]] and other == []


# -- LLM steps ---------------------------------------------------------------------------------


def _llm_agent() -> dict[str, Any]:
    agent = base_agent()
    agent["steps"].append(
        {
            "id": "note",
            "kind": "llm",
            "needs": ["decision"],
            "prompt": (
                "客户：{{ reads.account.name }}\n结论：{{ steps.decision.verdict }}\n"
                "工单数：{{ steps.history.count }}"
            ),
            "fallback": "{{ reads.account.name }}：{{ steps.decision.verdict }}",
            "language": "zh",
        }
    )
    agent["outputs"]["value"]["note"] = {"cel": "steps.note.text"}
    agent["outputs"]["value"]["aigc"] = {"cel": "steps.note.metadata.aigc"}
    return agent


def test_an_llm_step_is_labelled_as_ai_generated(
    make_kindred: Any, erp: str, llm_server: str, crm: Any
) -> None:
    kindred = make_kindred(inventory_url=erp, llm_url=llm_server)
    kindred.test_account = crm.test_account
    save(kindred, _llm_agent())
    result = start(kindred)
    assert result["status"] == "succeeded"
    assert result["outputs"]["note"].startswith("【AI生成】") and result["outputs"]["aigc"] is True
    note = steps(kindred, result["id"])["note"]
    assert note["trace"]["llm"]["completion_tokens"] > 0
    assert note["output"]["metadata"]["content_id"]


def test_without_an_llm_or_when_it_fails_the_declared_fallback_runs(
    make_kindred: Any, erp: str, llm_server: str, crm: Any
) -> None:
    save(crm, _llm_agent())
    offline = start(crm)
    assert offline["outputs"]["note"] == "上海第一人民医院：review"
    assert offline["outputs"]["aigc"] is False
    kindred = make_kindred(inventory_url=erp, llm_url=llm_server, llm_max_retries=0)
    kindred.test_account = crm.test_account
    ok(llm_server, "POST", "/_admin/fail-next", {"status": 503, "count": 3})
    failed = start(kindred, idempotency_key="llm-down")
    assert failed["status"] == "succeeded" and failed["outputs"]["aigc"] is False
    assert "503" in steps(kindred, failed["id"])["note"]["trace"]["fallback"]


# -- bad input ---------------------------------------------------------------------------------


def test_bad_inputs_and_unknown_agents_are_refused_and_start_nothing(crm: Any) -> None:
    save(crm, base_agent())
    with pytest.raises(ValidationFailed) as caught:
        start(crm, inputs={"account": 7, "colour": "red"})
    assert {(e["path"], e["code"]) for e in caught.value.errors} == {
        ("/inputs/account", "type"),
        ("/inputs/colour", "unknown-input"),
    }
    with pytest.raises(NotFound):
        start(crm, "nobody")
    with crm.database.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AgentRun)) == 0


def test_a_record_the_agent_cannot_find_fails_the_run_visibly(crm: Any) -> None:
    save(crm, base_agent())
    result = start(crm, inputs={"account": "01900000-0000-7000-8000-000000000000"})
    assert result["status"] == "failed" and result["error_code"] == "read-not-found"
    with crm.database.read() as session:
        assert crm.agents.verify(session, result["id"])["intact"]
