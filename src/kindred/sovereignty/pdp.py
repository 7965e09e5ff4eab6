"""The policy decision point: the one place that decides whether a customer-authorized value
may be read — by the REST API, exports, scenario actions and agent tools alike (they all read
through the record service, whose read hook this is).

A value is returned only under a consent of its customer that names the value's dimension,
the purpose the caller declared and the caller as grantee (their user id, one of their roles,
or the agent acting), that has begun, has not ended and is not revoked. Otherwise it is
withheld and the record says why, with where to ask for consent.

Caching: each process keeps the active consents per customer, dropped whenever the consents
counter moves. The counter is read once per read batch straight from the database (not the
half-second clock the metadata caches use), so a revocation is in force for the next read
in every process — "immediately", caches included.

Every decision, allowed or withheld, is logged (``access_decisions``, one row per record
read holding each field's decision) and committed to the ledger in groups: one ledger entry
per batch holds the SHA-256 of the batch's rows, so each decision is provable without a leaf
per read and without personal data in leaves. Batches are written by the reads that fill
them (at most ``FLUSH_SECONDS`` apart while reads continue), the tail by a background
thread once reads pause, the rest on shutdown.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.db import Database
from kindred.db.bulk import BulkInserter
from kindred.db.engine import WRITE_OPTION
from kindred.errors import KindredError
from kindred.ledger.service import LedgerService
from kindred.records.metadata import read_generation
from kindred.records.service import RequestContext
from kindred.sovereignty.consents import CONSENTS_COUNTER
from kindred.sovereignty.models import Consent, CustomerIdentity
from kindred.sovereignty.purposes import PURPOSES

log = logging.getLogger("kindred.sovereignty")
SUBJECT_CACHE = 200_000
FLUSH_SECONDS = 0.2
FLUSH_ROWS = 1000  # record reads per batch
CONSENT_REQUESTS = "/api/v1/consent-requests"


class ConsentRequired(KindredError):
    """The whole request is for values the caller has no consent for."""

    status = 403
    problem = "consent-required"
    title = "Consent required"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str  # consent | customer-request | no-purpose | unknown-purpose | no-subject | …
    consent_id: str | None = None

    def explain(self, dimension: str, purpose: str | None) -> str:
        template = EXPLANATIONS.get(self.reason)
        return template.format(dimension=dimension, purpose=purpose) if template else self.reason


EXPLANATIONS = {
    "no-purpose": "no purpose was declared (send the X-Purpose header)",
    "unknown-purpose": "{purpose!r} is not a registered purpose",
    "no-subject": "the value has no identified customer to consent",
    "no-consent": "the customer has not consented to {dimension} for {purpose}",
    "expired-consent": "the customer's consent to {dimension} for {purpose} has ended",
    "not-yet-valid": "the customer's consent to {dimension} for {purpose} starts later",
    "customer-request": "the customer's own request",
    "not-for-you": "{purpose} is reserved for the customer's own requests",
}


@dataclass(frozen=True, slots=True)
class _Active:
    consent_id: str
    dimensions: frozenset[str]
    purpose: str
    grantee_kind: str
    grantee_id: str
    valid_from: float
    valid_until: float


def _grantee_matches(grant: _Active, context: RequestContext) -> bool:
    if grant.grantee_kind == "user":
        return context.principal.user_id == grant.grantee_id
    if grant.grantee_kind == "role":
        return grant.grantee_id in context.principal.roles
    return context.agent is not None and context.agent == grant.grantee_id


class PolicyDecisionPoint:
    def __init__(self, database: Database, ledger: LedgerService, customer_objects: Iterable[str]):
        self.customer_objects = frozenset(customer_objects)
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._grants: dict[str, tuple[_Active, ...]] = {}
        # (object, record id) → DID: a record's DID never changes (erasure moves the counter).
        self._subjects: dict[tuple[str, str], str] = {}
        self.log = DecisionLog(database, ledger)

    # -- deciding ---------------------------------------------------------------------------

    def refresh(self, session: Session) -> None:
        """Drop the caches when any consent changed (anywhere): once per read batch.

        Uncached (``read_generation``): a revocation made by another process must hold for
        the very next read here.
        """
        generation = read_generation(session, CONSENTS_COUNTER)
        if generation != self._generation:
            with self._lock:
                self._grants = {}
                self._subjects = {}
                self._generation = generation

    def _active(self, session: Session, dids: Iterable[str]) -> dict[str, tuple[_Active, ...]]:
        grants = self._grants
        missing = [did for did in set(dids) if did not in grants]
        if missing:
            loaded: dict[str, list[_Active]] = {did: [] for did in missing}
            rows = session.execute(
                sa.select(Consent).where(
                    Consent.subject_did.in_(missing), Consent.state == "active"
                )
            ).scalars()
            for row in rows:
                loaded[row.subject_did].append(
                    _Active(
                        row.id,
                        frozenset(row.dimensions),
                        row.purpose,
                        row.grantee_kind,
                        row.grantee_id,
                        row.valid_from,
                        row.valid_until,
                    )
                )
            with self._lock:
                for did, found in loaded.items():
                    grants[did] = tuple(found)
        return grants

    def decide(
        self,
        subject_grants: tuple[_Active, ...] | None,
        dimension: str,
        context: RequestContext,
        now: float,
    ) -> Decision:
        purpose = context.purpose
        if purpose is None:
            return Decision(False, "no-purpose")
        registered = PURPOSES.get(purpose)
        if registered is None:
            return Decision(False, "unknown-purpose")
        if registered.basis == "customer-request":
            # Only the passport itself, acting for the signed-in customer: not staff, not an
            # export or a script that declares the purpose.
            if context.channel == "passport" and context.principal is SYSTEM_PRINCIPAL:
                return Decision(True, "customer-request")
            return Decision(False, "not-for-you")
        if subject_grants is None:
            return Decision(False, "no-subject")
        reason = "no-consent"
        for grant in subject_grants:
            if (
                grant.purpose != purpose
                or dimension not in grant.dimensions
                or not _grantee_matches(grant, context)
            ):
                continue
            if now < grant.valid_from:
                reason = "not-yet-valid"
            elif now >= grant.valid_until:
                reason = "expired-consent"
            else:
                return Decision(True, "consent", grant.consent_id)
        return Decision(False, reason)

    # -- the record read hook ---------------------------------------------------------------

    def enforce(
        self,
        session: Session,
        context: RequestContext,
        compiled: Any,
        presented: list[dict[str, Any]],
    ) -> None:
        """Withhold every customer-authorized value the caller may not see (FieldReadHook)."""
        object_name = compiled.definition.name
        guarded = compiled.customer_authorized
        if not guarded or not presented:
            return
        present = [(record, [n for n in guarded if n in record]) for record in presented]
        if not any(names for _, names in present):
            return
        self.refresh(session)
        subjects: dict[str, str] = {}
        if object_name in self.customer_objects:
            known = self._subjects
            unknown = []
            for record, names in present:
                if names:
                    did = known.get((object_name, record["id"]))
                    if did is None:
                        unknown.append(record["id"])
                    else:
                        subjects[record["id"]] = did
            for start in range(0, len(unknown), 500):
                found = session.execute(
                    sa.select(CustomerIdentity.subject_id, CustomerIdentity.did).where(
                        CustomerIdentity.subject_object == object_name,
                        CustomerIdentity.subject_id.in_(unknown[start : start + 500]),
                    )
                ).all()
                with self._lock:
                    if len(known) > SUBJECT_CACHE:
                        known.clear()
                    for subject_id, did in found:
                        known[(object_name, subject_id)] = did
                        subjects[subject_id] = did
        grants = self._active(session, subjects.values()) if subjects else {}
        now = time.time()
        purpose = context.purpose
        entries: list[Entry] = []
        # No consent at all (most customers, for most readers): the same answer for every
        # such record, worked out once per read.
        unconsented: dict[tuple[str, ...], tuple[list[list[Any]], list[dict[str, Any]]]] = {}
        for record, names in present:
            if not names:
                continue
            did = subjects.get(record["id"])
            subject_grants = grants.get(did) if did is not None else None
            if subject_grants is not None and not subject_grants:
                key = tuple(names)
                same = unconsented.get(key)
                if same is None:
                    answers = [self.decide((), f"{object_name}.{n}", context, now) for n in names]
                    if not any(a.allowed for a in answers):  # else: customer-request purposes
                        same = unconsented[key] = (
                            [
                                [n, False, a.reason, None]
                                for n, a in zip(names, answers, strict=True)
                            ],
                            [
                                _withheld(object_name, n, a.reason, purpose)
                                for n, a in zip(names, answers, strict=True)
                            ],
                        )
                if same is not None:
                    for name in names:
                        del record[name]
                    record.setdefault("meta", {}).setdefault("withheld", []).extend(same[1])
                    entries.append(_entry(now, did, object_name, context, same[0]))
                    continue
            decisions: list[list[Any]] = []
            withheld = []
            for name in names:
                decision = self.decide(subject_grants, f"{object_name}.{name}", context, now)
                decisions.append([name, decision.allowed, decision.reason, decision.consent_id])
                if decision.allowed:
                    continue
                del record[name]
                withheld.append(_withheld(object_name, name, decision.reason, purpose))
            if withheld:
                record.setdefault("meta", {}).setdefault("withheld", []).extend(withheld)
            entries.append(_entry(now, did, object_name, context, decisions))
        self.log.add(entries, inline=not _writing(session))

    def close(self) -> None:
        self.log.close()


LOG_COLUMNS = (
    "at",
    "subject_did",
    "object",
    "purpose",
    "accessor",
    "channel",
    "request_id",
    "decisions",
    "allowed_count",
    "withheld_count",
    "batch",
)
Entry = tuple[Any, ...]  # LOG_COLUMNS without the batch


@functools.lru_cache(maxsize=4096)
def _withheld_template(object_name: str, name: str, reason: str, purpose: str | None) -> str:
    return Decision(False, reason).explain(f"{object_name}.{name}", purpose)


def _withheld(object_name: str, name: str, reason: str, purpose: str | None) -> dict[str, Any]:
    # The explanation is the same for every record of a page: formatted once.
    return {
        "field": name,
        "reason": reason,
        "detail": _withheld_template(object_name, name, reason, purpose),
        "request_consent": CONSENT_REQUESTS,
    }


def _writing(session: Session) -> bool:
    """Whether ``session`` is a write session (its transaction may hold the write lock)."""
    return bool(session.get_bind().get_execution_options().get(WRITE_OPTION, False))


def _entry(
    now: float,
    did: str | None,
    object_name: str,
    context: RequestContext,
    decisions: list[list[Any]],
) -> Entry:
    allowed = sum(1 for decision in decisions if decision[1])
    return (
        now,
        did,
        object_name,
        context.purpose,
        (context.agent or context.principal.user_id)[:100],
        context.channel,
        (context.request_id or "")[:64] or None,
        # Encoded here, by the reader: the writer thread then runs almost no Python, which
        # matters more than where the microsecond is spent (a Python-busy writer stalls
        # every reader waiting for the GIL).
        orjson.dumps(decisions).decode(),
        allowed,
        len(decisions) - allowed,
    )


def expand(row: Any) -> list[dict[str, Any]]:
    """An ``access_decisions`` row as one dict per decision (dimension, allowed, reason …)."""
    return [
        {
            "at": row.at,
            "subject_did": row.subject_did,
            "dimension": f"{row.object}.{field}",
            "purpose": row.purpose,
            "accessor": row.accessor,
            "channel": row.channel,
            "allowed": bool(allowed),
            "reason": reason,
            "consent_id": consent,
            "request_id": row.request_id,
            "batch": row.batch,
        }
        for field, allowed, reason, consent in row.decisions
    ]


def batch_digest(rows: list[tuple[Any, ...]]) -> str:
    """SHA-256 of a batch as the ledger entry commits to it: the rows (LOG_COLUMNS order,
    ``decisions`` as its JSON text) as one JSON array of arrays — one C call, no per-row
    Python in the writer."""
    return hashlib.sha256(orjson.dumps(rows)).hexdigest()


class DecisionLog:
    """Group-commits decisions and their ledger batches from a background thread."""

    def __init__(self, database: Database, ledger: LedgerService) -> None:
        self.database = database
        self.ledger = ledger
        self._pending: list[Entry] = []
        self._lock = threading.Lock()
        # One flush at a time: an explicit flush returns only once a batch the background
        # writer already took is committed too.
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._last_add = 0.0
        self._last_flush = time.monotonic()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, entries: list[Entry], *, inline: bool = True) -> None:
        """Queue decisions; while reads keep coming, the reader that fills a batch (or finds
        the last write ``FLUSH_SECONDS`` old) writes it itself.

        Why the reader and not the background thread: a writer thread in the same process
        takes the GIL at every one of the reader's database calls, which cost readers more
        (a context switch per call) than writing the batch themselves. The background
        thread only writes the tail, once reads pause.
        """
        if not entries:
            return
        now = time.monotonic()
        with self._lock:
            self._pending.extend(entries)
            self._last_add = now
            due = len(self._pending) >= FLUSH_ROWS or now - self._last_flush >= FLUSH_SECONDS
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="kindred-decision-log", daemon=True
                )
                self._thread.start()
        # Never from inside a write transaction: on SQLite the batch's own write would wait
        # for the lock this very thread holds.
        if due and inline and self._flushing.acquire(blocking=False):
            try:
                self._flush()
            except Exception:  # kept pending; the next write retries
                log.exception("writing access decisions failed; retrying")
            finally:
                self._flushing.release()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            if time.monotonic() - self._last_add < FLUSH_SECONDS:
                continue  # reads are coming: they write their own batches
            try:
                self.flush()
            except Exception:  # the next flush retries: entries stay pending
                log.exception("writing access decisions failed; retrying")

    def flush(self) -> int:
        """Write what is pending now (and wait for a write in progress); returns how many
        decisions this call wrote."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> int:
        with self._lock:
            batch, self._pending = self._pending, []
            self._last_flush = time.monotonic()
        if not batch:
            return 0
        try:
            identifier = str(uuid.uuid4())
            rows = [(*entry, identifier) for entry in batch]
            digest = batch_digest(rows)
            decisions = sum(entry[8] + entry[9] for entry in batch)
            with self.database.write() as session:
                # Driver-level executemany: one statement for the whole batch.
                BulkInserter(session).insert(
                    "access_decisions",
                    LOG_COLUMNS,
                    rows,
                    json_columns=frozenset({"decisions"}),
                    json_encoded=True,
                )
                self.ledger.append(
                    session,
                    "sovereignty.access.batch",
                    {
                        "batch": identifier,
                        "reads": len(rows),
                        "decisions": decisions,
                        "sha256": digest,
                    },
                )
        except BaseException:
            with self._lock:
                self._pending[:0] = batch
            raise
        return decisions

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.exception("writing the last access decisions failed")
