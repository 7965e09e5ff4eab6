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

Every decision, allowed or withheld, is logged (``access_decisions``) and committed to the
ledger: a background writer group-commits them, one ledger entry per batch holding the
SHA-256 of the batch's rows, so each decision is provable without a leaf per read and
without personal data in leaves. The writer flushes every ``FLUSH_SECONDS`` and on shutdown.
"""

from __future__ import annotations

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
from kindred.errors import KindredError
from kindred.ledger.service import LedgerService
from kindred.records.fields import SovereigntyClass
from kindred.records.metadata import MetadataState
from kindred.records.service import RequestContext
from kindred.sovereignty.consents import CONSENTS_COUNTER
from kindred.sovereignty.models import AccessDecision, Consent, CustomerIdentity
from kindred.sovereignty.purposes import PURPOSES

log = logging.getLogger("kindred.sovereignty")
FLUSH_SECONDS = 0.2
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
        return {
            "no-purpose": "no purpose was declared (send the X-Purpose header)",
            "unknown-purpose": f"{purpose!r} is not a registered purpose",
            "no-subject": "the value has no identified customer to consent",
            "no-consent": f"the customer has not consented to {dimension} for {purpose}",
            "expired-consent": f"the customer's consent to {dimension} for {purpose} has ended",
            "not-yet-valid": f"the customer's consent to {dimension} for {purpose} starts later",
            "customer-request": "the customer's own request",
            "not-for-you": f"{purpose} is reserved for the customer's own requests",
        }.get(self.reason, self.reason)


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
        self.log = DecisionLog(database, ledger)

    # -- deciding ---------------------------------------------------------------------------

    def refresh(self, session: Session) -> None:
        """Drop the cache when any consent changed (anywhere): once per read batch."""
        generation = session.execute(
            sa.select(MetadataState.generation).where(MetadataState.id == CONSENTS_COUNTER)
        ).scalar()
        generation = int(generation or 0)
        if generation != self._generation:
            with self._lock:
                self._grants = {}
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

    def check(
        self,
        session: Session,
        context: RequestContext,
        subject_did: str | None,
        dimension: str,
        *,
        channel: str = "api",
    ) -> Decision:
        """One decision (logged), for callers outside the record read path."""
        self.refresh(session)
        grants = self._active(session, [subject_did]).get(subject_did) if subject_did else None
        now = time.time()
        decision = self.decide(grants, dimension, context, now)
        self.log.add([_entry(now, subject_did, dimension, context, channel, decision)])
        return decision

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
        guarded = [
            f.name
            for f in compiled.definition.fields
            if f.sovereignty == SovereigntyClass.CUSTOMER_AUTHORIZED
        ]
        if not guarded or not presented:
            return
        present = [(record, [n for n in guarded if n in record]) for record in presented]
        if not any(names for _, names in present):
            return
        self.refresh(session)
        subjects: dict[str, str] = {}
        if object_name in self.customer_objects:
            ids = [record["id"] for record, names in present if names]
            for start in range(0, len(ids), 500):
                subjects.update(
                    session.execute(
                        sa.select(CustomerIdentity.subject_id, CustomerIdentity.did).where(
                            CustomerIdentity.subject_object == object_name,
                            CustomerIdentity.subject_id.in_(ids[start : start + 500]),
                        )
                    ).all()
                )
        grants = self._active(session, subjects.values()) if subjects else {}
        now = time.time()
        channel = context.channel
        entries = []
        for record, names in present:
            if not names:
                continue
            did = subjects.get(record["id"])
            subject_grants = grants.get(did) if did is not None else None
            withheld = []
            for name in names:
                dimension = f"{object_name}.{name}"
                decision = self.decide(subject_grants, dimension, context, now)
                entries.append(_entry(now, did, dimension, context, channel, decision))
                if decision.allowed:
                    continue
                del record[name]
                withheld.append(
                    {
                        "field": name,
                        "reason": decision.reason,
                        "detail": decision.explain(dimension, context.purpose),
                        "request_consent": CONSENT_REQUESTS,
                    }
                )
            if withheld:
                record.setdefault("meta", {}).setdefault("withheld", []).extend(withheld)
        self.log.add(entries)

    def close(self) -> None:
        self.log.close()


def _entry(
    now: float,
    did: str | None,
    dimension: str,
    context: RequestContext,
    channel: str,
    decision: Decision,
) -> dict[str, Any]:
    return {
        "at": now,
        "subject_did": did,
        "dimension": dimension,
        "purpose": context.purpose,
        "accessor": (context.agent or context.principal.user_id)[:100],
        "channel": channel,
        "allowed": decision.allowed,
        "reason": decision.reason,
        "consent_id": decision.consent_id,
        "request_id": (context.request_id or "")[:64] or None,
    }


class DecisionLog:
    """Group-commits decisions and their ledger batches from a background thread."""

    def __init__(self, database: Database, ledger: LedgerService) -> None:
        self.database = database
        self.ledger = ledger
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # One flush at a time: an explicit flush returns only once a batch the background
        # writer already took is committed too.
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        with self._lock:
            self._pending.extend(entries)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="kindred-decision-log", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
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
        if not batch:
            return 0
        try:
            identifier = str(uuid.uuid4())
            for entry in batch:
                entry["batch"] = identifier
            digest = hashlib.sha256(
                b"".join(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) + b"\n" for e in batch)
            ).hexdigest()
            with self.database.write() as session:
                session.execute(sa.insert(AccessDecision), batch)
                self.ledger.append(
                    session,
                    "sovereignty.access.batch",
                    {"batch": identifier, "decisions": len(batch), "sha256": digest},
                )
        except BaseException:
            with self._lock:
                self._pending[:0] = batch
            raise
        return len(batch)

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.exception("writing the last access decisions failed")
