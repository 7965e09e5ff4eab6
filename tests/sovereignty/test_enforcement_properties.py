"""Consent enforcement as a property, on both dialects: over any sequence of grants,
revocations, expiries and reads, a read returns a customer-authorized value exactly when, at
that moment, the customer has an active consent whose window contains now and which names the
value's dimension, the purpose the reader declared and a grantee matching the reader.

The expected answer comes from a model kept here (a plain dict of the consents this test
granted, revoked and expired), never from the implementation: a hypothesis state machine
drives the real services (``kindred.consents`` to change consents, ``kindred.records`` and
the export to read) and compares every field of every record it reads with the model.

Then the evidence: every decision, allowed or withheld, is in an ``access_decisions`` row (one
per read batch: a page, a get), and each write of rows is committed to by one ledger entry
holding the SHA-256 of its rows.
Two regression tests pin down defects these tests found: a rolled-back grant served from the
decision cache, and ``flush()`` returning before a batch already being written was stored.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from kindred.auth.permissions import SYSTEM_PRINCIPAL, Principal
from kindred.ledger.models import LedgerEntry, LedgerPayload
from kindred.ledger.service import commitment
from kindred.records.metadata import bump_generation
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.service import RequestContext
from kindred.records.transfer import export_records
from kindred.sovereignty.consents import CONSENTS_COUNTER
from kindred.sovereignty.credentials import Grantee
from kindred.sovereignty.decision_log import FLUSH_SECONDS, JSON_COLUMNS, LOG_COLUMNS, expand
from kindred.sovereignty.models import AccessDecision, Consent
from kindred.sovereignty.purposes import PURPOSES

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
HOUR = 3600
BATCH_KIND = "sovereignty.access.batch"

# The customer-authorized fields of the standard customer objects (records/standard.py),
# written independently of the registry so a field that silently lost its class shows up.
GUARDED_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": ("email", "phone", "mobile", "birthday", "wechat_openid", "address"),
    "lead": ("email", "phone"),
}
ALL_DIMENSIONS = tuple(
    f"{object_name}.{name}" for object_name, names in GUARDED_FIELDS.items() for name in names
)
# The field each object's test records are found by (holds a per-example marker).
MARKER_FIELD = {"contact": "last_name", "lead": "name"}
# Per object: an ordinary field, always worth asking for in a narrowed read.
ORDINARY_FIELD = {"contact": "first_name", "lead": "company"}

CONSENT_PURPOSES = tuple(name for name, p in PURPOSES.items() if p.basis == "consent")
CUSTOMER_REQUEST_PURPOSES = tuple(
    name for name, p in PURPOSES.items() if p.basis == "customer-request"
)
UNKNOWN_PURPOSE = "no-such-purpose"
READ_PURPOSES: tuple[str | None, ...] = (
    None,
    *CONSENT_PURPOSES,
    *CUSTOMER_REQUEST_PURPOSES,
    UNKNOWN_PURPOSE,
)

Window = Literal["past", "current", "future"]
ReadPath = Literal["get", "list", "export"]
READ_PATHS: tuple[ReadPath, ...] = ("get", "list", "export")
WINDOWS: tuple[Window, ...] = ("past", "current", "future")

# Staff users of the cast (name → roles); readers and grantees are built from them.
USERS: dict[str, list[str]] = {
    "alice": ["compliance"],
    "bob": ["compliance", "sales"],
    "carol": ["admin"],
}
# Grantee labels → (kind, user name / role / agent id); users are resolved to their ids.
GRANTEES: dict[str, tuple[Literal["user", "role", "agent"], str]] = {
    "user:alice": ("user", "alice"),
    "user:bob": ("user", "bob"),
    "user:carol": ("user", "carol"),
    "role:compliance": ("role", "compliance"),
    "role:sales": ("role", "sales"),
    "role:admin": ("role", "admin"),
    "agent:agent-7": ("agent", "agent-7"),
}
# Reader labels → (user name or "system", agent acting, channel of the read or None).
READERS: dict[str, tuple[str, str | None, str | None]] = {
    "alice": ("alice", None, None),
    "bob": ("bob", None, None),
    "carol": ("carol", None, None),
    "carol as agent-7": ("carol", "agent-7", None),
    "bob as agent-8": ("bob", "agent-8", None),  # an agent no consent ever names
    "system": ("system", None, None),
    "the passport": ("system", None, "passport"),  # the customer's own request
}


# -- the cast and the model ------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """Someone reading: a principal, possibly through an agent, on a channel."""

    label: str
    principal: Principal
    agent: str | None
    channel: str | None

    def context(self, purpose: str | None, path: ReadPath, request_id: str) -> RequestContext:
        channel = self.channel or ("export" if path == "export" else "api")
        return RequestContext(
            self.principal,
            request_id=request_id,
            purpose=purpose,
            agent=self.agent,
            channel=channel,
        )

    def is_grantee(self, grantee: Grantee) -> bool:
        """The consent's grantee is this reader: their user id, a role of theirs, or the
        agent they act through."""
        if grantee.kind == "user":
            return grantee.id == self.principal.user_id
        if grantee.kind == "role":
            return grantee.id in self.principal.roles
        return self.agent is not None and grantee.id == self.agent


@dataclass(frozen=True)
class Cast:
    readers: dict[str, Reader]
    grantees: dict[str, Grantee]

    @classmethod
    def create(cls, kindred: Any) -> Cast:
        """The staff users (created once per database) and the readers built from them."""
        suffix = uuid.uuid4().hex[:8]
        with kindred.database.write() as session:
            ids = {
                name: kindred.auth.create_user(
                    session,
                    email=f"{name}-{suffix}@example.com",
                    name=name.title(),
                    password=None,
                    roles=roles,
                )["id"]
                for name, roles in USERS.items()
            }
        with kindred.database.read() as session:
            principals = {name: kindred.auth.load_principal(session, ids[name]) for name in ids}
        principals["system"] = SYSTEM_PRINCIPAL
        readers = {
            label: Reader(label, principals[user], agent, channel)
            for label, (user, agent, channel) in READERS.items()
        }
        grantees = {
            label: Grantee(kind, ids[who] if kind == "user" else who)
            for label, (kind, who) in GRANTEES.items()
        }
        assert all(any(r.is_grantee(g) for r in readers.values()) for g in grantees.values())
        return cls(readers, grantees)


@dataclass
class Subject:
    """A customer record created for one example, with the values it was created with."""

    object_name: str
    record_id: str
    did: str
    values: dict[str, Any]


@dataclass
class ModelConsent:
    consent_id: str
    did: str
    dimensions: frozenset[str]
    purpose: str
    grantee: Grantee
    valid_from: float
    valid_until: float
    revoked: bool = False


@dataclass(frozen=True)
class Expected:
    """The model's answer for one value: may it be read, and which withholding reasons
    would be right if not (with several unusable consents, any of theirs is)."""

    allowed: bool
    reasons: frozenset[str] = frozenset()


def expected_decision(
    consents: Sequence[ModelConsent],
    did: str,
    dimension: str,
    reader: Reader,
    context: RequestContext,
    now: float,
) -> Expected:
    """What the rules say, computed from the model alone."""
    purpose = context.purpose
    if purpose is None:
        return Expected(False, frozenset({"no-purpose"}))
    registered = PURPOSES.get(purpose)
    if registered is None:
        return Expected(False, frozenset({"unknown-purpose"}))
    if registered.basis == "customer-request":
        # Honoured for the system acting on the customer's request (the passport), only.
        if reader.principal is SYSTEM_PRINCIPAL and context.channel == "passport":
            return Expected(True)
        return Expected(False, frozenset({"not-for-you"}))
    relevant = [
        consent
        for consent in consents
        if consent.did == did
        and not consent.revoked
        and consent.purpose == purpose
        and dimension in consent.dimensions
        and reader.is_grantee(consent.grantee)
    ]
    if any(c.valid_from <= now < c.valid_until for c in relevant):
        return Expected(True)
    if not relevant:
        return Expected(False, frozenset({"no-consent"}))
    return Expected(
        False,
        frozenset("not-yet-valid" if now < c.valid_from else "expired-consent" for c in relevant),
    )


@dataclass
class ReadTally:
    """Decisions the reads caused, as the model predicts them."""

    allowed: int = 0
    denied: int = 0
    paths: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def check_record(
    record: dict[str, Any],
    subject: Subject,
    requested: list[str] | None,
    reader: Reader,
    context: RequestContext,
    consents: Sequence[ModelConsent],
    now: float,
    tally: ReadTally,
) -> None:
    """Every guarded field of one record read is exactly what the model says."""
    withheld_entries = record.get("meta", {}).get("withheld", [])
    withheld = {entry["field"]: entry for entry in withheld_entries}
    where = f"{reader.label} reading {subject.object_name} {subject.record_id} for {context}"
    assert len(withheld) == len(withheld_entries), f"a field is withheld twice: {where}"
    guarded = GUARDED_FIELDS[subject.object_name]
    assert set(withheld) <= set(guarded), f"an ordinary field was withheld: {where}"
    for name in guarded:
        if requested is not None and name not in requested:
            assert name not in record and name not in withheld, f"{name} not asked for: {where}"
            continue
        dimension = f"{subject.object_name}.{name}"
        expected = expected_decision(consents, subject.did, dimension, reader, context, now)
        if expected.allowed:
            tally.allowed += 1
            assert name not in withheld, (
                f"false denial of {dimension} ({withheld[name]['reason']}) although a "
                f"matching consent is in force: {where}; consents: {consents}"
            )
            assert record.get(name) == subject.values[name], f"{dimension} wrong value: {where}"
        else:
            tally.denied += 1
            assert name not in record, (
                f"{dimension} LEAKED without a matching consent in force: {where}; "
                f"consents: {consents}"
            )
            assert name in withheld, f"{dimension} removed but not listed as withheld: {where}"
            entry = withheld[name]
            assert entry["reason"] in expected.reasons, (
                f"{dimension} withheld for {entry['reason']!r}, expected one of "
                f"{sorted(expected.reasons)}: {where}"
            )
            assert isinstance(entry.get("detail"), str) and entry["detail"], where


# -- the state machine -----------------------------------------------------------------------


def window_bounds(window: Window, now: int) -> tuple[int, int]:
    """Whole seconds (consent windows are), an hour or more away from now at either end."""
    start = {"past": now - 2 * HOUR, "current": now - HOUR, "future": now + HOUR}[window]
    return start, start + HOUR * (1 if window == "past" else 2)


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class ConsentEnforcement(RuleBasedStateMachine):
    """One example: two fresh contacts and a lead in the shared database, then a sequence of
    consent changes and reads checked against the model after every read."""

    consents = Bundle("consents")

    def __init__(self, kindred: Any, cast: Cast) -> None:
        super().__init__()
        self.kindred = kindred
        self.cast = cast
        self.marker = f"prop-{uuid.uuid4().hex[:12]}"
        self.subjects: list[Subject] = []
        self.model: dict[str, ModelConsent] = {}
        self.tally = ReadTally()

    @initialize()
    def create_customers(self) -> None:
        specifications: list[tuple[str, dict[str, Any]]] = []
        for number in range(2):
            unique = uuid.uuid4().hex[:10]
            specifications.append(
                (
                    "contact",
                    {
                        "first_name": f"Customer {number}",
                        "last_name": self.marker,
                        "email": f"c{number}-{unique}@example.com",
                        "phone": f"+86215555{number:04d}",
                        "mobile": f"+86138{number:08d}",
                        "birthday": f"198{number}-05-17",
                        "wechat_openid": f"o{unique}",
                        "address": f"{number + 1} Huaihai Road, Shanghai",
                    },
                )
            )
        unique = uuid.uuid4().hex[:10]
        specifications.append(
            ("lead", {"name": self.marker, "email": f"l-{unique}@example.com", "phone": "+491701"})
        )
        with self.kindred.database.write() as session:
            for object_name, values in specifications:
                created = self.kindred.records.create(session, SYSTEM, object_name, values)
                did = self.kindred.identities.of_subject(session, object_name, created["id"]).did
                self.subjects.append(Subject(object_name, created["id"], did, values))

    # -- changing consents --------------------------------------------------------------

    @rule(
        target=consents,
        subject_index=st.integers(0, 2),
        dimensions=st.lists(st.sampled_from(ALL_DIMENSIONS), min_size=1, max_size=4, unique=True),
        purpose=st.sampled_from(CONSENT_PURPOSES),
        grantee_label=st.sampled_from(tuple(GRANTEES)),
        # Current windows twice as often: allowed reads need them.
        window=st.one_of(st.just("current"), st.sampled_from(WINDOWS)),
        path=st.sampled_from(READ_PATHS),
    )
    def grant(
        self,
        subject_index: int,
        dimensions: list[str],
        purpose: str,
        grantee_label: str,
        window: Window,
        path: ReadPath,
    ) -> str:
        subject = self.subjects[subject_index]
        grantee = self.cast.grantees[grantee_label]
        valid_from, valid_until = window_bounds(window, int(time.time()))
        with self.kindred.database.write() as session:
            row = self.kindred.consents.grant(
                session,
                subject.did,
                dimensions=dimensions,
                purpose=purpose,
                grantee=grantee,
                valid_from=moment(valid_from),
                valid_until=moment(valid_until),
            )
            assert (row.valid_from, row.valid_until) == (valid_from, valid_until)
            consent_id = row.id
        self.model[consent_id] = ModelConsent(
            consent_id,
            subject.did,
            frozenset(dimensions),
            purpose,
            grantee,
            valid_from,
            valid_until,
        )
        # A grant is in force (or, outside its window, not) for the very next read too.
        self.read_as_grantee(consent_id, path=path, reader_choice=0)
        return consent_id

    @rule(consent_id=consents)
    def revoke(self, consent_id: str) -> None:
        """Revoking (again, possibly: it is idempotent) is in force for the very next read."""
        consent = self.model[consent_id]
        with self.kindred.database.write() as session:
            self.kindred.consents.revoke(session, consent.did, consent_id)
        consent.revoked = True
        self.read_as_grantee(consent_id, path="get", reader_choice=0)

    @rule(consent_id=consents)
    def expire(self, consent_id: str) -> None:
        """The consent's window ends now, as the database (and so the caches) see it."""
        consent = self.model[consent_id]
        valid_until = int(time.time()) - 1
        valid_from = min(consent.valid_from, valid_until - HOUR)
        with self.kindred.database.write() as session:
            session.execute(
                sa.update(Consent)
                .where(Consent.id == consent_id)
                .values(valid_from=valid_from, valid_until=valid_until)
            )
            bump_generation(session, CONSENTS_COUNTER)  # what every consent change tells the caches
        consent.valid_from, consent.valid_until = valid_from, valid_until
        self.read_as_grantee(consent_id, path="list", reader_choice=0)

    # -- reading ------------------------------------------------------------------------

    @rule(
        reader_label=st.sampled_from(tuple(READERS)),
        purpose=st.sampled_from(READ_PURPOSES),
        path=st.sampled_from(READ_PATHS),
        narrowed=st.booleans(),
    )
    def read(self, reader_label: str, purpose: str | None, path: ReadPath, narrowed: bool) -> None:
        for object_name in GUARDED_FIELDS:
            self.check_read(self.cast.readers[reader_label], purpose, path, object_name, narrowed)

    @rule(
        consent_id=consents,
        path=st.sampled_from(READ_PATHS),
        reader_choice=st.integers(0, 6),
    )
    def read_as_grantee(self, consent_id: str, path: ReadPath, reader_choice: int) -> None:
        """A reader the consent names, for its purpose: where allowed reads come from."""
        consent = self.model[consent_id]
        matching = [r for r in self.cast.readers.values() if r.is_grantee(consent.grantee)]
        reader = matching[reader_choice % len(matching)]
        subject = next(s for s in self.subjects if s.did == consent.did)
        self.check_read(reader, consent.purpose, path, subject.object_name, narrowed=False)

    def check_read(
        self,
        reader: Reader,
        purpose: str | None,
        path: ReadPath,
        object_name: str,
        narrowed: bool,
    ) -> None:
        """Read this example's records of one object along one path (``narrowed``: asking
        for some fields only) and check every record against the model."""
        requested = (
            [ORDINARY_FIELD[object_name], *GUARDED_FIELDS[object_name][::2]] if narrowed else None
        )
        if path == "export":
            requested = None  # an export reads every field the reader may see
        context = reader.context(purpose, path, f"prop-{uuid.uuid4().hex[:8]}")
        subjects = {s.record_id: s for s in self.subjects if s.object_name == object_name}
        before = time.time()
        with self.kindred.database.read() as session:
            if path == "get":
                found = [
                    self.kindred.records.get(
                        session, context, object_name, record_id, fields=requested
                    )[0]
                    for record_id in subjects
                ]
            elif path == "list":
                query = ListQuery(
                    filters=[FieldFilter(MARKER_FIELD[object_name], "eq", self.marker)],
                    fields=requested,
                    limit=10,
                )
                found = self.kindred.records.list_records(session, context, object_name, query).data
            else:
                out = io.StringIO()
                export_records(
                    self.kindred.records,
                    session,
                    context,
                    object_name,
                    out,
                    format="jsonl",
                    where=f"record.{MARKER_FIELD[object_name]} == '{self.marker}'",
                )
                found = [orjson.loads(line) for line in out.getvalue().splitlines()]
        after = time.time()
        assert sorted(r["id"] for r in found) == sorted(subjects), f"{path} found other records"
        consents = list(self.model.values())
        for record in found:
            subject = subjects[record["id"]]
            # The decision was taken at some instant in [before, after]; windows end an hour
            # from now or are already over, so the model must give one answer for both.
            check_record(record, subject, requested, reader, context, consents, before, ReadTally())
            check_record(record, subject, requested, reader, context, consents, after, self.tally)
        self.tally.paths[path] += 1


def test_a_read_returns_a_customer_value_exactly_under_a_matching_consent(kindred: Any) -> None:
    """No leak and no false denial, over any sequence of consent changes and reads; the PDP's
    caches live across the examples (one database), as they do across requests."""
    cast = Cast.create(kindred)
    tallies: list[ReadTally] = []

    def machine() -> ConsentEnforcement:
        created = ConsentEnforcement(kindred, cast)
        tallies.append(created.tally)
        return created

    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # The run exercised both answers and every read path (else it proved little).
    assert sum(t.allowed for t in tallies) > 0 and sum(t.denied for t in tallies) > 0
    assert {path for t in tallies for path in t.paths} == set(READ_PATHS)


# -- the evidence ----------------------------------------------------------------------------


def create_contacts(kindred: Any, count: int, marker: str) -> list[Subject]:
    created = []
    with kindred.database.write() as session:
        for number in range(count):
            values = {
                "last_name": marker,
                "email": f"e{number}-{marker}@example.com",
                "phone": f"+86215555{number:04d}",
                "address": f"{number} Nanjing Road",
            }
            record = kindred.records.create(session, SYSTEM, "contact", values)
            did = kindred.identities.of_subject(session, "contact", record["id"]).did
            created.append(Subject("contact", record["id"], did, values))
    return created


def raw_rows(session: Any, where: Any = None) -> list[dict[str, Any]]:
    """``access_decisions`` rows (one per read batch) as the decision log hashed them."""
    statement = sa.select(AccessDecision).order_by(AccessDecision.id)
    if where is not None:
        statement = statement.where(where)
    return [
        {column: getattr(row, column) for column in LOG_COLUMNS}
        for row in session.execute(statement).scalars()
    ]


def stored_rows(session: Any, where: Any = None) -> list[dict[str, Any]]:
    """Every stored decision, one dict per field decided (in insert order)."""
    statement = sa.select(AccessDecision).order_by(AccessDecision.id)
    if where is not None:
        statement = statement.where(where)
    return [decision for row in session.execute(statement).scalars() for decision in expand(row)]


def batch_digest(rows: list[dict[str, Any]]) -> str:
    """The digest DecisionLog.flush commits to, recomputed from stored rows: SHA-256 of the
    rows as one JSON array of arrays (LOG_COLUMNS order, the JSON columns as JSON text)."""
    return hashlib.sha256(
        orjson.dumps(
            [
                [
                    orjson.dumps(row[c]).decode() if c in JSON_COLUMNS else row[c]
                    for c in LOG_COLUMNS
                ]
                for row in rows
            ]
        )
    ).hexdigest()


def decided(row: dict[str, Any]) -> int:
    """How many field decisions a stored row holds, counted from its reads."""
    return sum(len(row["outcomes"][read[1]]) for read in row["reads"])


def test_flush_writes_every_decision_and_one_ledger_batch_committing_to_them(
    kindred: Any,
) -> None:
    cast = Cast.create(kindred)
    alice, bob = cast.readers["alice"], cast.readers["bob"]
    agent = cast.readers["carol as agent-7"]
    marker = f"flush-{uuid.uuid4().hex[:8]}"
    subjects = create_contacts(kindred, 3, marker)
    now = int(time.time())
    with kindred.database.write() as session:
        consent = kindred.consents.grant(
            session,
            subjects[0].did,
            dimensions=["contact.email", "contact.phone"],
            purpose="sales",
            grantee=cast.grantees["user:alice"],
            valid_from=moment(now - HOUR),
            valid_until=moment(now + HOUR),
        )
        consent_id = consent.id
    # From here on only flush() writes decisions (close() stops the background writer after
    # writing what is pending), so what one flush writes can be counted exactly.
    kindred.pdp.log.close()
    request_id = f"evidence-{uuid.uuid4().hex[:8]}"
    guarded = len(GUARDED_FIELDS["contact"])
    with kindred.database.read() as session:
        for subject in subjects:
            kindred.records.get(
                session, alice.context("sales", "get", request_id), "contact", subject.record_id
            )
        page = kindred.records.list_records(
            session,
            bob.context(None, "list", request_id),
            "contact",
            ListQuery(filters=[FieldFilter("last_name", "eq", marker)]),
        )
        assert len(page.data) == 3
        kindred.records.get(
            session,
            agent.context(UNKNOWN_PURPOSE, "get", request_id),
            "contact",
            subjects[0].record_id,
            fields=["email", "last_name"],
        )
    decisions = 3 * guarded + 3 * guarded + 1
    assert kindred.pdp.log.flush() == decisions
    assert kindred.pdp.log.flush() == 0  # nothing is written twice

    with kindred.database.read() as session:
        mine = stored_rows(session, AccessDecision.request_id == request_id)
        everything = raw_rows(session)
        entries = session.execute(
            sa.select(
                LedgerEntry.index, LedgerEntry.leaf, LedgerPayload.salt, LedgerPayload.payload
            )
            .join(LedgerPayload, LedgerPayload.index == LedgerEntry.index)
            .where(LedgerEntry.kind == BATCH_KIND)
        ).all()
        intact = kindred.ledger.verify_log(session).intact
    assert len(mine) == decisions
    allowed = [row for row in mine if row["allowed"]]
    assert sorted(row["dimension"] for row in allowed) == ["contact.email", "contact.phone"]
    assert all(row["consent_id"] == consent_id and row["reason"] == "consent" for row in allowed)
    assert all(row["accessor"] == alice.principal.user_id for row in allowed)
    reasons: defaultdict[str, int] = defaultdict(int)
    for row in mine:
        if not row["allowed"]:
            reasons[row["reason"]] += 1
    assert reasons == {
        "no-consent": 3 * guarded - 2,
        "no-purpose": 3 * guarded,
        "unknown-purpose": 1,
    }
    assert {row["subject_did"] for row in mine} == {s.did for s in subjects}
    assert [row["channel"] for row in mine] == ["api"] * decisions
    assert len({row["batch"] for row in mine}) == 1  # one flush, one batch

    # One ledger entry per batch, for every batch in the table (the background writer's too),
    # committing to exactly the batch's rows.
    by_batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in everything:
        by_batch[row["batch"]].append(row)
    payloads = {payload["batch"]: payload for _, _, _, payload in entries}
    assert len(payloads) == len(entries), "two ledger entries for one batch"
    assert set(payloads) == set(by_batch), "a batch without its ledger entry, or vice versa"
    for batch, rows in by_batch.items():
        assert payloads[batch] == {
            "batch": batch,
            "rows": len(rows),
            "reads": sum(len(row["reads"]) for row in rows),
            "decisions": sum(decided(row) for row in rows),
            "sha256": batch_digest(rows),
        }, f"ledger batch {batch} does not commit to its {len(rows)} stored rows"
        for row in rows:
            assert row["read_count"] == len(row["reads"])
            assert row["allowed_count"] + row["withheld_count"] == decided(row)
    for _, leaf, salt, payload in entries:
        assert orjson.loads(leaf)["c"] == commitment(bytes(salt), payload)
    assert intact


# -- defects found -------------------------------------------------------------------------------


def test_a_rolled_back_grant_never_authorizes_a_later_read(kindred: Any) -> None:
    """A consent granted in a transaction that rolls back never existed; a read inside that
    transaction must not leave it behind in the decision cache."""
    cast = Cast.create(kindred)
    alice = cast.readers["alice"]
    first, second = create_contacts(kindred, 2, f"rollback-{uuid.uuid4().hex[:8]}")
    now = int(time.time())

    def grant(session: Any, subject: Subject) -> None:
        kindred.consents.grant(
            session,
            subject.did,
            dimensions=["contact.email"],
            purpose="sales",
            grantee=cast.grantees["user:alice"],
            valid_from=moment(now - HOUR),
            valid_until=moment(now + HOUR),
        )

    class RequestFailed(Exception):
        pass

    # A request grants, reads the customer (as records.create/update do, via the read hook)
    # and then fails: everything it did is rolled back.
    try:
        with kindred.database.write() as session:
            grant(session, first)
            kindred.records.get(
                session, alice.context("sales", "get", "r1"), "contact", first.record_id
            )
            raise RequestFailed
    except RequestFailed:
        pass
    # Some other consent change commits: the counter moves to the number the rolled-back
    # transaction had used.
    with kindred.database.write() as session:
        grant(session, second)
    with kindred.database.read() as session:
        held = session.execute(
            sa.select(sa.func.count()).select_from(Consent).where(Consent.subject_did == first.did)
        ).scalar_one()
        record, _ = kindred.records.get(
            session, alice.context("sales", "get", "r2"), "contact", first.record_id
        )
    assert held == 0
    assert "email" not in record, (
        "the customer has no consent at all, yet the email is returned: a read inside the "
        "rolled-back granting transaction cached the uncommitted consent under that "
        "transaction's counter value, and a later commit produced the same value again, so "
        "the decision cache was kept (the consents counter must never repeat a value)"
    )


def test_flush_includes_a_batch_the_background_writer_has_already_taken(kindred: Any) -> None:
    """flush() is what the passport's access log calls so that 'what was decided a moment
    ago is part of the answer': when it returns, every decision made before must be stored,
    including a batch the background writer picked up and is still writing."""
    alice = Cast.create(kindred).readers["alice"]
    [subject] = create_contacts(kindred, 1, f"race-{uuid.uuid4().hex[:8]}")
    holding, release = threading.Event(), threading.Event()

    def hold_the_ledger() -> None:
        # Another writer holds the ledger (SQLite: the write lock; PostgreSQL: the ledger's
        # append lock) for a moment, as a busy server's writers do.
        with kindred.database.write() as session:
            kindred.ledger.append(session, "test.holding", {"why": "a concurrent writer"})
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_ledger)
    holder.start()
    assert holding.wait(10)
    request_id = f"race-{uuid.uuid4().hex[:8]}"
    try:
        with kindred.database.read() as session:
            kindred.records.get(
                session, alice.context("sales", "get", request_id), "contact", subject.record_id
            )
        # The positive signal, instead of a sleep: the background writer has taken the batch
        # (nothing is pending any more) and is still writing it (stuck behind the holder).
        log = kindred.pdp.log
        deadline = time.monotonic() + 30
        while log._pending or not log._flushing.locked():
            assert time.monotonic() < deadline, "the background writer never took the batch"
            time.sleep(FLUSH_SECONDS / 10)
        threading.Timer(1.0, release.set).start()
        kindred.pdp.log.flush()
        with kindred.database.read() as session:
            stored = len(stored_rows(session, AccessDecision.request_id == request_id))
    finally:
        release.set()
        holder.join(10)
    assert stored == len(GUARDED_FIELDS["contact"]), (
        f"flush() returned with {stored} of the {len(GUARDED_FIELDS['contact'])} decisions "
        "made before it stored: it wrote what was still pending but did not wait for the "
        "batch the background writer had taken, so /passport/access-log can miss a read "
        "made a moment ago"
    )
