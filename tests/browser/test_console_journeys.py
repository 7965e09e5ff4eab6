"""Journeys through the staff console in a real browser (issue 17, item 9).

(a) A sales rep signs in, finds a hospital through the header's search box, edits a field,
loses an If-Match race to a colleague and resolves it without losing what they typed; the API
then holds both changes, and the record's timeline shows the change.
(f) The console switched to 简体中文 shows no string of the English catalog.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from kindred.cli.commands import DEMO_PASSWORD
from tests.browser.conftest import Console, accessible

CATALOGS = Path(__file__).resolve().parents[2] / "web" / "src" / "i18n"
STRING = re.compile(r':\s*"((?:[^"\\]|\\.)*)"')
PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def catalog_text(language: str) -> str:
    """The source of one language's strings: the main catalog and each area's half."""
    main = "en.ts" if language == "en" else "zh-CN.ts"
    parts = [(CATALOGS / main).read_text(encoding="utf-8")]
    for area in sorted((CATALOGS / "areas").glob("*.ts")):
        text = area.read_text(encoding="utf-8")
        english, _, chinese = text.partition("export const zh")
        parts.append(english if language == "en" else chinese)
    return "\n".join(parts)


def catalog_fragments(language: str) -> set[str]:
    """The literal pieces of a catalog's strings (placeholders cut out), 4+ characters."""
    pieces: set[str] = set()
    for value in STRING.findall(catalog_text(language)):
        for piece in PLACEHOLDER.split(value):
            piece = piece.strip(" .,:;…()#")
            if len(piece) >= 4:
                pieces.add(piece)
    return pieces


def untranslated(english: set[str], text: str) -> list[str]:
    """The English fragments on the page, as whole words ("Kind" is not in "Kindred")."""
    return sorted(
        fragment
        for fragment in english
        if re.search(rf"(?<![A-Za-z]){re.escape(fragment)}(?![A-Za-z])", text)
    )


def sign_in(page: Page, console: Console, email: str) -> None:
    page.goto(console.base_url + "/")
    expect(page.get_by_role("heading", name="Sign in to Kindred")).to_be_visible()
    accessible(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def an_account(console: Console, token: str) -> dict[str, Any]:
    """A hospital the rep may see whose name no other account of the page shares."""
    page = console.api(
        "GET", "/api/v1/objects/account/records?limit=200&sort=name&filter[kind]=hospital", token
    )
    names = [r["name"] for r in page["data"]]
    return next(r for r in page["data"] if names.count(r["name"]) == 1)


def test_a_sales_rep_edits_a_hospital_and_resolves_a_save_race(
    console: Console, page: Page
) -> None:
    rep = "sales.east@kindred.demo"
    token = console.token(rep)
    target = an_account(console, token)
    sign_in(page, console, rep)
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    accessible(page)

    # Found through the header's search box, not the list.
    search = page.get_by_role("search", name="Search records")
    # The words of its name ("合肥市第九人民医院 #12": the name without its number).
    search.get_by_label("Search records").fill(target["name"].split(" #")[0])
    search.get_by_label("Search records").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Search: ")
    hit = page.get_by_role("link", name=target["name"], exact=True).first
    expect(hit).to_be_visible()
    expect(page.locator(".search-hit mark").first).to_be_visible()  # the words, highlighted
    accessible(page)
    hit.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(target["name"])
    accessible(page)

    page.get_by_role("button", name="Edit").click()
    typed = "Visited 7 Dec: wants a second CT"
    page.get_by_label("Description").fill(typed)
    # A colleague saves first (the same record, another field).
    console.api(
        "PATCH",
        f"/api/v1/objects/account/records/{target['id']}",
        token,
        {"tier": "A" if target.get("tier") != "A" else "B"},
        **{"If-Match": f'"v{target["version"]}"'},
    )
    page.get_by_role("button", name="Save").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Someone saved this record first")
    accessible(page)
    expect(page.get_by_label("Description")).to_have_value(typed)  # nothing typed is lost

    dialog.get_by_role("button", name="Load their version").click()
    expect(page.get_by_label("Description")).to_have_value(typed)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved. The record is now at version")).to_be_visible()

    # The change is in the record's timeline, newest first.
    timeline = page.get_by_role("region", name="Timeline")
    newest = timeline.get_by_role("listitem").first
    expect(newest).to_contain_text("Updated")
    expect(newest).to_contain_text(typed)
    accessible(page)

    held = console.api("GET", f"/api/v1/objects/account/records/{target['id']}", token)
    assert held["description"] == typed
    assert held["tier"] != target.get("tier")  # the colleague's change survived
    assert held["version"] == target["version"] + 2
    history = console.api("GET", f"/api/v1/objects/account/records/{target['id']}/history", token)[
        "data"
    ]
    assert history[0]["after"]["description"] == typed
    shown = console.api("GET", f"/api/v1/objects/account/records/{target['id']}/timeline", token)[
        "data"
    ]
    assert shown[0]["kind"] == "change"
    assert {c["field"]: c["after"] for c in shown[0]["changes"]}["description"] == typed


def test_the_console_in_chinese_shows_no_english_catalog_string(
    console: Console, page: Page
) -> None:
    english = catalog_fragments("en") - catalog_fragments("zh")
    assert len(english) > 40  # the check has something to check
    sign_in(page, console, "sales.east@kindred.demo")
    # The user's own name is data, not an interface string ("Sales East").
    me = console.api("GET", "/api/v1/auth/me", console.token("sales.east@kindred.demo"))["name"]
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("link", name="记录")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    visited = []
    nav = page.get_by_role("navigation", name="主导航")
    areas = nav.get_by_role("link").all_inner_texts()
    assert {"记录", "场景", "任务"} <= set(areas), areas
    for name in areas:
        nav.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        accessible(page)
        text = page.locator("body").inner_text().replace(me, "")
        visited.append((page.url, untranslated(english, text)))
    page.get_by_role("link", name="记录").click()
    page.locator("tbody a").first.click()
    expect(page.get_by_role("button", name="编辑")).to_be_visible()
    page.get_by_role("button", name="编辑").click()
    accessible(page)
    # Field labels come from the data model: every one has its Chinese label.
    labels = [label.strip() for label in page.locator("form label").all_inner_texts()]
    assert labels and all(CJK.search(label) for label in labels), labels
    text = page.locator("body").inner_text().replace(me, "")
    visited.append((page.url, untranslated(english, text)))
    assert all(not untranslated for _, untranslated in visited), visited
    # A reload keeps the session (the HttpOnly refresh cookie) and the language choice.
    page.reload()
    expect(page.get_by_role("navigation", name="主导航")).to_be_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["kindred_refresh"]["httpOnly"] is True
    assert cookies["kindred_refresh"]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # nothing of the session readable by scripts
    # Signing out ends it: the sign-in page (in Chinese), and a reload does not sign back in.
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="登录 Kindred")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="登录 Kindred")).to_be_visible()
    assert "kindred_refresh" not in {c["name"] for c in page.context.cookies()}
