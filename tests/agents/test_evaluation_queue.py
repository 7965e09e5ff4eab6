"""Evaluations stay out of live work: the tasks their runs open are marked ``evaluation``,
never appear in the approvals queue, and are closed by the evaluation itself (no evaluation
run waits for anybody); the live metrics count live runs only."""

from __future__ import annotations

from typing import Any

from kindred.agents.models import HumanTask
from tests.api.conftest import world  # noqa: F401 (the API tests' people)
from tests.api.test_agents_api import AGENT, _account


def test_an_evaluation_leaves_the_live_queue_and_metrics_to_live_work(
    client: Any,
    world: Any,  # noqa: F811
    kindred: Any,
) -> None:
    admin = world.admin.headers
    assert client.post("/api/v1/agents", json=AGENT, headers=admin).status_code == 201
    tier_a, tier_b = _account(kindred, world, "A"), _account(kindred, world, "B")
    live = client.post(
        "/api/v1/agents/triage/runs", json={"inputs": {"account": tier_a}}, headers=admin
    ).json()
    assert live["status"] == "waiting"
    done = client.post(
        "/api/v1/agents/triage/runs", json={"inputs": {"account": tier_b}}, headers=admin
    ).json()
    assert done["status"] == "succeeded"
    case = {"name": "tier-a", "inputs": {"account": tier_a}, "expected": {"_status": "waiting"}}
    assert client.post("/api/v1/agents/triage/cases", json=case, headers=admin).status_code == 201
    report = client.post("/api/v1/agents/triage/evaluations", json={"k": 2}, headers=admin)
    assert report.status_code == 200, report.text
    assert report.json()["pass_k"] == 1.0  # reaching a person is the outcome it expects
    runs = [r["run"] for r in report.json()["detail"]["tier-a"]["versions"]["1"]["runs"]]
    assert len(runs) == 2

    # The queue holds the live task only, for its assignee and for admins alike.
    for person in (world.service_east, world.admin):
        queue = client.get("/api/v1/tasks", headers=person.headers).json()["data"]
        assert [t["id"] for t in queue] == live["waiting_for"]
        assert queue[0]["mode"] == "live"
    # The evaluation's tasks are marked and closed, with the evaluation named.
    listed = client.get(
        "/api/v1/tasks", params={"mode": "evaluation", "status": ""}, headers=admin
    ).json()["data"]
    assert sorted(t["run_id"] for t in listed) == sorted(runs)
    for task in listed:
        assert (task["mode"], task["status"], task["outcome"]) == ("evaluation", "cancelled", None)
        assert report.json()["id"] in task["comment"]
    # Nobody decides one any more; the refusal changes nothing.
    refused = client.post(
        f"/api/v1/tasks/{listed[0]['id']}/decision", json={"outcome": "approved"}, headers=admin
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "closed without a decision" in refused.json()["detail"]
    with kindred.database.read() as session:
        task = session.get(HumanTask, listed[0]["id"])
        assert task is not None and (task.status, task.decided_by) == ("cancelled", None)
    # No evaluation run waits: each ended, its trace on the ledger.
    for run_id in runs:
        run = client.get(f"/api/v1/agent-runs/{run_id}", headers=admin).json()
        assert (run["mode"], run["status"], run["error_code"]) == (
            "evaluation",
            "cancelled",
            "evaluation-ended",
        )
        assert client.get(f"/api/v1/agent-runs/{run_id}/verify", headers=admin).json()["intact"]

    # Live metrics: the two live runs, one of which asked a person.
    metrics = client.get("/api/v1/agents/metrics", headers=admin).json()
    assert metrics["runs"] == 2
    assert metrics["by_status"] == {"waiting": 1, "succeeded": 1}
    assert metrics["intervention_rate"] == 0.5
