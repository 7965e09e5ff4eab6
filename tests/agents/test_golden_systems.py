"""Golden cases that pin what a system answers (issue 28): a case's ``systems`` make named
tools fail (or answer a recorded response) in that case's evaluation runs only, at the
tool-call layer, so retries, escalations and traces behave as for a real outage — and a live
run beside the evaluation still reaches the real systems."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.agents.demo import CASES, PINNED, golden_cases
from kindred.agents.evaluation import evaluate
from kindred.agents.models import AgentRun, GoldenCase
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.errors import ValidationFailed
from tests.agents.conftest import run_async, shipped_agents, trace

AGENT = "purchase_intent_review"
REGISTRY = "insurance.qualification_check"


@pytest.fixture
def world(make_kindred: Any, systems: dict[str, str]) -> Iterator[Any]:
    """The shipped agents over the four reference systems, with the demo's intents. No
    system is made to fail here: every outage below is a golden case's pin."""
    kindred = shipped_agents(make_kindred, systems)
    yield kindred


def add_cases(kindred: Any, cases: list[dict[str, Any]]) -> Any:
    with kindred.database.write() as session:
        for case in cases:
            kindred.agents.add_case(
                session,
                AGENT,
                case["name"],
                case["inputs"],
                case["expected"],
                None,
                case["systems"],
            )
        return kindred.auth.acting_principal(session, kindred.acting)


def evaluation(kindred: Any, principal: Any, k: int) -> dict[str, Any]:
    return run_async(
        kindred,
        lambda runtime: evaluate(runtime, AGENT, k=k, versions=None, principal=principal),
    )


def runs_of(report: dict[str, Any], case: str) -> list[dict[str, Any]]:
    return [run for v in report["detail"][case]["versions"].values() for run in v["runs"]]


def attempts(kindred: Any, root_id: str, agent: str, step: str) -> list[dict[str, Any]]:
    """The attempt log of ``step`` in the run tree's ``agent`` run."""
    tree = trace(kindred, root_id)
    run = next(r for r in [tree, *tree.get("children", [])] if r["agent"] == agent)
    found = next(s for s in run["steps"] if s["step"] == step)
    log: list[dict[str, Any]] = found["trace"]["attempt_log"]
    return log


@pytest.mark.parametrize("pinned", PINNED, ids=[p.name for p in PINNED])
def test_each_pinned_outage_gives_its_expected_result(world: Any, pinned: Any) -> None:
    case = next(c for c in golden_cases(world.intents) if c["name"] == pinned.name)
    principal = add_cases(world, [case])
    report = evaluation(world, principal, k=2)
    assert (report["cases"], report["pass_k"], report["deviation_rate"]) == (1, 1.0, 0.0), report
    outcomes = [run["outcome"] for run in runs_of(report, pinned.name)]
    expected = {"_status": "succeeded", **pinned.expected}
    assert outcomes == [expected, expected]


def test_the_trace_marks_the_pinned_attempts(world: Any) -> None:
    cases = {c["name"]: c for c in golden_cases(world.intents)}
    principal = add_cases(
        world, [cases["beijing-registry-503-once"], cases["beijing-registry-down"]]
    )
    report = evaluation(world, principal, k=1)
    assert report["pass_k"] == 1.0, report
    # 503 once: the first attempt is the pin's, the retry reached the real registry.
    (once,) = runs_of(report, "beijing-registry-503-once")
    first, second = attempts(world, once["run"], "compliance_check", "qualification")
    assert (first["status"], first["pinned"], first["error"]["code"]) == (
        "failed",
        True,
        "http-5xx",
    )
    assert [(c["status"], c["pinned"]) for c in first["calls"]] == [(503, True)]
    assert first["retryable"] is True
    assert (second["status"], "pinned" in second) == ("succeeded", False)
    assert [c["status"] for c in second["calls"]] == [201]  # the registry created the check
    assert "pinned" not in second["calls"][0]
    # Down: every attempt is pinned, and the step escalated to the compliance officer.
    (down,) = runs_of(report, "beijing-registry-down")
    log = attempts(world, down["run"], "compliance_check", "qualification")
    assert log and all(a["pinned"] and a["status"] == "failed" for a in log)
    assert {c["status"] for a in log for c in a["calls"]} == {503}


def test_the_shipped_golden_cases_pass_eight_times(world: Any) -> None:
    shipped = golden_cases(world.intents)
    assert len(shipped) == len(CASES) + len(PINNED)
    principal = add_cases(world, shipped)
    report = evaluation(world, principal, k=8)
    failed = {
        name: case["versions"]
        for name, case in report["detail"].items()
        if not all(v["pass_k"] for v in case["versions"].values())
    }
    assert failed == {}
    assert (report["cases"], report["runs"], report["pass_k"], report["deviation_rate"]) == (
        len(shipped),
        8 * len(shipped),
        1.0,
        0.0,
    )


def test_a_live_run_beside_an_evaluation_reaches_the_real_systems(world: Any) -> None:
    cases = {c["name"]: c for c in golden_cases(world.intents)}
    principal = add_cases(world, [cases["beijing-registry-down"]])
    intent = world.intents["beijing"]

    async def both(runtime: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        report_task = asyncio.ensure_future(
            evaluate(runtime, AGENT, k=4, versions=None, principal=principal)
        )
        # Live reviews of the same intent, started while the evaluation's runs are under way.
        live = [
            await runtime.start(AGENT, {"purchase_intent": intent}, principal=principal)
            for _ in range(3)
        ]
        return await report_task, live

    report, live = run_async(world, both)
    assert report["pass_k"] == 1.0  # every evaluation run reached the compliance officer
    for summary in live:
        assert summary["status"] == "succeeded", summary
        assert summary["outputs"]["action"] == "proceed"
        log = attempts(world, summary["id"], "compliance_check", "qualification")
        assert [a["status"] for a in log] == ["succeeded"]
        assert not any("pinned" in a or "pinned" in c for a in log for c in a["calls"])
    with world.database.read() as session:
        modes = dict(
            session.execute(
                sa.select(AgentRun.id, AgentRun.mode).where(
                    AgentRun.id.in_([s["id"] for s in live])
                )
            ).all()
        )
    assert set(modes.values()) == {"live"}


@pytest.mark.parametrize(
    ("pins", "errors"),
    [
        (
            {"insurance.nope": {"fail": {"status": 503}}},
            [("/systems/insurance.nope", "unknown-tool")],
        ),
        ({REGISTRY: {"fail": {"status": 503}, "x": 1}}, [(f"/systems/{REGISTRY}", "shape")]),
        ({REGISTRY: {}}, [(f"/systems/{REGISTRY}", "shape")]),
        ({REGISTRY: "down"}, [(f"/systems/{REGISTRY}", "shape")]),
        ({REGISTRY: {"fail": 503}}, [(f"/systems/{REGISTRY}/fail", "shape")]),
        ({REGISTRY: {"fail": {"status": 200}}}, [(f"/systems/{REGISTRY}/fail/status", "range")]),
        (
            {REGISTRY: {"fail": {"status": 503, "times": 0}}},
            [(f"/systems/{REGISTRY}/fail/times", "range")],
        ),
        (
            {REGISTRY: {"answer": {"reasons": []}}},
            [(f"/systems/{REGISTRY}/answer/qualified", "output-schema")],
        ),
        (
            {"crm.work_orders": {"fail": {"status": 503}}},
            [("/systems/crm.work_orders/fail", "not-pinnable")],
        ),
    ],
)
def test_invalid_systems_are_refused_and_nothing_is_saved(
    world: Any, pins: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    inputs = {"purchase_intent": world.intents["beijing"]}
    with world.database.write() as session:
        world.agents.add_case(session, AGENT, "kept", inputs, {"action": "proceed"}, None, {})
    with world.database.write() as session, pytest.raises(ValidationFailed) as caught:
        world.agents.add_case(session, AGENT, "new", inputs, {"action": "proceed"}, None, pins)
    assert [(e["path"], e["code"]) for e in caught.value.errors] == errors
    # Replacing an existing case is refused just the same: it keeps what it had.
    with world.database.write() as session, pytest.raises(ValidationFailed):
        world.agents.add_case(session, AGENT, "kept", inputs, {"action": "decline"}, None, pins)
    with world.database.read() as session:
        rows = session.execute(sa.select(GoldenCase).where(GoldenCase.agent == AGENT)).scalars()
        saved = {row.name: (row.expected, row.systems) for row in rows}
    assert saved == {"kept": ({"action": "proceed"}, {})}


def test_a_pinned_answer_stands_in_for_the_system(world: Any) -> None:
    refused = {
        "qualified": False,
        "reasons": [{"code": "not_designated", "message": "recorded: not designated"}],
    }
    case = {
        "name": "beijing-registry-says-no",
        "inputs": {"purchase_intent": world.intents["beijing"]},
        "expected": {"action": "decline"},
        "systems": {REGISTRY: {"answer": refused}},
    }
    principal = add_cases(world, [case])
    with world.database.read() as session:
        (listed,) = world.agents.cases(session, AGENT)
    assert listed["systems"] == case["systems"]
    report = evaluation(world, principal, k=1)
    assert report["pass_k"] == 1.0, report["detail"]
    (run,) = runs_of(report, case["name"])
    (attempt,) = attempts(world, run["run"], "compliance_check", "qualification")
    assert (attempt["status"], attempt["pinned"]) == ("succeeded", True)
    assert [(c["pinned"], c["response"]) for c in attempt["calls"]] == [(True, refused)]
    with world.database.read() as session:
        assert world.agents.tasks(session, SYSTEM_PRINCIPAL, mine=False) == []


def test_the_api_refuses_an_unknown_tool_with_its_pointer(world: Any) -> None:
    from fastapi.testclient import TestClient

    from kindred.app import create_app

    password = "correct-horse-battery"
    with world.database.write() as session:
        world.auth.create_user(
            session, email="pins@example.com", name="pins", password=password, roles=["admin"]
        )
    inputs = {"purchase_intent": world.intents["beijing"]}
    with TestClient(create_app(world, bootstrap=False)) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "pins@example.com", "password": password}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        refused = client.post(
            f"/api/v1/agents/{AGENT}/cases",
            json={
                "name": "registry-gone",
                "inputs": inputs,
                "expected": {"_status": "waiting"},
                "systems": {"insurance.registry": {"fail": {"status": 503}}},
            },
            headers=headers,
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [(e["path"], e["code"]) for e in refused.json()["errors"]] == [
            ("/systems/insurance.registry", "unknown-tool")
        ]
        listed = client.get(f"/api/v1/agents/{AGENT}/cases", headers=headers).json()
        assert listed.get("data", listed.get("items")) == []
        saved = client.post(
            f"/api/v1/agents/{AGENT}/cases",
            json={
                "name": "registry-gone",
                "inputs": inputs,
                "expected": {"_status": "waiting"},
                "systems": {REGISTRY: {"fail": {"status": 503}}},
            },
            headers=headers,
        )
        assert saved.status_code == 201, saved.text
        assert saved.json()["systems"] == {REGISTRY: {"fail": {"status": 503}}}
