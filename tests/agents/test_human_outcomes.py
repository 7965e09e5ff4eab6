"""A person's decision always leads somewhere defined; "unavailable" is not "none";
conditions that affect a sale reach the rep; evaluation runs never reach the live queue.

Every outcome (approved, rejected, modified) of every human step of the shipped agents — the
compliance officer's check when the insurance registry is down, and the purchase approval —
runs the purchase-intent review to a defined recommendation, over the four reference systems
as processes (outages made with their ``/_admin/fail-next``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kindred.agents.demo import CASES, PINNED, golden_cases
from kindred.agents.models import AgentRun, HumanTask
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.errors import ValidationFailed
from kindred.records.service import RequestContext
from kindred.reference.knowledge_data import CONDITIONS
from tests.agents.conftest import SYSTEMS, ok, run_async, save, shipped_agents, steps, trace

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
# What the shipped compliance escalation makes of each decision (its `outcomes`).
APPROVED = {"qualified": True, "reasons": [], "checked_by": "compliance"}
REFUSED = {
    "code": "refused_by_compliance",
    "message": "insurance registry unavailable; refused by the compliance officer",
}


@pytest.fixture
def world(make_kindred: Any, systems: dict[str, str]) -> Iterator[Any]:
    kindred = shipped_agents(make_kindred, systems)
    yield kindred
    for name in SYSTEMS:  # no forced failure outlives its test
        ok(systems[name], "POST", "/_admin/fail-next", {"count": 0})


def review(kindred: Any, case: str) -> dict[str, Any]:
    intent = kindred.intents.get(case, case)
    return run_async(
        kindred,
        lambda runtime: runtime.start("purchase_intent_review", {"purchase_intent": intent}),
    )


def resume(kindred: Any, run_id: str) -> dict[str, Any]:
    return run_async(kindred, lambda runtime: runtime.resume(run_id))


def open_task(kindred: Any, root_id: str) -> dict[str, Any]:
    """The one open task of a run tree (a sub-agent's task is not in the root's waiting_for)."""
    with kindred.database.read() as session:
        tasks = [
            t
            for t in kindred.agents.tasks(session, SYSTEM_PRINCIPAL, mine=False)
            if t["root_id"] == root_id
        ]
    assert len(tasks) == 1, tasks
    return tasks[0]


def decide(
    kindred: Any,
    task_id: str,
    outcome: str,
    values: dict[str, Any] | None = None,
    comment: str | None = None,
) -> None:
    with kindred.database.write() as session:
        kindred.agents.decide(session, SYSTEM_PRINCIPAL, task_id, outcome, values or {}, comment)


def child(kindred: Any, run_id: str, agent: str) -> dict[str, Any]:
    return next(c for c in trace(kindred, run_id)["children"] if c["agent"] == agent)


def registry_down(systems: dict[str, str]) -> None:
    # Both attempts of the qualification check answer 503: the step escalates to a person.
    ok(systems["insurance"], "POST", "/_admin/fail-next", {"status": 503, "count": 2})


# -- the compliance officer's check while the insurance registry is down ----------------------


@pytest.mark.parametrize(
    ("outcome", "values", "action", "reason", "qualified"),
    [
        ("approved", {}, "proceed", "qualified, in stock and compatible", True),
        ("rejected", {}, "decline", "insurance: refused_by_compliance", False),
        ("modified", {"qualified": True}, "proceed", "qualified, in stock and compatible", True),
        ("modified", {"qualified": False}, "decline", "insurance: not qualified", False),
    ],
)
def test_every_decision_on_a_registry_outage_reaches_a_recommendation(
    world: Any,
    systems: dict[str, str],
    outcome: str,
    values: dict[str, Any],
    action: str,
    reason: str,
    qualified: bool,
) -> None:
    registry_down(systems)
    waiting = review(world, "beijing")
    assert waiting["status"] == "waiting", waiting
    task = open_task(world, waiting["id"])
    assert (task["agent"], task["step"], task["reason"]) == (
        "compliance_check",
        "qualification",
        "error",
    )
    assert "503" in task["details"]["error"]
    # The officer sees what each decision does; a modification starts from the approval.
    assert task["details"]["outcomes"] == {
        "approved": APPROVED,
        "rejected": {"qualified": False, "reasons": [REFUSED], "checked_by": "compliance"},
    }
    assert task["details"]["proposal"] == APPROVED
    decide(world, task["id"], outcome, values, "checked by phone")
    final = resume(world, waiting["id"])
    assert final["status"] == "succeeded", final
    outputs = final["outputs"]
    assert (outputs["action"], outputs["reason"]) == (action, reason)
    assert outputs["compliance"]["qualified"] is qualified
    assert outputs["compliance"]["qualification_by"] == "compliance"
    assert outputs["approval"] == "not required"
    qualification = {
        s["step"]: s for s in child(world, waiting["id"], "compliance_check")["steps"]
    }["qualification"]
    assert qualification["output"]["outcome"] == outcome
    assert qualification["output"]["qualified"] is qualified


def test_without_an_outage_the_registry_decides(world: Any) -> None:
    outputs = review(world, "beijing")["outputs"]
    assert outputs["compliance"]["qualification_by"] == "registry"
    assert outputs["compliance"]["payment_history"] == "known"


# -- the purchase approval -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "values", "comment", "action", "reason", "conditions"),
    [
        ("approved", {}, None, "proceed", "approved by compliance: overdue invoices", []),
        ("rejected", {}, "collect first", "decline", "declined by compliance: collect first", []),
        (
            "modified",
            {"conditions": "30% prepayment before delivery"},
            None,
            "proceed",
            "approved by compliance with conditions: 30% prepayment before delivery "
            "(overdue invoices",
            ["compliance: 30% prepayment before delivery"],
        ),
    ],
)
def test_every_decision_on_the_purchase_approval_reaches_a_recommendation(
    world: Any,
    outcome: str,
    values: dict[str, Any],
    comment: str | None,
    action: str,
    reason: str,
    conditions: list[str],
) -> None:
    waiting = review(world, "wuhan")
    assert waiting["status"] == "waiting"
    task = open_task(world, waiting["id"])
    assert [task["id"]] == waiting["waiting_for"]
    assert (task["agent"], task["step"], task["reason"]) == (
        "purchase_intent_review",
        "approval",
        "step",
    )
    assert task["details"]["proposal"] == {"action": "proceed", "conditions": ""}
    assert task["modifiable"] == ["conditions"]
    decide(world, task["id"], outcome, values, comment)
    final = resume(world, waiting["id"])
    assert final["status"] == "succeeded", final
    outputs = final["outputs"]
    assert outputs["action"] == action
    assert outputs["reason"].startswith(reason), outputs["reason"]
    assert outputs["approval"] == outcome
    installation = [c for c in outputs["conditions"] if c.startswith("installation: ")]
    assert outputs["conditions"] == installation + conditions
    for condition in conditions:  # what the approver set reaches the rep's summary
        assert condition.removeprefix("compliance: ") in outputs["summary"]


def test_an_outage_then_the_approval_each_decided_in_turn(
    world: Any, systems: dict[str, str]
) -> None:
    registry_down(systems)
    waiting = review(world, "wuhan")
    escalation = open_task(world, waiting["id"])
    assert escalation["step"] == "qualification"
    decide(world, escalation["id"], "approved")
    # Qualified by the officer; the overdue invoices still need the purchase approval.
    again = resume(world, waiting["id"])
    assert again["status"] == "waiting"
    approval = open_task(world, waiting["id"])
    assert approval["step"] == "approval" and approval["id"] == again["waiting_for"][0]
    decide(world, approval["id"], "approved")
    final = resume(world, waiting["id"])
    assert final["status"] == "succeeded"
    assert final["outputs"]["action"] == "proceed"
    assert final["outputs"]["compliance"]["qualification_by"] == "compliance"


def test_an_escalation_without_outcomes_takes_only_a_complete_modification(
    world: Any, systems: dict[str, str]
) -> None:
    """An escalation declaring no outcomes: approving or rejecting would leave its output
    unset, so it is refused (nothing recorded); a modification giving the values decides."""
    save(
        world,
        {
            "name": "registry_probe",
            "title": "Registry probe",
            "role": "compliance",
            "inputs": {"account": {"type": "string", "required": True}},
            "reads": [{"name": "account", "object": "account", "id": "inputs.account"}],
            "grants": {"account": ["name", "tax_id"]},
            "tools": ["insurance.qualification_check"],
            "steps": [
                {
                    "id": "qualification",
                    "kind": "tool",
                    "tool": "insurance.qualification_check",
                    "with": {
                        "credit_code": {"cel": "reads.account.tax_id"},
                        "product_category": "consumable",
                    },
                    "retry": {"attempts": 1},
                    "on_error": {
                        "route": "escalate",
                        "task": {"title": "Check by hand", "modifiable": ["qualified"]},
                    },
                },
            ],
            "outputs": {"value": {"qualified": {"cel": "steps.qualification.qualified"}}},
        },
    )
    with world.database.read() as session:
        intent, _ = world.records.get(session, SYSTEM, "purchase_intent", world.intents["beijing"])
    ok(systems["insurance"], "POST", "/_admin/fail-next", {"status": 503, "count": 1})
    waiting = run_async(
        world, lambda runtime: runtime.start("registry_probe", {"account": intent["account"]})
    )
    assert waiting["status"] == "waiting"
    task_id = waiting["waiting_for"][0]
    for outcome in ("approved", "rejected"):
        with world.database.write() as session, pytest.raises(ValidationFailed) as caught:
            world.agents.decide(session, SYSTEM_PRINCIPAL, task_id, outcome, {})
        assert [(e["path"], e["code"]) for e in caught.value.errors] == [
            ("/outcome", "undefined-outcome")
        ]
    with world.database.read() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None and (task.status, task.outcome, task.decided_by) == (
            "open",
            None,
            None,
        )
        assert session.get(AgentRun, waiting["id"]).status == "waiting"
    decide(world, task_id, "modified", {"qualified": True})
    final = resume(world, waiting["id"])
    assert (final["status"], final["outputs"]) == ("succeeded", {"qualified": True})


# -- what is refused when a definition is saved ----------------------------------------------


def _shipped(kindred: Any, name: str) -> dict[str, Any]:
    with kindred.database.read() as session:
        definition: dict[str, Any] = kindred.agents.get(session, name)["definition"]
    return definition


def _refused(kindred: Any, definition: dict[str, Any]) -> set[tuple[str, str]]:
    with kindred.database.read() as session:
        before = kindred.agents.get(session, definition["name"])["version"]
    with kindred.database.write() as session, pytest.raises(ValidationFailed) as caught:
        kindred.agents.save(session, definition, actor_id=None)
    with kindred.database.read() as session:
        assert kindred.agents.get(session, definition["name"])["version"] == before
    return {(e["path"], e["code"]) for e in caught.value.errors}


def test_a_decision_that_would_leave_an_output_unset_is_refused_at_save(world: Any) -> None:
    escalation = "/steps/1/on_error/task"
    compliance = _shipped(world, "compliance_check")
    task = compliance["steps"][1]["on_error"]["task"]
    # The definition: no outcomes; approving or rejecting left `qualified` unset.
    del task["outcomes"], task["modifiable"]
    assert (f"{escalation}/outcomes", "required") in _refused(world, compliance)

    compliance = _shipped(world, "compliance_check")
    outcomes = compliance["steps"][1]["on_error"]["task"]["outcomes"]
    del outcomes["rejected"]
    assert (f"{escalation}/outcomes/rejected", "required") in _refused(world, compliance)

    compliance = _shipped(world, "compliance_check")
    outcomes = compliance["steps"][1]["on_error"]["task"]["outcomes"]
    del outcomes["rejected"]["reasons"]
    assert (f"{escalation}/outcomes/rejected", "outcome-fields") in _refused(world, compliance)

    compliance = _shipped(world, "compliance_check")
    compliance["steps"][1]["on_error"]["task"]["modifiable"] = ["qualified", "limit"]
    assert (f"{escalation}/modifiable/1", "not-in-outcome") in _refused(world, compliance)

    compliance = _shipped(world, "compliance_check")
    compliance["steps"][1]["on_error"]["task"]["outcomes"]["approved"]["outcome"] = "yes"
    assert (f"{escalation}/outcomes/approved/outcome", "reserved") in _refused(world, compliance)

    review_definition = _shipped(world, "purchase_intent_review")
    approval = next(s for s in review_definition["steps"] if s["id"] == "approval")
    approval["task"]["details"]["proposal"] = {"action": "proceed"}
    pointer = f"/steps/{review_definition['steps'].index(approval)}/task/details/proposal"
    assert (pointer, "shape") in _refused(world, review_definition)


# -- "unavailable" is not "none" -------------------------------------------------------------


def _new_customer_intent(kindred: Any) -> str:
    """昆明滇池社区卫生服务中心: designated by the insurance registry, no contracts with us."""
    with kindred.database.write() as session:
        shanghai, _ = kindred.records.get(
            session, SYSTEM, "purchase_intent", kindred.intents["shanghai"]
        )
        account = kindred.records.create(
            session,
            SYSTEM,
            "account",
            {
                "name": "昆明滇池社区卫生服务中心",
                "kind": "hospital",
                "tax_id": "12530112411862529R",
                "province": "云南省",
                "city": "昆明市",
            },
        )
        intent = kindred.records.create(
            session,
            SYSTEM,
            "purchase_intent",
            {
                "title": "血氧探头首单",
                "account": account["id"],
                "product": shanghai["product"],
                "quantity": 2,
            },
        )
    return str(intent["id"])


def test_a_finance_outage_says_unavailable_and_a_new_customer_says_none(
    world: Any, systems: dict[str, str]
) -> None:
    ok(systems["contracts"], "POST", "/_admin/fail-next", {"status": 503, "count": 2})
    down = review(world, "guangzhou")  # two years of invoices with us
    assert down["status"] == "waiting"
    compliance = child(world, down["id"], "compliance_check")["outputs"]
    assert compliance["payment_history"] == "unavailable"
    assert compliance["reason"] == "payment history unavailable (finance system down)"
    task = open_task(world, down["id"])
    assert task["details"]["reason"] == "payment history unavailable (finance system down)"
    decide(world, task["id"], "approved")
    final = resume(world, down["id"])["outputs"]
    assert (
        final["reason"]
        == "approved by compliance: payment history unavailable (finance system down)"
    )
    assert "no payment history" not in final["summary"]

    new = review(world, _new_customer_intent(world))
    assert new["status"] == "waiting", new
    compliance = child(world, new["id"], "compliance_check")["outputs"]
    assert compliance["payment_history"] == "none"
    assert compliance["reason"] == "no payment history with us"


def test_a_knowledge_base_outage_does_not_claim_compatibility(
    world: Any, systems: dict[str, str]
) -> None:
    ok(systems["knowledge"], "POST", "/_admin/fail-next", {"status": 503, "count": 2})
    outputs = review(world, "beijing")["outputs"]
    service = outputs["service"]
    assert (service["status"], service["checked"], service["compatibility"]) == (
        "unchecked",
        False,
        "unknown",
    )
    assert service["note"] == "compatibility not checked: knowledge base unavailable"
    assert outputs["action"] == "proceed"
    assert outputs["reason"] == (
        "qualified and in stock; compatibility not checked (knowledge base unavailable)"
    )
    assert outputs["conditions"] == []
    assert review(world, "beijing")["outputs"]["service"]["checked"] is True  # it is back


# -- conditions reach the rep ----------------------------------------------------------------


def test_installation_conditions_reach_the_recommendation_and_the_summary(world: Any) -> None:
    result = review(world, "shanghai")
    outputs = result["outputs"]
    service = outputs["service"]
    assert (service["status"], service["compatibility"]) == ("conditions", CONDITIONS)
    assert service["conditions"]
    assert outputs["conditions"] == [f"installation: {service['conditions']}"]
    assert service["conditions"] in outputs["summary"]  # the template fallback
    prompt = steps(world, result["id"])["summary"]["input"]["prompt"]
    assert service["conditions"] in prompt  # what a language model is asked to write from
    # No conditions, none listed.
    assert review(world, "beijing")["outputs"]["conditions"] == []


# -- evaluation runs stay out of live work ----------------------------------------------------


def test_the_golden_cases_pass_eight_times_and_leave_the_live_queue_alone(world: Any) -> None:
    from kindred.agents.evaluation import evaluate

    with world.database.write() as session:
        for case in golden_cases(world.intents):
            world.agents.add_case(
                session,
                "purchase_intent_review",
                case["name"],
                case["inputs"],
                case["expected"],
                None,
                case["systems"],
            )
        acting = world.auth.acting_principal(session, world.acting)
    report = run_async(
        world,
        lambda runtime: evaluate(
            runtime, "purchase_intent_review", k=8, versions=None, principal=acting
        ),
    )
    failed = {
        name: case["versions"]
        for name, case in report["detail"].items()
        if not all(v["pass_k"] for v in case["versions"].values())
    }
    assert failed == {}
    assert (report["pass_k"], report["deviation_rate"], report["cases"]) == (
        1.0,
        0.0,
        len(CASES) + len(PINNED),
    )
    with world.database.read() as session:
        # The evaluation asked nobody: its tasks are closed and not in the live queue.
        assert world.agents.tasks(session, SYSTEM_PRINCIPAL, mine=False) == []
        evaluation_tasks = world.agents.tasks(
            session, SYSTEM_PRINCIPAL, mine=False, status=None, mode="evaluation"
        )
        assert evaluation_tasks and {t["status"] for t in evaluation_tasks} == {"cancelled"}
        assert world.agents.metrics(session, None)["runs"] == 0
    # A live review that needs an approval is the queue's only task and the only intervention.
    live = review(world, "wuhan")
    with world.database.read() as session:
        queue = world.agents.tasks(session, SYSTEM_PRINCIPAL, mine=False)
        metrics = world.agents.metrics(session, None)
    assert [t["id"] for t in queue] == live["waiting_for"]
    assert (metrics["runs"], metrics["intervention_rate"]) == (1, 1.0)
