"""Ledger blind spots (issue item 12), each attack reproduced on a real database of both
dialects and caught with the exact entry named:

- a stored payload that is no longer JSON is reported, not a traceback;
- the ``kind`` and ``created_at`` columns beside the leaf are bound to it;
- damaged raw values (wrong type, wrong length, not UTF-8) never crash the verifier;
- deleting the tail of the log together with the newer checkpoints is caught by the
  witness copy kept outside the database, and by an operator's exported copy;
- a rewritten history re-signed with a key the attacker planted is caught the same way;
- the server's upkeep checkpoints (and witnesses) new entries within seconds;
- the CLI prints one readable line per problem and exits 1, without a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from kindred.cli import app
from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)
from kindred.config import get_settings
from kindred.errors import Conflict
from kindred.ledger.merkle import MerkleTree
from kindred.ledger.note import Checkpoint, key_id, sign_note
from tests.conftest import make_test_settings


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


def checkpoint(kindred: Any) -> int:
    with kindred.database.write() as session:
        return int(kindred.ledger.checkpoint(session).size)


def tamper(kindred: Any, *statements: str, **parameters: Any) -> None:
    with kindred.database.write() as session:
        for statement in statements:
            session.execute(sa.text(statement), parameters)


def problems(kindred: Any, **options: Any) -> list[str]:
    with kindred.database.read() as session:
        report = kindred.ledger.verify_log(session, **options)
    return list(report.problems)


def witnessed_size(kindred: Any) -> int | None:
    copy = kindred.ledger.witness.latest()
    if copy is None:
        return None
    return Checkpoint.parse(copy.note.split("\n\n")[0] + "\n").size


def test_intact_log_verifies_and_is_witnessed(kindred: Any) -> None:
    fill(kindred, 6)
    assert checkpoint(kindred) == 6
    with kindred.database.read() as session:
        report = kindred.ledger.verify_log(session)
    assert report.intact, report.problems
    assert report.witnessed == 6
    assert witnessed_size(kindred) == 6


def test_a_payload_that_is_not_json_is_reported_not_a_crash(kindred: Any, dialect: str) -> None:
    fill(kindred, 5)
    checkpoint(kindred)
    if dialect == "postgresql":
        # jsonb refuses broken JSON: an attacker with DDL rights changes the column type first.
        tamper(
            kindred,
            "ALTER TABLE ledger_payloads ALTER COLUMN payload TYPE text USING payload::text",
        )
    tamper(kindred, "UPDATE ledger_payloads SET payload = :p WHERE idx = 3", p='{"ticket": "T-')
    found = problems(kindred)
    assert "entry 3: the stored payload is not valid JSON (payload edited)" in found, found
    assert all(not p.startswith(("entry 0", "entry 1", "entry 2", "entry 4")) for p in found)


@pytest.mark.parametrize("column", ["kind", "created_at"])
def test_columns_beside_the_leaf_are_bound_to_it(kindred: Any, column: str) -> None:
    fill(kindred, 5)
    checkpoint(kindred)
    if column == "kind":
        tamper(kindred, "UPDATE ledger_entries SET kind = 'consent.granted' WHERE idx = 2")
        expected = (
            "entry 2: the kind column says 'consent.granted', the leaf says "
            "'service.fulfilled' (kind edited)"
        )
    else:
        # Written as each dialect stores it (naive UTC text on SQLite, timestamptz on PG).
        value = (
            "'2020-01-01 00:00:00.000000'"
            if kindred.database.dialect == "sqlite"
            else "TIMESTAMPTZ '2020-01-01 00:00:00+00'"
        )
        tamper(kindred, f"UPDATE ledger_entries SET created_at = {value} WHERE idx = 2")
        expected = "entry 2: the created_at column says 2020-01-01T00:00:00Z, the leaf says "
    found = problems(kindred)
    assert any(p.startswith(expected) for p in found), found
    assert len(found) == 1, found  # nothing else is wrong: the leaf and the tree are intact


def test_old_logs_stay_verifiable(kindred: Any) -> None:
    """Entries written before the columns were checked hold the same kind and time as their
    leaves (both always came from one value), so they verify with no migration."""
    with kindred.database.write() as session:
        kindred.metadata.add_field(
            session,
            "account",
            {"name": "beds", "type": "number"},
            expected_version=None,
            actor_id=None,
            request_id="r-1",
        )
    fill(kindred, 3)
    checkpoint(kindred)
    assert problems(kindred) == []


def test_damaged_raw_values_never_crash_the_verifier(kindred: Any, dialect: str) -> None:
    fill(kindred, 8)
    checkpoint(kindred)
    tamper(
        kindred,
        "UPDATE ledger_entries SET leaf_hash = :h WHERE idx = 1",
        h=b"\x01\x02\x03",
    )
    tamper(kindred, "UPDATE ledger_entries SET leaf = :l WHERE idx = 2", l=b"\xff\xfe not json")
    tamper(kindred, "UPDATE ledger_entries SET leaf = :l WHERE idx = 3", l=b"[1, 2, 3]")
    if dialect == "sqlite":
        # SQLite keeps whatever type it is given: text where bytes belong, text that is not
        # UTF-8, a number where a timestamp belongs.
        tamper(kindred, "UPDATE ledger_entries SET leaf = CAST(leaf AS TEXT) WHERE idx = 4")
        tamper(kindred, "UPDATE ledger_entries SET kind = CAST(X'FFFE' AS TEXT) WHERE idx = 5")
        tamper(kindred, "UPDATE ledger_entries SET created_at = 42 WHERE idx = 6")
        tamper(kindred, "UPDATE ledger_payloads SET salt = 'abc', payload = 7 WHERE idx = 7")
    found = problems(kindred)
    assert any(p.startswith("entry 1: the stored leaf hash") for p in found), found
    assert "entry 2: the leaf is not valid JSON (leaf edited)" in found, found
    assert "entry 3: the leaf is not a JSON object (leaf edited)" in found, found
    if dialect == "sqlite":
        assert not any(p.startswith("entry 4") for p in found), found  # same bytes, as text
        assert any(p.startswith("entry 5: the kind column says") for p in found), found
        assert any(p.startswith("entry 6: the created_at column holds 42") for p in found)
        assert "entry 7: payload does not match its commitment (payload edited)" in found
    assert any("checkpoint at size 8" in p for p in found), found


def test_missing_entries_are_reported_once_as_a_range(kindred: Any) -> None:
    fill(kindred, 10)
    checkpoint(kindred)
    tamper(kindred, "DELETE FROM ledger_entries WHERE idx IN (3, 4, 5)")
    found = problems(kindred)
    assert "entries 3–5 are missing (3 rows deleted)" in found, found
    assert not any(p.startswith(("row ", "entry 6", "entry 7")) for p in found), found


def test_truncation_with_newer_checkpoints_deleted_is_caught_by_the_witness(
    kindred: Any,
) -> None:
    fill(kindred, 4)
    checkpoint(kindred)
    fill(kindred, 6)
    checkpoint(kindred)
    assert witnessed_size(kindred) == 10
    # The attack: cut the log back to the first checkpoint and remove every newer checkpoint,
    # so that what is left in the database is self-consistent.
    tamper(
        kindred,
        "DELETE FROM ledger_entries WHERE idx >= 4",
        "DELETE FROM ledger_checkpoints WHERE size > 4",
    )
    source = f"witness {kindred.ledger.witness.directory}"
    found = problems(kindred)
    assert found == [
        f"log truncated: the log has 4 entries, {source} holds a checkpoint signed at "
        "size 10 (entries 4–9 deleted)"
    ]


def test_rewritten_history_signed_with_a_planted_key_is_caught_by_the_witness(
    kindred: Any,
) -> None:
    fill(kindred, 5)
    checkpoint(kindred)
    # The attacker rewrites entry 2 everywhere the database holds it, plants a signing key of
    # their own, and re-signs every checkpoint, so the database alone is consistent again.
    with kindred.database.write() as session:
        leaf = session.execute(sa.text("SELECT leaf FROM ledger_entries WHERE idx = 2")).scalar()
        forged = bytes(leaf).replace(b"service.fulfilled", b"service.cancelled")
        session.execute(
            sa.text(
                "UPDATE ledger_entries SET leaf = :l, kind = 'service.cancelled' WHERE idx = 2"
            ),
            {"l": forged},
        )
        from kindred.ledger.merkle import leaf_hash

        session.execute(
            sa.text("UPDATE ledger_entries SET leaf_hash = :h WHERE idx = 2"),
            {"h": leaf_hash(forged)},
        )
        session.execute(sa.text("DELETE FROM ledger_payloads WHERE idx = 2"))
        leaves = [
            bytes(v)
            for v in session.execute(sa.text("SELECT leaf FROM ledger_entries ORDER BY idx"))
            .scalars()
            .all()
        ]
        tree = MerkleTree([leaf_hash(v) for v in leaves])
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes_raw()
        origin = kindred.ledger.origin
        planted = key_id(origin, public).hex()
        session.execute(sa.text("DELETE FROM ledger_checkpoints"))
        session.execute(sa.text("DELETE FROM ledger_keys"))
        session.execute(
            sa.text(
                "INSERT INTO ledger_keys (key_id, name, public_key, private_key, active, "
                "created_at) VALUES (:k, :n, :p, :x, :a, :t)"
            ),
            {"k": planted, "n": origin, "p": public, "x": b"?", "a": True, "t": "2026-01-01"},
        )
        note = sign_note(Checkpoint(origin, 5, tree.root()).text(), origin, private)
        session.execute(
            sa.text(
                "INSERT INTO ledger_checkpoints (size, root, note, key_id, created_at) "
                "VALUES (5, :r, :n, :k, :t)"
            ),
            {"r": tree.root(), "n": note, "k": planted, "t": "2026-01-01"},
        )
    found = problems(kindred)
    source = f"witness {kindred.ledger.witness.directory}"
    assert found == [
        f"{source}: its checkpoint at size 5 is signed by no key the database holds "
        "(signing keys deleted or replaced)"
    ]
    with kindred.database.read() as session:
        known = kindred.ledger.public_keys(session)
    assert len(known) == 1 and planted in known[0]  # the database only knows the plant


def test_a_pinned_key_shows_the_rewritten_history(kindred: Any) -> None:
    fill(kindred, 5)
    checkpoint(kindred)
    with kindred.database.read() as session:
        original_key = kindred.ledger.public_keys(session)[0]
    # Same rewrite, but the original key row is kept (its signature still verifies).
    with kindred.database.write() as session:
        from kindred.ledger.merkle import leaf_hash

        leaf = session.execute(sa.text("SELECT leaf FROM ledger_entries WHERE idx = 2")).scalar()
        forged = bytes(leaf).replace(b"service.fulfilled", b"service.cancelled")
        session.execute(
            sa.text(
                "UPDATE ledger_entries SET leaf = :l, leaf_hash = :h, kind = 'service.cancelled' "
                "WHERE idx = 2"
            ),
            {"l": forged, "h": leaf_hash(forged)},
        )
        session.execute(sa.text("DELETE FROM ledger_payloads WHERE idx = 2"))
        session.execute(sa.text("DELETE FROM ledger_checkpoints"))
        session.execute(sa.text("DELETE FROM ledger_keys"))
    source = f"witness {kindred.ledger.witness.directory}"
    found = problems(kindred, keys=[original_key])
    assert found == [
        f"{source}: the log's first 5 entries differ from its checkpoint signed at size 5 "
        "(history rewritten)"
    ]


def test_stored_checkpoint_columns_are_bound_to_the_note(kindred: Any) -> None:
    fill(kindred, 5)
    checkpoint(kindred)
    fill(kindred, 2)
    checkpoint(kindred)
    tamper(kindred, "UPDATE ledger_checkpoints SET size = 6 WHERE size = 7")
    found = problems(kindred)
    assert any(
        p.startswith("checkpoint at size 7: the size column says 6 (checkpoint row edited)")
        for p in found
    ), found


def test_an_edited_checkpoint_note_or_witness_copy_is_reported(kindred: Any) -> None:
    fill(kindred, 4)
    checkpoint(kindred)
    with kindred.database.read() as session:
        note = session.execute(sa.text("SELECT note FROM ledger_checkpoints")).scalar()
    lines = note.split("\n")
    lines[1] = "3"  # claim a smaller tree under the same signature
    tamper(kindred, "UPDATE ledger_checkpoints SET note = :n", n="\n".join(lines))
    witness_file = kindred.ledger.witness.directory / "checkpoint"
    witness_file.write_text("\n".join(lines))  # someone with file access edits the copy too
    found = problems(kindred)
    source = f"witness {kindred.ledger.witness.directory}"
    assert found == [
        "checkpoint at size 4: the note's signature does not verify",
        f"{source}: the note's signature does not verify",
    ], found


def test_the_witness_refuses_a_fork(kindred: Any) -> None:
    """Two different roots for one size (a split view) are refused, and the copy held stays."""
    from kindred.ledger.note import Verifier
    from kindred.ledger.witness import WitnessError

    fill(kindred, 4)
    checkpoint(kindred)
    held = kindred.ledger.witness.latest().note
    with kindred.database.write() as session:
        row, private = kindred.ledger._active_key(session)
        key = kindred.ledger.active_public_key(session)
    fork = sign_note(Checkpoint(kindred.ledger.origin, 4, b"\x07" * 32).text(), row.name, private)
    with pytest.raises(WitnessError, match="second root for size 4"):
        kindred.ledger.witness.update(fork, Verifier.parse(key), MerkleTree().consistency_proof)
    grown = sign_note(Checkpoint(kindred.ledger.origin, 6, b"\x07" * 32).text(), row.name, private)
    fill(kindred, 2)  # the log really has 6 entries: the proof exists, the forged root fails it
    with kindred.database.read() as session:
        tree = kindred.ledger.tree(session)
    assert tree.size == 6
    with pytest.raises(WitnessError, match="does not extend the checkpoint held at size 4"):
        kindred.ledger.witness.update(grown, Verifier.parse(key), tree.consistency_proof)
    assert kindred.ledger.witness.latest().note == held


def test_signing_refuses_a_log_that_dropped_witnessed_entries(kindred: Any) -> None:
    fill(kindred, 6)
    checkpoint(kindred)
    tamper(
        kindred,
        "DELETE FROM ledger_entries WHERE idx >= 3",
        "DELETE FROM ledger_checkpoints",
    )
    with pytest.raises(Conflict, match="holds a checkpoint signed at size 6"):
        checkpoint(kindred)
    with kindred.database.read() as session:
        stored = session.execute(sa.text("SELECT count(*) FROM ledger_checkpoints")).scalar()
    assert stored == 0  # refused: nothing was signed or stored
    assert witnessed_size(kindred) == 6  # and the witness kept what it held


def test_a_rolled_back_checkpoint_never_reaches_the_witness(kindred: Any) -> None:
    """The hand-over waits for the commit, and the cached tree forgets leaves that rolled
    back: otherwise the next checkpoint signs a root over an entry that never existed."""
    fill(kindred, 3)
    with pytest.raises(RuntimeError), kindred.database.write() as session:
        kindred.ledger.append(session, "consent.granted", {"never": "committed"}, ["s"])
        assert kindred.ledger.checkpoint(session).size == 4
        raise RuntimeError("the change failed")
    assert witnessed_size(kindred) is None  # the hand-over runs inside commit: no waiting
    fill(kindred, 1)  # a different entry 3 commits
    assert checkpoint(kindred) == 4
    assert witnessed_size(kindred) == 4
    assert problems(kindred) == []


def test_the_witness_never_goes_back(kindred: Any) -> None:
    """A C2SP witness keeps its newest checkpoint: an older (smaller) one is not taken."""
    fill(kindred, 3)
    with kindred.database.write() as session:
        first = kindred.ledger.checkpoint(session)
        key = kindred.ledger.active_public_key(session)
        tree = kindred.ledger.tree(session)
    fill(kindred, 3)
    checkpoint(kindred)
    from kindred.ledger.note import Verifier

    assert not kindred.ledger.witness.update(
        first.note, Verifier.parse(key), tree.consistency_proof
    )
    assert witnessed_size(kindred) == 6


def test_server_upkeep_checkpoints_and_witnesses_new_entries(database_url: str) -> None:
    from fastapi.testclient import TestClient

    from kindred.app import create_app
    from kindred.services import Kindred

    services = Kindred.create(
        settings=make_test_settings(database_url, ledger_checkpoint_seconds=0.05)
    )
    try:
        with TestClient(create_app(services, bootstrap=False)):
            fill(services, 7)
            size = _wait_for_witnessed(services, at_least=7)
        # The positive signal arrived: the upkeep signed and witnessed every entry, with no
        # one asking for a checkpoint. Deleting the tail with the checkpoints is now caught.
        assert size >= 7
        with services.database.read() as session:
            total = int(session.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar())
        tamper(
            services,
            f"DELETE FROM ledger_entries WHERE idx >= {total - 2}",
            "DELETE FROM ledger_checkpoints",
        )
        found = problems(services)
        assert len(found) == 1 and found[0].startswith("log truncated: "), found
    finally:
        services.close()


def _wait_for_witnessed(services: Any, at_least: int) -> int:
    """Until the witness holds a checkpoint covering ``at_least`` entries. The deadline only
    keeps a broken build from hanging; nothing is asserted about how long it took."""

    async def wait() -> int:
        async with asyncio.timeout(60):
            while True:
                size = witnessed_size(services)
                if size is not None and size >= at_least:
                    return size
                await asyncio.sleep(0.02)

    return asyncio.run(wait())


@pytest.fixture
def cli_env(
    kindred: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_SECRET_KEY", kindred.settings.secret_key)
    monkeypatch.setenv("KINDRED_LEDGER_WITNESS_DIR", str(kindred.ledger.witness.directory))
    get_settings.cache_clear()
    yield CliRunner()  # its output holds stdout and stderr, as a terminal shows them
    get_settings.cache_clear()


def test_cli_reports_each_problem_on_one_line_without_a_traceback(
    kindred: Any, cli_env: CliRunner, dialect: str
) -> None:
    fill(kindred, 8)
    checkpoint(kindred)
    if dialect == "postgresql":
        tamper(
            kindred,
            "ALTER TABLE ledger_payloads ALTER COLUMN payload TYPE text USING payload::text",
        )
    tamper(
        kindred,
        "UPDATE ledger_payloads SET payload = 'not json at all' WHERE idx = 1",
        "UPDATE ledger_entries SET kind = 'forged.kind' WHERE idx = 4",
        "DELETE FROM ledger_entries WHERE idx >= 6",
        "DELETE FROM ledger_checkpoints",
    )
    result = cli_env.invoke(app, ["ledger", "verify"])
    output = result.output
    assert result.exit_code == 1, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    lines = [line.strip() for line in output.splitlines()]
    assert "TAMPERED: 3 problem(s)" in lines, output
    assert "entry 1: the stored payload is not valid JSON (payload edited)" in lines, output
    assert (
        "entry 4: the kind column says 'forged.kind', the leaf says 'service.fulfilled' "
        "(kind edited)" in lines
    ), output
    assert any(
        line.startswith("log truncated: the log has 6 entries,")
        and line.endswith("(entries 6–7 deleted)")
        for line in lines
    ), output


def test_operator_copy_catches_truncation_without_the_directory_witness(
    kindred: Any, cli_env: CliRunner, tmp_path: Path
) -> None:
    fill(kindred, 9)
    exported = tmp_path / "operator-checkpoint.txt"
    made = cli_env.invoke(app, ["ledger", "checkpoint"])
    assert made.exit_code == 0, made.output
    result = cli_env.invoke(app, ["ledger", "checkpoints", "export", "--out", str(exported)])
    assert result.exit_code == 0, result.output
    note = exported.read_text()
    assert note.splitlines()[1] == "9"  # the C2SP checkpoint body: origin, size, root
    key = cli_env.invoke(app, ["ledger", "public-key"]).output.strip()
    tamper(
        kindred,
        "DELETE FROM ledger_entries WHERE idx >= 5",
        "DELETE FROM ledger_checkpoints",
    )
    # The operator's copy is enough on its own: the directory witness is not consulted here.
    empty = tmp_path / "no-witness"
    empty.mkdir()
    clean = cli_env.invoke(
        app, ["ledger", "verify"], env={"KINDRED_LEDGER_WITNESS_DIR": str(empty)}
    )
    get_settings.cache_clear()
    assert clean.exit_code == 0  # without any witness, a consistent truncation goes unseen…
    caught = cli_env.invoke(
        app,
        ["ledger", "verify", "--witness", str(exported), "--key", key],
        env={"KINDRED_LEDGER_WITNESS_DIR": str(empty)},
    )
    get_settings.cache_clear()
    output = caught.output
    assert caught.exit_code == 1, output
    assert (
        f"log truncated: the log has 5 entries, file {exported} holds a checkpoint signed at "
        "size 9 (entries 5–8 deleted)" in [line.strip() for line in output.splitlines()]
    ), output


def test_operator_export_is_the_newest_checkpoint(kindred: Any, cli_env: CliRunner) -> None:
    fill(kindred, 3)
    checkpoint(kindred)
    fill(kindred, 2)
    checkpoint(kindred)
    result = cli_env.invoke(app, ["ledger", "checkpoints", "export"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "5"
    with kindred.database.read() as session:
        root = session.execute(sa.text("SELECT root FROM ledger_checkpoints WHERE size = 5"))
        assert base64.b64decode(lines[2]) == bytes(root.scalar())
    assert json.dumps(lines)  # plain text, one note
