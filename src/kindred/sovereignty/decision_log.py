"""The access-decision log: every policy decision, allowed or withheld, stored and committed
to the ledger; found again by customer (the passport's access log, the DSAR export, erasure)
and in bulk (the compliance KPI).

Layout (``access_decisions``, one row per read batch — a page, a get, an export chunk):
a page's decisions repeat a handful of outcomes ("no consent for any field", "email and
phone under a consent" …), so a row stores the distinct outcomes once and, per record read,
its customer's DID, the index of its outcome and the consent it was allowed under. Written
per record, the same decisions cost a row, an index entry and ~500 bytes each, which is what
kept checked list pages at half the speed of unchecked ones.

Finding a customer's decisions: ``access_decision_subjects`` holds one entry per customer
per row, keyed ``(bucket, subject_key, decision_id)``. ``subject_key`` is a 64-bit hash of
the DID (an 8-byte key rather than a 60-character one: a fraction of the index pages). A
bucket is a run of consecutive log writes of one process, closed after ``BUCKET_ENTRIES``
entries or ``BUCKET_SECONDS``: keyed by customer first, each of a write's thousands of
entries would land on its own page once the index outgrows the page cache (measured on plain
SQLite: 26 µs per entry at a million entries, 0.4–0.5 µs here at any size). A lookup visits
every bucket once, in one statement (a loose index scan: a few µs per bucket), and reads only
the rows that hold the customer. Buckets grow with the log: one per ``BUCKET_ENTRIES`` reads
under load, one per ``BUCKET_SECONDS`` at most when idle.

Writing: readers queue their batch's row (its JSON encoded by them, in C); the reader that
fills ``FLUSH_READS`` reads, or finds the last write ``FLUSH_SECONDS`` old, writes the queue
— when its transaction has ended (see ``DecisionLog.add``) — in one transaction: the rows in
one executemany and one ledger entry holding the SHA-256 of the rows. Their index entries
come from one ``INSERT … SELECT`` over the rows' ``subject_keys`` (no Python per entry): on
PostgreSQL in the same transaction; on SQLite in an index pass the background thread makes
right after (``DecisionLog.index``: one statement that runs without the GIL, so the reader
does not wait for it), with lookups scanning the few rows past the pass's mark meanwhile.
The background thread also writes the tail once reads pause, and ``close`` the rest.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.db import Database, driver_rows, upsert
from kindred.db.bulk import BulkInserter
from kindred.db.engine import WRITE_OPTION
from kindred.ledger.service import LedgerService
from kindred.records.metadata import read_generation
from kindred.records.models import MetadataState
from kindred.records.service import RequestContext
from kindred.sovereignty.models import AccessDecision, AccessDecisionSubject

log = logging.getLogger("kindred.sovereignty")
FLUSH_SECONDS = 0.2
FLUSH_READS = 5000  # records read per write
OVERDUE_SECONDS = 1.0  # written at once, even inside a long read transaction
BUCKET_ENTRIES = 5000
BUCKET_SECONDS = 3600.0
BATCH_KIND = "sovereignty.access.batch"
# The bases an allowed decision may rest on (the compliance KPI counts the others).
LAWFUL_BASES = frozenset({"consent", "customer-request"})

LOG_COLUMNS = (
    "at",
    "object",
    "purpose",
    "accessor",
    "channel",
    "request_id",
    "outcomes",
    "reads",
    "subject_keys",
    "read_count",
    "allowed_count",
    "withheld_count",
    "batch",
)
JSON_COLUMNS = frozenset({"outcomes", "reads", "subject_keys"})
Entry = tuple[Any, ...]  # LOG_COLUMNS without the batch
_READS, _ALLOWED, _WITHHELD = (
    LOG_COLUMNS.index(c) for c in ("read_count", "allowed_count", "withheld_count")
)

_WRITE_AFTER = "kindred.decision_log.write_after"  # Session.info: write when it ends

# The subject index entries of one write, built in SQL from the rows it inserted.
_INDEX_SQL = {
    "sqlite": (
        "INSERT INTO access_decision_subjects (bucket, subject_key, decision_id) "
        "SELECT ?, k.value, d.id FROM access_decisions d, json_each(d.subject_keys) k "
        "WHERE d.id > ? AND d.batch = ? ORDER BY 2"
    ),
    "postgresql": (
        "INSERT INTO access_decision_subjects (bucket, subject_key, decision_id) "
        "SELECT %s, k.value::bigint, d.id "
        "FROM access_decisions d, jsonb_array_elements_text(d.subject_keys) AS k(value) "
        "WHERE d.id > %s AND d.batch = %s ORDER BY 2"
    ),
}
_LAST_ID = "SELECT coalesce(max(id), 0) FROM access_decisions"
# SQLite: the subject index is filled by passes over the rows written since the last pass
# (see ``DecisionLog.index``); this ``metadata_state`` row holds the last row id it covers.
INDEXED_THROUGH = 6
_MARK = f"SELECT generation FROM metadata_state WHERE id = {INDEXED_THROUGH}"
_PASS_SQL = (
    "INSERT INTO access_decision_subjects (bucket, subject_key, decision_id) "
    "SELECT ?, k.value, d.id FROM access_decisions d, json_each(d.subject_keys) k "
    "WHERE d.id > ? AND d.id <= ? ORDER BY 2"
)
# Rows past the mark that hold the customer (none while no mark exists: before 0010).
_TAIL_SQL = (
    f"SELECT d.id FROM access_decisions d WHERE d.id > ({_MARK}) "
    "AND EXISTS (SELECT 1 FROM json_each(d.subject_keys) k WHERE k.value = ?)"
)
# A customer's entries: each bucket found by one index seek from the previous one.
_SUBJECT_ENTRIES = """
WITH RECURSIVE buckets(bucket) AS (
    SELECT min(bucket) FROM access_decision_subjects
    UNION ALL
    SELECT (SELECT min(s.bucket) FROM access_decision_subjects s WHERE s.bucket > buckets.bucket)
    FROM buckets WHERE buckets.bucket IS NOT NULL
)
SELECT s.bucket, s.decision_id FROM buckets
JOIN access_decision_subjects s ON s.bucket = buckets.bucket AND s.subject_key = ?
"""


@functools.lru_cache(maxsize=65_536)
def subject_key(did: str) -> int:
    """A DID's key in ``access_decision_subjects``: BLAKE2b-64 of its UTF-8, big-endian,
    signed. Part of the stored format (migration 0009 computes the same)."""
    digest = hashlib.blake2b(did.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def make_entry(
    now: float,
    object_name: str,
    context: RequestContext,
    outcomes: list[list[list[Any]]],
    reads: list[tuple[Any, ...]],
    keys: set[int],
    allowed: int,
    withheld: int,
) -> Entry:
    """A read batch's row, encoded by the reader: the writer then runs almost no Python,
    which matters more than where the microseconds are spent (a Python-busy writer stalls
    every reader waiting for the GIL)."""
    return (
        now,
        object_name,
        context.purpose,
        (context.agent or context.principal.user_id)[:100],
        context.channel,
        (context.request_id or "")[:64] or None,
        orjson.dumps(outcomes).decode(),
        orjson.dumps(reads).decode(),
        orjson.dumps(list(keys)).decode(),  # any order: the index pass sorts
        len(reads),
        allowed,
        withheld,
    )


def _writing(session: Session) -> bool:
    """Whether ``session`` is a write session (its transaction may hold the write lock)."""
    return bool(session.get_bind().get_execution_options().get(WRITE_OPTION, False))


def batch_digest(rows: list[tuple[Any, ...]]) -> str:
    """SHA-256 of a batch as its ledger entry commits to it: the rows (LOG_COLUMNS order, the
    JSON columns as their JSON text) as one JSON array of arrays — one C call."""
    return hashlib.sha256(orjson.dumps(rows)).hexdigest()


# -- reading the log -----------------------------------------------------------------------------


def _consent_at(consent: Any, position: int) -> str | None:
    if consent is None or isinstance(consent, str):
        return consent
    value = consent[position]
    return value if isinstance(value, str) else None


def _decisions(row: Any, reads: list[list[Any]]) -> Iterator[dict[str, Any]]:
    outcomes = row.outcomes
    for did, index, consent in reads:
        for position, (field, allowed, reason) in enumerate(outcomes[index]):
            yield {
                "at": row.at,
                "subject_did": did,
                "dimension": f"{row.object}.{field}",
                "purpose": row.purpose,
                "accessor": row.accessor,
                "channel": row.channel,
                "allowed": bool(allowed),
                "reason": reason,
                "consent_id": _consent_at(consent, position) if allowed else None,
                "request_id": row.request_id,
                "batch": row.batch,
            }


def expand(row: Any) -> list[dict[str, Any]]:
    """Every decision of an ``access_decisions`` row, one dict each (dimension, allowed …)."""
    return list(_decisions(row, row.reads))


def expand_subject(row: Any, did: str) -> list[dict[str, Any]]:
    """The decisions of a row about one customer."""
    return list(_decisions(row, [read for read in row.reads if read[0] == did]))


def _entries(session: Session, did: str) -> list[tuple[int | None, int]]:
    """(bucket, decision id) of every row that may hold reads of the customer; bucket None
    for the rows no index pass has covered yet (SQLite), found by a scan of that tail."""
    key = subject_key(did)
    found: list[tuple[int | None, int]] = [
        (int(b), int(i)) for b, i in driver_rows(session, _SUBJECT_ENTRIES, [key])
    ]
    if session.get_bind().dialect.name == "sqlite":
        found.extend((None, int(i)) for (i,) in driver_rows(session, _TAIL_SQL, [key]))
    return found


def subject_rows(
    session: Session, did: str, *, newest_first: bool = False, limit: int | None = None
) -> list[tuple[AccessDecision, list[dict[str, Any]]]]:
    """The log rows holding reads of the customer, each with its decisions about them, in
    log order (or newest first); ``limit`` counts rows."""
    ids = sorted({identifier for _, identifier in _entries(session, did)}, reverse=newest_first)
    found: list[tuple[AccessDecision, list[dict[str, Any]]]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = {
            row.id: row
            for row in session.execute(
                sa.select(AccessDecision).where(AccessDecision.id.in_(chunk))
            ).scalars()
        }
        for identifier in chunk:
            row = rows.get(identifier)
            decisions = expand_subject(row, did) if row is not None else []
            if row is not None and decisions:  # else a hash collision: another's row
                found.append((row, decisions))
                if limit is not None and len(found) >= limit:
                    return found
    return found


def erase_subject(session: Session, did: str) -> int:
    """Remove the customer's reads from the log (rows left empty are deleted, the others
    rewritten without them) and their index entries; returns how many reads went."""
    key = subject_key(did)
    entries = _entries(session, did)
    buckets = {identifier: bucket for bucket, identifier in entries}
    removed = 0
    unindex: list[dict[str, int]] = []
    ids = sorted(buckets)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in session.execute(
            sa.select(AccessDecision).where(AccessDecision.id.in_(chunk))
        ).scalars():
            kept = [read for read in row.reads if read[0] != did]
            if len(kept) == len(row.reads):
                continue  # a hash collision: another customer's row
            removed += len(row.reads) - len(kept)
            keys = {subject_key(read[0]) for read in kept if read[0] is not None}
            bucket = buckets[row.id]
            if key not in keys and bucket is not None:  # None: not indexed yet
                unindex.append({"b": bucket, "k": key, "i": row.id})
            if not kept:
                session.delete(row)
                continue
            _rewrite(row, kept, keys)
    if unindex:
        subjects = cast(sa.Table, AccessDecisionSubject.__table__)
        session.execute(
            sa.delete(subjects).where(
                subjects.c.bucket == sa.bindparam("b"),
                subjects.c.subject_key == sa.bindparam("k"),
                subjects.c.decision_id == sa.bindparam("i"),
            ),
            unindex,
        )
    session.flush()
    return removed


def _rewrite(row: AccessDecision, reads: list[list[Any]], keys: set[int]) -> None:
    """Keep only ``reads`` in the row (outcomes no read uses any more are dropped)."""
    used = sorted({read[1] for read in reads})
    renumber = {old: new for new, old in enumerate(used)}
    outcomes = [row.outcomes[old] for old in used]
    row.outcomes = outcomes
    row.reads = [[did, renumber[index], consent] for did, index, consent in reads]
    row.subject_keys = sorted(keys)
    row.read_count = len(reads)
    row.allowed_count = sum(
        1 for _, index, _ in row.reads for decision in outcomes[index] if decision[1]
    )
    row.withheld_count = sum(len(outcomes[index]) for _, index, _ in row.reads) - row.allowed_count


def authorization_totals(session: Session) -> tuple[int, int]:
    """(allowed decisions, of which under a lawful basis) over the whole log."""
    allowed = lawful = 0
    rows = session.execute(
        sa.select(AccessDecision.outcomes, AccessDecision.reads)
        .where(AccessDecision.allowed_count > 0)
        .execution_options(yield_per=500)
    )
    for outcomes, reads in rows:
        for index, uses in Counter(read[1] for read in reads).items():
            for _, granted, reason in outcomes[index]:
                if granted:
                    allowed += uses
                    if reason in LAWFUL_BASES:
                        lawful += uses
    return allowed, lawful


# -- writing the log -----------------------------------------------------------------------------


class DecisionLog:
    """Group-commits decisions and their ledger batches (see the module docstring)."""

    def __init__(self, database: Database, ledger: LedgerService) -> None:
        self.database = database
        self.ledger = ledger
        self._pending: list[Entry] = []
        self._pending_reads = 0
        self._lock = threading.Lock()
        # One write at a time: an explicit flush returns only once a batch the background
        # writer already took is committed too.
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._last_add = 0.0
        self._last_flush = time.monotonic()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._bucket = 0
        self._bucket_entries = 0
        self._bucket_started = -BUCKET_SECONDS
        self._on_end = self._after_transaction_end  # one object: listened to per session
        self._deferred_index = database.dialect == "sqlite"
        self._index_due = threading.Event()
        self._indexing = threading.Lock()  # one pass at a time in this process

    def add(self, entry: Entry, session: Session | None = None) -> None:
        """Queue a read batch's row (read in ``session``). When a write is due
        (``FLUSH_READS`` reads queued, or the last write ``FLUSH_SECONDS`` old), the reader
        makes it itself — once its transaction has ended, on the connection it has just given
        back; at once when it has no transaction, or when the queue is overdue
        (``OVERDUE_SECONDS``: a long transaction, such as an export).

        Why the reader and not the background thread: a writer thread in the same process
        takes the GIL at every one of the reader's database calls, which costs readers more
        (a context switch per call) than writing the batch themselves. The background
        thread only writes the tail, once reads pause. Why after the transaction: written
        while it is open, the batch needs a second connection, and on SQLite each commit
        from one connection empties the page cache of the others.
        """
        now = time.monotonic()
        with self._lock:
            self._pending.append(entry)
            self._pending_reads += entry[_READS]
            self._last_add = now
            due = self._pending_reads >= FLUSH_READS or now - self._last_flush >= FLUSH_SECONDS
            overdue = (
                self._pending_reads >= 4 * FLUSH_READS or now - self._last_flush >= OVERDUE_SECONDS
            )
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="kindred-decision-log", daemon=True
                )
                self._thread.start()
        if not due:
            return
        if session is None or not session.in_transaction() or (overdue and not _writing(session)):
            self._write_if_free()
        elif not session.info.get(_WRITE_AFTER):
            # Never from inside a write transaction: on SQLite the batch's own write would
            # wait for the lock this very thread holds. Its end comes after the commit.
            session.info[_WRITE_AFTER] = True
            if not sa.event.contains(session, "after_transaction_end", self._on_end):
                sa.event.listen(session, "after_transaction_end", self._on_end)

    def _after_transaction_end(self, session: Session, transaction: Any) -> None:
        if transaction.parent is not None or not session.info.pop(_WRITE_AFTER, False):
            return  # a savepoint ended, or nothing was due
        self._write_if_free()

    def _write_if_free(self) -> None:
        """Write the queue unless a write is in progress (it will take what is queued)."""
        if self._flushing.acquire(blocking=False):
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
            if self._index_due.is_set():
                self._index_due.clear()
                try:
                    self.index()
                except Exception:  # the rows stay found by the tail scan; the next pass
                    log.exception("indexing access decisions failed; retrying")
                    self._index_due.set()
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
            written = self._flush()
        if written:
            # Only after a write: nothing new to index otherwise (and a process that never
            # wrote, e.g. `kindred openapi`, must not touch a database it never migrated).
            self.index()
        return written

    def _next_bucket(self, entries: int) -> int:
        """The bucket of this write's (PostgreSQL) or index pass's (SQLite) entries, called
        under ``_flushing`` or ``_indexing`` respectively. A label only: another process's
        buckets may interleave; a lookup visits each value."""
        now = time.time()
        if self._bucket_entries >= BUCKET_ENTRIES or now - self._bucket_started >= BUCKET_SECONDS:
            self._bucket = max(int(now * 1000), self._bucket + 1)
            self._bucket_started, self._bucket_entries = now, 0
        self._bucket_entries += entries
        return self._bucket

    def _flush(self) -> int:
        with self._lock:
            batch, self._pending = self._pending, []
            reads, self._pending_reads = self._pending_reads, 0
            self._last_flush = time.monotonic()
        if not batch:
            return 0
        try:
            identifier = str(uuid.uuid4())
            rows = [(*entry, identifier) for entry in batch]
            digest = batch_digest(rows)
            decisions = sum(entry[_ALLOWED] + entry[_WITHHELD] for entry in batch)
            with self.database.write() as session:
                ((before,),) = driver_rows(session, _LAST_ID)
                # Driver level: one executemany for the rows, one statement for their index.
                inserter = BulkInserter(session)
                inserter.insert(
                    "access_decisions",
                    LOG_COLUMNS,
                    rows,
                    json_columns=JSON_COLUMNS,
                    json_encoded=True,
                )
                if inserter.dialect != "sqlite":  # SQLite: by the next index pass
                    inserter.cursor.execute(
                        _INDEX_SQL[inserter.dialect],
                        (self._next_bucket(reads), int(before), identifier),
                    )
                self.ledger.append(
                    session,
                    BATCH_KIND,
                    {
                        "batch": identifier,
                        "rows": len(rows),
                        "reads": reads,
                        "decisions": decisions,
                        "sha256": digest,
                    },
                )
        except BaseException:
            with self._lock:
                self._pending[:0] = batch
                self._pending_reads += reads
            raise
        if self._deferred_index:
            self._index_due.set()
            self._wake.set()
        return decisions

    def index(self) -> int:
        """SQLite: add the subject-index entries of every row written since the last pass, in
        one statement (returns how many). The background thread runs it after each write;
        ``flush`` and ``close`` run it too. Until then ``_entries`` finds those rows by a
        scan of the (short) tail.

        Why not in the write itself: the index entries cost as much as the rest of the write
        together (one b-tree insert per customer per batch), and the reader that makes the
        write waits for it. Here the one statement runs in SQLite without the GIL, on the
        other core, while readers go on. Why SQLite only: its writes are serialized, so row
        ids commit in order and "every row up to the mark" is exact; on PostgreSQL a row with
        a lower id can commit after a higher one, so each write indexes its own rows.
        """
        if not self._deferred_index:
            return 0
        with self._indexing, self.database.write() as session:
            # No mark (only if its row was removed; migration 0010 makes it) reads as 0:
            # re-indexing rows is harmless (lookups take each row once), missing one is not.
            mark = read_generation(session, INDEXED_THROUGH)
            ((last,),) = driver_rows(session, _LAST_ID)
            if last <= mark:
                return 0
            cursor = BulkInserter(session).cursor
            cursor.execute(_PASS_SQL, (self._next_bucket(0), mark, int(last)))
            entries = max(0, cursor.rowcount)
            self._bucket_entries += entries
            upsert(session, MetadataState, {"id": INDEXED_THROUGH, "generation": int(last)})
            return entries

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.exception("writing the last access decisions failed")
