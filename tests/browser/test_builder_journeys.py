"""Journey (b) through the scenario builder in a real browser (issue 17, items 5 and 9).

A store manager (the East China service engineer, who may author scenarios and sees the
devices) builds "device fault of severity major or critical → create a ticket → notify the
service role" without typing CEL or YAML: picks the event type from the catalog, looks the
device up, adds the severity condition with the form, adds the two actions from the catalog
and fills their parameter forms (fields inserted from pickers). They dry-run it on a sample
event, save and enable it. The test then sends a matching event through the API; the engine
(consumers running in this module's server) runs the scenario, a ticket exists, and the run
shows on the scenario's health page. An analyst, who may not author, gets no builder.
"""

from __future__ import annotations

import re
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from kindred.api.console import default_console_dir
from kindred.cli.commands import DEMO_PASSWORD
from tests.browser.conftest import Console, accessible
from tests.browser.test_console_journeys import sign_in
from tests.live_server import live_server

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
NAME = "major-device-fault-ticket"
MANAGER = "service.east@kindred.demo"
# How long the engine may take to pick an event up before the test gives up waiting (a
# guard against hanging, not a measured bound: the test waits for the run to appear).
PATIENCE_S = 90


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The live server with its consumers running, so published events start scenario runs."""
    built = default_console_dir()
    if not (built / "index.html").is_file():
        pytest.fail(f"the web console is not built ({built}): run `bash scripts/setup`")
    folder = tmp_path_factory.mktemp("builder-console")
    with live_server(folder, customers=30, env={"KINDRED_RUN_CONSUMERS": "true"}) as (url, log):
        yield Console(url, log)


def watch_csp(page: Page) -> list[str]:
    """Console messages about the Content-Security-Policy (CodeMirror, @xyflow/react and the
    stylesheets must need none of what the policy refuses)."""
    seen: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append(f"{page.url}: {message.location}: {message.text}")

    page.on("console", listen)
    return seen


def visible_asset(console: Console, token: str) -> dict[str, Any]:
    """A device the manager may see, with a serial number and a customer."""
    page = console.api("GET", "/api/v1/objects/asset/records?limit=50", token)
    return next(a for a in page["data"] if a.get("serial_number") and a.get("account"))


def wait_for_run(console: Console, token: str) -> dict[str, Any]:
    """The scenario's first finished run, polled until it shows (a positive signal)."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        runs = console.api("GET", f"/api/v1/scenario-runs?scenario={NAME}", token)["data"]
        finished = [r for r in runs if r["status"] in ("succeeded", "failed")]
        if finished:
            return finished[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no finished run of {NAME} appeared; runs: {runs}\n{console.log}")
        time.sleep(0.5)


def build_the_scenario(page: Page, serial: str) -> None:
    page.get_by_label("Title").fill("Major device faults → ticket and service")
    page.get_by_label("Identifier").fill(NAME)

    # WHEN: the event type from the catalog.
    page.get_by_label("Find an event type").fill("device fault")
    page.get_by_role("button", name="Add iot.device.fault", exact=True).click()

    # The device, looked up by its serial number (no CEL: pickers).
    page.get_by_role("button", name="Add a lookup").click()
    lookup = page.get_by_role("group", name="Lookup 1")
    lookup.get_by_label("Name").fill("asset")
    lookup.get_by_label("Object").select_option("asset")
    lookup.get_by_label("Field", exact=True).select_option("serial_number")
    lookup.get_by_label("equals the event's").select_option("event.data.device_id")

    # AND: severity is one of major, critical — rows of the form.
    page.get_by_role("button", name="Add a condition").click()
    rule = page.get_by_role("group", name="Condition 1").get_by_role("group", name="Rule 1")
    rule.get_by_label("Field", exact=True).select_option("event.data.severity")
    rule.get_by_label("Operator").select_option("in")
    rule.get_by_role("checkbox", name="major").check()
    rule.get_by_role("checkbox", name="critical").check()
    condition = page.get_by_role("group", name="Condition 1")
    expect(condition.get_by_text('event.data.severity in ["major", "critical"]')).to_be_visible()

    # THEN: create a ticket, then notify the service role.
    page.get_by_label("Action for a new step").select_option("create_ticket")
    page.get_by_role("button", name="Add step", exact=True).click()
    ticket = page.get_by_role("group", name="Settings of create_ticket")
    ticket.get_by_label("subject (required)").fill("Fault ")
    ticket.get_by_label("Insert a value into subject").select_option("event.data.code")
    ticket.get_by_label("Insert a value into asset").select_option("asset.id")
    ticket.get_by_label("priority", exact=True).fill("high")

    page.get_by_label("Action for a new step").select_option("notify")
    page.get_by_role("button", name="Add step", exact=True).click()
    notify = page.get_by_role("group", name="Settings of notify")
    notify.get_by_label("role", exact=True).fill("service")
    notify.get_by_label("title (required)").fill("Ticket for device ")
    notify.get_by_label("Insert a value into title").select_option("event.data.device_id")

    flow = page.get_by_role("region", name="The steps as a flow")
    expect(flow.get_by_text("create_ticket", exact=True)).to_be_visible()
    expect(flow.get_by_text("notify", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"Checked in \d+ ms: no problems"))).to_be_visible()

    # Dry run on a sample event: the sample's data is a form too.
    page.get_by_role("button", name="Load a sample event").click()
    sample = page.get_by_role("group", name="Event data")
    sample.get_by_label("device_id").fill(serial)
    sample.get_by_label("severity").select_option("critical")
    sample.get_by_label("code", exact=True).fill("E42")
    page.get_by_role("button", name="Dry run", exact=True).click()


def test_b_a_store_manager_builds_dry_runs_saves_and_enables_a_scenario(
    console: Console, page: Page
) -> None:
    token = console.token(MANAGER)
    admin = console.token("admin@kindred.demo")
    asset = visible_asset(console, token)
    csp = watch_csp(page)

    sign_in(page, console, MANAGER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Scenarios").click()
    expect(page.get_by_role("heading", level=1, name="Scenarios")).to_be_visible()
    accessible(page)
    page.get_by_role("link", name="New scenario").click()
    expect(page.get_by_role("heading", level=1, name="New scenario")).to_be_visible()
    accessible(page)

    build_the_scenario(page, asset["serial_number"])
    result = page.get_by_role("region", name="Dry-run result")
    expect(result.get_by_text("A run would start.")).to_be_visible()
    conditions = result.get_by_role("table", name="Conditions")
    expect(conditions).to_contain_text('event.data.severity in ["major", "critical"]')
    expect(conditions.get_by_role("cell", name="true", exact=True)).to_be_visible()
    expect(result).to_contain_text("Fault E42")  # the ticket's rendered subject
    expect(result).to_contain_text(asset["id"])  # the looked-up device
    expect(result).to_contain_text(f"Ticket for device {asset['serial_number']}")
    accessible(page)
    # Docs: the builder with its flow of two steps and the dry-run result beside it.
    page.get_by_role("heading", name="THEN do this").evaluate(
        "h => { h.scrollIntoView({block: 'start'}); window.scrollBy(0, -60); }"
    )
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / "console-builder.png"))

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved as version 1.")).to_be_visible()
    expect(page).to_have_url(re.compile(f"/scenarios/{NAME}$"))
    saved = console.api("GET", f"/api/v1/scenarios/{NAME}", token)
    assert saved["version"] == 1 and saved["enabled"] is False
    definition = saved["definition"]
    assert definition["when"] == {"events": ["iot.device.fault"]}
    assert definition["lookups"] == [
        {"name": "asset", "object": "asset", "match": {"serial_number": "event.data.device_id"}}
    ]
    assert definition["and"] == [{"cel": 'event.data.severity in ["major", "critical"]'}]
    assert [(s["id"], s["action"]) for s in definition["then"]] == [
        ("create_ticket", "create_ticket"),
        ("notify", "notify"),
    ]
    assert definition["then"][0]["with"] == {
        "subject": "Fault {{ event.data.code }}",
        "asset": "{{ asset.id }}",
        "priority": "high",
    }

    page.get_by_role("button", name="Enable", exact=True).click()
    expect(page.get_by_text("Enabled: matching events now start runs.")).to_be_visible()
    assert console.api("GET", f"/api/v1/scenarios/{NAME}", token)["enabled"] is True
    accessible(page)

    # The device reports a major fault (sent as the admin: store managers do not publish).
    stamp = int(time.time() * 1000)
    event = {
        "specversion": "1.0",
        "id": f"builder-journey-{stamp}",
        "source": "urn:test:plant-7",
        "type": "iot.device.fault",
        "data": {"device_id": asset["serial_number"], "code": "E42", "severity": "major"},
    }
    console.api("POST", "/api/v1/events", admin, event)
    run = wait_for_run(console, token)
    assert run["status"] == "succeeded", run
    detail = console.api("GET", f"/api/v1/scenario-runs/{run['id']}", token)
    steps = {step["id"]: step for step in detail["steps"]}
    assert steps["create_ticket"]["status"] == "succeeded"
    assert steps["notify"]["status"] == "succeeded"
    ticket_id = steps["create_ticket"]["output"]["id"]
    ticket = console.api("GET", f"/api/v1/objects/ticket/records/{ticket_id}", token)
    assert ticket["subject"] == "Fault E42" and ticket["asset"] == asset["id"]
    assert ticket["account"] == asset["account"] and ticket["priority"] == "high"

    # The run in the scenario's health page (built by the operations area): its contract is
    # an h1 with the scenario name, a table captioned "Run history" whose rows show each
    # run's status, and a chart figure named "Runs over time".
    page.get_by_role("link", name="Health and run history").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(NAME)
    history = page.get_by_role("table", name="Run history")
    expect(history.get_by_role("row").filter(has_text="succeeded").first).to_be_visible()
    expect(page.get_by_role("figure", name="Runs over time")).to_be_visible()
    accessible(page)
    assert csp == []


def test_b_an_analyst_gets_no_builder_and_the_api_holds_no_new_scenario(
    console: Console, page: Page
) -> None:
    analyst = "analyst@kindred.demo"
    token = console.token(analyst)
    before = {s["name"] for s in console.api("GET", "/api/v1/scenarios", token)["data"]}

    sign_in(page, console, analyst)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Records")).to_be_visible()
    expect(nav.get_by_role("link", name="Scenarios")).to_have_count(0)
    # Typing the builder's address: the console signs in again if the reload ended the
    # session, then comes back to the address.
    page.goto(console.base_url + "/scenarios/new")
    signed_in = page.get_by_role("navigation", name="Main")
    expect(signed_in.or_(page.get_by_label("Password"))).to_be_visible()
    if not signed_in.is_visible():
        page.get_by_label("Email").fill(analyst)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile("/scenarios/new$"))
    expect(page.get_by_role("alert")).to_contain_text("You may not build scenarios")
    expect(page.get_by_role("button", name="Save", exact=True)).to_have_count(0)
    accessible(page)

    # The API refuses the analyst too, and holds no new scenario.
    with pytest.raises(urllib.error.HTTPError) as refused:
        console.api(
            "POST",
            "/api/v1/scenarios",
            token,
            {
                "name": "analyst-try",
                "title": "x",
                "when": {"events": ["iot.device.fault"]},
                "then": [{"id": "n", "action": "notify", "with": {"role": "sales", "title": "x"}}],
            },
        )
    assert refused.value.code == 403
    refused.value.close()
    after = {s["name"] for s in console.api("GET", "/api/v1/scenarios", token)["data"]}
    assert after == before and "analyst-try" not in after
