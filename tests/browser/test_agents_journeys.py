"""Journey (d) through the staff console in a real browser (issue 17, item 9): an agent run
waits for a person, and the person approves it from the task inbox.

An admin saves an agent whose flow reads an account, looks up its work orders and its tier in
parallel, joins them, asks a compliance officer to approve (a human step assigned to the
``compliance`` role), then writes a summary with an LLM step. The admin starts it from the
designer on an account found by name; the trace viewer shows every step with the human step
waiting and the ledger proof not yet witnessed. A sales rep — not the assignee — is not offered
the task and the API refuses their decision, changing nothing. The compliance officer approves
it from the inbox; the API then holds the task decided and the run finished, and the trace
viewer shows the proof verified.

LLM steps run on their offline fallback here (the test server has no LLM configured): the
summary is the step's fallback template, shown as *not* AI-generated.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.browser.conftest import Console, accessible
from tests.browser.test_console_journeys import an_account, sign_in

DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"
ADMIN = "admin@kindred.demo"
COMPLIANCE = "compliance@kindred.demo"
REP = "sales.east@kindred.demo"
AGENT: dict[str, Any] = {
    "name": "order_approval",
    "title": "Order approval",
    "role": "sales",
    "description": "Work orders and tier in parallel, a compliance approval, then a summary.",
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
            "id": "tier",
            "kind": "rule",
            "rules": [{"when": "reads.account.tier == 'A'", "then": {"level": "key"}}],
            "default": {"level": "standard"},
        },
        {
            "id": "assess",
            "kind": "rule",
            "needs": ["history", "tier"],
            "rules": [
                {"when": "steps.tier.level == 'key'", "then": {"decision": "review", "discount": 8}}
            ],
            "default": {"decision": "review", "discount": 5},
        },
        {
            "id": "approval",
            "kind": "human",
            "needs": ["assess"],
            "task": {
                "title": "Approve the order of {{ reads.account.name }}",
                "details": {
                    "tier": {"cel": "steps.tier.level"},
                    "proposal": {"discount": {"cel": "steps.assess.discount"}},
                },
                "assignee": {"role": "compliance"},
                "sla": "4h",
                "modifiable": ["discount"],
            },
        },
        {
            "id": "summary",
            "kind": "llm",
            "needs": ["approval"],
            "language": "en",
            "prompt": "Summarise the decision for {{ reads.account.name }}.",
            "fallback": "{{ reads.account.name }}: the order was {{ steps.approval.outcome }}.",
        },
    ],
    "outputs": {
        "value": {
            "approval": {"cel": "steps.approval.outcome"},
            "summary": {"cel": "steps.summary.text"},
        }
    },
}


def watch_csp(page: Page) -> list[str]:
    """Every console message about a Content-Security-Policy violation on this page."""
    seen: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", listen)
    return seen


def refused(console: Console, method: str, path: str, token: str, body: Any) -> tuple[int, Any]:
    """Send a request the API must refuse; its status and problem body."""
    request = urllib.request.Request(
        console.base_url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_agent_run_waits_for_compliance_who_approves_it_from_the_inbox(
    console: Console, browser: Browser, page: Page
) -> None:
    admin_token = console.token(ADMIN)
    saved = console.api("POST", "/api/v1/agents", admin_token, AGENT)
    assert saved["version"] == 1 and saved["enabled"] is True
    account = an_account(console, admin_token)
    violations = watch_csp(page)

    # The admin finds the agent and opens it in the designer: the flow as a graph.
    sign_in(page, console, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agents").click()
    expect(page.get_by_role("heading", name="Agents", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text="order_approval")
    expect(row.get_by_role("button", name="Disable order_approval")).to_be_visible()
    accessible(page)
    row.get_by_role("link", name="Order approval").click()
    expect(page.get_by_role("heading", name="Agent: Order approval")).to_be_visible()
    checks = page.get_by_role("status").filter(has_text="The definition checks: 5 step(s)")
    expect(checks).to_be_visible()
    graph = page.get_by_role("region", name="Steps of the agent as a graph")
    for step, kind in (
        ("history", "Tool"),
        ("tier", "Rule"),
        ("assess", "Rule"),
        ("approval", "Person"),
        ("summary", "LLM"),
    ):
        expect(graph.get_by_label(f"Step {step} ({kind})")).to_be_visible()
    # Parallel branches share a column; the join and what follows sit right of them.
    x = {
        step: graph.get_by_label(re.compile(rf"^Step {step} ")).bounding_box()["x"]  # type: ignore[index]
        for step in ("history", "tier", "assess", "approval", "summary")
    }
    assert x["history"] == x["tier"] < x["assess"] < x["approval"] < x["summary"]
    page.get_by_role("button", name="approval · Person").click()
    expect(page.get_by_label("Assigned to role")).to_have_value("compliance")
    expect(page.get_by_role("textbox", name="Definition (YAML)")).to_contain_text("kind: human")
    accessible(page)
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / "console-agent-designer.png"))
    # Checked live: a broken guard is a problem at its step, in the graph and in the YAML.
    guard = page.get_by_label("Only when (CEL)")
    guard.fill("steps.assess.decision ==")
    expect(
        page.get_by_role("status").filter(has_text="The definition has 1 problem(s)")
    ).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="1 problem(s) at this step")).to_contain_text(
        "/steps/3/when"
    )
    expect(graph.get_by_label("Step approval (Person)")).to_contain_text("1 problem(s)")
    expect(page.get_by_role("textbox", name="Definition (YAML)")).to_contain_text(
        "when: steps.assess.decision =="
    )
    guard.fill("")
    expect(checks).to_be_visible()

    # It runs on an account picked by name, and the trace opens: the person's step waits.
    page.get_by_label("Search Account by name").fill(account["name"])
    page.get_by_role("radio", name=account["name"]).check()
    page.get_by_role("button", name="Run agent").click()
    expect(page.get_by_role("heading", name="Run of order_approval")).to_be_visible()
    run_id = page.url.rsplit("/", 1)[1]
    timeline = page.get_by_role("table", name="Steps of order_approval by start time")
    for step in ("history", "tier", "assess", "approval"):
        expect(timeline.get_by_role("rowheader", name=step)).to_be_visible()
    expect(timeline.get_by_role("row").filter(has_text="approval")).to_contain_text("waiting")
    expect(page.get_by_text("Waiting for compliance to decide.")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Not yet witnessed")).to_be_visible()
    accessible(page)
    run = console.api("GET", f"/api/v1/agent-runs/{run_id}", admin_token)
    assert run["status"] == "waiting" and run["customer_id"] == account["id"]
    compliance_token = console.token(COMPLIANCE)
    queue = console.api("GET", "/api/v1/tasks", compliance_token)["data"]
    (task,) = [t for t in queue if t["root_id"] == run_id]
    assert task["title"] == f"Approve the order of {account['name']}"

    # A sales rep is not the assignee: the inbox offers nothing, the API refuses, nothing moves.
    rep_context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        rep_page = rep_context.new_page()
        sign_in(rep_page, console, REP)
        rep_page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
        expect(
            rep_page.get_by_role("status").filter(has_text="No open tasks for you.")
        ).to_be_visible()
        expect(rep_page.get_by_role("heading", name=task["title"])).to_have_count(0)
        accessible(rep_page)
    finally:
        rep_context.close()
    status, problem = refused(
        console,
        "POST",
        f"/api/v1/tasks/{task['id']}/decision",
        console.token(REP),
        {"outcome": "approved"},
    )
    assert status == 403 and "compliance" in problem["detail"]
    unchanged = console.api("GET", f"/api/v1/tasks/{task['id']}", compliance_token)
    assert unchanged["status"] == "open" and [h["action"] for h in unchanged["history"]] == [
        "created"
    ]
    assert console.api("GET", f"/api/v1/agent-runs/{run_id}", admin_token)["status"] == "waiting"

    # The compliance officer approves it from the inbox; the run continues to its end.
    officer_context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    officer = officer_context.new_page()
    officer_violations = watch_csp(officer)
    try:
        sign_in(officer, console, COMPLIANCE)
        officer.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
        card = officer.get_by_role("article", name=task["title"])
        expect(card).to_be_visible()
        expect(card.get_by_text(re.compile(r"^\d+ h \d\d min left$"))).to_be_visible()
        expect(card.get_by_text("discount")).to_be_visible()
        accessible(officer)
        officer.screenshot(path=str(DOCS / "console-tasks.png"))
        card.get_by_role("button", name="Approve").click()
        decided = officer.get_by_role("region", name="Decided just now")
        expect(decided).to_contain_text(f"{task['title']}: Approved.")
        expect(decided).to_contain_text("succeeded")
        expect(card).to_have_count(0)
        accessible(officer)

        done = console.api("GET", f"/api/v1/tasks/{task['id']}", compliance_token)
        assert (done["status"], done["outcome"]) == ("decided", "approved")
        me = console.api("GET", "/api/v1/auth/me", compliance_token)
        assert done["decided_by"] == me["id"]
        finished = console.api("GET", f"/api/v1/agent-runs/{run_id}", admin_token)
        assert finished["status"] == "succeeded"
        assert finished["outputs"]["approval"] == "approved"
        assert finished["outputs"]["summary"] == f"{account['name']}: the order was approved."

        # The trace now shows every step done, the summary's provenance and the proof.
        decided.get_by_role("link", name="Open the run").click()
        expect(officer.get_by_role("heading", name="Run of order_approval")).to_be_visible()
        expect(officer.get_by_role("status").filter(has_text="Verified")).to_be_visible()
        expect(
            officer.get_by_text("Not AI-generated: the fallback template was used")
        ).to_be_visible()
        timeline = officer.get_by_role("table", name="Steps of order_approval by start time")
        expect(timeline.get_by_role("row").filter(has_text="summary")).to_contain_text("succeeded")
        accessible(officer)
        officer.screenshot(path=str(DOCS / "console-trace.png"))
        verified = console.api("GET", f"/api/v1/agent-runs/{run_id}/verify", compliance_token)
        assert verified["intact"] is True
    finally:
        officer_context.close()

    # Back as the admin: golden cases and an evaluation, its result over time.
    page.get_by_role("link", name="version 1").click()
    page.get_by_role("main").get_by_role("link", name="Evaluations").click()
    expect(page.get_by_role("heading", name="Evaluations of order_approval")).to_be_visible()
    expect(page.get_by_text("No evaluation yet.")).to_be_visible()
    page.get_by_label("Case", exact=True).fill("needs-approval")
    page.get_by_label("Inputs (JSON)").fill(json.dumps({"account": account["id"]}))
    page.get_by_label("Expected (JSON)").fill(json.dumps({"_status": "waiting"}))
    page.get_by_role("button", name="Add golden case").click()
    expect(
        page.get_by_role("status").filter(has_text="Golden case needs-approval saved.")
    ).to_be_visible()
    expect(page.get_by_role("rowheader", name="needs-approval")).to_be_visible()
    page.get_by_label("Runs per case (k)").fill("2")
    page.get_by_role("button", name="Run evaluation").click()
    expect(page.get_by_role("status").filter(has_text="pass^2 = 100%")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile(r"over 1 evaluation\(s\)"))
    expect(chart).to_be_visible()
    accessible(page)
    (point,) = console.api("GET", "/api/v1/agents/order_approval/evaluations", admin_token)["data"]
    assert (point["k"], point["runs"], point["pass_k"]) == (2, 2, 1.0)
    assert point["intervention_rate"] == 1.0  # both runs wait for the compliance officer
    assert violations == [] and officer_violations == []
