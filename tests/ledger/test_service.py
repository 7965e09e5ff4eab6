"""The evidence log on both dialects: transactional appends, signed checkpoints, offline
proof bundles, and tamper detection that names the row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kindred.cli import app
from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)
from kindred.config import get_settings
from kindred.ledger.merkle import verify_consistency
from kindred.ledger.note import Checkpoint, Verifier, open_note
from kindred.ledger.verifier import VerificationError, verify_bundle


@pytest.fixture(autouse=True)
def empty_ledger(kindred: Any) -> None:
    """Start from an empty log (bootstrap evidences the standard objects' installation)."""
    with kindred.database.write() as session:
        session.execute(sa.text("DELETE FROM ledger_payloads"))
        session.execute(sa.text("DELETE FROM ledger_entries"))


def fill(kindred: Any, count: int) -> None:
    with kindred.database.write() as session:
        kindred.ledger.append_many(
            session,
            [
                ("service.fulfilled", {"ticket": f"T-{i}", "hours": i}, [f"subject-{i}"])
                for i in range(count)
            ],
        )


def test_appends_follow_the_callers_transaction(kindred: Any) -> None:
    fill(kindred, 3)
    with pytest.raises(RuntimeError), kindred.database.write() as session:
        kindred.ledger.append(session, "consent.granted", {"x": 1}, ["s"])
        raise RuntimeError("the change failed")
    with kindred.database.read() as session:
        assert session.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar() == 3
        leaf = session.execute(sa.text("SELECT leaf FROM ledger_entries WHERE idx = 1")).scalar()
    parsed = json.loads(bytes(leaf))
    assert parsed["i"] == 1 and parsed["k"] == "service.fulfilled" and "hours" not in parsed
    assert set(parsed) == {"v", "i", "k", "s", "c", "at"}


def test_checkpoint_bundle_verifies_offline_and_forgeries_fail(kindred: Any) -> None:
    fill(kindred, 20)
    with kindred.database.write() as session:
        first = kindred.ledger.checkpoint(session)
        key = kindred.ledger.active_public_key(session)
    fill(kindred, 15)
    with kindred.database.write() as session:
        second = kindred.ledger.checkpoint(session)
        bundle = kindred.ledger.bundle(session, 7)
        proof = kindred.ledger.consistency(session, first.size, second.size)
    verifier = Verifier.parse(key)
    head1 = Checkpoint.parse(open_note(first.note, verifier))
    head2 = Checkpoint.parse(open_note(second.note, verifier))
    assert (head1.size, head2.size) == (20, 35)
    verify_consistency(head1.size, head2.size, proof, head1.root, head2.root)

    leaf = verify_bundle(bundle, key)
    assert leaf["i"] == 7 and leaf["s"] == ["subject-7"]
    forged_leaf = dict(bundle, leaf=bundle["leaf"][:-4] + "AAA=")
    with pytest.raises(VerificationError):
        verify_bundle(forged_leaf, key)
    with pytest.raises(VerificationError, match="tree size"):
        verify_bundle(dict(bundle, tree_size=34), key)
    with kindred.database.write() as session:
        other_key = kindred.ledger.rotate_key(session)
    with pytest.raises(VerificationError, match="no signature by"):
        verify_bundle(bundle, other_key)  # signed by the old key, not this one
    with pytest.raises(VerificationError, match="does not match"):
        verify_bundle(bundle, other_key.replace("kindred.local/ledger", "someone.else"))
    tampered_note = bundle["checkpoint"].replace("\n35\n", "\n36\n")
    with pytest.raises(VerificationError):
        verify_bundle(dict(bundle, checkpoint=tampered_note, tree_size=36), key)
    # Old checkpoints stay verifiable after key rotation.
    with kindred.database.read() as session:
        assert kindred.ledger.verify_log(session).intact


@pytest.mark.parametrize("attack", ["edit", "delete", "insert", "reorder", "payload"])
def test_tampering_is_detected_and_located(kindred: Any, attack: str) -> None:
    fill(kindred, 10)
    with kindred.database.write() as session:
        kindred.ledger.checkpoint(session)
        assert kindred.ledger.verify_log(session).intact
    statements = {
        "edit": [
            "UPDATE ledger_entries SET leaf = (SELECT leaf FROM ledger_entries "
            "WHERE idx = 5) WHERE idx = 4"
        ],
        "delete": ["DELETE FROM ledger_entries WHERE idx = 6"],
        "insert": [
            "UPDATE ledger_entries SET idx = idx + 100 WHERE idx >= 3",
            "UPDATE ledger_entries SET idx = idx - 99 WHERE idx >= 103",
            "INSERT INTO ledger_entries (idx, kind, leaf, leaf_hash, created_at) "
            "SELECT 3, kind, leaf, leaf_hash, created_at FROM ledger_entries WHERE idx = 0",
        ],
        "reorder": [
            "UPDATE ledger_entries SET idx = -1 WHERE idx = 2",
            "UPDATE ledger_entries SET idx = 2 WHERE idx = 8",
            "UPDATE ledger_entries SET idx = 8 WHERE idx = -1",
        ],
        "payload": [],
    }[attack]
    with kindred.database.write() as session:
        if attack in ("delete", "insert", "reorder"):
            session.execute(sa.text("DELETE FROM ledger_payloads"))
        for statement in statements:
            session.execute(sa.text(statement))
        if attack == "payload":
            row = session.execute(sa.text("SELECT payload FROM ledger_payloads WHERE idx = 9"))
            value = row.scalar()
            value = json.loads(value) if isinstance(value, str) else value
            session.execute(
                sa.text("UPDATE ledger_payloads SET payload = :p WHERE idx = 9"),
                {"p": json.dumps({**value, "hours": 999})},
            )
    with kindred.database.read() as session:
        report = kindred.ledger.verify_log(session)
    assert not report.intact
    expected = {
        "edit": "entry 4: leaf says index 5",
        "delete": "entry 6 is missing (1 row deleted)",
        "insert": "entry 4: leaf says index 3",
        "reorder": "entry 2: leaf says index 8",
        "payload": "entry 9: payload does not match its commitment",
    }[attack]
    assert any(expected in problem for problem in report.problems), report.problems
    if attack != "payload":
        assert any("checkpoint at size 10" in problem for problem in report.problems)


def test_metadata_changes_are_evidenced(kindred: Any) -> None:
    with kindred.database.write() as session:
        kindred.metadata.add_field(
            session,
            "account",
            {"name": "beds", "type": "number"},
            expected_version=None,
            actor_id=None,
            request_id="r-1",
        )
        kinds = (
            session.execute(sa.text("SELECT kind FROM ledger_entries ORDER BY idx")).scalars().all()
        )
    assert kinds[-1] == "metadata.add_field"


def test_cli_verify_prove_and_offline_check(
    kindred: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(kindred, 5)
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_SECRET_KEY", kindred.settings.secret_key)
    monkeypatch.setenv("KINDRED_LEDGER_WITNESS_DIR", str(kindred.ledger.witness.directory))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["ledger", "verify"]).exit_code == 0
        bundle = tmp_path / "bundle.json"
        result = runner.invoke(app, ["ledger", "prove", "2", "--out", str(bundle)])
        assert result.exit_code == 0, result.output
        key = runner.invoke(app, ["ledger", "public-key"]).output.strip()
        ok = runner.invoke(app, ["ledger", "verify-bundle", "--bundle", str(bundle), "--key", key])
        assert ok.exit_code == 0 and "valid" in ok.output
        data = json.loads(bundle.read_text())
        data["index"] = 3
        bundle.write_text(json.dumps(data))
        bad = runner.invoke(app, ["ledger", "verify-bundle", "--bundle", str(bundle), "--key", key])
        assert bad.exit_code == 1 and "INVALID" in bad.output
        with kindred.database.write() as session:
            session.execute(sa.text("DELETE FROM ledger_entries WHERE idx = 1"))
        tampered = runner.invoke(app, ["ledger", "verify"])
        assert tampered.exit_code == 1 and "entry 1 is missing" in tampered.output
    finally:
        get_settings.cache_clear()


def test_ledger_api_is_for_auditors_and_serves_verifiable_proofs(kindred: Any, client: Any) -> None:
    fill(kindred, 6)
    with kindred.database.write() as session:
        admin = kindred.auth.create_user(
            session, email="a@example.com", name="A", password="long-password-1", roles=["admin"]
        )
        rep = kindred.auth.create_user(
            session, email="r@example.com", name="R", password="long-password-1", roles=["sales"]
        )
        _, admin_key = kindred.auth.create_api_key(session, admin["id"], "audit")
        _, rep_key = kindred.auth.create_api_key(session, rep["id"], "rep")
    denied = client.get("/api/v1/ledger/verify", headers={"X-API-Key": rep_key})
    assert denied.status_code == 403
    headers = {"X-API-Key": admin_key}
    key = client.get("/api/v1/ledger/public-key", headers=headers).json()["active"]
    with kindred.database.read() as session:
        # The six filled, and whatever creating the users evidenced.
        total = session.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar()
    made = client.post("/api/v1/ledger/checkpoints", headers=headers)
    assert made.status_code == 201 and made.json()["size"] == total >= 6
    bundle = client.get("/api/v1/ledger/entries/4/proof", headers=headers).json()
    assert verify_bundle(bundle, key)["i"] == 4
    assert client.get("/api/v1/ledger/entries/99/proof", headers=headers).status_code == 404
    proof = client.get(
        "/api/v1/ledger/consistency", headers=headers, params={"first": 2, "second": 6}
    )
    assert proof.status_code == 200 and len(proof.json()["proof"]) > 0
    assert (
        client.get(
            "/api/v1/ledger/consistency", headers=headers, params={"first": 5, "second": 60}
        ).status_code
        == 422
    )
    assert client.get("/api/v1/ledger/verify", headers=headers).json()["intact"] is True
    changed = client.put(
        "/api/v1/roles/auditor",
        headers=headers,
        json={"description": "read-only", "permissions": {"objects": {"*": {"actions": ["read"]}}}},
    )
    assert changed.status_code == 200
    with kindred.database.read() as session:
        last = session.execute(
            sa.text("SELECT kind FROM ledger_entries ORDER BY idx DESC LIMIT 1")
        ).scalar()
    assert last == "role.upsert"


def test_periodic_checkpoint_signs_only_when_the_log_grew(kindred: Any) -> None:
    from kindred.app import _checkpoint_if_grown

    def count() -> int:
        with kindred.database.read() as session:
            return int(
                session.execute(sa.text("SELECT count(*) FROM ledger_checkpoints")).scalar_one()
            )

    fill(kindred, 2)
    _checkpoint_if_grown(kindred)
    _checkpoint_if_grown(kindred)
    assert count() == 1
    fill(kindred, 1)
    _checkpoint_if_grown(kindred)
    assert count() == 2
