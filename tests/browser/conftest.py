"""Browser journeys: the built console (``web/dist``) served by a real ``kindred serve`` on a
seeded database, driven by Playwright in Debian's Chromium (never a downloaded browser).

Every journey asserts what the user sees *and* what the API then holds; each page it visits
passes axe-core with no serious or critical violation; its end state is saved as a
screenshot under ``test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from kindred.api.console import default_console_dir
from kindred.cli.commands import DEMO_PASSWORD
from tests.live_server import live_server

# Assertions wait for what the user would see; on a loaded machine (CI runs the other tests
# beside these) a lazily loaded chunk or a measured graph can take longer than the default 5 s.
expect.set_options(timeout=20_000)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Chromium as this machine runs it headless: no sandbox (root), and none of the background
# connections a closed network refuses.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Console:
    base_url: str
    log: Path

    def api(self, method: str, path: str, token: str, body: Any = None, **headers: str) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                **headers,
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def token(self, email: str) -> str:
        form = urllib.parse.urlencode({"username": email, "password": DEMO_PASSWORD}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/api/v1/auth/token",
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return str(json.loads(answer.read())["access_token"])


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    built = default_console_dir()
    if not (built / "index.html").is_file():
        pytest.fail(f"the web console is not built ({built}): run `bash scripts/setup`")
    folder = tmp_path_factory.mktemp("console")
    with live_server(folder, customers=30) as (base_url, log):
        yield Console(base_url, log)


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and every other test of the worker (asyncio.run) must not find one.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail("Debian's chromium is missing: `apt-get install chromium` (scripts/test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def accessible(page: Page) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    results = Axe().run(page)
    bad = [
        (violation["id"], violation["impact"], len(violation["nodes"]))
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"
