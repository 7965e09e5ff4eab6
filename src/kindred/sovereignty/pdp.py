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

A read batch is decided as a whole: what the purpose alone decides (no purpose, an unknown
one, the customer's own request) once for the batch; per record, only the consents that name
the purpose and the reader are looked at, and records whose consents give the same answer
share it (a page of 100 has a handful of distinct answers). A record's ruling — its DID, the
grants that decide it, the consent — is remembered per reader until the consents counter
moves (with the other caches) or one of those grants begins or ends, whichever is first; an
answer's shape (what is logged and withheld) per process. ``decide`` is the same rule for
one value; both go through ``_consent_decision``.

Every decision, allowed or withheld, is logged — one ``access_decisions`` row per read
batch — and committed to the ledger in groups (``kindred.sovereignty.decision_log``).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.db import Database, driver_rows
from kindred.errors import KindredError
from kindred.ledger.service import LedgerService
from kindred.records.metadata import read_generation
from kindred.records.service import RequestContext
from kindred.sovereignty.consents import CONSENTS_COUNTER
from kindred.sovereignty.decision_log import DecisionLog, make_entry, subject_key
from kindred.sovereignty.models import Consent
from kindred.sovereignty.purposes import PURPOSES

SUBJECT_CACHE = 200_000
READERS_REMEMBERED = 256
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
NO_SUBJECT = Decision(False, "no-subject")
NO_CONSENT = Decision(False, "no-consent")


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


def _purpose_decision(context: RequestContext) -> Decision | None:
    """The answer for every value when the declared purpose alone decides, else None."""
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
    return None


def _relevant(grants: Iterable[_Active], context: RequestContext) -> list[_Active]:
    """The grants that name the declared purpose and this reader (in their stored order)."""
    purpose = context.purpose
    return [g for g in grants if g.purpose == purpose and _grantee_matches(g, context)]


def _window(grant: _Active, now: float) -> str | None:
    """None while the grant is in force, else why not."""
    if now < grant.valid_from:
        return "not-yet-valid"
    if now >= grant.valid_until:
        return "expired-consent"
    return None


def _next_change(grant: _Active, now: float) -> float:
    """When the grant's window next begins or ends (it only matters that far)."""
    if now < grant.valid_from:
        return grant.valid_from
    if now < grant.valid_until:
        return grant.valid_until
    return math.inf


def _consent_decision(relevant: Sequence[tuple[_Active, str | None]], dimension: str) -> Decision:
    """The rule for one value, given the reader's grants with their windows: allowed under
    the first grant in force that names the dimension; else the reason of the last one that
    names it but is not in force; else no consent."""
    reason = "no-consent"
    for grant, window in relevant:
        if dimension not in grant.dimensions:
            continue
        if window is None:
            return Decision(True, "consent", grant.consent_id)
        reason = window
    return Decision(False, reason)


# An answer's shape — its outcome as logged, the fields withheld, their meta.withheld entries
# (templates, copied per batch) and the counts — is a function of the object, the purpose and
# the answer's key (the fields, and what decided them), so it is worked out once per process,
# not once per read batch (a get is a batch of one).
_Shape = tuple[list[list[Any]], tuple[str, ...], tuple[dict[str, Any], ...], int, int]
SHAPES = 10_000

# A record's ruling, flat so a page's loop unpacks one tuple per record: (its fields, its DID
# or None, its subject key or None, the shape's number, the shape, the consent its allowed
# values are logged under, until when it holds). The number keys the shape within a batch: an
# int hashes for free where the answer key (nested tuples) would be hashed again per record.
_Ruling = tuple[
    tuple[str, ...], str | None, int | None, int, _Shape, str | list[str | None] | None, float
]
# Readers of rulings' fields, for loops over a batch that run in C.
_names = operator.itemgetter(0)
_keys = operator.itemgetter(2)
_numbers = operator.itemgetter(3)
_until = operator.itemgetter(6)
_ids = operator.itemgetter("id")


class PolicyDecisionPoint:
    def __init__(self, database: Database, ledger: LedgerService, customer_objects: Iterable[str]):
        self.customer_objects = frozenset(customer_objects)
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._grants: dict[str, tuple[_Active, ...]] = {}
        # object → record id → (DID, its subject key): a record's DID never changes (erasure
        # moves the counter).
        self._subjects: dict[str, dict[str, tuple[str, int]]] = {}
        # (object, purpose, answer key) → (its number, the shape)
        self._shapes: dict[Any, tuple[int, _Shape]] = {}
        self._numbers = itertools.count()
        # (object, purpose, reader) → record id → ruling
        self._rulings: dict[tuple[Any, ...], dict[str, _Ruling]] = {}
        self._dimensions: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
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
                self._rulings = {}
                self._generation = generation

    def _active(self, session: Session, dids: Iterable[str]) -> dict[str, tuple[_Active, ...]]:
        grants = self._grants
        missing = [did for did in set(dids) if did not in grants]
        if missing:
            loaded: dict[str, list[_Active]] = {did: [] for did in missing}
            for start in range(0, len(missing), 500):
                rows = session.execute(
                    sa.select(Consent)
                    .where(
                        Consent.subject_did.in_(missing[start : start + 500]),
                        Consent.state == "active",
                    )
                    .order_by(Consent.created_at, Consent.id)
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

    def _subjects_of(
        self, session: Session, object_name: str, record_ids: list[str]
    ) -> dict[str, tuple[str, int]]:
        """Record id → (DID, subject key) for the records that have a DID."""
        known = self._subjects.get(object_name)
        if known is None:
            with self._lock:
                known = self._subjects.setdefault(object_name, {})
        subjects: dict[str, tuple[str, int]] = {}
        unknown = []
        for record_id in record_ids:
            subject = known.get(record_id)
            if subject is None:
                unknown.append(record_id)
            else:
                subjects[record_id] = subject
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            found = driver_rows(
                session,
                "SELECT subject_id, did FROM customer_identities WHERE subject_object = ? "
                f"AND subject_id IN ({', '.join('?' * len(chunk))})",
                [object_name, *chunk],
            )
            with self._lock:
                if len(known) > SUBJECT_CACHE:
                    known.clear()
                for subject_id, did in found:
                    known[subject_id] = subjects[subject_id] = (did, subject_key(did))
        return subjects

    def decide(
        self,
        subject_grants: tuple[_Active, ...] | None,
        dimension: str,
        context: RequestContext,
        now: float,
    ) -> Decision:
        """One value: the rule ``enforce`` applies to every value of a read batch."""
        fixed = _purpose_decision(context)
        if fixed is not None:
            return fixed
        if subject_grants is None:
            return NO_SUBJECT
        relevant = [(g, _window(g, now)) for g in _relevant(subject_grants, context)]
        return _consent_decision(relevant, dimension)

    def _shape(
        self,
        object_name: str,
        purpose: str | None,
        key: Any,
        names: tuple[str, ...],
        dimensions: dict[str, str],
        *,
        every: Decision | None = None,
        windows: Sequence[tuple[_Active, str | None]] = (),
    ) -> tuple[int, _Shape]:
        """The numbered shape of the answer with ``key``: ``every`` value of ``names`` decided
        alike, or each by ``_consent_decision`` over ``windows``. Numbers are never reused
        (a cleared cache numbers anew), so two numbers in one batch are two shapes."""
        shape_key = (object_name, purpose, key)
        numbered = self._shapes.get(shape_key)
        if numbered is None:
            if every is not None:
                decided = [every] * len(names)
            else:
                decided = [_consent_decision(windows, dimensions[n]) for n in names]
            withheld = [(n, d.reason) for n, d in zip(names, decided, strict=True) if not d.allowed]
            shape = (
                [[n, d.allowed, d.reason] for n, d in zip(names, decided, strict=True)],
                tuple(n for n, _ in withheld),
                tuple(_withheld(object_name, n, r, purpose) for n, r in withheld),
                len(names) - len(withheld),
                len(withheld),
            )
            numbered = (next(self._numbers), shape)
            with self._lock:
                if len(self._shapes) >= SHAPES:
                    self._shapes = {}
                self._shapes[shape_key] = numbered
        return numbered

    def _consent_rulings(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        records: list[dict[str, Any]],
        fields: list[tuple[str, ...]],
        dimensions: dict[str, str],
        now: float,
    ) -> list[_Ruling]:
        """For each record (a purpose that needs consent): its subject, its answer's shape
        and the consent it is allowed under.

        Remembered per reader and record until the consents counter moves or a grant the
        ruling rests on begins or ends, so a record read again costs a lookup.
        """
        purpose = context.purpose
        principal = context.principal
        user_id, roles, agent = principal.user_id, principal.roles, context.agent
        reader = _reader(object_name, context)
        memo = self._rulings.get(reader)
        if memo is None:
            with self._lock:
                if len(self._rulings) >= READERS_REMEMBERED:
                    self._rulings = {}
                memo = self._rulings.setdefault(reader, {})
        ruled: list[_Ruling | None] = list(map(memo.get, map(_ids, records)))
        # The usual page: every record remembered, for every guarded field, and no grant
        # begins or ends before now — checked in C loops.
        try:
            names_of = list(map(_names, ruled))  # type: ignore[arg-type]
        except TypeError:  # a record not remembered
            names_of = None
        if (
            names_of is not None
            and names_of == fields  # identical tuples: compared by identity first
            and min(map(_until, ruled)) > now  # type: ignore[arg-type]
        ):
            return ruled  # type: ignore[return-value]
        missed = [
            position
            for position, (ruling, names) in enumerate(zip(ruled, fields, strict=True))
            # Another fields list, or a grant it rests on has begun or ended since.
            if ruling is None or ruling[0] != names or now >= ruling[6]
        ]
        subjects: dict[str, tuple[str, int]] = {}
        if object_name in self.customer_objects:
            subjects = self._subjects_of(session, object_name, [records[i]["id"] for i in missed])
        grants = self._active(session, [did for did, _ in subjects.values()]) if subjects else {}
        if len(memo) > SUBJECT_CACHE:
            memo.clear()
        for position in missed:
            record, names = records[position], fields[position]
            subject = subjects.get(record["id"])
            if subject is None:  # not remembered: a DID may yet be made for the record
                number, shape = self._shape(
                    object_name, purpose, (names, "no-subject"), names, dimensions, every=NO_SUBJECT
                )
                ruled[position] = (names, None, None, number, shape, None, 0.0)
                continue
            # The subject's grants for this purpose and reader (as _relevant; inline, and
            # without a list for the usual none or one).
            only: _Active | None = None
            more: list[_Active] | None = None
            for grant in grants.get(subject[0], ()):
                if grant.purpose != purpose:
                    continue
                kind = grant.grantee_kind
                if (
                    grant.grantee_id == user_id
                    if kind == "user"
                    else grant.grantee_id in roles
                    if kind == "role"
                    else grant.grantee_id == agent
                ):
                    if only is None:
                        only = grant
                    elif more is None:
                        more = [only, grant]
                    else:
                        more.append(grant)
            consent: str | list[str | None] | None
            if only is None:  # most customers, for most readers
                number, shape = self._shape(
                    object_name, purpose, (names, "no-consent"), names, dimensions, every=NO_CONSENT
                )
                consent, until = None, math.inf
            elif more is None:
                window = _window(only, now)
                number, shape = self._shape(
                    object_name,
                    purpose,
                    (names, only.dimensions, window),
                    names,
                    dimensions,
                    windows=((only, window),),
                )
                consent = only.consent_id if window is None else None
                until = _next_change(only, now)
            else:
                windows = tuple((g, _window(g, now)) for g in more)
                number, shape = self._shape(
                    object_name,
                    purpose,
                    (names, tuple((g.dimensions, w) for g, w in windows)),
                    names,
                    dimensions,
                    windows=windows,
                )
                consent = _consents(windows, [dimensions[n] for n in names])
                until = min(_next_change(g, now) for g in more)
            ruling: _Ruling = (
                names,
                subject[0],
                subject[1],
                number,
                shape,
                consent if shape[3] else None,  # logged only where a value is allowed
                until,
            )
            ruled[position] = ruling
            memo[record["id"]] = ruling
        return ruled  # type: ignore[return-value]

    # -- the record read hook ---------------------------------------------------------------

    def enforce(
        self,
        session: Session,
        context: RequestContext,
        compiled: Any,
        presented: list[dict[str, Any]],
    ) -> None:
        """Withhold every customer-authorized value the caller may not see (FieldReadHook)."""
        guarded = compiled.customer_authorized
        if not guarded or not presented:
            return
        # Which guarded values each record holds: usually all (another hook may have removed
        # some, a sparse fieldset asked for fewer).
        records: list[dict[str, Any]]
        fields: list[tuple[str, ...]]
        if all(  # a C loop per field
            all(map(dict.__contains__, presented, itertools.repeat(name))) for name in guarded
        ):
            records, fields = presented, [guarded] * len(presented)
        else:
            records, fields = [], []
            for record in presented:
                names = tuple(filter(record.__contains__, guarded))
                if names:
                    records.append(record)
                    fields.append(names)
            if not records:
                return
        self.refresh(session)
        if (  # a get of every guarded field
            len(records) == 1
            and fields[0] is guarded
            and self._enforce_remembered(session, context, compiled, records[0])
        ):
            return
        object_name = compiled.definition.name
        purpose = context.purpose
        now = time.time()
        dimensions = self._dimensions.get((object_name, guarded))
        if dimensions is None:
            dimensions = {name: f"{object_name}.{name}" for name in guarded}
            self._dimensions[(object_name, guarded)] = dimensions
        fixed = _purpose_decision(context)
        ruled: list[_Ruling]
        if fixed is None:
            ruled = self._consent_rulings(
                session, context, object_name, records, fields, dimensions, now
            )
        else:
            subjects: dict[str, tuple[str, int]] = {}
            if object_name in self.customer_objects:
                subjects = self._subjects_of(session, object_name, [r["id"] for r in records])
            # Keys of strings: a dataclass's hash is Python code.
            fixed_key = ("purpose", fixed.allowed, fixed.reason)
            shapes = {
                names: self._shape(
                    object_name, purpose, (names, fixed_key), names, dimensions, every=fixed
                )
                for names in set(fields)
            }
            ruled = []
            for record, names in zip(records, fields, strict=True):
                number, shape = shapes[names]
                subject = subjects.get(record["id"])
                did, skey = subject if subject is not None else (None, None)
                ruled.append((names, did, skey, number, shape, None, 0.0))
        # The batch's row: each distinct answer's outcome once, each read pointing at it.
        outcomes: list[list[list[Any]]] = []
        position_of: dict[int, int] = {}
        entries_of: dict[int, tuple[dict[str, Any], ...]] = {}
        allowed_of: dict[int, int] = {}
        withheld_of: dict[int, int] = {}
        reads: list[tuple[Any, ...]] = []
        append = reads.append
        for record, (_, did, _, number, shape, consent, _) in zip(records, ruled, strict=True):
            position = position_of.get(number)
            if position is None:
                position = position_of[number] = len(outcomes)
                outcomes.append(shape[0])
                # Fresh entries per batch (shared by its records): a response may be changed
                # by whoever receives it, a cached entry must not be.
                entries_of[number] = tuple(map(dict.copy, shape[2]))
                allowed_of[number], withheld_of[number] = shape[3], shape[4]
            if shape[1]:
                _withhold(record, shape[1], entries_of[number])
            # A tuple of atoms: the GC stops following it after its first collection.
            append((did, position, consent))
        # Per read, the counts of its shape (C loops over the batch, not a Python step each).
        numbers = list(map(_numbers, ruled))
        allowed = sum(map(allowed_of.__getitem__, numbers))
        withheld = sum(map(withheld_of.__getitem__, numbers))
        keys = set(map(_keys, ruled))
        keys.discard(None)
        entry = make_entry(now, object_name, context, outcomes, reads, keys, allowed, withheld)
        self.log.add(entry, session=session)

    def _enforce_remembered(
        self, session: Session, context: RequestContext, compiled: Any, record: dict[str, Any]
    ) -> bool:
        """A single record holding every guarded field (a get) whose ruling is remembered:
        ``enforce`` in a few steps, the same outcome and log row (the caches refreshed
        already). False (nothing done) when it is not at hand, for ``enforce`` to work it out.

        Why a path of its own: a get runs all of ``enforce``'s batch machinery for one record,
        and on a get's cold caches every Python step costs several times what it does in a
        loop over a page.
        """
        memo = self._rulings.get(_reader(compiled.definition.name, context))
        if memo is None:
            return False
        ruling = memo.get(record["id"])
        now = time.time()
        if ruling is None or ruling[0] != compiled.customer_authorized or now >= ruling[6]:
            return False
        _, did, skey, _, shape, consent, _ = ruling
        outcome, removed, templates, allowed, withheld = shape
        if removed:
            _withhold(record, removed, tuple(map(dict.copy, templates)))
        keys = set() if skey is None else {skey}
        entry = make_entry(
            now,
            compiled.definition.name,
            context,
            [outcome],
            [(did, 0, consent)],
            keys,
            allowed,
            withheld,
        )
        self.log.add(entry, session=session)
        return True

    def close(self) -> None:
        self.log.close()


def _reader(object_name: str, context: RequestContext) -> tuple[Any, ...]:
    """Whom rulings are remembered for: the object, the purpose and the reader."""
    principal = context.principal
    return (object_name, context.purpose, principal.user_id, principal.roles, context.agent)


def _withhold(
    record: dict[str, Any], removed: tuple[str, ...], entries: tuple[dict[str, Any], ...]
) -> None:
    """Take the ``removed`` values out of the record and say why in its ``meta.withheld``."""
    for name in removed:
        del record[name]
    meta = record.get("meta")
    if meta is None:
        record["meta"] = {"withheld": list(entries)}
    else:
        meta.setdefault("withheld", []).extend(entries)


def _consents(
    windows: Sequence[tuple[_Active, str | None]], dimensions: Sequence[str]
) -> str | list[str | None]:
    """The consent of each allowed value of a read: one id when they share it (the usual
    case), else one entry per field (None where withheld)."""
    if len(windows) == 1:
        return windows[0][0].consent_id
    ids = [_consent_decision(windows, dimension).consent_id for dimension in dimensions]
    distinct = {i for i in ids if i is not None}
    return distinct.pop() if len(distinct) == 1 else ids


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
