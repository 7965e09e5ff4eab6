"""Sovereignty benchmark: (a) the policy decision point's cost — one cached decision
(``kindred.pdp.decide``) and the whole read hook (``kindred.pdp.enforce``) per record — and
(b) consent-checked record reads side by side with the same reads with enforcement off, on
the embedded default (SQLite in a temporary directory, consumers and scheduler off).

    .venv/bin/python benchmarks/bench_sovereignty.py
    .venv/bin/python benchmarks/bench_sovereignty.py --contacts 500 --rounds 3 --profile-gets 0
    .venv/bin/python benchmarks/bench_sovereignty.py --log-prefill 1000000   # a full log

Set-up: N contacts (default 2,000) with email, phone and address, owned by one sales rep
(scope "territory": a rep sees their own customers), each with its custodial DID as in
production. Half of them consented to email and phone for "sales" to that rep; the first
also holds three further consents (other purposes, grantees), so a decision scans several.

(a) The grants are fetched the way ``enforce()`` does (``refresh`` then ``_active``), then
``decide`` is timed call by call with ``perf_counter_ns`` (the timer's own cost, measured and
shown, is included: the percentiles are an upper bound) for an allowed value, a value of a
dimension the consent does not name and a customer without consents. ``enforce()`` is timed
on copies of presented records (made outside the timing) for a page of 100 and for single
records, each in its own read session as an API request would be: it includes the consents
counter read, the DID lookup, the decisions and queuing them for the decision log.

(b) Reads as the rep with purpose "sales": ``records.get`` of random contacts (one read
session per get) and walks over all contacts in ``list_records`` pages of 100 (``--walks``
per segment, 8 by default: a segment of ~0.4 s, long enough that the checked mode's log
writes and index passes land in it in proportion, where a 0.15 s segment of 3 walks took one
or two of them and its ratio swung by ±0.05 from round to round). "Enforcement off" is the
same ``Kindred`` with the PDP's hook taken out of ``records.read_hooks`` for the segment
(restored after). In every round each mode runs its gets and its walks, the order of the
modes rotating from round to round, and all modes read the same ids, so noise and cache
state hit them alike; a warm-up round is left out. The checked mode pays for the decision
log too: its background writer runs during the segment and the segment ends only once
``kindred.pdp.log.flush()`` has written the rest and no write is still in flight (a meter
around the log's write tells, and times every write: "log write per decision"). The ratio
checked ÷ off is taken per round; the targets are judged on the median of the rounds (a
burst of load from another process on the shared machine moves one round, not the verdict),
and the ratio of the totals is printed beside it.

``--log-prefill N`` first writes N reads of synthetic past decisions through the decision
log itself (rows of 100 reads of 200,000 customers, with their index entries and ledger
batches), so the reads run against a log of that size: what one write costs must not grow
with the log.

A profile (cProfile on the reading thread and on the decision log's writes) of checked reads
names the top costs by own time. The last line is JSON. Not part of the test run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from kindred.auth.permissions import SYSTEM_PRINCIPAL, Principal
from kindred.config import Settings
from kindred.db import driver_rows
from kindred.events.runtime import freeze_startup_heap
from kindred.records.query import ListQuery
from kindred.records.service import RequestContext
from kindred.services import Kindred
from kindred.sovereignty.credentials import Grantee
from kindred.sovereignty.decision_log import make_entry, subject_key
from kindred.sovereignty.models import AccessDecision, AccessDecisionSubject

TARGETS = {"decision_p99_us": 100.0, "checked_vs_unchecked": 0.85}
PURPOSE = "sales"
PAGE = 100
SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
# Waits that are not work (a thread parked on a lock or an event).
IDLE = ("'acquire' of '_thread.lock", "threading.py", "_lsprof")


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- set-up ----------------------------------------------------------------------------------


@dataclass
class Population:
    """What was seeded: the rep who reads, the contacts and who of them consented."""

    principal: Principal
    contact_ids: list[str]
    dids: dict[str, str]  # contact id → DID
    consented: set[str]

    def context(self) -> RequestContext:
        return RequestContext(self.principal, request_id="bench", purpose=PURPOSE)


def make_kindred(directory: Path) -> Kindred:
    kindred = Kindred.create(
        settings=Settings(
            mode="test",
            database_url=f"sqlite:///{directory / 'kindred.db'}",
            run_consumers=False,
            scheduler_enabled=False,
            ledger_checkpoint_seconds=0,
        )
    )
    kindred.bootstrap()
    return kindred


def seed(kindred: Kindred, contacts: int) -> Population:
    """The rep, N contacts owned by them (each registered with a DID), consents for half."""
    with kindred.database.write() as session:
        rep = kindred.auth.create_user(
            session, email="rep@example.com", name="Sales Rep", password=None, roles=["sales"]
        )
    ids: list[str] = []
    for start in range(0, contacts, 500):
        rows = [
            {
                "first_name": "Customer",
                "last_name": f"Number {number:05d}",
                "email": f"customer{number}@example.com",
                "phone": f"+86138{number:08d}",
                "address": f"{number} Huaihai Road, Shanghai",
                "owner": rep["id"],
            }
            for number in range(start, min(contacts, start + 500))
        ]
        with kindred.database.write() as session:
            created = kindred.records.bulk(session, SYSTEM, "contact", "create", rows)
        ids.extend(record["id"] for record in created)
    with kindred.database.read() as session:
        principal = kindred.auth.load_principal(session, rep["id"])
        dids = {i: kindred.identities.of_subject(session, "contact", i).did for i in ids}
    now = datetime.now(UTC).replace(microsecond=0)
    consented = set(ids[::2])
    chosen = [i for i in ids if i in consented]
    for start in range(0, len(chosen), 100):
        with kindred.database.write() as session:
            for contact_id in chosen[start : start + 100]:
                kindred.consents.grant(
                    session,
                    dids[contact_id],
                    dimensions=["contact.email", "contact.phone"],
                    purpose=PURPOSE,
                    grantee=Grantee("user", rep["id"]),
                    valid_from=now - timedelta(hours=1),
                    valid_until=now + timedelta(days=30),
                )
    with kindred.database.write() as session:  # a customer whose decisions scan four grants
        for purpose, grantee, dimensions in (
            ("marketing", Grantee("role", "sales"), ["contact.email"]),
            ("service", Grantee("role", "service"), ["contact.phone", "contact.address"]),
            ("analytics", Grantee("user", rep["id"]), ["contact.address"]),
        ):
            kindred.consents.grant(
                session,
                dids[ids[0]],
                dimensions=dimensions,
                purpose=purpose,
                grantee=grantee,
                valid_until=now + timedelta(days=30),
            )
    kindred.pdp.log.flush()
    return Population(principal, ids, dids, consented)


# -- the decision log meter ----------------------------------------------------------------------


@dataclass
class FlushMeter:
    """Wraps the decision log's write (the background writer's and explicit flushes alike):
    times each write, counts what it wrote, knows whether one is in flight, can profile
    them."""

    log: Any
    seconds: float = 0.0
    decisions: int = 0
    writes: int = 0
    profiles: list[cProfile.Profile] | None = None
    # The thread already under a profiler (a second one there would switch the first off).
    profiled_elsewhere_than: int | None = None
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _idle: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._idle = threading.Condition(self._lock)
        # The write itself (``flush`` is it plus waiting for a write in progress, where the
        # log has that split); the background writer goes through it too.
        self._method = "_flush" if hasattr(self.log, "_flush") else "flush"
        self._original: Callable[[], int] = getattr(self.log, self._method)
        setattr(self.log, self._method, self.write)

    def write(self) -> int:
        with self._lock:
            self._in_flight += 1
            profiles = self.profiles
        wanted = profiles is not None and threading.get_ident() != self.profiled_elsewhere_than
        profile = cProfile.Profile() if wanted else None
        started = time.perf_counter()
        try:
            if profile is not None:
                profile.enable()
            written = self._original()
        finally:
            if profile is not None:
                profile.disable()
            elapsed = time.perf_counter() - started
            with self._lock:
                self._in_flight -= 1
                if profile is not None and profiles is not None:
                    profiles.append(profile)
                self._idle.notify_all()
        if written:
            with self._lock:
                self.seconds += elapsed
                self.decisions += written
                self.writes += 1
        return written

    def drain(self) -> None:
        """Everything queued is written and no write is still running."""
        self.log.flush()
        with self._lock:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=30)

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.decisions, self.writes = 0.0, 0, 0

    def remove(self) -> None:
        delattr(self.log, self._method)


def log_shape(kindred: Kindred) -> dict[str, int]:
    """What the decision log holds: rows, reads, index entries and buckets."""
    with kindred.database.read() as session:
        rows, reads = session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(AccessDecision.read_count), 0))
        ).one()
        entries, buckets = session.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(AccessDecisionSubject.bucket)))
        ).one()
    return {"rows": rows, "reads": reads, "index_entries": entries, "buckets": buckets}


def prefill_log(kindred: Kindred, reads: int, meter: FlushMeter) -> dict[str, Any]:
    """``reads`` synthetic past reads, through the decision log's own write path: rows of 100
    reads of 200,000 customers (a tenth of them under a consent for email and phone)."""
    rng = random.Random(3)
    context = RequestContext(SYSTEM_PRINCIPAL, request_id="prefill", purpose=PURPOSE)
    fields = ("email", "phone", "mobile", "birthday", "wechat_openid", "address")
    outcomes: list[list[list[Any]]] = [
        [[name, False, "no-consent"] for name in fields],
        [
            [
                name,
                name in ("email", "phone"),
                "consent" if name in ("email", "phone") else "no-consent",
            ]
            for name in fields
        ],
    ]
    started = time.perf_counter()
    for _ in range(0, reads, PAGE):
        rows: list[tuple[Any, ...]] = []
        keys: set[int] = set()
        for _ in range(PAGE):
            did = f"did:key:z6MkPrefill{rng.randrange(200_000):08d}"
            consented = rng.random() < 0.1
            rows.append((did, int(consented), f"urn:uuid:{uuid.uuid4()}" if consented else None))
            keys.add(subject_key(did))
        allowed = sum(2 for row in rows if row[1])
        entry = make_entry(
            time.time(), "contact", context, outcomes, rows, keys, allowed, PAGE * 6 - allowed
        )
        kindred.pdp.log.add(entry)
    meter.drain()
    meter.reset()
    return {"reads": reads, "seconds": round(time.perf_counter() - started, 1)}


# -- (a) the decision point ----------------------------------------------------------------------


def decision_latency(kindred: Kindred, population: Population, iterations: int) -> dict[str, Any]:
    pdp = kindred.pdp
    unconsented = next(i for i in population.contact_ids if i not in population.consented)
    wanted = [population.dids[population.contact_ids[0]], population.dids[unconsented]]
    with kindred.database.read() as session:
        pdp.refresh(session)  # exactly what enforce() does before deciding
        grants = pdp._active(session, wanted)
    many, none = grants[wanted[0]], grants[wanted[1]]
    context = population.context()
    cases = {
        "allowed": (many, "contact.email"),
        "withheld: dimension not granted": (many, "contact.mobile"),
        "withheld: no consent": (none, "contact.email"),
    }
    clock = time.perf_counter_ns
    overhead = [-(clock() - clock()) for _ in range(10_000)]
    timer_ns = statistics.median(overhead)
    results: dict[str, Any] = {
        "grants_scanned": len(many),
        "timer_overhead_us": round(timer_ns / 1000, 3),
    }
    decide = pdp.decide
    for label, (subject_grants, dimension) in cases.items():
        now = time.time()
        expected = decide(subject_grants, dimension, context, now).allowed
        assert expected == (label == "allowed"), label
        for _ in range(1000):  # warm-up
            decide(subject_grants, dimension, context, now)
        timings = []
        for _ in range(iterations):
            started = clock()
            decide(subject_grants, dimension, context, now)
            timings.append(clock() - started)
        started = clock()
        for _ in range(iterations):
            decide(subject_grants, dimension, context, now)
        mean_ns = (clock() - started) / iterations
        results[label] = {
            "p50_us": round(statistics.median(timings) / 1000, 3),
            "p99_us": round(percentile(timings, 0.99) / 1000, 3),
            "max_us": round(max(timings) / 1000, 1),
            "mean_in_loop_us": round(mean_ns / 1000, 3),
        }
    results["p99_us"] = max(results[label]["p99_us"] for label in cases)
    return results


def enforce_cost(
    kindred: Kindred, population: Population, repetitions: int, meter: FlushMeter
) -> dict[str, Any]:
    """``enforce`` on copies of presented records (a page of 100, single records), in a read
    session that has begun already (as in ``records.get``), and its two queries alone."""
    context = population.context()
    with mode_of(kindred, "off"), kindred.database.read() as session:
        page = kindred.records.list_records(session, context, "contact", ListQuery(limit=PAGE)).data
        compiled = kindred.records.registry(session).get("contact")

    def timed(work: Callable[[Any], Any]) -> float:
        with kindred.database.read() as session:
            session.execute(sa.select(1))  # the transaction has begun, as in a real read
            started = time.perf_counter()
            work(session)
            return time.perf_counter() - started

    results: dict[str, Any] = {}
    for label, size in (("page of 100", PAGE), ("single record", 1)):
        timings = []
        for repetition in range(repetitions):
            start = (repetition * size) % len(page)
            batch = [dict(record) for record in (page * 2)[start : start + size]]

            def work(session: Any, records: list[dict[str, Any]] = batch) -> None:
                kindred.pdp.enforce(session, context, compiled, records)

            timings.append(timed(work))
        meter.drain()
        per_record = [t / size * 1e6 for t in timings]
        results[label] = {
            "per_record_p50_us": round(statistics.median(per_record), 1),
            "per_record_p99_us": round(percentile(per_record, 0.99), 1),
            "call_p50_us": round(statistics.median(timings) * 1e6, 1),
        }
    record_id = page[0]["id"]
    parts: dict[str, Callable[[Any], Any]] = {
        # The statements enforce() runs per read batch (the DID lookup only for records
        # it has not seen since the last consent change).
        "consents counter read": lambda session: kindred.pdp.refresh(session),
        "DID lookup": lambda session: driver_rows(
            session,
            "SELECT subject_id, did FROM customer_identities WHERE subject_object = ? "
            "AND subject_id IN (?)",
            ["contact", record_id],
        ),
    }
    for label, statement in parts.items():
        timings = [timed(statement) for _ in range(repetitions)]
        results[f"{label} p50 us"] = round(statistics.median(timings) * 1e6, 1)
    return results


# -- (b) checked reads against unchecked ones ----------------------------------------------------

Mode = Literal["checked", "unlogged", "off"]
MODES: tuple[Mode, ...] = ("checked", "unlogged", "off")


@contextmanager
def mode_of(kindred: Kindred, mode: Mode) -> Iterator[None]:
    """``off``: the PDP's read hook taken out of ``records.read_hooks`` (any other hook stays:
    only consent enforcement is compared); ``unlogged`` (a diagnostic): the PDP decides but
    its decisions are dropped instead of queued for the log; ``checked``: as in production."""
    hooks = list(kindred.records.read_hooks)
    if mode == "off":
        kindred.records.read_hooks[:] = [h for h in hooks if h != kindred.pdp.enforce]
    if mode == "unlogged":
        kindred.pdp.log.add = lambda entry, **options: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        kindred.records.read_hooks[:] = hooks
        if mode == "unlogged":
            del kindred.pdp.log.add


def get_reads(kindred: Kindred, context: RequestContext, ids: list[str]) -> int:
    for record_id in ids:
        with kindred.database.read() as session:
            kindred.records.get(session, context, "contact", record_id)
    return len(ids)


def page_walk(kindred: Kindred, context: RequestContext) -> int:
    """Every contact, page by page (one read session per page); returns the records read."""
    cursor, count = None, 0
    while True:
        with kindred.database.read() as session:
            page = kindred.records.list_records(
                session, context, "contact", ListQuery(limit=PAGE, cursor=cursor)
            )
        count += len(page.data)
        cursor = page.next_cursor
        if cursor is None:
            return count


@dataclass
class Totals:
    get_seconds: float = 0.0
    gets: int = 0
    list_seconds: float = 0.0
    listed: int = 0
    per_round_get: list[float] = field(default_factory=list)
    per_round_list: list[float] = field(default_factory=list)

    def get_rate(self) -> float:
        return self.gets / self.get_seconds

    def list_rate(self) -> float:
        return self.listed / self.list_seconds


def segment(
    kindred: Kindred,
    population: Population,
    ids: list[str],
    walks: int,
    mode: Mode,
    meter: FlushMeter,
    totals: Totals | None,
) -> None:
    """One mode's share of a round: the gets, then the page walks. The checked mode's times
    include writing its decisions (what the background writer had not written yet)."""
    context = population.context()

    def timed(work: Callable[[], int]) -> tuple[float, int]:
        started = time.perf_counter()
        count = work()
        if mode == "checked":
            meter.drain()
        return time.perf_counter() - started, count

    with mode_of(kindred, mode):
        get_seconds, get_count = timed(lambda: get_reads(kindred, context, ids))
        list_seconds, list_count = timed(
            lambda: sum(page_walk(kindred, context) for _ in range(walks))
        )
    if totals is not None:
        totals.get_seconds += get_seconds
        totals.gets += get_count
        totals.list_seconds += list_seconds
        totals.listed += list_count
        totals.per_round_get.append(get_count / get_seconds)
        totals.per_round_list.append(list_count / list_seconds)


def side_by_side(
    kindred: Kindred,
    population: Population,
    rounds: int,
    gets: int,
    walks: int,
    meter: FlushMeter,
) -> dict[str, Any]:
    rng = random.Random(7)
    totals = {mode: Totals() for mode in MODES}
    shape_before: dict[str, int] = {}
    for number in range(rounds + 1):  # round 0 warms every mode up and is left out
        ids = [rng.choice(population.contact_ids) for _ in range(gets)]
        shift = number % len(MODES)  # each mode goes first, second and last in turn
        for mode in MODES[shift:] + MODES[:shift]:
            segment(kindred, population, ids, walks, mode, meter, totals[mode] if number else None)
        if number == 0:
            meter.reset()
            shape_before = log_shape(kindred)
            print("[reads] warm-up round done", flush=True)
            continue
        print(
            f"[reads] round {number}: get/s "
            + " · ".join(f"{m} {totals[m].per_round_get[-1]:,.0f}" for m in MODES)
            + "; listed records/s "
            + " · ".join(f"{m} {totals[m].per_round_list[-1]:,.0f}" for m in MODES),
            flush=True,
        )
    checked, unlogged, off = (totals[mode] for mode in MODES)

    def ratios(ours: list[float], theirs: list[float]) -> list[float]:
        return [round(a / b, 3) for a, b in zip(ours, theirs, strict=True)]

    shape = {k: v - shape_before[k] for k, v in log_shape(kindred).items()}
    decisions, writes = meter.decisions, max(1, meter.writes)
    get_ratios = ratios(checked.per_round_get, off.per_round_get)
    list_ratios = ratios(checked.per_round_list, off.per_round_list)
    result: dict[str, Any] = {"rounds": rounds, "gets_per_round": gets, "walks_per_round": walks}
    for mode, figures in totals.items():
        result[f"get_{mode}_per_s"] = round(figures.get_rate(), 1)
        result[f"list_{mode}_records_per_s"] = round(figures.list_rate(), 1)
    result |= {
        "get_ratio_per_round_median": round(statistics.median(get_ratios), 3),
        "get_ratio_of_totals": round(checked.get_rate() / off.get_rate(), 3),
        "get_ratios_per_round": get_ratios,
        "list_ratio_per_round_median": round(statistics.median(list_ratios), 3),
        "list_ratio_of_totals": round(checked.list_rate() / off.list_rate(), 3),
        "list_ratios_per_round": list_ratios,
        "get_unlogged_ratio": round(unlogged.get_rate() / off.get_rate(), 3),
        "list_unlogged_ratio": round(unlogged.list_rate() / off.list_rate(), 3),
        "get_us_off": round(1e6 / off.get_rate(), 1),
        "get_us_added_by_pdp": round(1e6 / unlogged.get_rate() - 1e6 / off.get_rate(), 1),
        "get_us_added_by_log": round(1e6 / checked.get_rate() - 1e6 / unlogged.get_rate(), 1),
        "list_us_per_record_off": round(1e6 / off.list_rate(), 1),
        "list_us_per_record_added_by_pdp": round(
            1e6 / unlogged.list_rate() - 1e6 / off.list_rate(), 1
        ),
        "list_us_per_record_added_by_log": round(
            1e6 / checked.list_rate() - 1e6 / unlogged.list_rate(), 1
        ),
        "decisions_logged": decisions,
        "log_writes": meter.writes,
        "log_write_us_per_decision": round(meter.seconds / decisions * 1e6, 2) if decisions else 0,
        "log_write_us_per_read": (
            round(meter.seconds / shape["reads"] * 1e6, 2) if shape["reads"] else 0
        ),
        "log_rows_per_write": round(shape["rows"] / writes, 1),
        "log_reads_per_row": round(shape["reads"] / max(1, shape["rows"]), 1),
        "log_index_entries_per_read": round(shape["index_entries"] / max(1, shape["reads"]), 3),
        "log_writer_busy_share_of_checked_time": round(
            meter.seconds / (checked.get_seconds + checked.list_seconds), 3
        ),
        "other_read_hooks": [
            getattr(h, "__qualname__", repr(h))
            for h in kindred.records.read_hooks
            if h != kindred.pdp.enforce
        ],
    }
    return result


# -- profile -------------------------------------------------------------------------------------


def top_costs(profiles: list[cProfile.Profile], top: int) -> list[dict[str, Any]]:
    """The functions with the most own time over these profiles, idle waits left out."""
    if not profiles:
        return []
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    entries = sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: item[1][2],
        reverse=True,
    )
    found: list[dict[str, Any]] = []
    for (filename, line, function), (_, calls, own, cumulative, _) in entries:
        name = f"{short(filename)}:{line}({function})"
        if any(marker in name for marker in IDLE):
            continue
        found.append(
            {
                "function": name,
                "calls": calls,
                "tottime_s": round(own, 3),
                "cum_s": round(cumulative, 3),
            }
        )
        if len(found) >= top:
            break
    return found


def profiled(
    kindred: Kindred, population: Population, gets: int, meter: FlushMeter, top: int
) -> dict[str, list[dict[str, Any]]]:
    """Checked reads under cProfile: the reading thread (with the log writes it makes when a
    segment ends) and, apart, the background writer's log writes. Own time on the writer
    includes waiting for the GIL the reading thread holds (and the other way round)."""
    rng = random.Random(11)
    ids = [rng.choice(population.contact_ids) for _ in range(gets)]
    meter.drain()
    meter.profiles, meter.profiled_elsewhere_than = [], threading.get_ident()
    main = cProfile.Profile()
    main.enable()
    try:
        segment(kindred, population, ids, 1, "checked", meter, None)
    finally:
        main.disable()
        meter.drain()
        writes, meter.profiles = meter.profiles, None
    result = {
        "reading_thread": top_costs([main], top),
        "background_log_writes": top_costs(writes, max(5, top // 2)),
    }
    print(
        f"[profile] {gets:,} checked gets and one page walk; {len(writes)} background log "
        "writes profiled apart"
    )
    for label, found in (
        ("reading thread", result["reading_thread"]),
        ("background log writer", result["background_log_writes"]),
    ):
        print(
            f"{f'{label}: top costs by own time (idle waits left out)':<88}{'calls':>9}"
            f"{'tottime':>9}"
        )
        for item in found:
            print(f"  {item['function'][:86]:<86}{item['calls']:>9}{item['tottime_s']:>9.3f}")
    return result


def short(filename: str) -> str:
    for marker in ("site-packages/", "/src/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# -- report --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=2_000)
    parser.add_argument("--iterations", type=int, default=200_000, help="(a) decide() calls")
    parser.add_argument("--enforce-repetitions", type=int, default=300, help="(a) enforce()")
    parser.add_argument("--rounds", type=int, default=8, help="(b) timed rounds per mode")
    parser.add_argument("--gets", type=int, default=1_000, help="(b) gets per round and mode")
    parser.add_argument("--walks", type=int, default=8, help="(b) page walks per round and mode")
    parser.add_argument("--log-prefill", type=int, default=0, help="past reads in the log first")
    parser.add_argument("--profile-gets", type=int, default=1_000, help="0: no profile")
    parser.add_argument("--profile-top", type=int, default=15)
    parser.add_argument("--directory", default=None, help="where the SQLite file goes")
    arguments = parser.parse_args()

    results: dict[str, Any] = {"cores": os.cpu_count(), "contacts": arguments.contacts}
    with tempfile.TemporaryDirectory(dir=arguments.directory) as directory:
        kindred = make_kindred(Path(directory))
        meter = FlushMeter(kindred.pdp.log)
        try:
            started = time.perf_counter()
            population = seed(kindred, arguments.contacts)
            print(
                f"[set-up] {arguments.contacts:,} contacts with DIDs, "
                f"{len(population.consented):,} consents in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            # As `kindred serve` and the worker do once up: the start-up heap (the registry,
            # compiled rules, the seeded population) is left out of garbage collections, whose
            # full passes otherwise stall one round or another at random.
            freeze_startup_heap()
            if arguments.log_prefill > 0:
                results["log_prefill"] = prefill_log(kindred, arguments.log_prefill, meter)
                results["log_prefill"] |= log_shape(kindred)
                print(f"[set-up] decision log prefilled: {results['log_prefill']}", flush=True)
            results["decide"] = decision_latency(kindred, population, arguments.iterations)
            print(f"[decide] {results['decide']}", flush=True)
            results["enforce"] = enforce_cost(
                kindred, population, arguments.enforce_repetitions, meter
            )
            print(f"[enforce] {results['enforce']}", flush=True)
            results["reads"] = side_by_side(
                kindred, population, arguments.rounds, arguments.gets, arguments.walks, meter
            )
            print(f"[reads] {results['reads']}", flush=True)
            if arguments.profile_gets > 0:
                results["profile_top_tottime"] = profiled(
                    kindred, population, arguments.profile_gets, meter, arguments.profile_top
                )
            kindred.pdp.log.flush()
            results["log"] = log_shape(kindred)
        finally:
            meter.remove()
            kindred.close()

    decide, enforce, reads = results["decide"], results["enforce"], results["reads"]
    target = TARGETS["checked_vs_unchecked"]
    results["checked_vs_unchecked"] = {
        shape: {
            "checked_per_s": reads[f"{shape}_checked{unit}_per_s"],
            "off_per_s": reads[f"{shape}_off{unit}_per_s"],
            "ratio_per_round_median": reads[f"{shape}_ratio_per_round_median"],
            "ratio_of_totals": reads[f"{shape}_ratio_of_totals"],
        }
        for shape, unit in (("get", ""), ("list", "_records"))
    }
    meets = {
        "decision_p99": decide["p99_us"] < TARGETS["decision_p99_us"],
        "get_ratio": reads["get_ratio_per_round_median"] >= target,
        "list_ratio": reads["list_ratio_per_round_median"] >= target,
    }
    results["meets"] = meets
    print()
    print(f"{'what':<62}{'measured':>20}{'target':>12}")

    def row(what: str, measured: str, target: str = "") -> None:
        print(f"{what:<62}{measured:>20}{target:>12}")

    for label in ("allowed", "withheld: dimension not granted", "withheld: no consent"):
        figures = decide[label]
        row(
            f"(a) decide, {label}: p50 / p99 µs",
            f"{figures['p50_us']} / {figures['p99_us']}",
            "p99 < 100" if label == "allowed" else "",
        )
    row("    (timer overhead included, µs)", f"{decide['timer_overhead_us']}")
    row(
        f"(a) decide, allowed, mean in a loop, {decide['grants_scanned']} grants (µs)",
        f"{decide['allowed']['mean_in_loop_us']}",
    )
    for label in ("page of 100", "single record"):
        figures = enforce[label]
        row(
            f"(a) enforce(), {label}: per record p50 / p99 µs",
            f"{figures['per_record_p50_us']} / {figures['per_record_p99_us']}",
        )
    for label in ("consents counter read", "DID lookup"):
        row(f"    of which the {label}, p50 µs", f"{enforce[f'{label} p50 us']}")
    row(
        "(b) get: checked / off (reads/s)",
        f"{reads['get_checked_per_s']:,.0f} / {reads['get_off_per_s']:,.0f}",
    )
    row(
        "(b) get: checked ÷ off, median of rounds (of totals)",
        f"{reads['get_ratio_per_round_median']} ({reads['get_ratio_of_totals']})",
        "≥ 0.85",
    )
    row(
        "(b) list, pages of 100: checked / off (records/s)",
        f"{reads['list_checked_records_per_s']:,.0f} / {reads['list_off_records_per_s']:,.0f}",
    )
    row(
        "(b) list: checked ÷ off, median of rounds (of totals)",
        f"{reads['list_ratio_per_round_median']} ({reads['list_ratio_of_totals']})",
        "≥ 0.85",
    )
    row(
        "(b) diagnostic: decisions not logged ÷ off, get / list",
        f"{reads['get_unlogged_ratio']} / {reads['list_unlogged_ratio']}",
    )
    row(
        "(b) get µs: off + PDP + decision log",
        f"{reads['get_us_off']} + {reads['get_us_added_by_pdp']} + {reads['get_us_added_by_log']}",
    )
    row(
        "(b) list µs per record: off + PDP + decision log",
        f"{reads['list_us_per_record_off']} + {reads['list_us_per_record_added_by_pdp']} + "
        f"{reads['list_us_per_record_added_by_log']}",
    )
    row(
        "(b) decision log: write time per read / per decision (µs)",
        f"{reads['log_write_us_per_read']} / {reads['log_write_us_per_decision']}",
    )
    row(
        "(b) decision log: rows per write / reads per row",
        f"{reads['log_rows_per_write']} / {reads['log_reads_per_row']}",
    )
    row(
        "(b) decision log: writer busy, share of checked time",
        f"{reads['log_writer_busy_share_of_checked_time']:.1%}",
    )
    log_size = results["log"]
    row(
        "decision log at the end: reads / rows / index buckets",
        f"{log_size['reads']:,} / {log_size['rows']:,} / {log_size['buckets']:,}",
    )
    print(
        f"({os.cpu_count()} cores; SQLite embedded default; {arguments.contacts:,} contacts, half "
        f"with consents; other read hooks left on: {reads['other_read_hooks'] or 'none'})"
    )
    print(f"meets: {meets}")
    print(json.dumps({"benchmark": "sovereignty", "targets": TARGETS, **results}))


if __name__ == "__main__":
    main()
