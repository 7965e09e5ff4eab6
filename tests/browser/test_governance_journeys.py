"""Governance journeys in a real browser (issue 17, item 8).

- A compliance officer reads the consent and sovereignty KPIs, opens the evidence ledger,
  downloads an entry's proof bundle — the page verifies it in the browser ("Verified") — then
  checks a tampered copy of that file, and the page names the failing check.
- An admin creates a user with the sales role and an API key for them (the secret shown once);
  the key then authenticates against the API as that user.
- A sales rep is offered no governance: no navigation link, "not allowed" at the address, and
  the API refuses (403) with nothing changed.

Every page visited passes axe-core; no Content-Security-Policy violation is logged; the docs
screenshots are saved at 1280x900.
"""

from __future__ import annotations

import base64
import json
import math
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from kindred.ledger.verifier import verify_bundle
from tests.browser.conftest import Console, accessible
from tests.browser.test_console_journeys import sign_in

# Typing an address reloads the page, and the session lives in memory: navigate client-side.
GO_TO = "path => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')); }"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture
def csp_violations(page: Page) -> Iterator[list[str]]:
    """Console messages reporting a Content-Security-Policy violation, collected as the test
    runs; the test asserts the list is empty at its end."""
    found: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            found.append(message.text)

    page.on("console", seen)
    yield found


def docs_screenshot(page: Page, name: str, top: Locator | None = None) -> None:
    """The docs' picture of a page (1280x900): from its top, or from ``top``'s."""
    if top is None:
        page.evaluate("window.scrollTo(0, 0)")
    else:
        top.evaluate("element => element.scrollIntoView({block: 'start'})")
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / f"console-{name}.png"))


def refused(console: Console, method: str, path: str, token: str, body: Any = None) -> int:
    try:
        console.api(method, path, token, body)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def open_governance(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Governance").click()
    expect(page.get_by_role("heading", level=1, name="Consent & sovereignty")).to_be_visible()


def test_a_compliance_officer_checks_kpis_and_verifies_a_proof_bundle(
    console: Console, page: Page, csp_violations: list[str], tmp_path: Path
) -> None:
    officer = "compliance@kindred.demo"
    token = console.token(officer)
    kpis = console.api("GET", "/api/v1/sovereignty/kpis", token)
    sign_in(page, console, officer)
    open_governance(page)
    tag_accuracy = page.locator(".gov-figure").filter(
        has=page.get_by_role("heading", name="Tag accuracy")
    )
    expected = (
        f"{math.floor(kpis['tag_accuracy'] * 1000 + 0.5) / 10:.1f} %"  # as the page rounds
        if kpis["tag_accuracy"] is not None
        else "Not measured yet"
    )
    expect(tag_accuracy).to_contain_text(expected)
    expect(page.get_by_role("figure", name="Customers by consent")).to_be_visible()
    expect(page.get_by_role("table", name="Customers by consent")).to_contain_text(
        str(kpis["customers"] - round((kpis["consent_rate"] or 0) * kpis["customers"]))
    )
    accessible(page)
    docs_screenshot(page, "governance")

    # The ledger: pick an entry, download its bundle, see it verified.
    page.get_by_role("navigation", name="Governance").get_by_role(
        "link", name="Evidence ledger"
    ).click()
    expect(page.get_by_role("heading", level=1, name="Evidence ledger")).to_be_visible()
    entries = console.api("GET", "/api/v1/ledger/entries?limit=25", token)
    assert entries["size"] > 3
    chosen = entries["data"][3]
    page.get_by_role("button", name=f"Entry {chosen['index']}", exact=True).click()
    detail = page.get_by_role("region", name=f"Entry {chosen['index']}")
    expect(detail).to_contain_text(chosen["kind"])
    accessible(page)
    with page.expect_download() as download_info:
        detail.get_by_role("button", name="Download proof bundle").click()
    download = download_info.value
    assert download.suggested_filename == f"ledger-entry-{chosen['index']}.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    result = detail.get_by_role("status").filter(has_text="Verification of entry")
    expect(result).to_contain_text("Verified")
    expect(result).to_contain_text("Inclusion proof leads to the signed root: passed")
    bundle = json.loads(saved.read_text())
    # What was downloaded is what the server holds, and the offline verifier accepts it.
    assert verify_bundle(bundle, bundle["verifier_key"])["i"] == chosen["index"]
    keys = console.api("GET", "/api/v1/ledger/public-key", token)
    assert bundle["verifier_key"] in keys["keys"]
    checkpoints = console.api("GET", "/api/v1/ledger/checkpoints", token)["data"]
    assert bundle["checkpoint"] in [c["note"] for c in checkpoints]
    accessible(page)
    docs_screenshot(page, "ledger", top=detail)

    # A tampered copy: the entry's kind changed. The page names the failing check.
    leaf = json.loads(base64.b64decode(bundle["leaf"]))
    tampered = {
        **bundle,
        "leaf": base64.b64encode(
            json.dumps({**leaf, "k": "role.forged"}, separators=(",", ":")).encode()
        ).decode(),
    }
    forged = tmp_path / "tampered.json"
    forged.write_text(json.dumps(tampered))
    checker = page.get_by_role("region", name="Verify a bundle file")
    checker.get_by_label("Bundle file (JSON)").set_input_files(str(forged))
    checker.get_by_role("button", name="Verify").click()
    outcome = checker.get_by_role("status").filter(has_text="Verification of tampered.json")
    expect(outcome).to_contain_text("Not verified")
    expect(outcome).to_contain_text(
        "Failed check: Inclusion proof leads to the signed root. The entry and its proof do not "
        "lead to the signed root"
    )
    expect(outcome).to_contain_text("Checkpoint signature: passed")
    accessible(page)
    assert csp_violations == []


def test_an_admin_creates_a_sales_user_and_an_api_key_for_them(
    console: Console, page: Page, csp_violations: list[str]
) -> None:
    admin = console.token("admin@kindred.demo")
    sign_in(page, console, "admin@kindred.demo")
    open_governance(page)
    page.get_by_role("navigation", name="Governance").get_by_role(
        "link", name="Users & API keys"
    ).click()
    expect(page.get_by_role("heading", level=1, name="Users & API keys")).to_be_visible()
    accessible(page)

    create = page.get_by_role("region", name="Create a user")
    create.get_by_label("Email").fill("new.rep@kindred.demo")
    create.get_by_label("Name").fill("New Rep")
    create.get_by_label("Temporary password").fill("a-long-temporary-pw")
    expect(create.get_by_role("checkbox", name="sales")).to_be_checked()
    create.get_by_role("button", name="Create user").click()
    expect(create.get_by_role("status")).to_have_text("User New Rep created.")
    (held,) = console.api("GET", "/api/v1/users?q=new.rep@", admin)["data"]
    assert held["roles"] == ["sales"] and held["kind"] == "person" and held["has_password"]

    page.get_by_label("Search users").fill("New Rep")
    page.get_by_role("button", name="Manage New Rep").click()
    keys = page.get_by_role("region", name="API keys of New Rep")
    expect(keys).to_contain_text("No API keys.")
    keys.get_by_label("Name of the new key").fill("Field tablet")
    keys.get_by_role("button", name="Create API key").click()
    secret = keys.get_by_label("Secret key")
    expect(secret).to_have_value(re.compile(r"^kdr_"))
    expect(keys).to_contain_text("it is shown only this once")
    key = secret.input_value()
    accessible(page)
    docs_screenshot(page, "users")

    # The key authenticates against the API as the new user.
    request = urllib.request.Request(
        console.base_url + "/api/v1/auth/me", headers={"X-API-Key": key}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        me = json.loads(answer.read())
    assert (me["id"], me["roles"], me["via"]) == (held["id"], ["sales"], "api_key")
    listed = console.api("GET", "/api/v1/auth/api-keys", admin)["data"]
    assert [k["name"] for k in listed if k["user_id"] == held["id"]] == ["Field tablet"]

    keys.get_by_role("button", name="I have copied it").click()
    expect(keys.get_by_role("row").filter(has_text="Field tablet")).to_contain_text("Valid")
    expect(keys.get_by_label("Secret key")).to_have_count(0)
    assert csp_violations == []


def test_a_sales_rep_is_offered_no_governance(
    console: Console, page: Page, csp_violations: list[str]
) -> None:
    rep = "sales.east@kindred.demo"
    token = console.token(rep)
    admin = console.token("admin@kindred.demo")
    users_before = console.api("GET", "/api/v1/users?limit=200", admin)
    roles_before = console.api("GET", "/api/v1/roles", admin)
    sign_in(page, console, rep)
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Records")).to_be_visible()
    expect(navigation.get_by_role("link", name="Governance")).to_have_count(0)

    # The address typed in (the session lives in memory: a client-side navigation).
    for path in ("/governance", "/governance/ledger", "/governance/users"):
        page.evaluate(GO_TO, path)
        expect(page.get_by_role("alert")).to_have_text(
            "You are not allowed to open this governance view. Ask an administrator if your "
            "work needs it."
        )
        expect(page.get_by_role("heading", level=1)).to_have_text("Governance")
        accessible(page)

    me = console.api("GET", "/api/v1/auth/me", token)
    assert refused(console, "GET", "/api/v1/sovereignty/kpis", token) == 403
    assert refused(console, "GET", "/api/v1/ledger/entries", token) == 403
    assert refused(console, "GET", "/api/v1/ledger/entries/0/bundle", token) == 403
    assert refused(console, "GET", "/api/v1/users", token) == 403
    assert (
        refused(console, "PATCH", f"/api/v1/users/{me['id']}", token, {"roles": ["admin"]}) == 403
    )
    assert (
        refused(
            console,
            "PUT",
            "/api/v1/roles/sales",
            token,
            {"description": "", "permissions": {"objects": {"*": {"actions": ["read"]}}}},
        )
        == 403
    )
    assert console.api("GET", "/api/v1/users?limit=200", admin) == users_before
    assert console.api("GET", "/api/v1/roles", admin) == roles_before
    assert csp_violations == []
