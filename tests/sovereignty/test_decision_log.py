"""The decision log's layout, on both dialects: one row per read batch, found by customer
through the bucketed subject index — the index answers exactly what a scan of every row
answers, across buckets, for lookups, erasure and the KPI; a hash collision costs a row read,
never a wrong answer; and a write that falls due inside a transaction is made when it ends
(never while a write transaction holds the lock), unless the queue is overdue."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.auth.permissions import SYSTEM_PRINCIPAL, Principal
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.service import RequestContext
from kindred.sovereignty import decision_log
from kindred.sovereignty.credentials import Grantee
from kindred.sovereignty.decision_log import (
    LAWFUL_BASES,
    authorization_totals,
    erase_subject,
    expand,
    subject_key,
    subject_rows,
)
from kindred.sovereignty.models import AccessDecision, AccessDecisionSubject

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
GUARDED = ("email", "phone", "mobile", "birthday", "wechat_openid", "address")


@dataclass
class World:
    rep: Principal
    marker: str
    contacts: list[tuple[str, str]]  # (record id, DID)
    consent_id: str  # the first contact's consent to email for "sales" to the rep

    def context(self, purpose: str | None, request_id: str) -> RequestContext:
        return RequestContext(self.rep, request_id=request_id, purpose=purpose)


def make_world(kindred: Any, count: int = 3) -> World:
    marker = f"log-{uuid.uuid4().hex[:8]}"
    with kindred.database.write() as session:
        user = kindred.auth.create_user(
            session, email=f"{marker}@example.com", name="Rep", password=None, roles=["sales"]
        )
        contacts = []
        for number in range(count):
            record = kindred.records.create(
                session,
                SYSTEM,
                "contact",
                {
                    "last_name": marker,
                    "email": f"c{number}-{marker}@example.com",
                    "phone": f"+8613800{number:06d}",
                    "owner": user["id"],  # a rep sees their own customers
                },
            )
            did = kindred.identities.of_subject(session, "contact", record["id"]).did
            contacts.append((record["id"], did))
        now = datetime.now(UTC).replace(microsecond=0)
        consent = kindred.consents.grant(
            session,
            contacts[0][1],
            dimensions=["contact.email"],
            purpose="sales",
            grantee=Grantee("user", user["id"]),
            valid_from=now - timedelta(hours=1),
            valid_until=now + timedelta(hours=1),
        )
        consent_id = consent.id
    with kindred.database.read() as session:
        rep = kindred.auth.load_principal(session, user["id"])
    kindred.pdp.log.flush()
    return World(rep, marker, contacts, consent_id)


def read_everything(kindred: Any, world: World, rounds: int) -> None:
    """Per round: a page of every contact (as the rep, for sales), a get of the first (no
    purpose), each round's decisions written apart."""
    for number in range(rounds):
        with kindred.database.read() as session:
            page = kindred.records.list_records(
                session,
                world.context("sales", f"page-{number}"),
                "contact",
                ListQuery(filters=[FieldFilter("last_name", "eq", world.marker)]),
            )
            assert len(page.data) == len(world.contacts)
            kindred.records.get(
                session, world.context(None, f"get-{number}"), "contact", world.contacts[0][0]
            )
        kindred.pdp.log.flush()


def scanned(session: Any, did: str) -> list[dict[str, Any]]:
    """Every decision about ``did``, by reading every row of the log (the ground truth)."""
    rows = session.execute(sa.select(AccessDecision).order_by(AccessDecision.id)).scalars()
    return [d for row in rows for d in expand(row) if d["subject_did"] == did]


def key(decision: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, str(v)) for k, v in decision.items()))


def test_the_index_finds_exactly_what_a_scan_finds_across_buckets(
    kindred: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decision_log, "BUCKET_ENTRIES", 1)  # a new bucket per write
    world = make_world(kindred)
    read_everything(kindred, world, rounds=3)
    first, second = world.contacts[0][1], world.contacts[1][1]
    with kindred.database.read() as session:
        buckets = session.execute(
            sa.select(sa.func.count(sa.distinct(AccessDecisionSubject.bucket))).where(
                AccessDecisionSubject.subject_key == subject_key(first)
            )
        ).scalar_one()
        found = [d for _, decisions in subject_rows(session, first) for d in decisions]
        newest = [
            (row.request_id, decisions)
            for row, decisions in subject_rows(session, first, newest_first=True, limit=2)
        ]
        truth = scanned(session, first)
        other = [d for _, decisions in subject_rows(session, second) for d in decisions]
        other_truth = scanned(session, second)
    assert buckets >= 3, "the reads should have landed in several buckets"
    # Its creation (returned to the system, no purpose), then 3 pages and 3 gets of it, every
    # guarded field decided each time.
    assert len(truth) == 7 * len(GUARDED)
    assert sorted(map(key, found)) == sorted(map(key, truth))
    assert sorted(map(key, other)) == sorted(map(key, other_truth))
    assert {d["subject_did"] for d in found} == {first}
    allowed = [d for d in found if d["allowed"]]
    assert [(d["dimension"], d["reason"], d["consent_id"]) for d in allowed] == [
        ("contact.email", "consent", world.consent_id)
    ] * 3  # the pages, for sales; the gets declared no purpose
    assert Counter(d["reason"] for d in found if (d["request_id"] or "").startswith("get")) == {
        "no-purpose": 3 * len(GUARDED)
    }
    # Newest first, limited to rows: the last round's get, then its page.
    assert [request_id for request_id, _ in newest] == ["get-2", "page-2"]
    assert all(d["subject_did"] == first for _, decisions in newest for d in decisions)


def test_erasure_removes_only_the_customers_reads(kindred: Any) -> None:
    world = make_world(kindred)
    read_everything(kindred, world, rounds=2)
    (_, gone), (_, kept), _ = world.contacts
    with kindred.database.read() as session:
        kept_before = scanned(session, kept)
        gone_before = scanned(session, gone)
        rows_before = session.execute(sa.select(sa.func.count()).select_from(AccessDecision))
        rows_before_count = rows_before.scalar_one()
    with kindred.database.write() as session:
        removed = erase_subject(session, gone)
    with kindred.database.read() as session:
        rows = session.execute(sa.select(AccessDecision)).scalars().all()
        text = " ".join(str((row.outcomes, row.reads, row.subject_keys)) for row in rows)
        kept_after = [d for _, decisions in subject_rows(session, kept) for d in decisions]
        gone_after = subject_rows(session, gone)
        entries = session.execute(
            sa.select(sa.func.count()).where(AccessDecisionSubject.subject_key == subject_key(gone))
        ).scalar_one()
        counts_hold = all(
            row.read_count == len(row.reads)
            and row.allowed_count + row.withheld_count
            == sum(len(row.outcomes[read[1]]) for read in row.reads)
            and row.allowed_count
            == sum(1 for read in row.reads for d in row.outcomes[read[1]] if d[1])
            for row in rows
        )
    assert removed == 5  # its creation, two pages and two gets
    assert len(gone_before) == 5 * len(GUARDED)
    assert gone not in text and str(subject_key(gone)) not in text
    assert gone_after == [] and entries == 0
    assert sorted(map(key, kept_after)) == sorted(map(key, kept_before))
    # The rows of its creation and of the gets held only the erased customer.
    assert len(rows) == rows_before_count - 3
    assert counts_hold


def test_a_hash_collision_costs_a_row_read_never_a_wrong_answer(kindred: Any) -> None:
    world = make_world(kindred)
    read_everything(kindred, world, rounds=1)
    stranger = f"did:key:z6MkStranger{uuid.uuid4().hex}"
    with kindred.database.write() as session:
        # As if the stranger's key were also the key of every customer of the log.
        rows = session.execute(sa.select(AccessDecision.id)).scalars().all()
        session.execute(
            sa.insert(AccessDecisionSubject),
            [{"bucket": 0, "subject_key": subject_key(stranger), "decision_id": i} for i in rows],
        )
    with kindred.database.read() as session:
        assert subject_rows(session, stranger) == []
        before = [expand(row) for row in session.execute(sa.select(AccessDecision)).scalars()]
    with kindred.database.write() as session:
        assert erase_subject(session, stranger) == 0
    with kindred.database.read() as session:
        after = [expand(row) for row in session.execute(sa.select(AccessDecision)).scalars()]
    assert after == before


def test_the_compliance_kpi_counts_what_a_scan_counts(kindred: Any) -> None:
    world = make_world(kindred)
    read_everything(kindred, world, rounds=2)
    with kindred.database.read() as session:
        rows = session.execute(sa.select(AccessDecision)).scalars()
        decisions = [d for row in rows for d in expand(row)]
        allowed, lawful = authorization_totals(session)
    granted = [d for d in decisions if d["allowed"]]
    assert allowed == len(granted) >= 2
    assert lawful == sum(1 for d in granted if d["reason"] in LAWFUL_BASES) == allowed


def stored(kindred: Any, request_id: str) -> int:
    with kindred.database.read() as session:
        rows = session.execute(
            sa.select(AccessDecision).where(AccessDecision.request_id == request_id)
        ).scalars()
        return sum(len(expand(row)) for row in rows)


def test_a_write_due_inside_a_transaction_is_made_when_it_ends(
    kindred: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(kindred)
    kindred.pdp.log.close()  # only reads write from here on (no background writer)
    monkeypatch.setattr(decision_log, "FLUSH_SECONDS", 0.0)  # every read finds a write due
    record_id = world.contacts[0][0]
    fields = len(GUARDED)

    with kindred.database.read() as session:
        kindred.records.get(session, world.context("sales", "in-read"), "contact", record_id)
        assert stored(kindred, "in-read") == 0  # not while the read transaction is open
    assert stored(kindred, "in-read") == fields  # written as it ended

    with kindred.database.write() as session:
        kindred.records.get(session, world.context("sales", "in-write"), "contact", record_id)
    # Written after the commit (during the write transaction it would wait for its own lock).
    assert stored(kindred, "in-write") == fields

    monkeypatch.setattr(decision_log, "OVERDUE_SECONDS", 0.0)
    with kindred.database.read() as session:
        time.sleep(0.01)
        kindred.records.get(session, world.context("sales", "overdue"), "contact", record_id)
        assert stored(kindred, "overdue") == fields  # overdue: written at once


def test_migration_0009_regroups_per_record_rows_and_back(empty_database: Any) -> None:
    """Rows of the per-record layout (0008) become batches of one read, found by customer
    through the new index; the downgrade gives the same per-record rows back."""
    from alembic import command

    from kindred.db.base import PortableJSON
    from kindred.db.migrate import alembic_config, upgrade

    upgrade(empty_database, "0008")
    old = sa.table(
        "access_decisions",
        *(sa.column(c) for c in ("at", "subject_did", "object", "purpose", "accessor")),
        *(sa.column(c) for c in ("channel", "request_id", "allowed_count", "withheld_count")),
        sa.column("decisions", PortableJSON),
        sa.column("batch"),
    )
    alice, bob = "did:key:z6MkAlice", "did:key:z6MkBob"
    rows = [
        {
            "at": 1000.0 + number,
            "subject_did": did,
            "object": "contact",
            "purpose": "sales",
            "accessor": "user-1",
            "channel": "api",
            "request_id": f"r{number}",
            "decisions": decisions,
            "allowed_count": sum(1 for d in decisions if d[1]),
            "withheld_count": sum(1 for d in decisions if not d[1]),
            "batch": "b1",
        }
        for number, (did, decisions) in enumerate(
            [
                (
                    alice,
                    [["email", True, "consent", "urn:c1"], ["phone", False, "no-consent", None]],
                ),
                (bob, [["email", False, "no-consent", None], ["phone", False, "no-consent", None]]),
                (None, [["email", False, "no-subject", None]]),
                (
                    alice,
                    [["email", True, "consent", "urn:c1"], ["phone", True, "consent", "urn:c2"]],
                ),
            ]
        )
    ]
    with empty_database.write() as session:
        session.execute(sa.insert(old), rows)
    upgrade(empty_database, "0009")
    with empty_database.read() as session:
        found = [
            (d["request_id"], d["dimension"], d["allowed"], d["reason"], d["consent_id"])
            for _, decisions in subject_rows(session, alice)
            for d in decisions
        ]
        counts = session.execute(
            sa.select(AccessDecision.read_count, AccessDecision.allowed_count).order_by(
                AccessDecision.id
            )
        ).all()
    assert found == [
        ("r0", "contact.email", True, "consent", "urn:c1"),
        ("r0", "contact.phone", False, "no-consent", None),
        ("r3", "contact.email", True, "consent", "urn:c1"),
        ("r3", "contact.phone", True, "consent", "urn:c2"),
    ]
    assert [tuple(c) for c in counts] == [(1, 1), (1, 0), (1, 0), (1, 2)]

    command.downgrade(alembic_config(empty_database), "0008")
    with empty_database.read() as session:
        back = session.execute(
            sa.select(old.c.subject_did, old.c.request_id, old.c.decisions).order_by(
                old.c.request_id
            )
        ).all()
    assert [tuple(b) for b in back] == [
        (r["subject_did"], r["request_id"], r["decisions"]) for r in rows
    ]


def logged_decisions(kindred: Any, request_id: str) -> list[dict[str, Any]]:
    """The decisions the request's one log row holds (written first), without the fields
    that differ from read to read (time, request, batch)."""
    kindred.pdp.log.flush()
    with kindred.database.read() as session:
        (row,) = session.execute(
            sa.select(AccessDecision).where(AccessDecision.request_id == request_id)
        ).scalars()
        return [
            {k: v for k, v in d.items() if k not in ("at", "request_id", "batch")}
            for d in expand(row)
        ]


def test_a_remembered_get_answers_and_logs_as_the_full_path(kindred: Any) -> None:
    """A get whose ruling is remembered takes a short path (``_enforce_remembered``); what it
    returns and logs must be what the full batch path gives — for the consented customer (an
    email allowed under the consent, the rest withheld) and for one without a consent — and a
    revocation must end it at once."""
    world = make_world(kindred, count=2)
    pdp = kindred.pdp
    taken: list[bool] = []
    remembered = pdp._enforce_remembered

    def spy(*args: Any) -> bool:
        taken.append(remembered(*args))
        return taken[-1]

    pdp._enforce_remembered = spy
    try:
        for record_id, did in world.contacts:
            answers = []
            for attempt in ("first", "again"):
                request_id = f"{attempt}-{record_id}"
                with kindred.database.read() as session:
                    record, _ = kindred.records.get(
                        session, world.context("sales", request_id), "contact", record_id
                    )
                answers.append((record, logged_decisions(kindred, request_id)))
            assert taken[-2:] == [False, True]  # the first get works it out, the second recalls
            (first, first_log), (again, again_log) = answers
            assert again == first and again_log == first_log
            assert {d["subject_did"] for d in again_log} == {did}
            allowed = {d["dimension"] for d in again_log if d["allowed"]}
            if record_id == world.contacts[0][0]:
                assert allowed == {"contact.email"} and again["email"].startswith("c0-")
                assert {d["consent_id"] for d in again_log if d["allowed"]} == {world.consent_id}
            else:
                assert allowed == set() and "email" not in again
            assert {w["field"] for w in again["meta"]["withheld"]} == set(GUARDED) - {
                d["dimension"].split(".")[1] for d in again_log if d["allowed"]
            }

        with kindred.database.write() as session:
            kindred.consents.revoke(session, world.contacts[0][1], world.consent_id)
        with kindred.database.read() as session:
            record, _ = kindred.records.get(
                session, world.context("sales", "after-revoke"), "contact", world.contacts[0][0]
            )
        assert taken[-1] is False and "email" not in record  # revoked: nothing remembered
    finally:
        del pdp._enforce_remembered


def test_a_remembered_page_answers_and_logs_as_when_it_was_worked_out(kindred: Any) -> None:
    """A page whose rulings are all remembered is answered from them without a lookup; it
    must return and log what the first read did, per record. A sparse fieldset of the same
    page, or a page with a record read for the first time, is worked out again and answers
    for exactly the fields and records it read."""
    world = make_world(kindred, count=3)
    query = ListQuery(filters=[FieldFilter("last_name", "eq", world.marker)])

    def page(request_id: str, fields: list[str] | None = None) -> tuple[list[Any], list[Any]]:
        asked = query if fields is None else ListQuery(filters=query.filters, fields=fields)
        with kindred.database.read() as session:
            data = kindred.records.list_records(
                session, world.context("sales", request_id), "contact", asked
            ).data
        return sorted(data, key=lambda r: r["id"]), logged_decisions(kindred, request_id)

    first, first_log = page("page-first")
    again, again_log = page("page-again")
    assert again == first
    assert sorted(again_log, key=repr) == sorted(first_log, key=repr)
    consented = world.contacts[0][0]
    by_id = {r["id"]: r for r in again}
    assert by_id[consented]["email"].startswith("c0-")
    assert all("email" not in by_id[i] for i, _ in world.contacts[1:])
    assert {d["consent_id"] for d in again_log if d["allowed"]} == {world.consent_id}

    sparse, sparse_log = page("page-sparse", fields=["email", "last_name"])
    assert {d["dimension"] for d in sparse_log} == {"contact.email"}  # only what was read
    assert len(sparse_log) == len(world.contacts)
    assert [("email" in r) for r in sparse] == [r["id"] == consented for r in sparse]
    withheld = [w["field"] for r in sparse for w in r.get("meta", {}).get("withheld", [])]
    assert withheld == ["email"] * (len(world.contacts) - 1)

    with kindred.database.write() as session:  # a customer nobody has read yet
        newcomer = kindred.records.create(
            session,
            SYSTEM,
            "contact",
            {"last_name": world.marker, "email": "new@example.com", "owner": world.rep.user_id},
        )
    mixed, mixed_log = page("page-mixed")
    assert len(mixed) == len(world.contacts) + 1
    assert [r for r in mixed if r["id"] != newcomer["id"]] == first  # the others unchanged
    (fresh,) = [r for r in mixed if r["id"] == newcomer["id"]]
    assert "email" not in fresh and "email" in {w["field"] for w in fresh["meta"]["withheld"]}
    assert len(mixed_log) == len(first_log) + len(first_log) // len(world.contacts)


def indexed_as_rows_say(session: Any) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(subject key, row id) of the index, and of what the rows hold (the ground truth)."""
    index = {
        (int(k), int(i))
        for k, i in session.execute(
            sa.select(AccessDecisionSubject.subject_key, AccessDecisionSubject.decision_id)
        )
    }
    truth = {
        (int(k), row.id)
        for row in session.execute(sa.select(AccessDecision)).scalars()
        for k in row.subject_keys
    }
    return index, truth


def test_rows_an_index_pass_has_not_reached_are_found_and_erased(kindred: Any) -> None:
    """On SQLite the index is filled by passes after the writes (``DecisionLog.index``): a
    lookup or an erasure in between must still find every row (the tail past the mark is
    scanned), and the pass then indexes exactly what the rows hold — nothing for a customer
    erased meanwhile, nothing twice. On PostgreSQL each write indexes its own rows."""
    world = make_world(kindred)
    log = kindred.pdp.log
    log.close()  # no background writer: only explicit writes and passes from here
    (_, first), (_, gone), _ = world.contacts
    for number in range(2):
        with kindred.database.read() as session:
            kindred.records.list_records(
                session,
                world.context("sales", f"tail-{number}"),
                "contact",
                ListQuery(filters=[FieldFilter("last_name", "eq", world.marker)]),
            )
        log._flush()  # the rows, without an index pass
    sqlite = kindred.database.dialect == "sqlite"
    with kindred.database.read() as session:
        index, truth = indexed_as_rows_say(session)
        assert (index == truth) is not sqlite  # SQLite: the new rows are not indexed yet
        found = [d for _, decisions in subject_rows(session, first) for d in decisions]
        assert sorted(map(key, found)) == sorted(map(key, scanned(session, first)))
        assert {d["request_id"] for d in found} >= {"tail-0", "tail-1"}
    with kindred.database.write() as session:
        assert erase_subject(session, gone) == 3  # its creation and the two pages
    with kindred.database.read() as session:
        assert subject_rows(session, gone) == [] and scanned(session, gone) == []
    log.index()
    with kindred.database.read() as session:
        index, truth = indexed_as_rows_say(session)
        (last,) = session.execute(sa.select(sa.func.max(AccessDecision.id))).one()
        mark = session.execute(
            sa.text("SELECT generation FROM metadata_state WHERE id = :id"),
            {"id": decision_log.INDEXED_THROUGH},
        ).scalar()
        count = session.execute(
            sa.select(sa.func.count()).select_from(AccessDecisionSubject)
        ).scalar_one()
    assert index == truth and count == len(truth)  # every entry once, none for the erased
    assert subject_key(gone) not in {k for k, _ in index}
    if sqlite:
        assert mark == last
    assert log.index() == 0  # nothing new: the next pass adds nothing


def test_migration_0010_marks_what_is_indexed_and_back(empty_database: Any) -> None:
    """0010 puts the mark at the newest row (each was indexed by its write); its downgrade
    indexes the rows past the mark, so 0009's every-row-indexed layout holds again."""
    from alembic import command

    from kindred.db.migrate import alembic_config, upgrade

    def row(number: int, keys: list[int]) -> dict[str, Any]:
        return {
            "at": 1000.0 + number,
            "object": "contact",
            "purpose": "sales",
            "accessor": "user-1",
            "channel": "api",
            "outcomes": [[["email", False, "no-consent"]]],
            "reads": [[f"did:key:z6Mk{k}", 0, None] for k in keys],
            "subject_keys": keys,
            "read_count": len(keys),
            "allowed_count": 0,
            "withheld_count": len(keys),
            "batch": "b1",
        }

    def mark() -> Any:
        with empty_database.read() as session:
            return session.execute(
                sa.text("SELECT generation FROM metadata_state WHERE id = :id"),
                {"id": decision_log.INDEXED_THROUGH},
            ).scalar()

    upgrade(empty_database, "0009")
    with empty_database.write() as session:
        session.execute(sa.insert(AccessDecision), [row(0, [11, 12]), row(1, [12])])
        ids = session.execute(sa.select(AccessDecision.id).order_by(AccessDecision.id)).all()
        session.execute(
            sa.insert(AccessDecisionSubject),
            [
                {"bucket": 1, "subject_key": 11, "decision_id": ids[0][0]},
                {"bucket": 1, "subject_key": 12, "decision_id": ids[0][0]},
                {"bucket": 1, "subject_key": 12, "decision_id": ids[1][0]},
            ],
        )
    upgrade(empty_database)
    assert mark() == ids[1][0]
    with empty_database.write() as session:  # a row the index pass has not reached
        session.execute(sa.insert(AccessDecision), [row(2, [13])])
    command.downgrade(alembic_config(empty_database), "0009")
    assert mark() is None
    with empty_database.read() as session:
        entries = session.execute(
            sa.select(AccessDecisionSubject.subject_key).order_by(AccessDecisionSubject.subject_key)
        ).scalars()
        indexed = list(entries)
    sqlite = empty_database.dialect == "sqlite"
    # SQLite: the pass's tail is indexed on the way down; PostgreSQL indexes with each write.
    assert indexed == ([11, 12, 12, 13] if sqlite else [11, 12, 12])
