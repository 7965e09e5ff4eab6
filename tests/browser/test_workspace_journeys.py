"""Journeys through the records workspace in a real browser (issue 17, item 3).

- A sales rep moves an opportunity on the kanban board with the keyboard-usable "Move to…"
  menu; the API then holds the new stage. A colleague's save in between makes the next move a
  412: the board shows the "someone saved first" dialog, loads their version and the move is
  applied on a second try — never a silent overwrite. Dragging the card moves it too.
- A rep filters the accounts list, saves it as a view, leaves, and reopens the view.
- The docs screenshots of the board, a record's timeline and search results.
Every page visited passes axe-core; no CSP violation is logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.browser.conftest import Console, accessible
from tests.browser.test_console_journeys import an_account, sign_in

DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"
REP = "sales.east@kindred.demo"


@pytest.fixture
def csp_violations(page: Page) -> Iterator[list[str]]:
    found: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            found.append(message.text)

    page.on("console", listen)
    yield found


def an_open_opportunity(console: Console, token: str) -> dict[str, Any]:
    """A new deal of the rep's on one of their hospitals (so it is the board's newest card)."""
    hospital = an_account(console, token)
    return dict(
        console.api(
            "POST",
            "/api/v1/objects/opportunity/records",
            token,
            {
                "name": f"CT upgrade for {hospital['name']}",
                "account": hospital["id"],
                "stage": "qualification",
                "amount": 1_200_000,
            },
        )
    )


def test_a_rep_moves_an_opportunity_on_the_board_and_survives_a_race(
    console: Console, page: Page, csp_violations: list[str]
) -> None:
    token = console.token(REP)
    deal = an_open_opportunity(console, token)
    sign_in(page, console, REP)
    page.get_by_label("Object").select_option("opportunity")
    expect(page.get_by_role("heading", name="Opportunities")).to_be_visible()
    page.get_by_role("link", name="Board").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Opportunities by Stage")
    accessible(page)

    move = page.get_by_label(f"Move {deal['name']} to")
    expect(move).to_be_visible()
    move.focus()
    move.select_option("proposal")
    expect(page.get_by_role("status").filter(has_text="moved to")).to_contain_text(
        f"{deal['name']} moved to"
    )
    column = page.get_by_role("region", name=re.compile(r"^Proposal: \d+"))
    expect(column.get_by_role("link", name=deal["name"], exact=True)).to_be_visible()
    held = console.api("GET", f"/api/v1/objects/opportunity/records/{deal['id']}", token)
    assert held["stage"] == "proposal"
    assert held["version"] == deal["version"] + 1

    # A colleague saves the deal (another field) while the board still shows the old version.
    console.api(
        "PATCH",
        f"/api/v1/objects/opportunity/records/{deal['id']}",
        token,
        {"probability": 40},
        **{"If-Match": f'"v{held["version"]}"'},
    )
    page.get_by_label(f"Move {deal['name']} to").select_option("negotiation")
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Someone saved this record first")
    accessible(page)
    # Rolled back: the card is where the saved record says, not where it was dropped.
    expect(column.get_by_role("link", name=deal["name"], exact=True)).to_be_visible()
    assert (
        console.api("GET", f"/api/v1/objects/opportunity/records/{deal['id']}", token)["stage"]
        == "proposal"
    )
    dialog.get_by_role("button", name="Load their version").click()
    # While their version loads the dialog stays (its text names "their version" too): wait
    # for it to close, then read the board's own message.
    expect(dialog).to_have_count(0)
    expect(page.get_by_text(re.compile(r"^Their version \d+ is loaded"))).to_contain_text(
        f"version {held['version'] + 1}"
    )
    page.get_by_label(f"Move {deal['name']} to").select_option("negotiation")
    expect(page.get_by_role("status").filter(has_text="moved to")).to_contain_text(
        "moved to Negotiation"
    )
    final = console.api("GET", f"/api/v1/objects/opportunity/records/{deal['id']}", token)
    assert final["stage"] == "negotiation"
    assert final["probability"] == 40  # their change survived
    assert final["version"] == held["version"] + 2
    accessible(page)
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / "console-board.png"))

    # Dragging the card is the same move (a PATCH with If-Match), for pointer users.
    link = page.get_by_role("link", name=deal["name"], exact=True)
    card = page.get_by_role("listitem").filter(has=link)
    target = page.get_by_role("region", name=re.compile(r"^Proposal: \d+"))
    card.drag_to(target)
    expect(page.get_by_role("status").filter(has_text="moved to")).to_contain_text(
        "moved to Proposal"
    )
    expect(target.get_by_role("link", name=deal["name"], exact=True)).to_be_visible()
    dragged = console.api("GET", f"/api/v1/objects/opportunity/records/{deal['id']}", token)
    assert dragged["stage"] == "proposal"
    assert dragged["version"] == final["version"] + 1
    assert csp_violations == []


def test_a_rep_saves_a_view_and_reopens_it(
    console: Console, page: Page, csp_violations: list[str]
) -> None:
    token = console.token(REP)
    sign_in(page, console, REP)
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    page.get_by_label("Add filter").select_option("kind")
    value = page.get_by_label(re.compile(r"^Value for "))
    value.select_option("hospital")
    accessible(page)
    page.get_by_role("button", name="Save as view").click()
    page.get_by_label("View name").fill("My hospitals")
    page.get_by_role("button", name="Save view").click()
    expect(page.get_by_role("status").filter(has_text="saved")).to_have_text(
        "View “My hospitals” saved."
    )
    views = console.api("GET", "/api/v1/views?object=account", token)["data"]
    (saved,) = [v for v in views if v["name"] == "My hospitals"]
    assert saved["filters"] == [{"field": "kind", "operator": "eq", "value": "hospital"}]
    assert saved["shared_role"] is None and saved["columns"]

    # Away and back: the list starts unfiltered; picking the view brings its filters back.
    page.get_by_label("Object").select_option("contact")
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
    page.get_by_label("Object").select_option("account")
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    expect(page.get_by_label(re.compile(r"^Value for "))).to_have_count(0)
    page.get_by_label("Saved view").select_option(label="My hospitals")
    expect(page.get_by_label(re.compile(r"^Value for "))).to_have_value("hospital")
    expect(page).to_have_url(re.compile(rf"view={saved['id']}"))
    accessible(page)

    # Renamed, then deleted: the API follows.
    page.get_by_role("button", name="Rename view").click()
    page.get_by_label("View name").fill("East hospitals")
    page.get_by_role("button", name="Rename", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="updated")).to_be_visible()
    renamed = console.api("GET", f"/api/v1/views/{saved['id']}", token)
    assert renamed["name"] == "East hospitals"
    page.get_by_role("button", name="Delete view").click()
    page.get_by_role("button", name="Delete “East hospitals”").click()
    expect(page.get_by_role("status").filter(has_text="deleted")).to_be_visible()
    assert all(
        v["id"] != saved["id"]
        for v in console.api("GET", "/api/v1/views?object=account", token)["data"]
    )
    assert csp_violations == []


def test_docs_screenshots_of_search_and_timeline(
    console: Console, page: Page, csp_violations: list[str]
) -> None:
    sign_in(page, console, REP)
    search = page.get_by_role("search", name="Search records")
    # The demo's hospitals at this size are named in Chinese: 医院 ("hospital").
    search.get_by_label("Search records").fill("医院")
    search.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Search: 医院")
    expect(page.locator(".search-hit mark").first).to_have_text("医院")
    accessible(page)

    search.get_by_label("Search records").fill("上海")
    search.get_by_label("Search records").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search: 上海")
    expect(page.locator(".search-hit mark").first).to_contain_text("上海")
    accessible(page)
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / "console-search.png"))

    page.get_by_role("region", name=re.compile(r"^Accounts \(")).get_by_role("link").first.click()
    page.get_by_role("button", name="Edit").click()
    page.get_by_label("Description").fill("Met the head of radiology: budget approved for Q1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved. The record is now at version")).to_be_visible()
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline.get_by_role("listitem").first).to_contain_text("budget approved for Q1")
    accessible(page)
    timeline.scroll_into_view_if_needed()
    page.screenshot(path=str(DOCS / "console-timeline.png"))
    assert csp_violations == []
