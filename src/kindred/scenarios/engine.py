"""The live scenario engine: events in, durable runs out, actions executed with retries.

Key flow: the ``scenarios`` bus consumer takes a batch of events → feeds the windows →
finds the enabled scenarios that fire (``ScenarioMatcher``: an equality index and fast
predicates in front of the same ``evaluate`` the dry run uses) → writes one run per
(scenario, event) — its id derived from both, so a redelivered event finds its run instead
of starting another — and only then acknowledges the batch.

Runs made only of local actions (records, tickets, tags, notifications, assignment) are
executed right there, in the transaction that writes them: run, steps and effects commit
together. Every other run, and any local run that fails there, executes apart from the
consumer: a failing or waiting step never holds up a partition. Each step's outcome is
written before the next starts, so a crash resumes a run after its last finished step; a
retryable failure sets the run's next attempt (exponential backoff, full jitter); a final
failure follows the step's ``on_failure`` route or fails the run, which keeps the triggering
event and every error for inspection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kindred.auth.permissions import Principal
from kindred.common.durations import parse_duration
from kindred.common.failures import ActionFailed
from kindred.common.jsonvalues import plain_json
from kindred.db import utcnow
from kindred.errors import KindredError, PermissionDenied
from kindred.events.bus import Delivery
from kindred.events.envelope import CloudEvent, format_time, parse_time
from kindred.records.metadata import current_generation
from kindred.records.service import RequestContext
from kindred.retry import full_jitter
from kindred.rules import RuleError
from kindred.rules.compiler import SharedActivation
from kindred.scenarios import metrics
from kindred.scenarios.definition import CompiledScenario, CompiledStep
from kindred.scenarios.evaluate import (
    Evaluation,
    StepError,
    evaluate,
    event_activation,
    render_params,
)
from kindred.scenarios.executors import CHAIN_EXTENSION, EXECUTORS, LOCAL_EXECUTORS
from kindred.scenarios.leases import RunLeases
from kindred.scenarios.matching import ScenarioMatcher
from kindred.scenarios.models import ScenarioRow, ScenarioRun, ScenarioRunStep, ScenarioVersion
from kindred.scenarios.service import SCENARIOS_COUNTER
from kindred.scenarios.steps import StepContext
from kindred.scenarios.windows import (
    AbsenceSpec,
    AbsenceTracker,
    WindowSpec,
    WindowStore,
)

if TYPE_CHECKING:
    from kindred.services import Kindred

log = logging.getLogger("kindred.scenarios")
RUN_NAMESPACE = uuid.UUID("6f2b8a1e-4c0d-5e7f-9a3b-1c2d3e4f5a6b")
LEASE_SECONDS = 60.0
DEFAULT_ATTEMPTS = 1
DONE = ("succeeded", "skipped", "branch", "failed_handled")
INLINE_GROUP_FAILURES = 3  # failed runs in one batch before one savepoint per run
WARM_UP_PAGES = 200  # at most 200,000 events are replayed into windows after a restart


def scenario_reader(
    compiled: CompiledScenario, version: int, principal: Principal
) -> RequestContext:
    """Who a scenario's lookups read as: its run-as principal (author or granted service
    principal), for the scenario's declared purpose, as the agent ``scenario:<name>``
    (consents can name it), on the scenario channel."""
    return RequestContext(
        principal,
        request_id="scenarios",
        purpose=compiled.definition.purpose,
        agent=f"scenario:{compiled.name}",
        channel="scenario",
        acting_for={"scenario": compiled.name, "version": version, "run_as": principal.user_id},
    )


def _event_reference(event: dict[str, Any]) -> dict[str, Any]:
    """What the change log and ledger keep of a run's triggering event."""
    return {name: event.get(name) for name in ("id", "source", "type")}


class _Readers:
    """Per batch: each active scenario's reader context, its run-as principal loaded once
    with current rights; None (logged, counted) where there is nobody to act as."""

    def __init__(self, engine: ScenarioEngine, session: Any) -> None:
        self.engine = engine
        self.session = session
        self._made: dict[int, RequestContext | None] = {}

    def reader(self, position: int) -> RequestContext | None:
        if position in self._made:
            return self._made[position]
        active = self.engine._active[position]
        made: RequestContext | None = None
        if active.run_as is None:
            log.warning(
                "scenario %s v%d has no run-as principal; not firing",
                active.compiled.name,
                active.version,
            )
        else:
            try:
                principal = self.engine.kindred.auth.acting_principal(self.session, active.run_as)
            except KindredError as error:
                log.warning(
                    "scenario %s: its run-as principal %s cannot act (%s); not firing",
                    active.compiled.name,
                    active.run_as,
                    error.detail,
                )
            else:
                made = scenario_reader(active.compiled, active.version, principal)
        if made is None:
            metrics.NOBODY.labels(active.compiled.name).inc()
        self._made[position] = made
        return made


def run_id(scenario: str, event: CloudEvent) -> str:
    return str(uuid.uuid5(RUN_NAMESPACE, f"{scenario}\n{event.source}\n{event.id}"))


@dataclass(slots=True)
class NewRun:
    """A run the consumer is about to write (a plain object: written with Core, in bulk)."""

    id: str
    scenario: str
    version: int
    key: str
    event: dict[str, Any]
    variables: dict[str, Any]
    chain_depth: int
    started_at: datetime
    event_at: float
    run_as: str | None = None
    status: str = "running"
    finished_at: datetime | None = None
    duration_ms: float | None = None
    principal: Principal | None = None  # not stored: whose rights inline execution uses

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario": self.scenario,
            "version": self.version,
            "status": self.status,
            "key": self.key,
            "event": self.event,
            "variables": self.variables,
            "chain_depth": self.chain_depth,
            "started_at": self.started_at,
            "event_at": self.event_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
            "run_as": self.run_as,
        }


@dataclass
class Active:
    compiled: CompiledScenario
    version: int
    run_as: str | None  # the principal this version acts as (its rights loaded per batch)


class ScenarioEngine:
    def __init__(self, kindred: Kindred, member: str) -> None:
        self.kindred = kindred
        self.member = member
        self._generation = -1
        self._active: list[Active] = []
        self._compiled: dict[tuple[str, int], CompiledScenario] = {}
        self._windows: WindowStore | None = None
        self._window_names: dict[str, dict[str, str]] = {}
        self._absence: AbsenceTracker | None = None
        self._absence_of: dict[str, int] = {}  # silence name → position in _active
        self._matcher: ScenarioMatcher | None = None
        self._inline_of: dict[int, bool] = {}  # id(compiled version) → runs execute inline
        self._warm = True
        self._seen: dict[str, None] = {}  # insertion-ordered set: window dedupe of redeliveries
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._in_flight: set[str] = set()
        self._waits_for_events = False
        self.executed = 0
        # run id → the principal (and purpose) a run being executed acts with.
        self._acting: dict[str, Principal] = {}
        self._authors: dict[tuple[str, int], str | None] = {}  # who saved each version
        self._purpose: dict[str, str | None] = {}
        self._leases = RunLeases(member)  # which runs may be claimed; handing them back

    # -- which scenarios are on ---------------------------------------------------------

    def _refresh(self) -> None:
        with self.kindred.database.read() as session:
            generation = current_generation(session, SCENARIOS_COUNTER)
            if generation == self._generation:
                return
            rows = session.execute(
                sa.select(ScenarioRow.name, ScenarioRow.version, ScenarioVersion.run_as)
                .join(
                    ScenarioVersion,
                    sa.and_(
                        ScenarioVersion.name == ScenarioRow.name,
                        ScenarioVersion.version == ScenarioRow.version,
                    ),
                )
                .where(ScenarioRow.enabled)
            ).all()
            active = [Active(self._compiled_version(session, n, v), v, r) for n, v, r in rows]
        self._active = active
        self._generation = generation
        # One store for all scenarios; window names are made unique per scenario.
        specs: list[WindowSpec] = []
        names: dict[str, dict[str, str]] = {}
        for index, item in enumerate(active):
            own = item.compiled.window_specs(prefix=f"s{index}_")
            names[item.compiled.name] = {
                window.name: spec.name
                for window, spec in zip(item.compiled.definition.windows, own, strict=True)
            }
            specs += own
        self._window_names = names
        self._windows = WindowStore(specs) if specs else None
        absences = [
            AbsenceSpec(
                name=f"s{index}",
                event_types=tuple(item.compiled.definition.when.absence.events),
                after=item.compiled.absence_after or 0.0,
                key_field=item.compiled.definition.when.absence.key_field,
            )
            for index, item in enumerate(active)
            if item.compiled.definition.when.absence is not None
        ]
        self._absence_of = {
            f"s{index}": index
            for index, item in enumerate(active)
            if item.compiled.definition.when.absence is not None
        }
        self._matcher = ScenarioMatcher([(a.compiled, a.version) for a in active])
        self._absence = AbsenceTracker(absences) if absences else None
        self._warm = False

    def _compiled_version(self, session: Any, name: str, version: int) -> CompiledScenario:
        key = (name, version)
        if key not in self._compiled:
            compiled = self.kindred.scenarios.compiled_version(session, name, version)
            self._compiled[key] = compiled
            stored = session.get(ScenarioVersion, key)
            self._authors[key] = stored.created_by if stored is not None else None
            # Known once per version, not per batch: only then does the consumer look for
            # runs waiting on the events it handles.
            self._waits_for_events = self._waits_for_events or any(
                step.step.action == "wait" and "event" in step.params for step in compiled.walk()
            )
        return self._compiled[key]

    # -- the consumer ----------------------------------------------------------------------

    async def handle(self, batch: Sequence[Delivery]) -> None:
        created = await asyncio.to_thread(self._handle, batch)
        for identifier in created:
            self._queue.put_nowait(identifier)

    def _handle(self, batch: Sequence[Delivery]) -> list[str]:
        self._refresh()
        woken: list[str] = []
        if self._waits_for_events:
            with self.kindred.database.write() as session:
                woken = self._wake_waiting(session, [d.event for d in batch])
        if not self._active:
            return woken
        runs: list[NewRun] = []
        matcher = self._matcher
        assert matcher is not None
        with self.kindred.database.read() as session:
            readers = _Readers(self, session)
            for delivery in batch:
                event = delivery.event
                at = parse_time(event.time).timestamp() if event.time else delivery.stored.stored_at
                self._observe(event, at)
                if not matcher.candidates(event.type):
                    continue
                depth = int(event.extensions.get(CHAIN_EXTENSION, 0) or 0)
                now = time.time()
                # Converted once, for every candidate scenario.
                shared = event_activation(event, now)
                evaluate_one = self._evaluator(session, now, readers)
                for position, evaluation in matcher.fire(event, shared, evaluate_one):
                    active = self._active[position]
                    reader = readers.reader(position)
                    if reader is None:
                        continue  # nobody to act as: refused and logged by `readers`
                    if depth >= active.compiled.definition.max_chain_depth:
                        metrics.LOOPS.labels(active.compiled.name).inc()
                        log.warning(
                            "scenario %s: event %s is %d links down a chain; not firing",
                            active.compiled.name,
                            event.id,
                            depth,
                        )
                        continue
                    runs.append(self._new_run(active, event, at, depth, evaluation, reader))
        return woken + self._store_runs(runs)

    def _store_runs(self, runs: list[NewRun]) -> list[str]:
        """Write new runs; returns the ids the executor must take up.

        A run made only of local actions (effects in this database alone) is executed right
        here, in the transaction that writes it: the run, its steps and its effects commit
        together or not at all, with no claim, lease or step-by-step writes — the cheap path
        most scenarios take. Should anything go wrong for a run (an action refused, a
        template failing), its effects are rolled back and it is written as pending: the
        executor then runs it step by step with retries and failure routes, and its history
        shows every attempt.
        """
        if not runs:
            return []
        with self.kindred.database.write() as session:
            known = set(
                session.execute(
                    sa.select(ScenarioRun.id).where(ScenarioRun.id.in_([r.id for r in runs]))
                ).scalars()
            )
            fresh = [r for r in runs if r.id not in known]
            inline = []
            for run in fresh:
                compiled = self._compiled.get((run.scenario, run.version))
                if compiled is not None and self._inline(compiled):
                    inline.append((run, compiled))
            done, steps, timings = self._execute_inline(session, inline)
            # Written last, one executemany per table for the whole batch (Core: an ORM
            # object per run cost more than the insert).
            connection = session.connection()
            if fresh:
                connection.execute(sa.insert(ScenarioRun), [run.row() for run in fresh])
            if steps:
                connection.execute(sa.insert(ScenarioRunStep), steps)
        for run in fresh:
            metrics.STARTED.labels(run.scenario).inc()
        for scenario, action, seconds in timings:
            metrics.STEP_SECONDS.labels(scenario, action).observe(seconds)
        for run in done:
            metrics.FINISHED.labels(run.scenario, "succeeded").inc()
            metrics.RUN_SECONDS.labels(run.scenario).observe(max(run.duration_ms or 0, 0) / 1000)
        self.executed += len(done)
        finished = {run.id for run in done}
        return [r.id for r in fresh if r.id not in finished]

    def _execute_inline(
        self, session: Any, runs: list[tuple[NewRun, CompiledScenario]]
    ) -> tuple[list[NewRun], list[dict[str, Any]], list[tuple[str, str, float]]]:
        """Execute runs in ``session``: (the runs finished, their step rows, step timings).

        Optimistically all in one savepoint; when a run fails, the savepoint is rolled back
        and tried again without it (after a few failures in one batch, one savepoint per
        run, so a bad batch costs linear time).
        """
        pending = list(runs)
        failures = 0
        while pending:
            if failures >= INLINE_GROUP_FAILURES:
                break
            attempt: list[tuple[NewRun, list[dict[str, Any]]]] = []
            timings: list[tuple[str, str, float]] = []
            try:
                with session.begin_nested():
                    for run, compiled in pending:
                        current = run
                        attempt.append((run, self._walk_inline(session, run, compiled, timings)))
            except Exception as error:  # any failure: that run goes the durable way
                log.debug("scenario run %s: inline execution failed (%s)", current.id, error)
                pending = [(r, c) for r, c in pending if r is not current]
                failures += 1
                continue
            return self._finished_inline(attempt, timings)
        attempt, timings = [], []
        for run, compiled in pending:
            try:
                with session.begin_nested():
                    attempt.append((run, self._walk_inline(session, run, compiled, timings)))
            except Exception as error:
                log.debug("scenario run %s: inline execution failed (%s)", run.id, error)
        return self._finished_inline(attempt, timings)

    @staticmethod
    def _finished_inline(
        attempt: list[tuple[NewRun, list[dict[str, Any]]]],
        timings: list[tuple[str, str, float]],
    ) -> tuple[list[NewRun], list[dict[str, Any]], list[tuple[str, str, float]]]:
        finished = utcnow()
        for run, _ in attempt:
            run.status, run.finished_at = "succeeded", finished
            run.duration_ms = (finished.timestamp() - run.event_at) * 1000
        return [run for run, _ in attempt], [row for _, rows in attempt for row in rows], timings

    def _inline(self, compiled: CompiledScenario) -> bool:
        """Whether a scenario's runs can execute inside the consumer's transaction: every
        step on the path without failures is a local action without a timeout of its own
        (one transaction cannot be cut short) or a branch over such steps."""
        found = self._inline_of.get(id(compiled))
        if found is None:

            def local(steps: list[CompiledStep]) -> bool:
                for step in steps:
                    if step.branch is not None:
                        if not (local(step.then) and local(step.otherwise)):
                            return False
                    elif step.step.action not in LOCAL_EXECUTORS or step.timeout is not None:
                        return False
                return True

            found = self._inline_of[id(compiled)] = local(compiled.steps)
        return found

    def _walk_inline(
        self,
        session: Any,
        run: NewRun,
        compiled: CompiledScenario,
        timings: list[tuple[str, str, float]],
    ) -> list[dict[str, Any]]:
        """Every step of ``run`` in ``session``; its step rows. Raises on any failure."""
        variables = dict(run.variables)
        outputs: dict[str, Any] = {}
        variables["steps"] = outputs
        rows: list[dict[str, Any]] = []

        def walk(steps: list[CompiledStep]) -> None:
            for step in steps:
                identifier = step.step.id
                row: dict[str, Any] = {
                    "run_id": run.id,
                    "step": identifier,
                    "pointer": step.pointer,
                    "action": step.step.action,
                    "status": "pending",
                    "attempts": 0,
                    "input": None,
                    "output": None,
                    "started_at": None,
                    "finished_at": None,
                }
                rows.append(row)
                if step.guard is not None and not step.guard.evaluate_bool(variables):
                    row["status"], row["finished_at"] = "skipped", utcnow()
                    continue
                if step.branch is not None:
                    taken = step.branch.evaluate_bool(variables)
                    row["status"], row["finished_at"] = "branch", utcnow()
                    row["output"] = {"branch": "then" if taken else "else"}
                    walk(step.then if taken else step.otherwise)
                    continue
                action = step.step.action or ""
                params = render_params(step, variables)
                context = StepContext(
                    run.id,
                    identifier,
                    run.scenario,
                    run.version,
                    run.chain_depth,
                    f"{run.id}:{identifier}",
                    principal=run.principal,
                    event=_event_reference(run.event),
                    purpose=compiled.definition.purpose,
                    author=self._authors.get((run.scenario, run.version)),
                )
                row["attempts"], row["input"], row["started_at"] = 1, plain_json(params), utcnow()
                started = time.perf_counter()
                output = LOCAL_EXECUTORS[action](self.kindred, session, params, context)
                timings.append((run.scenario, action, time.perf_counter() - started))
                outputs[identifier] = output
                row["status"], row["output"] = "succeeded", plain_json(output)
                row["finished_at"] = utcnow()

        walk(compiled.steps)
        return rows

    def _observe(self, event: CloudEvent, at: float) -> None:
        if self._windows is None and self._absence is None:
            return
        identity = event.dedupe_id
        if identity in self._seen:
            return  # a redelivery (or seen while warming up): counted already
        self._seen[identity] = None
        if len(self._seen) > 200_000:
            self._seen.pop(next(iter(self._seen)))
        data = event.data if isinstance(event.data, dict) else {}
        if self._windows is not None:
            self._windows.observe(event.type, event.key, at, data)
        if self._absence is not None:
            self._absence.observe(event.type, event.key, at, data)

    async def warm_up(self) -> None:
        """Rebuild windows and silence watches from the log after a (re)start: they are
        derived state, and the log holds what they were derived from."""
        await asyncio.to_thread(self._refresh)
        if self._warm:
            return
        self._warm = True
        horizons = [
            self._active[p].compiled.absence_after or 0.0 for p in self._absence_of.values()
        ]
        horizons += [size for a in self._active for size in a.compiled.window_sizes.values()]
        if not horizons:
            return
        since = datetime.fromtimestamp(time.time() - max(horizons) * 2, UTC)
        cursor: str | None = None
        for _ in range(WARM_UP_PAGES):
            page, cursor = await self.kindred.events.bus.read(after=cursor, since=since, limit=1000)
            for stored in page:
                event = stored.event
                at = parse_time(event.time).timestamp() if event.time else stored.stored_at
                self._observe(event, at)
            if cursor is None:
                break

    def _evaluator(
        self, session: Any, now: float, readers: _Readers
    ) -> Callable[[int, CloudEvent, SharedActivation | None], Evaluation]:
        """``evaluate`` for the active scenario at a position, with the engine's record
        lookups (in ``session``) and live windows."""
        store = self._windows

        def windows(scenario: CompiledScenario, key: str, now: float) -> dict[str, Any]:
            if store is None:
                return {}
            own = self._window_names.get(scenario.name, {})
            return {name: store.value(internal, key, now) for name, internal in own.items()}

        reader: list[RequestContext | None] = [None]

        def find(object_name: str, record_id: str | None, match: dict[str, Any] | None) -> Any:
            if reader[0] is None:
                return None  # nobody to read as: the scenario does not fire (see _Readers)
            return self.kindred.scenarios.find_record(
                session, reader[0], object_name, record_id, match
            )

        def evaluate_one(
            position: int, event: CloudEvent, shared: SharedActivation | None
        ) -> Evaluation:
            active = self._active[position]
            reader[0] = readers.reader(position)
            return evaluate(
                active.compiled,
                active.version,
                event,
                find=find,
                windows=windows,
                now=now,
                shared=shared,
            )

        return evaluate_one

    def _evaluate(self, session: Any, position: int, event: CloudEvent, at: float) -> NewRun | None:
        readers = _Readers(self, session)
        evaluation = self._evaluator(session, time.time(), readers)(position, event, None)
        reader = readers.reader(position)
        if not evaluation.fires or reader is None:
            return None
        return self._new_run(self._active[position], event, at, 0, evaluation, reader)

    @staticmethod
    def _new_run(
        active: Active,
        event: CloudEvent,
        at: float,
        depth: int,
        evaluation: Evaluation,
        reader: RequestContext,
    ) -> NewRun:
        return NewRun(
            id=run_id(active.compiled.name, event),
            scenario=active.compiled.name,
            version=active.version,
            status="running",
            key=event.key[:500],
            event=event.to_dict(),
            variables=plain_json(evaluation.variables),
            chain_depth=depth,
            started_at=utcnow(),
            event_at=at,
            run_as=active.run_as,
            principal=reader.principal,
        )

    # -- execution ------------------------------------------------------------------------

    async def run_forever(self) -> None:
        limit = asyncio.Semaphore(self.kindred.settings.scenario_concurrency)
        poll = self.kindred.settings.scenario_poll_seconds
        tasks: set[asyncio.Task[None]] = set()

        async def one(identifier: str) -> None:
            async with limit:
                try:
                    await self.execute(identifier)
                except Exception:
                    log.exception("scenario run %s failed in the engine", identifier)
                finally:
                    self._in_flight.discard(identifier)

        next_poll = 0.0
        while not self._stopping.is_set():
            try:
                identifier = await asyncio.wait_for(self._queue.get(), timeout=poll)
                ready = [identifier]
            except TimeoutError:
                ready = []
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + poll
                if not self._warm:
                    await self.warm_up()
                ready += await asyncio.to_thread(self._silences)
                ready += await asyncio.to_thread(self._due)
            for identifier in dict.fromkeys(ready):
                if identifier in self._in_flight:
                    continue  # queued and also listed by the poll: one execution
                self._in_flight.add(identifier)
                task = asyncio.create_task(one(identifier))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def stop(self) -> None:
        self._stopping.set()

    def _silences(self) -> list[str]:
        """Runs for keys that went quiet (absence triggers)."""
        if self._absence is None:
            return []
        due = self._absence.due(time.time())
        if not due:
            return []
        runs = []
        with self.kindred.database.read() as session:
            for silence in due:
                position = self._absence_of.get(silence.name)
                if position is None:
                    continue
                active = self._active[position]
                event = CloudEvent(
                    id=f"{silence.key}:{silence.last_seen:.6f}",
                    source=f"kindred://scenarios/{active.compiled.name}/absence",
                    type="kindred.absence.detected",
                    time=format_time(datetime.fromtimestamp(silence.due_at, UTC)),
                    subject=silence.key,
                    partitionkey=silence.key,
                    data={
                        "key": silence.key,
                        "last_seen": format_time(datetime.fromtimestamp(silence.last_seen, UTC)),
                        "silent_for_seconds": round(time.time() - silence.last_seen, 3),
                    },
                )
                run = self._evaluate(session, position, event, silence.due_at)
                if run is not None:
                    runs.append(run)
        return self._store_runs(runs)

    def _due(self) -> list[str]:
        now = time.time()
        with self.kindred.database.read() as session:
            self._leases.refresh(session, now)
            return list(
                session.execute(
                    sa.select(ScenarioRun.id)
                    .where(
                        ScenarioRun.status.in_(("running", "waiting")),
                        sa.or_(ScenarioRun.next_at.is_(None), ScenarioRun.next_at <= now),
                        self._leases.free(now),
                    )
                    .limit(200)
                ).scalars()
            )

    def _claim(self, identifier: str) -> tuple[ScenarioRun, dict[str, ScenarioRunStep]] | None:
        now = time.time()
        with self.kindred.database.write() as session:
            claimed = session.execute(
                sa.update(ScenarioRun)
                .where(
                    ScenarioRun.id == identifier,
                    ScenarioRun.status.in_(("running", "waiting")),
                    sa.or_(ScenarioRun.next_at.is_(None), ScenarioRun.next_at <= now),
                    # Never re-claim a run under a live lease, not even our own: the poll
                    # can list a run this process is executing right now.
                    self._leases.free(now),
                )
                .values(lease_owner=self.member, lease_until=now + LEASE_SECONDS)
            )
            if not getattr(claimed, "rowcount", 0):
                return None
            run = session.get(ScenarioRun, identifier)
            assert run is not None
            steps = {
                s.step: s
                for s in session.execute(
                    sa.select(ScenarioRunStep).where(ScenarioRunStep.run_id == identifier)
                ).scalars()
            }
            session.expunge_all()
        return run, steps

    async def execute(self, identifier: str) -> None:
        self._leases.hold()
        claimed = await asyncio.to_thread(self._claim, identifier)
        if claimed is None:
            return  # another member has it, or it is not due
        run, steps = claimed
        try:
            await self._execute(run, steps)
        except asyncio.CancelledError:
            # Stopped mid-run: hand the run back now (the next engine resumes it after its
            # last finished step) instead of leaving it leased for a minute.
            with self.kindred.database.write() as session:
                self._leases.release(session, run.id)
            raise

    async def _execute(self, run: ScenarioRun, steps: dict[str, ScenarioRunStep]) -> None:
        compiled = await asyncio.to_thread(self._pinned, run.scenario, run.version)
        try:
            # Whose rights the run acts with, loaded now: a demoted author's runs lose the
            # rights, a deactivated author's fail (their steps act as nobody).
            self._acting[run.id] = await asyncio.to_thread(self._run_as, run.run_as)
        except KindredError as error:
            run.error = f"the run has nobody to act as: {error.detail}"
            await asyncio.to_thread(self._finish, run, "failed")
            return
        self._purpose[run.id] = compiled.definition.purpose
        try:
            variables = dict(run.variables)
            outputs = {name: row.output for name, row in steps.items() if row.output is not None}
            variables["steps"] = outputs
            outcome = await self._walk(run, compiled.steps, variables, steps)
            await asyncio.to_thread(self._finish, run, outcome)
        finally:
            self._acting.pop(run.id, None)
            self._purpose.pop(run.id, None)

    def _run_as(self, user_id: str | None) -> Principal:
        if user_id is None:
            raise PermissionDenied("the scenario version has no run-as principal")
        with self.kindred.database.read() as session:
            return self.kindred.auth.acting_principal(session, user_id)

    def _pinned(self, name: str, version: int) -> CompiledScenario:
        with self.kindred.database.read() as session:
            return self._compiled_version(session, name, version)

    async def _walk(
        self,
        run: ScenarioRun,
        steps: list[CompiledStep],
        variables: dict[str, Any],
        rows: dict[str, ScenarioRunStep],
    ) -> str:
        """Run steps in order; returns "done", "paused" (retry or wait) or "failed"."""
        for step in steps:
            row = rows.get(step.step.id)
            if row is not None and row.status in DONE:
                if row.status == "branch" and row.output:
                    taken = step.then if row.output.get("branch") == "then" else step.otherwise
                    outcome = await self._walk(run, taken, variables, rows)
                    if outcome != "done":
                        return outcome
                continue
            outcome = await self._step(run, step, variables, rows)
            if outcome != "done":
                return outcome
        return "done"

    async def _step(
        self,
        run: ScenarioRun,
        step: CompiledStep,
        variables: dict[str, Any],
        rows: dict[str, ScenarioRunStep],
    ) -> str:
        identifier = step.step.id
        row = rows.get(identifier) or ScenarioRunStep(
            run_id=run.id,
            step=identifier,
            pointer=step.pointer,
            action=step.step.action,
            status="pending",
            attempts=0,
        )
        rows[identifier] = row
        try:
            if step.guard is not None and not step.guard.evaluate_bool(variables):
                await self._save_step(row, "skipped")
                return "done"
            if step.branch is not None:
                taken = step.branch.evaluate_bool(variables)
                await self._save_step(row, "branch", output={"branch": "then" if taken else "else"})
                return await self._walk(
                    run, step.then if taken else step.otherwise, variables, rows
                )
            params = render_params(step, variables)
        except (RuleError, StepError) as error:
            return await self._failed(run, step, variables, rows, row, error.message, "evaluation")
        action = step.step.action or ""
        if action == "wait":
            try:
                return await self._wait(run, row, params)
            except ActionFailed as error:
                return await self._failed(run, step, variables, rows, row, error.detail, error.code)
        executor = EXECUTORS.get(action)
        if executor is None:
            return await self._failed(
                run,
                step,
                variables,
                rows,
                row,
                f"the action {action!r} is not available in this version",
                "unavailable",
            )
        context = StepContext(
            run.id,
            identifier,
            run.scenario,
            run.version,
            run.chain_depth,
            f"{run.id}:{identifier}",
            principal=self._acting.get(run.id),
            event=_event_reference(run.event),
            purpose=self._purpose.get(run.id),
            author=self._authors.get((run.scenario, run.version)),
        )
        row.attempts += 1
        row.input = plain_json(params)
        row.started_at = row.started_at or utcnow()
        started = time.perf_counter()
        try:
            output = await asyncio.wait_for(
                executor(self.kindred, params, context), timeout=step.timeout or 30.0
            )
        except TimeoutError:
            failure = ActionFailed(
                f"{action} took longer than {step.timeout or 30.0:g}s",
                retryable=True,
                code="timeout",
            )
        except ActionFailed as error:
            failure = error
        else:
            metrics.STEP_SECONDS.labels(run.scenario, action).observe(time.perf_counter() - started)
            outputs = variables["steps"]
            outputs[identifier] = output
            await self._save_step(row, "succeeded", output=plain_json(output))
            return "done"
        metrics.STEP_FAILURES.labels(run.scenario, action, failure.code).inc()
        retry = step.step.retry
        attempts = retry.attempts if retry else DEFAULT_ATTEMPTS
        if failure.retryable and row.attempts < attempts:
            assert retry is not None
            # Full jitter: many runs failing together must not retry in lockstep.
            delay = full_jitter(
                row.attempts, parse_duration(retry.backoff), parse_duration(retry.max_backoff)
            )
            row.error, row.error_code = failure.detail, failure.code
            await self._save_step(row, "retrying")
            await asyncio.to_thread(self._pause, run, time.time() + delay)
            return "paused"
        return await self._failed(run, step, variables, rows, row, failure.detail, failure.code)

    async def _failed(
        self,
        run: ScenarioRun,
        step: CompiledStep,
        variables: dict[str, Any],
        rows: dict[str, ScenarioRunStep],
        row: ScenarioRunStep,
        detail: str,
        code: str,
    ) -> str:
        row.error, row.error_code = detail, code
        if isinstance(step.on_failure, list):
            await self._save_step(row, "failed_handled")
            return await self._walk(run, step.on_failure, variables, rows)
        if step.on_failure == "continue":
            await self._save_step(row, "failed_handled")
            return "done"
        await self._save_step(row, "failed")
        run.error = f"step {step.step.id} failed: {detail}"
        return "failed"

    async def _wait(self, run: ScenarioRun, row: ScenarioRunStep, params: dict[str, Any]) -> str:
        """Pause for a time, or until an event of the run's key arrives (the consumer puts it
        into the step's output and wakes the run); raises ActionFailed on a wait timeout."""
        waited = row.output if row.status == "waiting" and row.output else None
        now = time.time()
        if waited is not None and "received" in waited:
            await self._save_step(row, "succeeded", output=waited)
            return "done"
        if waited is not None and now >= float(waited["until"]):
            if waited.get("event"):
                raise ActionFailed(
                    f"no {waited['event']} event for {run.key} arrived in time",
                    retryable=False,
                    code="wait-timeout",
                )
            await self._save_step(row, "succeeded", output=waited)
            return "done"
        event_type = None
        if waited is not None:
            until = float(waited["until"])
            event_type = waited.get("event")
        elif params.get("event"):
            event_type = str(params["event"])
            until = now + parse_duration(params.get("timeout") or "1d")
        elif params.get("for"):
            until = now + parse_duration(params["for"])
        elif params.get("until"):
            until = parse_time(str(params["until"])).timestamp()
        else:  # the definition check makes this unreachable; kept for stored old versions
            raise ActionFailed("wait needs 'for', 'until' or 'event'", retryable=False, code="wait")
        output: dict[str, Any] = {
            "until": until,
            "until_text": datetime.fromtimestamp(until, UTC).isoformat(),
        }
        if event_type:
            output["event"] = event_type
        await self._save_step(row, "waiting", output=output)
        await asyncio.to_thread(self._pause, run, until, event_type)
        return "paused"

    def _wake_waiting(self, session: Any, events: list[CloudEvent]) -> list[str]:
        """Runs waiting for one of these events (same type, same key): hand it over."""
        wanted = {(e.type, e.key[:500]): e for e in events}
        if not wanted:
            return []
        rows = session.execute(
            sa.select(ScenarioRun.id, ScenarioRun.wait_event, ScenarioRun.key).where(
                ScenarioRun.status == "waiting",
                ScenarioRun.wait_event.in_({t for t, _ in wanted}),
                ScenarioRun.key.in_({k for _, k in wanted}),
            )
        ).all()
        woken = []
        for identifier, event_type, key in rows:
            event = wanted.get((event_type, key))
            if event is None:
                continue
            step = session.execute(
                sa.select(ScenarioRunStep).where(
                    ScenarioRunStep.run_id == identifier, ScenarioRunStep.status == "waiting"
                )
            ).scalar()
            if step is None:
                continue
            step.output = {**(step.output or {}), "received": event.to_dict()}
            session.execute(
                sa.update(ScenarioRun)
                .where(ScenarioRun.id == identifier)
                .values(next_at=None, wait_event=None)
            )
            woken.append(identifier)
        return woken

    async def _save_step(
        self, row: ScenarioRunStep, status: str, *, output: dict[str, Any] | None = None
    ) -> None:
        row.status = status
        if output is not None:
            row.output = output
        if status in ("succeeded", "skipped", "branch", "failed", "failed_handled"):
            row.finished_at = utcnow()
        await asyncio.to_thread(self._merge, row)

    def _merge(self, row: ScenarioRunStep) -> None:
        with self.kindred.database.write() as session:
            session.merge(row)

    def _pause(self, run: ScenarioRun, until: float, event_type: str | None = None) -> None:
        with self.kindred.database.write() as session:
            session.execute(
                sa.update(ScenarioRun)
                .where(ScenarioRun.id == run.id)
                .values(
                    status="waiting",
                    next_at=until,
                    wait_event=event_type,
                    lease_owner=None,
                    lease_until=None,
                )
            )

    def _finish(self, run: ScenarioRun, outcome: str) -> None:
        if outcome == "paused":
            return
        finished = utcnow()
        status = "succeeded" if outcome == "done" else "failed"
        duration = (finished.timestamp() - run.event_at) * 1000
        with self.kindred.database.write() as session:
            session.execute(
                sa.update(ScenarioRun)
                .where(ScenarioRun.id == run.id)
                .values(
                    status=status,
                    finished_at=finished,
                    duration_ms=duration,
                    error=run.error,
                    next_at=None,
                    lease_owner=None,
                    lease_until=None,
                )
            )
        metrics.FINISHED.labels(run.scenario, status).inc()
        metrics.RUN_SECONDS.labels(run.scenario).observe(max(duration, 0) / 1000)
        self.executed += 1
