"""Journey through the operations area in a real browser (issue 17, item 6).

An operator opens the dashboard; events sent during the test start runs of a scenario (the
server runs its consumers here), and its health page shows them in the chart and the run
history without a reload; a run opens with its steps; a refused event lands in the
dead-letter inbox, where its payload is fixed and it is replayed (a sales user's attempt is
refused and changes nothing); the live tail shows an event published meanwhile. Each page
passes axe-core, the console logs no CSP violation, and what the user saw is what the API
then holds. Docs screenshots: console-health.png, console-dead-letters.png, console-live.png.
"""

from __future__ import annotations

import json
import re
import urllib.error
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from kindred.api.console import default_console_dir
from kindred.scenarios.definition import load_text
from tests.browser.conftest import Console, accessible
from tests.browser.test_console_journeys import sign_in
from tests.live_server import live_server

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "images"
EXAMPLE = ROOT / "src" / "kindred" / "scenarios" / "examples" / "stock-shortage-coupon.yaml"
ADMIN = "admin@kindred.demo"
SCENARIO = "stock-shortage-coupon"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The shared live server, but with the event consumers (the scenario engine) running."""
    built = default_console_dir()
    if not (built / "index.html").is_file():
        pytest.fail(f"the web console is not built ({built}): run `bash scripts/setup`")
    folder = tmp_path_factory.mktemp("operations")
    with live_server(folder, customers=30, env={"KINDRED_RUN_CONSUMERS": "true"}) as (url, log):
        yield Console(url, log)


def publish(console: Console, token: str, event: dict[str, Any]) -> dict[str, Any]:
    stored = console.api(
        "POST", "/api/v1/events", token, event, **{"Content-Type": "application/cloudevents+json"}
    )
    return dict(stored["events"][0])


def shortage(region: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"shortage-{uuid.uuid4()}",
        "source": "urn:test:erp",
        "type": "inventory.stock.shortage",
        "data": {"sku": "CT-TUBE-01", "region": region, "available": 2, "threshold": 10},
    }


def heartbeat(device: str, battery: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"hb-{uuid.uuid4()}",
        "source": "urn:test:devices",
        "type": "iot.device.heartbeat",
        "data": {"device_id": device, "battery_pct": battery},
    }


def refused(call: Any) -> int:
    with pytest.raises(urllib.error.HTTPError) as error:
        call()
    error.value.close()
    return error.value.code


def watch_csp(page: Page) -> list[str]:
    violations: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    page.on("console", seen)
    return violations


def test_an_operator_watches_health_replays_a_dead_letter_and_tails_events(
    console: Console, page: Page
) -> None:
    token = console.token(ADMIN)
    # A scenario to watch: the shipped stock-shortage chain, enabled (it acts through the
    # event log and notifications only, no outside system).
    created = console.api("POST", "/api/v1/scenarios", token, load_text(EXAMPLE.read_text()))
    assert created["name"] == SCENARIO
    console.api("POST", f"/api/v1/scenarios/{SCENARIO}/enable", token)
    csp = watch_csp(page)

    sign_in(page, console, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Operations").click()
    expect(page.get_by_role("heading", level=1, name="Operations")).to_be_visible()
    overview = page.get_by_role("table", name="Scenario health")
    expect(overview.get_by_role("link", name=SCENARIO)).to_be_visible()
    accessible(page)

    # -- the scenario's health: runs appear in the chart and history without a reload -----
    overview.get_by_role("link", name=SCENARIO).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(SCENARIO)
    expect(page.get_by_role("figure", name="Runs over time")).to_be_visible()
    for region in ("East China", "North China"):
        publish(console, token, shortage(region))
    history = page.get_by_role("table", name="Run history")
    succeeded = history.get_by_role("row").filter(has_text="succeeded")
    expect(succeeded).to_have_count(2, timeout=60_000)
    summary = page.locator("dl.ops-summary > div").filter(
        has=page.get_by_text("Succeeded", exact=True)
    )
    expect(summary.locator("dd")).to_have_text("2", timeout=60_000)
    # The chart's table alternative counts them too (per bucket: start, succeeded, …).
    chart = page.get_by_role("figure", name="Runs over time")
    totals = chart.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert sum(int(n) for n in totals) == 2
    runs = console.api("GET", f"/api/v1/scenario-runs?scenario={SCENARIO}", token)["data"]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    health = console.api("GET", f"/api/v1/scenarios/{SCENARIO}/health", token)
    assert health["succeeded"] == 2 and sum(b["succeeded"] for b in health["buckets"]) == 2
    accessible(page)
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / "console-health.png"))

    # -- one run, step by step ---------------------------------------------------------------
    succeeded.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run")
    expect(page.get_by_role("article", name=re.compile(r"Step guide_popup"))).to_be_visible()
    expect(page.get_by_role("article", name=re.compile(r"Step coupon"))).to_be_visible()
    accessible(page)

    # -- a refused event, fixed and replayed from the inbox ------------------------------------
    bad = heartbeat("dev-journey", "low")  # battery_pct must be a number
    assert refused(lambda: publish(console, token, bad)) == 422
    letters = console.api("GET", "/api/v1/dead-letters?type=iot.device.heartbeat", token)["data"]
    [letter] = [item for item in letters if item["event_id"] == bad["id"]]
    # Someone without the right to manage dead letters changes nothing.
    sales = console.token("sales.east@kindred.demo")
    assert (
        refused(lambda: console.api("POST", f"/api/v1/dead-letters/{letter['id']}/replay", sales))
        == 403
    )
    assert console.api("GET", f"/api/v1/dead-letters/{letter['id']}", token)["status"] == "open"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Operations").click()
    page.get_by_role("link", name="Dead-letter inbox").click()
    expect(page.get_by_role("heading", level=1, name="Dead-letter inbox")).to_be_visible()
    accessible(page)
    page.get_by_role("button", name=f"Inspect {bad['id']}").click()
    payload = page.get_by_label("Payload (JSON)")
    expect(payload).to_have_value(re.compile(r'"battery_pct": "low"'))
    payload.fill('{"broken": ')
    expect(page.get_by_text("Not valid JSON")).to_be_visible()
    expect(page.get_by_role("button", name="Save fix")).to_be_disabled()
    payload.fill(json.dumps({**bad, "data": {"device_id": "dev-journey", "battery_pct": 7}}))
    page.get_by_role("button", name="Save fix").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Yes, do it").click()
    expect(page.get_by_text("Saved: the dead letter now holds your payload.")).to_be_visible()
    page.get_by_role("button", name="Replay", exact=True).click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text(f"Ingest {bad['id']} again now?")
    accessible(page)
    confirm.get_by_role("button", name="Yes, do it").click()
    done = page.get_by_text(
        re.compile(r"Replayed: 1 event\(s\) stored, 0 already stored before; positions \d+\.")
    )
    expect(done).to_be_visible()
    accessible(page)
    page.screenshot(path=str(DOCS / "console-dead-letters.png"))
    held = console.api("GET", f"/api/v1/dead-letters/{letter['id']}", token)
    assert held["status"] == "replayed" and held["resolved_by"]
    position = re.search(r"positions (\d+)", done.inner_text())
    assert position is not None
    stored = console.api("GET", f"/api/v1/events/{position.group(1)}", token)
    assert stored["event"]["id"] == bad["id"] and stored["event"]["data"]["battery_pct"] == 7

    # -- the live tail shows an event published while it is open -------------------------------
    page.get_by_role("link", name="Back to operations").click()
    page.get_by_role("link", name="Live event tail").click()
    expect(page.get_by_role("heading", level=1, name="Live event tail")).to_be_visible()
    page.get_by_label("Event types").fill("iot.*")
    page.get_by_role("button", name="Apply filter").click()
    expect(page.get_by_role("status").filter(has_text="Live: showing events")).to_be_visible()
    publish(console, token, shortage("South China"))  # another type: filtered out
    fresh = publish(console, token, heartbeat("dev-live", 64))
    tail = page.get_by_role("table", name=re.compile("Latest events"))
    row = tail.get_by_role("row").filter(
        has=page.get_by_role("cell", name=fresh["position"], exact=True)
    )
    expect(row).to_contain_text("iot.device.heartbeat")
    # The filtered-out shortage (stored before the heartbeat) never arrived.
    expect(tail.get_by_role("row").filter(has_text="inventory.stock.shortage")).to_have_count(0)
    accessible(page)
    page.screenshot(path=str(DOCS / "console-live.png"))
    assert csp == []
