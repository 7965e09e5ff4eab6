"""An unknown purpose is an error wherever one is declared: `kindred export --purpose` and
the API's X-Purpose header (which record reads and lists — the API's export — honour).
Nothing is written or read under a purpose nobody registered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kindred.cli import app
from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)
from kindred.config import get_settings
from tests.conftest import TEST_SECRET

BASE = "/api/v1/objects/account/records"


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_export_refuses_an_unknown_purpose(cli: CliRunner, kindred: Any, tmp_path: Path) -> None:
    out = tmp_path / "accounts.csv"
    refused = cli.invoke(
        app, ["export", "account", "--purpose", "bogus", "--out", str(out)], catch_exceptions=False
    )
    assert refused.exit_code == 2, refused.output
    assert "unknown purpose 'bogus'" in refused.output
    assert "bulk-export" in refused.output  # the known ones are named
    assert not out.exists()  # nothing was exported

    allowed = cli.invoke(app, ["export", "account", "--purpose", "bulk-export", "--out", str(out)])
    assert allowed.exit_code == 0, allowed.output
    assert out.read_text(encoding="utf-8").startswith('"id","name"')


def test_the_api_refuses_an_unknown_purpose(client: Any, world: Any) -> None:
    admin = world.admin.headers
    made = client.post(BASE, headers=admin, json={"name": "Ruijin"})
    assert made.status_code == 201, made.text
    for path in (BASE, f"{BASE}/{made.json()['id']}"):
        refused = client.get(path, headers={**admin, "X-Purpose": "bogus"})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert "unknown purpose 'bogus'" in body["detail"]
        [error] = body["errors"]
        assert error["path"] == "/header/x-purpose" and "bulk-export" in error["message"]
        assert client.get(path, headers={**admin, "X-Purpose": "bulk-export"}).status_code == 200
    # A write under an unknown purpose changes nothing.
    before = client.get(BASE, headers=admin).json()["data"]
    written = client.post(
        BASE, headers={**admin, "X-Purpose": "bogus"}, json={"name": "Never stored"}
    )
    assert written.status_code == 422
    assert client.get(BASE, headers=admin).json()["data"] == before


def test_search_refuses_an_unknown_purpose(client: Any, world: Any) -> None:
    admin = world.admin.headers
    refused = client.get("/api/v1/search", headers=admin, params={"q": "x", "purpose": "bogus"})
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["path"] == "/query/purpose" and "bulk-export" in error["message"]
    allowed = client.get("/api/v1/search", headers=admin, params={"q": "x", "purpose": "service"})
    assert allowed.status_code == 200, allowed.text
