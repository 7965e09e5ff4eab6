"""The console's typed client is generated from the API's OpenAPI document; both committed
files must be what the current code generates (issue 17, item 1): change a route or a schema,
then `kindred openapi > web/openapi.json && (cd web && npm run gen:api)`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kindred.app import create_app
from kindred.services import Kindred
from tests.conftest import make_test_settings

WEB = Path(__file__).resolve().parents[1] / "web"
REGENERATE = "run `kindred openapi > web/openapi.json && (cd web && npm run gen:api)`"


def test_the_committed_openapi_document_is_the_current_one(tmp_path: Path) -> None:
    services = Kindred.create(settings=make_test_settings(f"sqlite:///{tmp_path / 'k.db'}"))
    try:
        document = create_app(services, bootstrap=False).openapi()
    finally:
        services.close()
    current = json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    committed = (WEB / "openapi.json").read_text(encoding="utf-8")
    assert committed == current, f"web/openapi.json is stale: {REGENERATE}"


def test_the_committed_client_types_are_generated_from_it(tmp_path: Path) -> None:
    generator = WEB / "node_modules" / ".bin" / "openapi-typescript"
    if not generator.exists():
        pytest.fail("web/node_modules is missing: run `bash scripts/setup` (npm ci)")
    fresh = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(generator), "openapi.json", "-o", str(fresh)],
        cwd=WEB,
        check=True,
        capture_output=True,
    )
    committed = (WEB / "src" / "api" / "schema.d.ts").read_text(encoding="utf-8")
    assert committed == fresh.read_text(encoding="utf-8"), (
        f"web/src/api/schema.d.ts is stale: {REGENERATE}"
    )
