"""The scenarios, agents and ledger operations describe their response bodies (issue 17, item 1).

Each operation of these routers declares the schema of what it answers, and real responses of
every one of them — scenarios and their versions, dry runs, run histories with redacted
records and event data, health; agents, runs (finished, waiting, replayed), decision traces
with sub-agents and tasks, OTLP export, ledger verification, the task queue and decisions,
golden cases and evaluations; the evidence log's keys, checkpoints and proofs — are valid
against the schema the served document declares for their operation and status, on both
dialects. Fixed-shape bodies forbid undocumented keys, so a route answering something its
schema does not describe fails here.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import orjson
from fastapi import APIRouter
from fastapi.routing import APIRoute

from kindred.api import agents, ledger, scenarios
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.ledger.verifier import BUNDLE_FORMAT
from kindred.records.service import RequestContext
from kindred.scenarios.definition import load_text
from tests.api.conftest import World
from tests.api.schema_checks import Api, refs, router_operations, successes, validator
from tests.api.test_scenarios_api import HISTORY, YAML
from tests.conftest import service_principal
from tests.scenarios.test_definition import GOOD

ROUTERS: tuple[APIRouter, ...] = (
    scenarios.router,
    scenarios.runs_router,
    agents.router,
    agents.runs_router,
    agents.tasks_router,
    ledger.router,
)
SCENARIOS = "/api/v1/scenarios"
SCENARIO = SCENARIOS + "/{name}"
RUNS = "/api/v1/scenario-runs"
AGENTS = "/api/v1/agents"
AGENT = AGENTS + "/{name}"
AGENT_RUNS = "/api/v1/agent-runs"
AGENT_RUN = AGENT_RUNS + "/{run_id}"
TASKS = "/api/v1/tasks"
LEDGER = "/api/v1/ledger"
# Open by design: JSON Schema documents, a 422-style problem entry, OTLP/JSON messages (the
# protocol has more optional properties) and a stored CloudEvent (its extensions).
OPEN = {
    "JsonSchemaDocument",
    "DefinitionProblem",
    "StoredEvent",
    "OtlpTraces",
    "OtlpResourceSpans",
    "OtlpResource",
    "OtlpScopeSpans",
    "OtlpScope",
    "OtlpSpan",
    "OtlpStatus",
    "OtlpAttribute",
    "OtlpValue",
}


def operations() -> list[tuple[str, str, APIRoute]]:
    return list(router_operations(ROUTERS))


# -- the document -------------------------------------------------------------------------------


def test_every_operation_declares_its_success_body(served: dict[str, Any]) -> None:
    checked = 0
    for method, path, route in operations():
        bodies = successes(served, method, path)
        declared = route.status_code or 200
        assert declared in bodies, (method, path, bodies)
        for status, content in bodies.items():
            # Exactly what is sent: JSON, described by a named schema with properties.
            assert content is not None and list(content) == ["application/json"], (method, path)
            schema = content["application/json"]["schema"]
            assert schema.get("$ref", "").startswith("#/components/schemas/"), (method, path)
            component = served["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            jsonschema.Draft202012Validator.check_schema(component)
            assert component.get("properties"), (method, path, status)
            checked += 1
    assert len(operations()) == 17 + 24 + 6
    assert checked == 17 + 24 + 6 + 1  # starting a run answers 200 or 202


def test_the_schemas_are_strict_where_the_bodies_are_fixed(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]
    seen: set[str] = set()
    for method, path, _ in operations():
        for content in successes(served, method, path).values():
            pending = [content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
            while pending:
                name = pending.pop()
                if name in seen:
                    continue
                seen.add(name)
                schema = schemas[name]
                if schema.get("type") == "object":
                    assert schema.get("additionalProperties") is (name in OPEN), name
                pending.extend(
                    ref.rsplit("/", 1)[1] for ref in refs(schema) if ref.startswith("#/components/")
                )
    assert seen >= OPEN


def test_the_schemas_refuse_what_they_do_not_describe(served: dict[str, Any]) -> None:
    def refused(method: str, path: str, body: Any, status: int = 200) -> bool:
        schema = successes(served, method, path)[status]["application/json"]["schema"]
        return bool(list(validator(served, schema).iter_errors(body)))

    summary = {
        "id": "r",
        "agent": "a",
        "version": 1,
        "status": "succeeded",
        "outputs": {"priority": "normal"},
        "error": None,
        "error_code": None,
        "customer_id": None,
        "waiting_for": [],
    }
    start = AGENT + "/runs"
    assert not refused("POST", start, summary)
    assert not refused("POST", start, {**summary, "status": "waiting"}, 202)
    assert refused("POST", start, {**summary, "status": "done"})
    assert refused("POST", start, {**summary, "secret": 1})
    assert refused("POST", start, {k: v for k, v in summary.items() if k != "waiting_for"})
    valid = "/api/v1/agents/validate"
    assert not refused("POST", valid, {"valid": True, "name": "a", "order": ["x"]})
    problem = {"path": "/steps", "code": "cycle", "message": "a → a"}
    assert not refused("POST", valid, {"valid": False, "errors": [problem]})
    assert refused("POST", valid, {"valid": False})
    assert refused("POST", valid, {"valid": True, "errors": [problem]})
    bundle = {
        "format": BUNDLE_FORMAT,
        "index": 0,
        "tree_size": 1,
        "leaf": "AA==",
        "inclusion_proof": [],
        "checkpoint": "note",
    }
    proof = LEDGER + "/entries/{index}/proof"
    assert not refused("GET", proof, bundle)
    assert refused("GET", proof, {**bundle, "format": "other/1"})
    assert refused("GET", proof, {k: v for k, v in bundle.items() if k != "checkpoint"})
    step = {"id": "s", "pointer": "/then/0", "status": "would_run", "action": "x", "params": {}}
    report = {
        "scenario": "s",
        "version": 0,
        "matched": True,
        "fires": True,
        "reason": None,
        "lookups": {},
        "conditions": [],
        "plan": [step],
    }
    dry = SCENARIOS + "/dry-run"
    assert not refused("POST", dry, report)
    assert refused("POST", dry, {**report, "plan": [{**step, "status": "ran"}]})
    assert refused("POST", dry, {**report, "plan": [{**step, "params": None}]})
    assert refused("GET", RUNS, {"data": []})  # next is always there


# -- real responses -----------------------------------------------------------------------------


def test_every_operation_answers_what_the_document_declares(
    client: Any,
    kindred: Any,
    world: World,
    document: dict[str, Any],
) -> None:
    api = Api(client, document)
    _scenarios(api, kindred, world)
    _scenario_runs(api, kindred, world)
    _agents(api, kindred, world)
    _ledger(api, world)
    expected = {
        (method, path, status)
        for method, path, _ in operations()
        for status in successes(document, method, path)
    }
    assert expected - api.seen == set()


def _fault(event_id: str, device: str, severity: str = "major") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:plant",
        "type": "iot.device.fault",
        "time": "2026-12-01T09:00:00Z",
        "data": {"device_id": device, "code": "E42", "severity": severity},
    }


def _scenarios(api: Api, kindred: Any, world: World) -> None:
    admin = world.admin.headers
    schema = api("GET", SCENARIOS + "/schema", 200)
    assert schema["title"] == "Kindred scenario definition"
    assert {a["name"] for a in api("GET", SCENARIOS + "/actions", 200, headers=admin)["data"]}
    created = api("POST", SCENARIOS, 201, content=GOOD.encode(), headers={**admin, **YAML})
    one = {"name": created["name"]}
    api("GET", SCENARIOS, 200, headers=admin)
    api("GET", SCENARIO, 200, where=one, headers=admin)
    edited = GOOD.replace("Device fault → service dispatch", "Device fault → dispatch v2")
    api(
        "PUT",
        SCENARIO,
        200,
        where=one,
        content=edited.encode(),
        headers={**admin, **YAML, "If-Match": '"v1"'},
    )
    principal = service_principal(kindred)
    api("PUT", SCENARIO + "/run-as", 200, where=one, headers=admin, json={"principal": principal})
    versions = api("GET", SCENARIO + "/versions", 200, where=one, headers=admin)["data"]
    assert [v["version"] for v in versions] == [1, 2]
    assert api("POST", SCENARIO + "/enable", 200, where=one, headers=admin)["enabled"]
    assert not api("POST", SCENARIO + "/disable", 200, where=one, headers=admin)["enabled"]
    checked = api(
        "POST", SCENARIOS + "/validate", 200, content=GOOD.encode(), headers={**admin, **YAML}
    )
    assert checked["valid"] is True
    # A dry run of the saved scenario: matched, conditions evaluated (no such device).
    trial = {"event": _fault("f-1", "CT-0042")}
    report = api(
        "POST", SCENARIO + "/dry-run", 200, where=one, content=orjson.dumps(trial), headers=admin
    )
    assert report["matched"] is True and report["conditions"]
    minor = {"event": _fault("f-2", "CT-0042", severity="minor")}
    report = api(
        "POST", SCENARIO + "/dry-run", 200, where=one, content=orjson.dumps(minor), headers=admin
    )
    assert report["matched"] is False and report["reason"]
    draft = copy.deepcopy(load_text(GOOD))
    draft["and"], draft["lookups"] = [], []
    draft["then"] = [
        {"id": "tag", "action": "set_tag", "with": {"account": "a-1", "tag": "{{ event.id }}"}},
        {
            "id": "fork",
            "if": "event.data.severity == 'major'",
            "then": [{"id": "wait", "action": "wait", "with": {"for": "1h"}}],
            "else": [],
        },
    ]
    body = {"definition": draft, "event": _fault("d-1", "CT-1")}
    report = api("POST", SCENARIOS + "/dry-run", 200, content=orjson.dumps(body), headers=admin)
    assert {p["status"] for p in report["plan"]} >= {"would_run", "branch"}


def _scenario_runs(api: Api, kindred: Any, world: World) -> None:
    """Runs of a scenario a service engineer stewards: a succeeded one, a failed one, and one
    whose event refers to an account the engineer may not see (its data is withheld)."""
    from tests.scenarios.test_engine import finished, until, with_engine

    engineer = world.service_east.headers
    context = RequestContext(SYSTEM_PRINCIPAL)
    with kindred.database.write() as session:
        east = kindred.records.create(
            session,
            context,
            "account",
            {"name": "Ruijin", "territory": world.territories["east"]},
        )
        north = kindred.records.create(
            session,
            context,
            "account",
            {"name": "Peking Union", "territory": world.territories["north"]},
        )
    saved = api("POST", SCENARIOS, 201, content=HISTORY.encode(), headers={**engineer, **YAML})
    one = {"name": saved["name"]}
    api("POST", SCENARIO + "/enable", 200, where=one, headers=engineer)
    good = _fault("h-1", "CT-1")
    good["data"]["account"] = east["id"]
    bad = _fault("h-2", "CT-2", severity="critical")
    hidden = _fault("h-3", "CT-3")
    hidden["data"] |= {"account": east["id"], "account_id": north["id"]}

    async def body() -> None:
        await kindred.events.ingest([good, bad, hidden], channel="test")
        await until(finished(kindred, 3))

    with_engine(kindred, body)

    page = api("GET", RUNS, 200, headers=engineer, params={"limit": 2})
    assert len(page["data"]) == 2 and page["next_cursor"] is not None
    rest = api("GET", RUNS, 200, headers=engineer, params={"before": page["next_cursor"]})
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None
    runs = {r["key"]: r for r in page["data"] + rest["data"]}
    assert runs["CT-2"]["status"] == "failed"
    for key in runs:
        detail = api(
            "GET", RUNS + "/{run_id}", 200, where={"run_id": runs[key]["id"]}, headers=engineer
        )
        assert detail["steps"]
    withheld = api(
        "GET", RUNS + "/{run_id}", 200, where={"run_id": runs["CT-3"]["id"]}, headers=engineer
    )
    assert "withheld" in withheld["event"]["data"]
    api(
        "GET",
        RUNS + "/{run_id}",
        200,
        where={"run_id": runs["CT-3"]["id"]},
        headers=world.compliance.headers,
    )
    health = api("GET", SCENARIO + "/health", 200, where=one, headers=world.compliance.headers)
    assert health["runs"] == 3 and health["business_impact"]["measure"] == "fixed"
    api(
        "GET",
        SCENARIO + "/health",
        200,
        where={"name": "device-fault-dispatch"},
        headers=world.admin.headers,
    )
    # The engineer does not steward the admin's scenario: no health, as no runs.
    api("GET", SCENARIO + "/health", 403, where={"name": "device-fault-dispatch"}, headers=engineer)
    retried = api(
        "POST",
        RUNS + "/{run_id}/retry",
        200,
        where={"run_id": runs["CT-2"]["id"]},
        headers=engineer,
    )
    assert retried["status"] == "running"


RULES = {
    "name": "priority",
    "title": "Priority",
    "role": "service",
    "inputs": {"tier": {"type": "string", "required": True}},
    "steps": [
        {
            "id": "priority",
            "kind": "rule",
            "rules": [{"when": "inputs.tier == 'A'", "then": {"priority": "high"}}],
            "default": {"priority": "normal"},
        },
        {
            "id": "approve",
            "kind": "human",
            "needs": ["priority"],
            "when": "steps.priority.priority == 'high'",
            "task": {"title": "Confirm high priority", "assignee": {"role": "service"}},
        },
    ],
    "outputs": {
        "value": {"priority": {"cel": "steps.priority.priority"}},
        "schema": {"type": "object", "required": ["priority"]},
    },
}
PARENT = {
    "name": "dispatch",
    "title": "Dispatch",
    "role": "service",
    "inputs": {"tier": {"type": "string", "required": True}},
    "steps": [
        {
            "id": "child",
            "kind": "agent",
            "agent": "priority",
            "with": {"tier": {"cel": "inputs.tier"}},
        }
    ],
    "outputs": {"value": {"priority": {"cel": "steps.child.priority"}}},
}


def _agents(api: Api, kindred: Any, world: World) -> None:
    admin = world.admin.headers
    assert api("GET", AGENTS + "/schema", 200)["title"] == "Kindred agent definition"
    assert api("GET", AGENTS + "/tools", 200, headers=admin)["data"]
    api("GET", AGENTS + "/metrics", 200, headers=admin)
    saved = api("POST", AGENTS, 201, headers=admin, json=RULES)
    one = {"name": saved["name"]}
    api("GET", AGENTS, 200, headers=admin)
    api("GET", AGENT, 200, where=one, headers=admin)
    api(
        "PUT",
        AGENT,
        200,
        where=one,
        headers={**admin, "If-Match": '"v1"'},
        json={**RULES, "title": "Ticket priority"},
    )
    assert len(api("GET", AGENT + "/versions", 200, where=one, headers=admin)["data"]) == 2
    assert not api("POST", AGENT + "/disable", 200, where=one, headers=admin)["enabled"]
    assert api("POST", AGENT + "/enable", 200, where=one, headers=admin)["enabled"]
    principal = service_principal(kindred)
    api("PUT", AGENT + "/run-as", 200, where=one, headers=admin, json={"principal": principal})
    assert api("POST", AGENTS + "/validate", 200, headers=admin, json=PARENT)["valid"] is True
    broken = api("POST", AGENTS + "/validate", 200, headers=admin, json={**RULES, "steps": []})
    assert broken["valid"] is False and broken["errors"]
    api("POST", AGENTS, 201, headers=admin, json=PARENT)

    runs = AGENT + "/runs"
    done = api("POST", runs, 200, where=one, headers=admin, json={"inputs": {"tier": "B"}})
    assert done["status"] == "succeeded"
    keyed = {"inputs": {"tier": "B"}, "idempotency_key": "once"}
    api("POST", runs, 200, where=one, headers=admin, json=keyed)
    replay = api("POST", runs, 200, where=one, headers=admin, json=keyed)
    assert "trigger" in replay
    waiting = api(
        "POST", runs, 202, where={"name": "dispatch"}, headers=admin, json={"inputs": {"tier": "A"}}
    )
    assert waiting["status"] == "waiting"  # its sub-agent waits for a person
    api("GET", AGENT_RUNS, 200, headers=admin)
    api("GET", AGENT_RUNS, 200, headers=world.sales_east.headers)
    trace = api("GET", AGENT_RUN, 200, where={"run_id": waiting["id"]}, headers=admin)
    assert trace["children"] and trace["children"][0]["tasks"]
    api("GET", AGENT_RUN + "/otlp", 200, where={"run_id": waiting["id"]}, headers=admin)
    verified = api("GET", AGENT_RUN + "/verify", 200, where={"run_id": done["id"]}, headers=admin)
    assert verified["intact"] is True

    engineer = world.service_east.headers
    queue = api("GET", TASKS, 200, headers=engineer)["data"]
    assert queue
    task = {"task_id": queue[0]["id"]}
    api("GET", TASKS + "/{task_id}", 200, where=task, headers=engineer)
    decided = api(
        "POST",
        TASKS + "/{task_id}/decision",
        200,
        where=task,
        headers=engineer,
        json={"outcome": "approved", "comment": "VIP"},
    )
    assert decided["task"]["status"] == "decided"
    api("GET", TASKS, 200, headers=engineer, params={"status": "decided"})
    api("GET", TASKS + "/{task_id}", 200, where=task, headers=engineer)
    resumed = api(
        "POST", AGENT_RUN + "/resume", 200, where={"run_id": waiting["id"]}, headers=admin
    )
    assert resumed["status"] == "succeeded"
    api("GET", AGENT_RUN, 200, where={"run_id": waiting["id"]}, headers=admin)
    api("GET", AGENTS + "/metrics", 200, headers=admin, params={"agent": "priority"})

    case = {"name": "tier-b", "inputs": {"tier": "B"}, "expected": {"priority": "normal"}}
    api("POST", AGENT + "/cases", 201, where=one, headers=admin, json=case)
    api("GET", AGENT + "/cases", 200, where=one, headers=admin)
    report = api("POST", AGENT + "/evaluations", 200, where=one, headers=admin, json={"k": 2})
    assert report["pass_k"] == 1.0 and report["detail"]["tier-b"]["versions"]


def _ledger(api: Api, world: World) -> None:
    auditor = world.compliance.headers
    keys = api("GET", LEDGER + "/public-key", 200, headers=auditor)
    assert keys["active"] in keys["keys"]
    api("GET", LEDGER + "/checkpoint", 200, headers=auditor)
    signed = api("POST", LEDGER + "/checkpoints", 201, headers=world.admin.headers)
    size = signed["size"]
    api("GET", LEDGER + "/checkpoint", 200, headers=auditor)
    bundle = api(
        "GET", LEDGER + "/entries/{index}/proof", 200, where={"index": "0"}, headers=auditor
    )
    assert bundle["format"] == BUNDLE_FORMAT
    api(
        "GET",
        LEDGER + "/consistency",
        200,
        headers=auditor,
        params={"first": 1, "second": size},
    )
    assert api("GET", LEDGER + "/verify", 200, headers=auditor)["intact"] is True
