"""The console's agent operations describe their response bodies (issue 17, item 1), as the
agents API does (``test_response_schemas_automation.py``, whose helpers these tests use):
the evaluation history declares a strict schema, and real responses — empty and with
evaluations — are valid against it."""

from __future__ import annotations

from typing import Any

import jsonschema

from kindred.api import agents
from tests.api.conftest import World
from tests.api.schema_checks import Api, router_operations, successes, validator
from tests.api.test_agents_api import AGENT, _account

HISTORY = "/api/v1/agents/{name}/evaluations"


def test_the_console_operations_declare_strict_bodies(served: dict[str, Any]) -> None:
    operations = list(router_operations([agents.console_router]))
    assert [(m, p) for m, p, _ in operations] == [("GET", HISTORY)]
    schema = successes(served, "GET", HISTORY)[200]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/EvaluationHistory"}
    components = served["components"]["schemas"]
    for name in ("EvaluationHistory", "EvaluationSummary"):
        jsonschema.Draft202012Validator.check_schema(components[name])
        assert components[name]["additionalProperties"] is False
    point = {
        "id": "e",
        "agent": "a",
        "created_at": "2026-01-01T00:00:00Z",
        "created_by": None,
        "k": 1,
        "versions": [1],
        "cases": 1,
        "runs": 1,
        "pass_k": 1.0,
        "deviation_rate": 0.0,
        "intervention_rate": 0.0,
        "meets_target": True,
    }
    check = validator(served, schema)
    assert not list(check.iter_errors({"data": [point]}))
    assert list(check.iter_errors({"data": [{**point, "extra": 1}]}))
    assert list(check.iter_errors({"data": [{**point, "pass_k": 2}]}))
    assert list(check.iter_errors({"data": [{k: v for k, v in point.items() if k != "runs"}]}))


def test_real_history_responses_conform(
    client: Any, kindred: Any, world: World, document: dict[str, Any]
) -> None:
    api = Api(client, document)
    admin = world.admin.headers
    client.post("/api/v1/agents", json=AGENT, headers=admin)
    one = {"name": "triage"}
    assert api("GET", HISTORY, 200, where=one, headers=admin) == {"data": []}
    account = _account(kindred, world, "A")
    case = {"name": "a", "inputs": {"account": account}, "expected": {"_status": "waiting"}}
    assert client.post("/api/v1/agents/triage/cases", json=case, headers=admin).status_code == 201
    assert (
        client.post("/api/v1/agents/triage/evaluations", json={"k": 2}, headers=admin).status_code
        == 200
    )
    items = api("GET", HISTORY, 200, where=one, headers=world.compliance.headers)["data"]
    assert len(items) == 1 and items[0]["intervention_rate"] == 1.0
    assert api.seen == {("GET", HISTORY, 200)}
