"""The built console is served at / with a strict CSP; deep links land in the app; API paths
and missing files stay 404 problems; an unbuilt checkout says how to build it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kindred.api.console import CONTENT_SECURITY_POLICY
from kindred.app import create_app
from kindred.services import Kindred
from tests.conftest import make_test_settings


@pytest.fixture
def console(tmp_path: Path, database_url: str) -> Iterator[tuple[Any, Path]]:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text(
        '<!doctype html><html lang="en"><title>Kindred</title>'
        '<script type="module" src="/assets/app-1a2b.js"></script></html>'
    )
    (built / "assets" / "app-1a2b.js").write_text("console.log('kindred')")
    services = Kindred.create(settings=make_test_settings(database_url, console_dir=built))
    with TestClient(create_app(services, bootstrap=False)) as client:
        yield client, built
    services.close()


def test_the_console_and_its_deep_links_are_the_built_index_with_a_strict_csp(
    console: tuple[Any, Path],
) -> None:
    client, built = console
    for path in ("/", "/records/account", "/records/account/0191-abc", "/sign-in"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.text == (built / "index.html").read_text()
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert (
            "script-src 'self';" in CONTENT_SECURITY_POLICY
            and "unsafe" not in page.headers["content-security-policy"]
        )
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["x-frame-options"] == "DENY"
    asset = client.get("/assets/app-1a2b.js")
    assert asset.status_code == 200 and asset.text == "console.log('kindred')"
    assert "immutable" in asset.headers["cache-control"]


def test_api_paths_and_missing_files_stay_problems(console: tuple[Any, Path]) -> None:
    client, _ = console
    for method, path in (
        ("GET", "/api/v1/nothing-here"),
        ("POST", "/api/v1/nothing-here"),
        ("GET", "/assets/missing-9z.js"),
        ("GET", "/favicon.ico"),
        ("DELETE", "/records/account"),
    ):
        answer = client.request(method, path)
        assert answer.status_code in (404, 405), (method, path)
        assert answer.headers["content-type"] == "application/problem+json", (method, path)
    assert client.request("POST", "/api/v1/nothing-here").status_code == 404
    assert client.get("/healthz").json()["status"] == "ok"


def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path, database_url: str) -> None:
    services = Kindred.create(
        settings=make_test_settings(database_url, console_dir=tmp_path / "nothing")
    )
    with TestClient(create_app(services, bootstrap=False)) as client:
        answer = client.get("/")
        assert answer.status_code == 404
        assert "scripts/setup" in answer.json()["detail"]
        assert client.get("/records/account").status_code == 404
    services.close()
