"""Scenario definitions over HTTP on both dialects: YAML and JSON saves, refusals that save
nothing, versions with If-Match, enable/disable on the ledger, and dry runs that show what
would happen — lookups, window values from the event log, the branch taken, rendered
parameters — without acting."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import orjson
import sqlalchemy as sa

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from tests.api.test_events_api import scrape_metrics
from tests.conftest import service_principal
from tests.scenarios.test_definition import GOOD

YAML = {"Content-Type": "application/yaml"}


def scenario_rows(kindred: Any) -> tuple[int, int]:
    with kindred.database.read() as session:
        return (
            session.execute(sa.text("SELECT count(*) FROM scenarios")).scalar_one(),
            session.execute(sa.text("SELECT count(*) FROM scenario_versions")).scalar_one(),
        )


def ledger_kinds(kindred: Any) -> list[str]:
    with kindred.database.read() as session:
        return list(session.execute(sa.text("SELECT kind FROM ledger_entries")).scalars())


def test_save_yaml_then_versions_with_if_match(client: Any, world: Any, kindred: Any) -> None:
    created = client.post(
        "/api/v1/scenarios", content=GOOD.encode(), headers={**world.service_east.headers, **YAML}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["version"], body["enabled"]) == ("device-fault-dispatch", 1, False)
    assert created.headers["etag"] == '"v1"'

    again = client.post(
        "/api/v1/scenarios", content=GOOD.encode(), headers={**world.admin.headers, **YAML}
    )
    assert again.status_code == 409

    edited = GOOD.replace("Device fault → service dispatch", "Device fault → dispatch v2")
    stale = client.put(
        "/api/v1/scenarios/device-fault-dispatch",
        content=edited.encode(),
        headers={**world.service_east.headers, **YAML, "If-Match": '"v7"'},
    )
    assert stale.status_code == 412
    saved = client.put(
        "/api/v1/scenarios/device-fault-dispatch",
        content=edited.encode(),
        headers={**world.service_east.headers, **YAML, "If-Match": '"v1"'},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2 and saved.json()["title"] == "Device fault → dispatch v2"
    versions = client.get(
        "/api/v1/scenarios/device-fault-dispatch/versions", headers=world.analyst.headers
    ).json()["data"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["created_by"] == world.service_east.id
    assert ledger_kinds(kindred).count("scenarios.saved") == 2


def test_an_invalid_definition_saves_nothing(client: Any, world: Any, kindred: Any) -> None:
    broken = GOOD.replace("action: create_ticket", "action: create_tikcet").replace(
        "event.data.severity in", "event.data.severity inn"
    )
    response = client.post(
        "/api/v1/scenarios", content=broken.encode(), headers={**world.admin.headers, **YAML}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/validation-failed")
    paths = {e["path"] for e in problem["errors"]}
    assert {"/when/filter", "/then/0/action"} <= paths
    assert scenario_rows(kindred) == (0, 0)
    assert "scenarios.saved" not in ledger_kinds(kindred)

    unreadable = client.post(
        "/api/v1/scenarios", content=b"name: [", headers={**world.admin.headers, **YAML}
    )
    assert unreadable.status_code == 400 and "line" in unreadable.json()["detail"]
    assert scenario_rows(kindred) == (0, 0)


def test_who_may_author_and_switch(client: Any, world: Any, kindred: Any) -> None:
    denied = client.post(
        "/api/v1/scenarios", content=GOOD.encode(), headers={**world.analyst.headers, **YAML}
    )
    assert denied.status_code == 403
    assert scenario_rows(kindred) == (0, 0)
    client.post("/api/v1/scenarios", content=GOOD.encode(), headers={**world.admin.headers, **YAML})
    url = "/api/v1/scenarios/device-fault-dispatch"
    assert client.post(url + "/enable", headers=world.integration.headers).status_code == 403
    # A sales rep may not switch on (or off) what runs with the admin's rights.
    assert client.post(url + "/enable", headers=world.sales_east.headers).status_code == 403
    enabled = client.post(url + "/enable", headers=world.admin.headers)
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    assert enabled.json()["enabled_by"] == world.admin.id
    listed = client.get("/api/v1/scenarios?enabled=true", headers=world.analyst.headers).json()
    assert [s["name"] for s in listed["data"]] == ["device-fault-dispatch"]
    assert client.post(url + "/disable", headers=world.sales_east.headers).status_code == 403
    client.post(url + "/disable", headers=world.admin.headers)
    assert client.get(url, headers=world.admin.headers).json()["enabled"] is False
    kinds = ledger_kinds(kindred)
    assert kinds.count("scenarios.enabled") == 1 and kinds.count("scenarios.disabled") == 1


def test_health_and_runs_follow_one_rule(client: Any, world: Any, kindred: Any) -> None:
    """Health answers exactly the readers who may list the scenario's runs: its owner, the
    owner's team, admins and compliance; the overview lists only those scenarios."""
    saved = client.post(
        "/api/v1/scenarios", content=GOOD.encode(), headers={**world.service_east.headers, **YAML}
    )
    assert saved.status_code == 201, saved.text
    url = "/api/v1/scenarios/device-fault-dispatch/health"
    for reader in ("service_east", "admin", "compliance"):
        answered = client.get(url, headers=world.people[reader].headers)
        assert answered.status_code == 200, (reader, answered.text)
        listed = client.get(
            "/api/v1/scenarios?observable=true", headers=world.people[reader].headers
        )
        assert [s["name"] for s in listed.json()["data"]] == ["device-fault-dispatch"]
    for reader in ("analyst", "sales_east"):
        refused = client.get(url, headers=world.people[reader].headers)
        assert refused.status_code == 403, (reader, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "not yours to observe" in refused.json()["detail"]
        observable = client.get(
            "/api/v1/scenarios?observable=true", headers=world.people[reader].headers
        )
        assert observable.json()["data"] == []
        every = client.get("/api/v1/scenarios", headers=world.people[reader].headers)
        assert [s["name"] for s in every.json()["data"]] == ["device-fault-dispatch"]


def _fault(event_id: str, device: str, time: str, severity: str = "major") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:plant",
        "type": "iot.device.fault",
        "time": time,
        "data": {"device_id": device, "code": "E42", "severity": severity},
    }


def test_dry_run_shows_what_would_happen_without_acting(
    client: Any, world: Any, kindred: Any
) -> None:
    context = RequestContext(SYSTEM_PRINCIPAL)
    with kindred.database.write() as session:
        account = kindred.records.create(
            session,
            context,
            "account",
            {"name": "Ruijin Hospital", "tier": "A", "email": "it@ruijin.example"},
        )
        product = kindred.records.create(session, context, "product", {"name": "CT", "sku": "CT"})
        asset = kindred.records.create(
            session,
            context,
            "asset",
            {"serial_number": "CT-0042", "product": product["id"], "account": account["id"]},
        )
    client.post("/api/v1/scenarios", content=GOOD.encode(), headers={**world.admin.headers, **YAML})
    # Two earlier faults of the same device are in the log; one of another device.
    earlier = [
        _fault("f-1", "CT-0042", "2026-12-01T08:10:00Z"),
        _fault("f-2", "CT-0042", "2026-12-01T08:40:00Z"),
        _fault("f-3", "CT-0099", "2026-12-01T08:45:00Z"),
    ]
    asyncio.run(kindred.events.ingest(earlier, channel="test"))
    tickets_before = _count(kindred, "ticket")

    url = "/api/v1/scenarios/device-fault-dispatch/dry-run"
    trial = {"event": _fault("f-4", "CT-0042", "2026-12-01T09:00:00Z")}
    response = client.post(url, content=orjson.dumps(trial), headers=world.admin.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["fires"] is True and report["version"] == 1
    assert report["lookups"]["asset"]["id"] == asset["id"]
    assert report["lookups"]["windows"] == {"faults_1h": 3}
    assert [c["result"] for c in report["conditions"]] == [True, True]
    plan = {step["id"]: step for step in report["plan"]}
    assert plan["ticket"]["status"] == "would_run"
    assert plan["ticket"]["params"] == {
        "subject": "Fault E42 on CT-0042",
        "asset": asset["id"],
        "priority": "high",
    }
    assert plan["vip"] == {"id": "vip", "pointer": "/then/1", "status": "branch", "branch": "then"}
    assert plan["mail"]["params"]["to"] == "it@ruijin.example"
    assert "wait_a_bit" not in plan and "tell_ops" not in plan
    # Nothing happened.
    assert _count(kindred, "ticket") == tickets_before

    minor = {"event": _fault("f-5", "CT-0042", "2026-12-01T09:00:00Z", severity="minor")}
    report = client.post(url, content=orjson.dumps(minor), headers=world.admin.headers).json()
    assert report["matched"] is False and report["plan"] == []
    assert "filter" in report["reason"]

    unknown_device = {"event": _fault("f-6", "XX-1", "2026-12-01T09:00:00Z")}
    report = client.post(url, content=orjson.dumps(unknown_device), headers=world.admin.headers)
    body = report.json()
    assert body["fires"] is False and body["conditions"][0] == {
        "cel": "asset != null",
        "result": False,
        "error": None,
    }

    bad = client.post(
        url, content=orjson.dumps({"event": {"id": "x"}}), headers=world.admin.headers
    )
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} >= {"/event/source", "/event/type"}


def test_dry_run_of_a_draft(client: Any, world: Any, kindred: Any) -> None:
    from kindred.scenarios.definition import load_text

    draft = copy.deepcopy(load_text(GOOD))
    draft["and"] = []
    draft["lookups"] = []
    draft["then"] = [
        {
            "id": "tag",
            "action": "set_tag",
            "with": {"account": "a-1", "tag": "fault:{{ event.data.code }}"},
        }
    ]
    body = {"definition": draft, "event": _fault("d-1", "CT-1", "2026-12-01T09:00:00Z")}
    report = client.post(
        "/api/v1/scenarios/dry-run", content=orjson.dumps(body), headers=world.sales_east.headers
    ).json()
    assert report["plan"] == [
        {
            "id": "tag",
            "pointer": "/then/0",
            "status": "would_run",
            "action": "set_tag",
            "params": {"account": "a-1", "tag": "fault:E42"},
        }
    ]
    assert scenario_rows(kindred) == (0, 0)


def test_schema_and_actions_are_published(client: Any, world: Any) -> None:
    schema = client.get("/api/v1/scenarios/schema").json()
    assert schema["title"] == "Kindred scenario definition"
    actions = client.get("/api/v1/scenarios/actions", headers=world.sales_east.headers).json()
    names = {a["name"] for a in actions["data"]}
    assert {"create_ticket", "send_email", "wechat_template", "emit_event", "wait"} <= names


def _count(kindred: Any, object_name: str) -> int:
    with kindred.database.read() as session:
        return int(
            session.execute(
                sa.text("SELECT count(*) FROM records WHERE object = :o"), {"o": object_name}
            ).scalar_one()
        )


HISTORY = """
name: fault-history
title: Fault → ticket (or a failure)
when: {events: [iot.device.fault]}
impact: {measure: fixed, value: 120}
then:
  - id: ticket
    if: event.data.severity == 'major'
    then:
      - id: open
        action: create_ticket
        with: {subject: "Fault {{ event.data.code }}", account: {cel: event.data.account}}
    else:
      - id: impossible
        action: create_record
        with: {object: opportunity, values: {name: "no account"}}
"""


def test_run_history_and_health(client: Any, world: Any, kindred: Any) -> None:
    from kindred.events.runtime import EventRuntime, RuntimeJobs
    from kindred.scenarios.definition import load_text
    from tests.scenarios.test_engine import finished, until

    principal = service_principal(kindred)
    with kindred.database.write() as session:
        account = kindred.records.create(
            session, RequestContext(SYSTEM_PRINCIPAL), "account", {"name": "Ruijin"}
        )
        kindred.scenarios.create(session, load_text(HISTORY), None, run_as=principal)
        kindred.scenarios.set_enabled(session, "fault-history", True, None)
    good = _fault("h-1", "CT-1", "2026-12-01T09:00:00Z")
    good["data"]["account"] = account["id"]
    bad = _fault("h-2", "CT-2", "2026-12-01T09:00:01Z", severity="critical")

    async def main() -> None:
        runtime = EventRuntime(kindred, RuntimeJobs(consumers=("scenarios",)))
        await runtime.start()
        try:
            await kindred.events.ingest([good, bad], channel="test")
            await until(finished(kindred, 2))
        finally:
            await runtime.stop()

    asyncio.run(main())
    listed = client.get(
        "/api/v1/scenario-runs?scenario=fault-history", headers=world.compliance.headers
    ).json()["data"]
    assert sorted((r["key"], r["status"]) for r in listed) == [
        ("CT-1", "succeeded"),
        ("CT-2", "failed"),
    ]
    by_key = client.get("/api/v1/scenario-runs?key=CT-2", headers=world.admin.headers).json()
    [failed] = by_key["data"]
    detail = client.get(f"/api/v1/scenario-runs/{failed['id']}", headers=world.admin.headers).json()
    assert detail["event"]["id"] == "h-2"
    assert [(s["id"], s["status"]) for s in detail["steps"]] == [
        ("impossible", "failed"),
        ("ticket", "branch"),
    ] or [(s["id"], s["status"]) for s in detail["steps"]] == [
        ("ticket", "branch"),
        ("impossible", "failed"),
    ]
    only_failed = client.get(
        "/api/v1/scenario-runs?status=failed", headers=world.admin.headers
    ).json()["data"]
    assert [r["id"] for r in only_failed] == [failed["id"]]
    assert client.get("/api/v1/scenario-runs/nope", headers=world.admin.headers).status_code == 404

    report = client.get(
        "/api/v1/scenarios/fault-history/health", headers=world.compliance.headers
    ).json()
    assert (report["runs"], report["succeeded"], report["failed"]) == (2, 1, 1)
    assert report["success_rate"] == 0.5
    assert report["latency_ms"]["p50"] is not None and report["latency_ms"]["p99"] is not None
    assert report["failure_reasons"] == {"validation-failed": 1}
    assert report["business_impact"] == {"measure": "fixed", "value": 120.0, "runs": 1}
    metrics = scrape_metrics(client)
    assert (
        'kindred_scenario_runs_finished_total{scenario="fault-history",status="failed"}' in metrics
    )
