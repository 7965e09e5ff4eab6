"""What the console's agent pages need besides the agents API itself: an agent's evaluations
over time (pass^k, deviation and intervention rates), with problem+json for what is refused."""

from __future__ import annotations

from typing import Any

from tests.api.test_agents_api import AGENT, _account, _problem


def _case(client: Any, world: Any, name: str, account: str, expected: dict[str, Any]) -> None:
    added = client.post(
        "/api/v1/agents/triage/cases",
        json={"name": name, "inputs": {"account": account}, "expected": expected},
        headers=world.admin.headers,
    )
    assert added.status_code == 201, added.text


def _evaluate(client: Any, world: Any, k: int) -> dict[str, Any]:
    report = client.post(
        "/api/v1/agents/triage/evaluations", json={"k": k}, headers=world.admin.headers
    )
    assert report.status_code == 200, report.text
    body: dict[str, Any] = report.json()
    return body


def test_evaluations_are_kept_as_a_history_oldest_first(
    client: Any, world: Any, kindred: Any
) -> None:
    saved = client.post("/api/v1/agents", json=AGENT, headers=world.admin.headers)
    assert saved.status_code == 201, saved.text
    history = client.get("/api/v1/agents/triage/evaluations", headers=world.compliance.headers)
    assert history.status_code == 200 and history.json() == {"data": []}

    tier_b, tier_a = _account(kindred, world, "B"), _account(kindred, world, "A")
    _case(client, world, "tier-b", tier_b, {"priority": "normal"})
    first = _evaluate(client, world, 2)
    # A tier-A account goes to a person (the human step): half of the next runs need one.
    _case(client, world, "tier-a", tier_a, {"_status": "waiting"})
    second = _evaluate(client, world, 1)

    items = client.get(
        "/api/v1/agents/triage/evaluations", headers=world.compliance.headers
    ).json()["data"]
    assert [i["id"] for i in items] == [first["id"], second["id"]]
    assert [(i["cases"], i["runs"], i["k"], i["versions"]) for i in items] == [
        (1, 2, 2, [1]),
        (2, 2, 1, [1]),
    ]
    assert [i["pass_k"] for i in items] == [1.0, 1.0]
    assert [i["intervention_rate"] for i in items] == [0.0, 0.5]
    assert [i["deviation_rate"] for i in items] == [0.0, 0.0]
    assert all(i["meets_target"] and i["created_by"] == world.admin.id for i in items)
    assert items[0]["created_at"] <= items[1]["created_at"]

    latest = client.get(
        "/api/v1/agents/triage/evaluations", params={"limit": 1}, headers=world.admin.headers
    ).json()["data"]
    assert [i["id"] for i in latest] == [second["id"]]


def test_the_history_of_an_unknown_agent_or_a_bad_limit_is_refused(client: Any, world: Any) -> None:
    missing = _problem(
        client.get("/api/v1/agents/nobody/evaluations", headers=world.admin.headers), 404
    )
    assert "nobody" in missing["detail"]
    client.post("/api/v1/agents", json=AGENT, headers=world.admin.headers)
    bad = _problem(
        client.get(
            "/api/v1/agents/triage/evaluations", params={"limit": 0}, headers=world.admin.headers
        ),
        422,
    )
    assert bad["errors"][0]["path"].endswith("limit")
    anonymous = client.get("/api/v1/agents/triage/evaluations")
    assert anonymous.status_code == 401
