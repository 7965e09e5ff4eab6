"""The agents API: definitions in YAML, runs, traces (who may read them), the task queue,
golden cases and evaluation — with problem+json for everything refused."""

from __future__ import annotations

from typing import Any

import yaml

from kindred.agents.models import AgentRow, AgentRun, HumanTask
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from tests.agents.otlp_schema import parse_otlp

AGENT = {
    "name": "triage",
    "title": "Ticket triage",
    "role": "service",
    "inputs": {"account": {"type": "string", "required": True}},
    "reads": [{"name": "account", "object": "account", "id": "inputs.account"}],
    "grants": {"account": ["name", "tier"], "ticket": ["subject", "status"]},
    "tools": ["crm.work_orders"],
    "steps": [
        {
            "id": "history",
            "kind": "tool",
            "tool": "crm.work_orders",
            "with": {"account": {"cel": "reads.account.id"}},
        },
        {
            "id": "priority",
            "kind": "rule",
            "needs": ["history"],
            "rules": [{"when": "reads.account.tier == 'A'", "then": {"priority": "high"}}],
            "default": {"priority": "normal"},
        },
        {
            "id": "approve",
            "kind": "human",
            "needs": ["priority"],
            "when": "steps.priority.priority == 'high'",
            "task": {
                "title": "Confirm high priority for {{ reads.account.name }}",
                "assignee": {"role": "service"},
            },
        },
    ],
    "outputs": {
        "value": {"priority": {"cel": "steps.priority.priority"}},
        "schema": {"type": "object", "required": ["priority"]},
    },
}


def _account(kindred: Any, world: Any, tier: str) -> str:
    with kindred.database.write() as session:
        record = kindred.records.create(
            session,
            RequestContext(SYSTEM_PRINCIPAL),
            "account",
            {"name": f"Tier {tier} hospital", "tier": tier, "territory": world.territories["east"]},
        )
    return str(record["id"])


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def test_admins_save_agents_in_yaml_and_invalid_ones_are_refused_with_pointers(
    client: Any, world: Any, kindred: Any
) -> None:
    text = yaml.safe_dump(AGENT, allow_unicode=True)
    headers = {**world.admin.headers, "Content-Type": "application/yaml"}
    denied = client.post(
        "/api/v1/agents",
        content=text,
        headers={**world.sales_east.headers, "Content-Type": "application/yaml"},
    )
    _problem(denied, 403)
    broken = yaml.safe_dump({**AGENT, "tools": ["crm.nothing"]})
    problem = _problem(client.post("/api/v1/agents", content=broken, headers=headers), 422)
    assert {"path": "/tools/0", "code": "unknown-tool"} in [
        {"path": e["path"], "code": e["code"]} for e in problem["errors"]
    ]
    syntax = _problem(client.post("/api/v1/agents", content="name: [", headers=headers), 400)
    assert "line" in syntax["detail"]
    with kindred.database.read() as session:
        assert session.query(AgentRow).count() == 0
    saved = client.post("/api/v1/agents", content=text, headers=headers)
    assert saved.status_code == 201 and saved.headers["etag"] == '"v1"'
    listed = client.get("/api/v1/agents", headers=world.sales_east.headers).json()["data"]
    assert [a["name"] for a in listed] == ["triage"]
    tools = client.get("/api/v1/agents/tools", headers=world.sales_east.headers).json()["data"]
    assert {"crm.work_orders", "erp.reserve", "insurance.qualification_check"} <= {
        t["name"] for t in tools
    }
    assert client.get("/api/v1/agents/schema").json()["title"] == "Kindred agent definition"
    stale = client.put(
        "/api/v1/agents/triage",
        content=yaml.safe_dump({**AGENT, "title": "New"}),
        headers={**headers, "If-Match": '"v0"'},
    )
    _problem(stale, 409)


def test_a_run_its_trace_and_who_may_read_it(client: Any, world: Any, kindred: Any) -> None:
    client.post("/api/v1/agents", json=AGENT, headers=world.admin.headers)
    account = _account(kindred, world, "B")
    response = client.post(
        "/api/v1/agents/triage/runs",
        json={"inputs": {"account": account}},
        headers=world.sales_east.headers,
    )
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "succeeded" and run["outputs"] == {"priority": "normal"}
    own = client.get(f"/api/v1/agent-runs/{run['id']}", headers=world.sales_east.headers)
    assert own.status_code == 200
    assert [s["step"] for s in own.json()["steps"] if s["status"] != "skipped"] == [
        "history",
        "priority",
    ]
    _problem(client.get(f"/api/v1/agent-runs/{run['id']}", headers=world.sales_north.headers), 404)
    assert client.get(
        f"/api/v1/agent-runs/{run['id']}/verify", headers=world.compliance.headers
    ).json()["intact"]
    spans = client.get(
        f"/api/v1/agent-runs/{run['id']}/otlp", headers=world.compliance.headers
    ).json()
    assert spans["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] == "invoke_agent triage"
    parse_otlp(spans)  # the API's OTLP/JSON is valid against opentelemetry-proto
    by_customer = client.get(
        f"/api/v1/agent-runs?customer={account}", headers=world.compliance.headers
    )
    assert [r["id"] for r in by_customer.json()["data"]] == [run["id"]]
    assert client.get("/api/v1/agent-runs", headers=world.sales_north.headers).json()["data"] == []
    # A sales rep of another territory cannot make the agent read a record they cannot see.
    hidden = client.post(
        "/api/v1/agents/triage/runs",
        json={"inputs": {"account": account}},
        headers=world.sales_north.headers,
    )
    assert hidden.json()["status"] == "failed" and hidden.json()["error_code"] == "read-not-found"
    bad = client.post(
        "/api/v1/agents/triage/runs", json={"inputs": {}}, headers=world.sales_east.headers
    )
    assert _problem(bad, 422)["errors"][0]["path"] == "/inputs/account"


def test_the_task_queue_and_decisions_through_the_api(
    client: Any, world: Any, kindred: Any
) -> None:
    client.post("/api/v1/agents", json=AGENT, headers=world.admin.headers)
    account = _account(kindred, world, "A")
    run = client.post(
        "/api/v1/agents/triage/runs",
        json={"inputs": {"account": account}},
        headers=world.sales_east.headers,
    )
    assert run.status_code == 202 and run.json()["status"] == "waiting"
    task_id = run.json()["waiting_for"][0]
    queue = client.get("/api/v1/tasks", headers=world.service_east.headers).json()["data"]
    assert [t["id"] for t in queue] == [task_id]
    assert client.get("/api/v1/tasks", headers=world.sales_east.headers).json()["data"] == []
    _problem(
        client.post(
            f"/api/v1/tasks/{task_id}/decision",
            json={"outcome": "approved"},
            headers=world.sales_east.headers,
        ),
        403,
    )
    _problem(
        client.post(
            f"/api/v1/tasks/{task_id}/decision",
            json={"outcome": "maybe"},
            headers=world.service_east.headers,
        ),
        422,
    )
    with kindred.database.read() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None and task.status == "open"
        assert session.get(AgentRun, run.json()["id"]).status == "waiting"  # type: ignore[union-attr]
    decided = client.post(
        f"/api/v1/tasks/{task_id}/decision",
        json={"outcome": "approved", "comment": "VIP"},
        headers=world.service_east.headers,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["run"]["status"] == "succeeded"
    assert decided.json()["run"]["outputs"] == {"priority": "high"}
    history = client.get(f"/api/v1/tasks/{task_id}", headers=world.service_east.headers).json()[
        "history"
    ]
    assert [h["action"] for h in history] == ["created", "approved"]
    metrics = client.get("/api/v1/agents/metrics", headers=world.admin.headers).json()
    assert metrics["runs"] == 1 and metrics["intervention_rate"] == 1.0


def test_golden_cases_and_pass_k_through_the_api(client: Any, world: Any, kindred: Any) -> None:
    client.post("/api/v1/agents", json=AGENT, headers=world.admin.headers)
    tier_b, tier_c = _account(kindred, world, "B"), _account(kindred, world, "C")
    for name, account, expected in (
        ("tier-b", tier_b, {"priority": "normal"}),
        ("tier-c", tier_c, {"priority": "normal"}),
    ):
        added = client.post(
            "/api/v1/agents/triage/cases",
            json={"name": name, "inputs": {"account": account}, "expected": expected},
            headers=world.admin.headers,
        )
        assert added.status_code == 201, added.text
    wrong = client.post(
        "/api/v1/agents/triage/cases",
        json={"name": "x", "inputs": {"account": tier_b}, "expected": {"colour": "red"}},
        headers=world.admin.headers,
    )
    _problem(wrong, 422)
    report = client.post(
        "/api/v1/agents/triage/evaluations", json={"k": 3}, headers=world.admin.headers
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["cases"], body["runs"], body["pass_k"], body["deviation_rate"]) == (2, 6, 1.0, 0.0)
    assert body["meets_target"] is True
    # Evaluation runs are not live runs: the intervention rate ignores them.
    assert client.get("/api/v1/agents/metrics", headers=world.admin.headers).json()["runs"] == 0
