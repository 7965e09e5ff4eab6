"""On a fresh deployment (no signing key saved yet) every proof bundle an endpoint returns
verifies offline against the published key: the key and the checkpoint a bundle needs are
created once and stored, never inside a read that is rolled back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from kindred.cli import app
from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)
from kindred.ledger.models import LedgerCheckpoint, LedgerKey
from tests.api.conftest import world  # noqa: F401 (the API tests' people)
from tests.api.test_agents_api import AGENT, _account


def verify_offline(bundle: dict[str, Any], key: str, folder: Path) -> str:
    """What a third party runs: ``kindred ledger verify-bundle`` (no database, no server)."""
    path = folder / f"bundle-{bundle['index']}-{bundle['tree_size']}.json"
    path.write_text(json.dumps(bundle))
    result = CliRunner().invoke(
        app, ["ledger", "verify-bundle", "--bundle", str(path), "--key", key]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_agent_run_and_explorer_bundles_verify_with_the_published_key(
    client: Any,
    world: Any,  # noqa: F811
    kindred: Any,
    tmp_path: Path,
) -> None:
    admin = world.admin.headers
    with kindred.database.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LedgerKey)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(LedgerCheckpoint)) == 0
    assert client.post("/api/v1/agents", json=AGENT, headers=admin).status_code == 201
    run = client.post(
        "/api/v1/agents/triage/runs",
        json={"inputs": {"account": _account(kindred, world, "B")}},
        headers=admin,
    ).json()
    assert run["status"] == "succeeded"

    first = client.get(f"/api/v1/agent-runs/{run['id']}/verify", headers=admin)
    second = client.get(f"/api/v1/agent-runs/{run['id']}/verify", headers=admin)
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["intact"] and second.json()["intact"]
    bundles = [first.json()["bundle"], second.json()["bundle"]]
    # Created once and kept: the second answer proves against the same stored checkpoint.
    assert bundles[0]["checkpoint"] == bundles[1]["checkpoint"]

    keys = client.get("/api/v1/ledger/public-key", headers=admin).json()
    assert keys["keys"] == [keys["active"]]
    for bundle in bundles:
        assert "valid" in verify_offline(bundle, keys["active"], tmp_path)

    index = first.json()["ledger_index"]
    download = client.get(f"/api/v1/ledger/entries/{index}/bundle", headers=admin).json()
    assert download["verifier_key"] == keys["active"]
    verify_offline(
        {k: v for k, v in download.items() if k != "verifier_key"}, keys["active"], tmp_path
    )
    proof = client.get(f"/api/v1/ledger/entries/{index}/proof", headers=admin).json()
    verify_offline(proof, keys["active"], tmp_path)

    with kindred.database.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LedgerKey)) == 1
        stored = set(session.execute(sa.select(LedgerCheckpoint.note)).scalars())
    assert bundles[0]["checkpoint"] in stored
