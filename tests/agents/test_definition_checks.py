"""Save-time static checks of agent definitions (kindred.agents.checks), through the API: a
definition whose steps can read a value some path leaves unset, read a step before it surely
ran, carry a YAML slip, or put a literal outside the output schema is refused with a 422 whose
pointers name the place — and nothing is saved. Correct definitions, the shipped ones among
them, are accepted."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest
import yaml

from kindred.agents.models import AgentRow

PASSWORD = "correct-horse-battery"
EXAMPLES = ("compliance_check", "inventory_check", "service_check", "purchase_intent_review")

# A tool step (its fallback stands in when the ERP is down) and a decision table over it.
PROBE = """
name: static_probe
title: Static probe
role: service
inputs: {level: {type: string, required: true}}
tools: [erp.spot_stock]
steps:
  - id: stock
    kind: tool
    tool: erp.spot_stock
    with: {sku: CT-TUBE-01}
    on_error: {route: fallback, value: {rows: [], total_available: -1}}
  - id: decision
    kind: rule
    needs: [stock]
    rules:
      - {when: steps.stock.total_available < 0, then: {verdict: review, note: stock unknown}}
      - {when: steps.stock.total_available == 0, then: {verdict: backorder, note: none in stock}}
    default: {verdict: ok, note: in stock}
outputs:
  value: {verdict: {cel: steps.decision.verdict}, note: {cel: steps.decision.note}}
  schema:
    type: object
    required: [verdict]
    properties: {verdict: {enum: [ok, review, backorder]}}
"""


@pytest.fixture
def admin(kindred: Any, client: Any) -> dict[str, str]:
    with kindred.database.write() as session:
        kindred.auth.create_user(
            session,
            email="admin@example.com",
            name="admin",
            password=PASSWORD,
            roles=["admin"],
            territories=[],
        )
    response = client.post(
        "/api/v1/auth/token", data={"username": "admin@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def probe() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PROBE)
    return loaded


def save(client: Any, admin: dict[str, str], definition: dict[str, Any] | str) -> Any:
    if isinstance(definition, str):
        headers = {**admin, "Content-Type": "application/yaml"}
        return client.post("/api/v1/agents", content=definition, headers=headers)
    return client.post("/api/v1/agents", json=definition, headers=admin)


def refused(response: Any) -> list[dict[str, Any]]:
    """The problems of a 422 problem+json answer."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


def only(errors: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(errors) == 1, errors
    return errors[0]


def saved_agents(kindred: Any) -> list[str]:
    with kindred.database.read() as session:
        return sorted(row.name for row in session.query(AgentRow))


def test_a_key_one_row_leaves_unset_is_refused_where_it_is_read_and_nothing_is_saved(
    client: Any, admin: dict[str, str], kindred: Any
) -> None:
    definition = probe()
    del definition["steps"][1]["default"]["note"]
    problem = only(refused(save(client, admin, definition)))
    assert (problem["path"], problem["code"]) == ("/outputs/value/note/cel", "unset-value")
    assert problem["message"].startswith(
        "steps.decision.note is not set when decision ends in its default (/steps/1/default)"
    )
    assert saved_agents(kindred) == []
    # Read behind has(), the same definition is correct.
    definition["outputs"]["value"]["note"] = {
        "cel": "has(steps.decision.note) ? steps.decision.note : ''"
    }
    assert save(client, admin, definition).status_code == 201
    assert saved_agents(kindred) == ["static_probe"]


def test_a_fallback_must_set_what_later_rows_read_unless_an_earlier_row_decides_it(
    client: Any, admin: dict[str, str], kindred: Any
) -> None:
    definition = probe()
    definition["steps"][0]["on_error"]["value"] = {"total_available": -1}  # no `rows`
    rows = definition["steps"][1]["rules"]
    many = {"when": "size(steps.stock.rows) > 5", "then": {"verdict": "ok", "note": "plenty"}}
    # First, the row reading `rows` meets the fallback value.
    first = copy.deepcopy(definition)
    first["steps"][1]["rules"] = [many, *rows]
    problem = only(refused(save(client, admin, first)))
    assert (problem["path"], problem["code"]) == ("/steps/1/rules/0/when", "unset-value")
    assert "fails and its fallback value is used (/steps/0/on_error/value)" in problem["message"]
    assert saved_agents(kindred) == []
    # Last, it is never reached with the fallback: `total_available < 0` matches it first.
    definition["steps"][1]["rules"] = [*rows, many]
    assert save(client, admin, definition).status_code == 201


def test_an_update_reading_a_field_the_tool_does_not_give_is_refused_and_v1_stays(
    client: Any, admin: dict[str, str], kindred: Any
) -> None:
    assert save(client, admin, probe()).status_code == 201
    changed = probe()
    changed["outputs"]["value"]["warehouse"] = {"cel": "steps.stock.warehouse"}
    response = client.put(
        "/api/v1/agents/static_probe", json=changed, headers={**admin, "If-Match": '"v1"'}
    )
    problem = only(refused(response))
    assert (problem["path"], problem["code"]) == ("/outputs/value/warehouse/cel", "unset-value")
    assert "stock succeeds (the output of erp.spot_stock has no such field)" in problem["message"]
    # The fallback value lacks it too: both ways are named.
    assert "or when it fails and its fallback value is used" in problem["message"]
    agent = client.get("/api/v1/agents/static_probe", headers=admin)
    assert (agent.json()["version"], agent.headers["etag"]) == (1, '"v1"')
    body = client.get("/api/v1/agents/static_probe/versions", headers=admin).json()
    assert [v["version"] for v in body.get("data", body.get("items"))] == [1]


def test_a_step_read_without_needing_it_is_refused(
    client: Any, admin: dict[str, str], kindred: Any
) -> None:
    definition = probe()
    definition["steps"][1]["needs"] = []
    errors = refused(save(client, admin, definition))
    assert {(e["path"], e["code"]) for e in errors} == {
        ("/steps/1/rules/0/when", "step-not-needed"),
        ("/steps/1/rules/1/when", "step-not-needed"),
    }
    assert "add 'stock' to 'needs'" in errors[0]["message"]
    assert saved_agents(kindred) == []
    # Needing it through another step is enough.
    middle = {"id": "middle", "kind": "rule", "needs": ["stock"], "default": {"seen": True}}
    definition["steps"].insert(1, middle)
    definition["steps"][2]["needs"] = ["middle"]
    assert save(client, admin, definition).status_code == 201


@pytest.mark.parametrize(
    ("condition", "accepted"),
    [
        ("steps.stock.total_available < 0", False),
        # `||` evaluates its right side when has() is false: no guard.
        ("has(steps.stock) || steps.stock.total_available < 0", False),
        ("has(steps.stock) && steps.stock.total_available < 0", True),
        ("!has(steps.stock) || steps.stock.total_available < 0", True),
    ],
)
def test_a_step_that_may_be_skipped_is_read_only_behind_has(
    client: Any, admin: dict[str, str], kindred: Any, condition: str, accepted: bool
) -> None:
    definition = probe()
    definition["steps"][0]["when"] = "inputs.level != 'skip'"
    definition["steps"][1]["rules"] = [
        {"when": condition, "then": {"verdict": "review", "note": "-"}}
    ]
    response = save(client, admin, definition)
    if accepted:
        assert response.status_code == 201, response.text
        return
    problem = only(refused(response))
    assert (problem["path"], problem["code"]) == ("/steps/1/rules/0/when", "step-maybe-skipped")
    assert problem["message"] == (
        "step 'stock' is skipped when its 'when' (inputs.level != 'skip') is false, and then "
        "steps.stock is not set: guard the read with has(steps.stock)"
    )
    assert saved_agents(kindred) == []


@pytest.mark.parametrize(
    ("default", "pointer", "hint"),
    [
        ("{verdict: ok, note: in stock, ready to ship}", "/steps/1/default/ready to ship", True),
        ("{verdict: ok, note: in stock, shippable}", "/steps/1/default/shippable", True),
        ('{verdict: ok, note: "in stock, ready to ship"}', None, False),
    ],
)
def test_an_unquoted_comma_in_a_text_value_is_refused_with_the_fix(
    client: Any,
    admin: dict[str, str],
    kindred: Any,
    default: str,
    pointer: str | None,
    hint: bool,
) -> None:
    text = PROBE.replace("default: {verdict: ok, note: in stock}", f"default: {default}")
    response = save(client, admin, text)
    if pointer is None:
        assert response.status_code == 201, response.text
        return
    problem = only(refused(response))
    assert (problem["path"], problem["code"]) == (pointer, "unquoted-comma")
    assert "looks like an unquoted comma in a text value; quote the text" in problem["message"]
    key = pointer.rsplit("/", 1)[1]
    assert problem["message"].endswith(f'e.g. note: "in stock, {key}"')
    assert saved_agents(kindred) == []


def test_literal_outputs_outside_the_output_schema_are_refused_where_they_are_written(
    client: Any, admin: dict[str, str], kindred: Any
) -> None:
    definition = probe()
    definition["steps"][1]["rules"][1]["then"]["verdict"] = "backordered"
    # The output comes through another step's default: followed to the row that writes it.
    definition["steps"].append(
        {
            "id": "final",
            "kind": "rule",
            "needs": ["decision"],
            "default": {"verdict": {"cel": "steps.decision.verdict"}},
        }
    )
    definition["outputs"]["value"]["verdict"] = {"cel": "steps.final.verdict"}
    definition["outputs"]["schema"]["required"] = ["verdict", "tickets"]
    errors = refused(save(client, admin, definition))
    assert [(e["path"], e["code"]) for e in errors] == [
        ("/outputs/schema/required/1", "output-schema"),
        ("/steps/1/rules/1/then/verdict", "output-schema"),
    ]
    assert errors[1]["message"] == (
        "'backordered' becomes output 'verdict' (/outputs/value/verdict), which the output "
        "schema refuses: 'backordered' is not one of ['ok', 'review', 'backorder']"
    )
    assert saved_agents(kindred) == []
    checked = client.post("/api/v1/agents/validate", json=definition, headers=admin).json()
    assert checked["valid"] is False
    assert [e["path"] for e in checked["errors"]] == [e["path"] for e in errors]


def test_an_escalation_must_define_what_every_decision_leaves(
    client: Any, admin: dict[str, str], kindred: Any
) -> None:
    definition = probe()
    definition["steps"][0]["on_error"] = {
        "route": "escalate",
        "task": {"title": "ERP down: enter the stock", "modifiable": ["total_available"]},
    }
    definition["steps"][1]["rules"].append(
        {"when": "size(steps.stock.rows) > 5", "then": {"verdict": "ok", "note": "plenty"}}
    )
    problem = only(refused(save(client, admin, definition)))
    assert problem["path"] == "/steps/1/rules/2/when"
    assert problem["message"].startswith("steps.stock.rows is not set when")
    assert saved_agents(kindred) == []
    definition["steps"][0]["on_error"]["task"]["outcomes"] = {
        "approved": {"rows": [], "total_available": 0},
        "rejected": {"rows": [], "total_available": -1},
    }
    assert save(client, admin, definition).status_code == 201


def _example(name: str) -> str:
    folder = resources.files("kindred.agents.examples")
    return (folder / f"{name}.yaml").read_text(encoding="utf-8")


def test_the_shipped_definitions_pass_and_the_old_unquoted_reason_is_refused(
    client: Any, admin: dict[str, str], kindred: Any
) -> None:
    for name in EXAMPLES:  # children first
        response = save(client, admin, _example(name))
        assert response.status_code == 201, response.text
    text = _example("purchase_intent_review")
    quoted = 'reason: "qualified, in stock and compatible"'
    assert quoted in text
    garbled = text.replace(quoted, "reason: qualified, in stock and compatible")
    steps = [s["id"] for s in yaml.safe_load(text)["steps"]]
    headers = {**admin, "Content-Type": "application/yaml", "If-Match": '"v1"'}
    response = client.put("/api/v1/agents/purchase_intent_review", content=garbled, headers=headers)
    problem = only(refused(response))
    index = steps.index("recommendation")
    assert (problem["path"], problem["code"]) == (
        f"/steps/{index}/default/in stock and compatible",
        "unquoted-comma",
    )
    assert problem["message"].endswith('e.g. reason: "qualified, in stock and compatible"')
    agent = client.get("/api/v1/agents/purchase_intent_review", headers=admin).json()
    assert agent["version"] == 1


def test_a_computed_output_outside_the_schema_fails_the_run_with_a_clear_error(
    client: Any, admin: dict[str, str], kindred: Any
) -> None:
    definition = probe()
    definition["steps"] = [
        {"id": "decision", "kind": "rule", "default": {"verdict": {"cel": "inputs.level"}}}
    ]
    del definition["outputs"]["value"]["note"]
    assert save(client, admin, definition).status_code == 201  # not knowable at save time
    good = client.post(
        "/api/v1/agents/static_probe/runs", json={"inputs": {"level": "ok"}}, headers=admin
    )
    assert good.status_code == 200, good.text
    assert (good.json()["status"], good.json()["outputs"]) == ("succeeded", {"verdict": "ok"})
    bad = client.post(
        "/api/v1/agents/static_probe/runs", json={"inputs": {"level": "panic"}}, headers=admin
    )
    assert bad.status_code == 200, bad.text
    run = bad.json()
    assert (run["status"], run["error_code"], run["outputs"]) == ("failed", "outputs-schema", None)
    assert run["error"] == (
        "the outputs do not match the declared schema at verdict: "
        "'panic' is not one of ['ok', 'review', 'backorder']"
    )
