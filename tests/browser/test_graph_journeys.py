"""Journeys through the customer graph explorer and the identity-resolution merge review
(issue 17, item 4), in a real browser against a seeded server.

- A sales rep opens a hospital's graph, expands a neighbour, switches to the list view and
  finds the shortest path from the hospital to a record two hops away (through one of its
  neighbours); what they see matches what the graph API answers.
- An admin reviews a near-duplicate contact pair (created through the API: the demo seed makes
  none), sees the explained match features, merges (the API then has one record, the
  duplicate gone), undoes (the API has both again).
- A sales rep (no delete right on contacts) sees the pair but no merge control, and the API
  refuses their merge with nothing changed.

Each page visited passes axe-core; no Content-Security-Policy violation is logged.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from kindred.cli.commands import DEMO_PASSWORD
from tests.browser.conftest import Console, accessible

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
REP = "sales.east@kindred.demo"
ADMIN = "admin@kindred.demo"
# Two spellings of one person: the same name across scripts, the same account and city.
LATIN_NAME = "Wang Lihua"
CHINESE_NAME = "王丽华"


def sign_in(page: Page, console: Console, email: str) -> None:
    page.goto(console.base_url + "/")
    expect(page.get_by_role("heading", name="Sign in to Kindred")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def watch_csp(page: Page) -> list[str]:
    """Console messages that report a Content-Security-Policy violation."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    return violations


def refused(console: Console, method: str, path: str, token: str, body: Any) -> dict[str, Any]:
    """The problem+json of a request the API must refuse."""
    with pytest.raises(urllib.error.HTTPError) as error:
        console.api(method, path, token, body)
    problem: dict[str, Any] = json.loads(error.value.read())
    problem["status_code"] = error.value.code
    return problem


def titles(console: Console, token: str) -> dict[str, str]:
    """Object name → its title field, from the data model the user may read."""
    objects = console.api("GET", "/api/v1/metadata/objects", token)["data"]
    return {o["name"]: o["title_field"] for o in objects}


def title_of(record: dict[str, Any], title_fields: dict[str, str]) -> str:
    value = record.get(title_fields.get(record["object"]) or "")
    return str(value) if value else f"#{record['id'][-8:]}"


def neighbours(console: Console, token: str, record_id: str) -> list[dict[str, Any]]:
    answer = console.api("GET", f"/api/v1/graph/{record_id}/neighbours", token)
    return [n["node"] for n in answer["neighbours"]]


def a_hospital_with_a_second_ring(console: Console, token: str) -> dict[str, Any]:
    """A hospital the rep may see with a neighbour that has neighbours of its own beyond the
    hospital's ring: what the journey expands and where its path goes."""
    hospitals = console.api(
        "GET", "/api/v1/objects/account/records?limit=50&filter[kind]=hospital&sort=name", token
    )["data"]
    for hospital in hospitals:
        ring = neighbours(console, token, hospital["id"])
        seen = {hospital["id"]} | {n["id"] for n in ring}
        for neighbour in ring:
            beyond = [n for n in neighbours(console, token, neighbour["id"]) if n["id"] not in seen]
            if beyond:
                return {
                    "hospital": hospital,
                    "ring": {n["id"]: n for n in ring},
                    "neighbour": neighbour,
                    "beyond": beyond[0],
                }
    pytest.fail("the demo seed has no hospital with a record two hops away for this rep")


def pick(page: Page, console: Console, token: str, label: str, text: str, record_id: str) -> None:
    """Type into a record picker and choose the hit that is `record_id` (the same search the
    picker makes, so the same order)."""
    query = re.sub(r"\s+", " ", text).strip()
    hits = console.api("GET", f"/api/v1/search?limit=8&q={urllib.parse.quote(query)}", token)[
        "data"
    ]
    index = next(i for i, hit in enumerate(hits) if hit["id"] == record_id)
    page.get_by_role("combobox", name=label).fill(query)
    options = page.get_by_role("listbox", name=label).get_by_role("option")
    expect(options.nth(index)).to_be_visible()
    options.nth(index).click()


def test_a_sales_rep_explores_a_hospital_and_finds_a_path(console: Console, page: Page) -> None:
    violations = watch_csp(page)
    token = console.token(REP)
    fields = titles(console, token)
    world = a_hospital_with_a_second_ring(console, token)
    hospital, neighbour, beyond = world["hospital"], world["neighbour"], world["beyond"]
    name = hospital["name"]
    path = console.api(
        "GET", f"/api/v1/graph/path?from={hospital['id']}&to={beyond['id']}&max_depth=4", token
    )
    assert path["found"] and path["length"] == 2

    sign_in(page, console, REP)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customer graph").click()
    expect(page.get_by_role("heading", level=1, name="Customer graph")).to_be_visible()
    accessible(page)

    pick(page, console, token, "Start record", name, hospital["id"])
    canvas = page.get_by_role("application", name=f"Graph around {name}")
    expect(canvas).to_be_visible()
    ring = len(world["ring"])
    subgraph = console.api("GET", f"/api/v1/graph/{hospital['id']}/subgraph?depth=1", token)
    edges = len(subgraph["edges"])
    expect(page.get_by_text(f"{ring + 1} records, {edges} relations")).to_be_visible()
    for record in [hospital, *world["ring"].values()]:
        expect(canvas.locator(f'.react-flow__node[data-id="{record["id"]}"]')).to_be_visible()
    accessible(page)

    # Expand the neighbour: its own neighbours join the drawing, nothing twice.
    node = canvas.locator(f'.react-flow__node[data-id="{neighbour["id"]}"]')
    node.get_by_role("button", name=re.compile("^Expand")).click()
    expect(canvas.locator(f'.react-flow__node[data-id="{beyond["id"]}"]')).to_be_visible()
    expect(node.get_by_text("Expanded")).to_be_visible()
    assert canvas.locator(f'.react-flow__node[data-id="{hospital["id"]}"]').count() == 1

    page.get_by_role("button", name="List view").click()
    drawn = {hospital["id"], *world["ring"]}
    drawn |= {n["id"] for n in neighbours(console, token, neighbour["id"])}
    records = page.get_by_role("region", name=f"Records ({len(drawn)})")
    expect(records.locator("tbody tr")).to_have_count(len(drawn))
    beyond_row = records.get_by_role("rowheader", name=title_of(beyond, fields), exact=True)
    expect(beyond_row.first).to_be_visible()
    accessible(page)

    # The shortest path from the hospital to the record two hops away.
    pick(page, console, token, "Path to", title_of(beyond, fields), beyond["id"])
    page.get_by_role("button", name="Find path").click()
    expect(
        page.get_by_text(f"Path of 2 hops from {name} to {title_of(beyond, fields)}:")
    ).to_be_visible()
    marked = records.locator("tbody tr", has_text="On path")
    expect(marked).to_have_count(3)
    on_path = [row.get_by_role("rowheader").inner_text() for row in marked.all()]
    assert sorted(on_path) == sorted(title_of(n, fields) for n in path["nodes"])
    accessible(page)

    page.get_by_role("button", name="Graph view").click()
    for record in path["nodes"]:
        highlighted = canvas.locator(f'.react-flow__node.on-path[data-id="{record["id"]}"]')
        expect(highlighted).to_be_visible()
        expect(highlighted.get_by_text("On path")).to_be_visible()
    accessible(page)
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / "console-graph.png"))

    # A path that cannot be within one hop says so.
    page.get_by_label("At most (hops)").select_option("1")
    page.get_by_role("button", name="Find path").click()
    expect(
        page.get_by_text(f"No path within 1 hops between {name} and {title_of(beyond, fields)}")
    ).to_be_visible()
    assert violations == []


@pytest.fixture(scope="module")
def duplicate_pair(console: Console) -> Iterator[dict[str, Any]]:
    """Two near-duplicate contacts of one hospital (the demo seed makes no duplicates)."""
    token = console.token(ADMIN)
    rep = console.token(REP)
    hospital = console.api(
        "GET", "/api/v1/objects/account/records?limit=1&filter[kind]=hospital&sort=name", rep
    )["data"][0]
    common = {"account": hospital["id"], "city": hospital.get("city")}
    first = console.api(
        "POST",
        "/api/v1/objects/contact/records",
        token,
        {"full_name": LATIN_NAME, "first_name": "Lihua", "last_name": "Wang", **common},
    )
    second = console.api(
        "POST",
        "/api/v1/objects/contact/records",
        token,
        {
            "full_name": CHINESE_NAME,
            "first_name": "丽华",
            "last_name": "王",
            "title": "Head nurse",
            **common,
        },
    )
    pairs = console.api("GET", "/api/v1/resolution/contact/duplicates", token)["data"]
    ids = {first["id"], second["id"]}
    assert any({r["id"] for r in p["records"]} == ids for p in pairs), pairs
    yield {"first": first, "second": second, "hospital": hospital}


def record_or_none(console: Console, token: str, record_id: str) -> dict[str, Any] | None:
    try:
        return dict(console.api("GET", f"/api/v1/objects/contact/records/{record_id}", token))
    except urllib.error.HTTPError as error:
        assert error.code == 404
        return None


def test_an_admin_merges_a_duplicate_pair_and_undoes_it(
    console: Console, page: Page, duplicate_pair: dict[str, Any]
) -> None:
    violations = watch_csp(page)
    token = console.token(ADMIN)
    first, second = duplicate_pair["first"], duplicate_pair["second"]
    sign_in(page, console, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customer graph").click()
    page.get_by_role("navigation", name="Customer graph sections").get_by_role(
        "link", name="Merge review"
    ).click()
    expect(page.get_by_role("heading", level=1, name="Merge review")).to_be_visible()
    pair = page.get_by_role("article", name=f"{LATIN_NAME} and {CHINESE_NAME}")
    expect(pair).to_be_visible()
    features = pair.get_by_role("region", name="Why they may be the same")
    expect(features.get_by_role("row", name=re.compile("^Name 100%"))).to_contain_text(
        "Supports a match"
    )
    account = features.get_by_role("row", name=re.compile("^Account"))
    expect(account).to_contain_text("Same account.")
    values = pair.get_by_role("region", name="Values side by side")
    expect(values.get_by_role("row", name=re.compile("^Full name"))).to_contain_text(CHINESE_NAME)
    # Consent-protected values stay withheld, with the reason.
    expect(values.get_by_role("row", name=re.compile("^Email"))).to_contain_text("withheld:")
    accessible(page)
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / "console-merge.png"))

    # Record A (the first, Latin spelling) stays; the other's title fills its empty one.
    pair.get_by_role("button", name=f"Merge {CHINESE_NAME} into {LATIN_NAME}…").click()
    dialog = page.get_by_role("alertdialog", name="Merge these records?")
    expect(dialog).to_be_visible()
    accessible(page)
    dialog.get_by_role("button", name="Merge").click()
    expect(page.get_by_text(f"Merged: {CHINESE_NAME} into {LATIN_NAME}.")).to_be_visible()
    history = page.get_by_role("region", name="Merge history")
    expect(history.get_by_role("cell", name="Merged", exact=True)).to_have_count(1)
    expect(pair).to_have_count(0)
    accessible(page)

    assert record_or_none(console, token, second["id"]) is None  # merged away
    survivor = record_or_none(console, token, first["id"])
    assert survivor is not None and survivor["title"] == "Head nurse"
    merges = console.api(
        "GET", f"/api/v1/resolution/merges?object=contact&record={first['id']}", token
    )["data"]
    assert [(m["state"], m["duplicate"]) for m in merges] == [("merged", second["id"])]

    page.get_by_role("status").get_by_role("button", name="Undo").click()
    expect(page.get_by_text(f"Undone: {CHINESE_NAME} is back.")).to_be_visible()
    expect(pair).to_be_visible()
    expect(history.get_by_role("cell", name="Undone", exact=True)).to_have_count(1)
    accessible(page)

    restored = record_or_none(console, token, second["id"])
    assert restored is not None and restored["full_name"] == CHINESE_NAME
    survivor = record_or_none(console, token, first["id"])
    assert survivor is not None and survivor["title"] is None
    merges = console.api(
        "GET", f"/api/v1/resolution/merges?object=contact&record={first['id']}", token
    )["data"]
    assert [m["state"] for m in merges] == ["undone"]
    assert violations == []


def test_a_sales_rep_may_review_but_not_merge(
    console: Console, page: Page, duplicate_pair: dict[str, Any]
) -> None:
    token = console.token(REP)
    first, second = duplicate_pair["first"], duplicate_pair["second"]
    before = [record_or_none(console, token, r["id"]) for r in (first, second)]
    merges_before = console.api("GET", "/api/v1/resolution/merges?object=contact", token)["data"]
    sign_in(page, console, REP)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customer graph").click()
    page.get_by_role("link", name="Merge review").click()
    pair = page.get_by_role("article", name=f"{LATIN_NAME} and {CHINESE_NAME}")
    expect(pair).to_be_visible()
    expect(pair.get_by_text("You may review pairs but not merge them")).to_be_visible()
    expect(pair.get_by_role("button")).to_have_count(0)
    expect(pair.get_by_role("radio")).to_have_count(0)
    accessible(page)

    problem = refused(
        console,
        "POST",
        "/api/v1/resolution/merges",
        token,
        {"object": "contact", "survivor": first["id"], "duplicate": second["id"]},
    )
    assert problem["status_code"] == 403
    assert "delete" in problem["detail"]
    assert [record_or_none(console, token, r["id"]) for r in (first, second)] == before
    assert (
        console.api("GET", "/api/v1/resolution/merges?object=contact", token)["data"]
        == merges_before
    )
