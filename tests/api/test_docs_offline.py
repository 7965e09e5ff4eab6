"""The API explorer (``/docs``) needs nothing from the internet (issue #18, item 9): the page
and every file it loads come from this server, under the console's strict CSP (no inline
script, so Swagger UI starts from a file); without the console's build it says how to get
it; ReDoc, which loads from a CDN, is not served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kindred.api.api_docs import ASSET_FILES
from kindred.api.console import CONTENT_SECURITY_POLICY, default_console_dir
from kindred.app import create_app
from kindred.services import Kindred
from tests.conftest import make_test_settings

REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
EXTERNAL = re.compile(r"""(?:https?:)?//[\w.-]+""", re.IGNORECASE)


def serving(console_dir: Path, database_url: str) -> Iterator[Any]:
    services = Kindred.create(settings=make_test_settings(database_url, console_dir=console_dir))
    try:
        with TestClient(create_app(services, bootstrap=False)) as client:
            yield client
    finally:
        services.close()


@pytest.fixture
def built(tmp_path: Path, database_url: str) -> Iterator[Any]:
    """A console build with Swagger UI's files (stand-ins: the page only names them)."""
    assets = tmp_path / "dist" / "api-docs"
    assets.mkdir(parents=True)
    for name in ASSET_FILES:
        (assets / name).write_text(f"/* {name} */")
    yield from serving(tmp_path / "dist", database_url)


@pytest.fixture
def unbuilt(tmp_path: Path, database_url: str) -> Iterator[Any]:
    yield from serving(tmp_path / "nothing-built", database_url)


def test_the_explorer_loads_only_from_this_server(built: Any) -> None:
    page = built.get("/docs")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "script-src 'self';" in (
        CONTENT_SECURITY_POLICY
    )
    assert not EXTERNAL.search(page.text), "the page names another host"
    # Every script is a file: the CSP refuses inline ones.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), page.text
    assert "style=" not in page.text and "<style" not in page.text
    references = REFERENCE.findall(page.text)
    assert {"/api-docs/swagger-ui-bundle.js", "/api-docs/swagger-ui.css"} <= set(references)
    for url in references:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = built.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, url

    init = built.get("/docs/swagger-init.js")
    assert init.headers["content-type"].startswith("text/javascript")
    assert '"/openapi.json"' in init.text and "validatorUrl: null" in init.text
    assert not EXTERNAL.search(init.text)
    assert built.get("/openapi.json").status_code == 200


def test_unbuilt_the_explorer_says_how_to_build_it_and_redoc_is_gone(unbuilt: Any) -> None:
    page = unbuilt.get("/docs")
    assert page.status_code == 404
    assert page.headers["content-type"] == "application/problem+json"
    assert "scripts/setup" in page.json()["detail"] and "/openapi.json" in page.json()["detail"]
    redoc = unbuilt.get("/redoc")
    assert redoc.status_code == 404
    assert redoc.headers["content-type"] == "application/problem+json"
    assert "cdn" not in redoc.text.lower()


def test_the_console_build_carries_swagger_ui() -> None:
    """The console's build (``web/``: ``npm run build``) copies Swagger UI into its output."""
    console = default_console_dir()
    if not (console / "index.html").is_file():
        pytest.skip(f"the console is not built here ({console}): bash scripts/setup builds it")
    missing = [name for name in ASSET_FILES if not (console / "api-docs" / name).is_file()]
    assert missing == [], f"not in {console / 'api-docs'}: {missing}"
