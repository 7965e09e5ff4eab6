"""The agent runtime: runs an agent's step graph with parallel fan-out and joins, timeouts,
retries, exception routes and compensation, keeping every run durable and traced.

Execution. A run reads its records first (as the agent: permissions, consent and its grants
apply), then repeatedly starts every step whose ``needs`` have finished — so independent
steps (and sub-agents) run concurrently — until all are done. A step whose ``when`` is false
is skipped; steps that need it still run (they see no output for it). A failed step (after
its retries) follows its route: ``fail`` ends the run (running steps are cancelled and the
finished steps' compensations run, newest first), ``fallback`` continues with the declared
value, ``escalate`` opens a human task whose decision becomes the step's output. A human
step opens a task and the run waits (status ``waiting``) until it is decided.

Durability. Every state change is queued to a group-committing writer: one transaction per
batch for all runs in flight, so the database cost per step stays small under load. A run's
final state is awaited (the caller sees only committed results); a crash loses at most the
steps finished since the last flush, which are redone on resume with the same idempotency
keys (``<run>:<step>``), so effectful tools do not act twice. Runs in flight hold a lease
renewed by a heartbeat; ``resume_expired`` continues runs whose lease lapsed (a runtime
that died), from their last durable step.

Trace. Each step's inputs, rule evaluations, tool requests and responses, LLM usage and
labels, outputs, timings and tool versions are stored with the step; when a run ends, the
SHA-256 of its canonical trace is appended to the ledger (kind ``agent.run``), so any trace
can later be proven unaltered (:func:`kindred.agents.trace.verify_run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import jsonschema
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.agents import cancel
from kindred.agents import trace as traces
from kindred.agents.definition import CompiledAgent, CompiledStep, input_errors
from kindred.agents.export import export_pending
from kindred.agents.models import AgentRun, AgentRunStep, HumanTask, HumanTaskEvent
from kindred.agents.pins import EvaluationPins
from kindred.agents.tools import ToolContext, ToolRegistry
from kindred.auth.permissions import SYSTEM_PRINCIPAL, Principal
from kindred.common.failures import ActionFailed
from kindred.common.jsonvalues import plain_json
from kindred.db import upsert
from kindred.errors import (
    Conflict,
    KindredError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
    field_error,
)
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.service import RequestContext
from kindred.retry import full_jitter
from kindred.rules import RuleError
from kindred.scenarios.evaluate import StepError, render_value

if TYPE_CHECKING:
    from kindred.agents.service import AgentService
    from kindred.services import Kindred

log = logging.getLogger(__name__)

RUN_NAMESPACE = uuid.UUID("5a7c3f3e-8d7e-4e57-9b8e-6b1f0f4d2a10")
LEASE_SECONDS = 15.0
TERMINAL = frozenset({"succeeded", "skipped", "fallback"})
FINISHED_RUN = frozenset({"succeeded", "failed", "cancelled"})


@dataclass
class StepResult:
    status: str  # succeeded | skipped | failed | waiting | fallback
    output: Any = None
    input: Any = None
    trace: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_code: str | None = None
    attempts: int = 0
    started: float | None = None
    finished: float | None = None

    @property
    def ms(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return round((self.finished - self.started) * 1000, 3)


@dataclass
class RunState:
    id: str
    compiled: CompiledAgent
    version: int
    root_id: str
    parent_id: str | None
    parent_step: str | None
    inputs: dict[str, Any]
    trigger: dict[str, Any]
    principal: Principal
    mode: str
    idempotency_key: str
    deadline: float  # wall-clock epoch seconds
    started_at: dt.datetime
    reads: dict[str, Any] | None = None
    read_trace: list[dict[str, Any]] = field(default_factory=list)
    customer_id: str | None = None
    steps: dict[str, StepResult] = field(default_factory=dict)
    status: str = "running"
    outputs: dict[str, Any] | None = None
    error: str | None = None
    error_code: str | None = None
    # Steps changed while loading (a human decision carried in): saved when the run goes on.
    dirty: set[str] = field(default_factory=set)
    # The digests of the finished runs of this run's tree (shared by the root and its
    # sub-agent runs): the root's ledger entry commits to all of them at once.
    tree_digests: dict[str, str] = field(default_factory=dict)
    # Records read in this tree that hold no customer-authorized field (see AgentRuntime._get).
    tree_records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    resumed: bool = False

    @property
    def agent(self) -> str:
        return self.compiled.name

    def context(self) -> RequestContext:
        return RequestContext(
            self.principal,
            request_id=self.id,
            purpose=self.compiled.definition.purpose,
            agent=f"agent:{self.agent}",
            channel="agent",
        )


@dataclass(frozen=True)
class CrmReader:
    """What CRM tools read through: the record service as the run's agent, its grants."""

    runtime: AgentRuntime
    run: RunState

    async def read(
        self, object_name: str, where: Mapping[str, str | list[str]], limit: int
    ) -> list[dict[str, Any]]:
        return await self.runtime.crm_read(self.run, object_name, where, limit)


class RunFailed(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Upsert:
    """A row to insert or update by primary key: batched by the checkpointer."""

    model: Any
    key: tuple[Any, ...]
    row: dict[str, Any]

    def __call__(self, session: Session) -> None:
        upsert(session, self.model, [self.row])


# -- the group-committing writer -----------------------------------------------------------------


class Checkpointer:
    """Queues writes from every run in flight and commits them in batches, in order."""

    def __init__(self, kindred: Kindred) -> None:
        self.kindred = kindred
        self._queue: list[tuple[Callable[[Session], None], asyncio.Future[None] | None]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.writes = 0

    def submit(
        self, op: Callable[[Session], None], *, wait: bool = False
    ) -> asyncio.Future[None] | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] | None = loop.create_future() if wait else None
        self._queue.append((op, future))
        if self._wake is None:
            self._wake = asyncio.Event()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._flusher())
        self._wake.set()
        return future

    async def write(self, op: Callable[[Session], None]) -> None:
        future = self.submit(op, wait=True)
        assert future is not None
        await future

    async def drain(self) -> None:
        """Wait until everything queued so far is committed."""
        if self._queue or (self._task is not None and not self._task.done()):
            await self.write(lambda session: None)

    async def _flusher(self) -> None:
        assert self._wake is not None
        while self._queue:
            self._wake.clear()
            batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self._commit, [op for op, _ in batch])
                errors: list[BaseException | None] = [None] * len(batch)
            except Exception:
                # One bad write must not lose the others: commit them one by one.
                errors = await asyncio.to_thread(self._one_by_one, [op for op, _ in batch])
            self.batches += 1
            self.writes += len(batch)
            for (_, future), error in zip(batch, errors, strict=True):
                if future is not None and not future.done():
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
                elif error is not None:
                    log.error("agent state write failed: %s", error)

    def _commit(self, ops: list[Callable[[Session], None]]) -> None:
        with self.kindred.database.write() as session:
            # Row upserts (the bulk of the writes: one per finished step or run change) go out
            # first, as one executemany per table, the latest value of a row winning. The other
            # writes follow in order: a root run's closing entry updates its sub-agent runs'
            # rows, which the same batch may be creating.
            upserts: dict[tuple[Any, tuple[str, ...]], dict[tuple[Any, ...], dict[str, Any]]] = {}
            others = []
            for op in ops:
                if isinstance(op, Upsert):
                    shape = (op.model, tuple(sorted(op.row)))
                    upserts.setdefault(shape, {})[op.key] = op.row
                else:
                    others.append(op)
            for (model, _), rows in upserts.items():
                upsert(session, model, list(rows.values()))
            for op in others:
                op(session)

    def _one_by_one(self, ops: list[Callable[[Session], None]]) -> list[BaseException | None]:
        errors: list[BaseException | None] = []
        for op in ops:
            try:
                self._commit([op])
                errors.append(None)
            except Exception as error:
                errors.append(error)
        return errors


# -- the runtime -------------------------------------------------------------------------------


class AgentRuntime:
    def __init__(
        self,
        kindred: Kindred,
        service: AgentService,
        tools: ToolRegistry,
        *,
        llm: Any = None,
        urls: Mapping[str, str] | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.kindred = kindred
        self.service = service
        self.tools = tools
        self.llm = llm
        self.urls = dict(urls or {})
        self.lease_seconds = lease_seconds
        self.checkpoints = Checkpointer(kindred)
        # What golden cases pin in their evaluation run trees (never in a live run).
        self.pins = EvaluationPins(kindred.database)
        self._http: aiohttp.ClientSession | None = None
        self._inflight: dict[str, asyncio.Task[RunState]] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            # One pool for every tool call: connection set-up is most of a loopback call.
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, limit_per_host=50),
                headers={"User-Agent": "kindred-agents/1"},
            )
        return self._http

    async def aclose(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        for task in list(self._inflight.values()):
            with contextlib.suppress(BaseException):
                await task
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(BaseException):
                await self._heartbeat
        await self.checkpoints.drain()
        if self._http is not None:
            await self._http.close()
        if self.llm is not None and hasattr(self.llm, "aclose"):
            await self.llm.aclose()

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        while self._inflight:
            await asyncio.sleep(self.lease_seconds / 3)
            ids = [run_id for run_id, task in self._inflight.items() if not task.done()]
            if not ids:
                continue
            until = time.time() + self.lease_seconds

            def renew(session: Session, ids: list[str] = ids, until: float = until) -> None:
                session.execute(
                    sa.update(AgentRun)
                    .where(AgentRun.id.in_(ids), AgentRun.status == "running")
                    .values(lease_until=until)
                )

            self.checkpoints.submit(renew)

    # -- starting and resuming -----------------------------------------------------------------

    async def start(
        self,
        agent: str,
        inputs: Mapping[str, Any],
        *,
        principal: Principal | None = None,
        idempotency_key: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        version: int | None = None,
        mode: str = "live",
        wait: bool = True,
    ) -> dict[str, Any]:
        """Start a run (or, for a known idempotency key, return that run); with ``wait``,
        returns when it has finished or is waiting for a person. ``principal``: whose rights
        it acts with — the caller's; None (an event, a schedule) → the agent's run-as
        principal."""
        compiled, pinned = await asyncio.to_thread(self.service.compiled, agent, version)
        if principal is None:
            principal = await asyncio.to_thread(self._run_as, agent)
        values, errors = input_errors(compiled, inputs)
        if errors:
            raise ValidationFailed(f"invalid inputs for agent {agent!r}", errors=errors)
        key = idempotency_key or str(uuid.uuid4())
        run_id = str(uuid.uuid5(RUN_NAMESPACE, f"{agent}\n{key}"))
        # A fresh random key cannot name an existing run: no lookup needed.
        existing = (
            await asyncio.to_thread(self.service.run_summary, run_id) if idempotency_key else None
        )
        if existing is not None:
            if existing["status"] == "running" and wait and run_id in self._inflight:
                await asyncio.shield(self._inflight[run_id])
                return await asyncio.to_thread(self.service.run_summary, run_id) or existing
            return existing
        run = RunState(
            id=run_id,
            compiled=compiled,
            version=pinned,
            root_id=run_id,
            parent_id=None,
            parent_step=None,
            inputs=values,
            trigger=dict(trigger or {"kind": "api"}),
            principal=principal,
            mode=mode,
            idempotency_key=key,
            deadline=time.time() + compiled.timeout,
            started_at=dt.datetime.now(dt.UTC),
        )
        try:
            await self.checkpoints.write(self._insert_run(run))
        except sa.exc.IntegrityError:
            # Started concurrently under the same key: that run is the answer.
            found = await asyncio.to_thread(self.service.run_summary, run_id)
            if found is None:
                raise
            return found
        task = self._launch(run)
        if not wait:
            return self._summary(run)
        final = await asyncio.shield(task)
        return self._summary(final)

    def _run_as(self, agent: str) -> Principal:
        with self.kindred.database.read() as session:
            return self.service.run_as_principal(session, agent)

    def _launch(self, run: RunState) -> asyncio.Task[RunState]:
        task = asyncio.get_running_loop().create_task(self._drive(run))
        self._inflight[run.id] = task

        def forget(_task: asyncio.Task[RunState], run_id: str = run.id) -> None:
            self._inflight.pop(run_id, None)

        task.add_done_callback(forget)
        self._ensure_heartbeat()
        return task

    async def resume(self, run_id: str) -> dict[str, Any]:
        """Continue a run from its durable state (after a restart or a human decision)."""
        if run_id in self._inflight:
            final = await asyncio.shield(self._inflight[run_id])
            return self._summary(final)
        run = await asyncio.to_thread(self._load, run_id)
        if run.status in FINISHED_RUN:
            return self._summary(run)
        run.status = "running"
        until = time.time() + self.lease_seconds
        await self.checkpoints.write(self._set_running(run.id, until))
        final = await asyncio.shield(self._launch(run))
        return self._summary(final)

    async def resume_expired(self) -> list[str]:
        """Resume top-level runs whose lease lapsed (their runtime stopped mid-run), after
        ending what must not go on (:func:`kindred.agents.cancel.recover`: sub-runs whose
        parent has ended, evaluation runs left waiting)."""
        await cancel.recover(self)
        now = time.time()

        def due() -> list[str]:
            with self.kindred.database.read() as session:
                return list(
                    session.execute(
                        sa.select(AgentRun.id).where(
                            AgentRun.status == "running",
                            AgentRun.parent_id.is_(None),
                            sa.or_(AgentRun.lease_until.is_(None), AgentRun.lease_until < now),
                        )
                    ).scalars()
                )

        ids = [i for i in await asyncio.to_thread(due) if i not in self._inflight]
        for run_id in ids:
            await self.resume(run_id)
        return ids

    # -- one run -------------------------------------------------------------------------------

    async def _drive(self, run: RunState) -> RunState:
        try:
            remaining = run.deadline - time.time()
            if remaining <= 0:
                raise RunFailed(
                    f"the run passed its deadline ({run.compiled.timeout:g} s)", "run-timeout"
                )
            try:
                await asyncio.wait_for(self._execute(run), timeout=remaining)
            except TimeoutError:
                raise RunFailed(
                    f"the run did not finish within {run.compiled.timeout:g} s", "run-timeout"
                ) from None
        except RunFailed as failure:
            run.status, run.error, run.error_code = "failed", failure.message, failure.code
            await cancel.end_failed(self, run)
            await self._compensate(run)
        except asyncio.CancelledError:
            # The runtime is stopping: leave the run "running" for resume_expired.
            raise
        except Exception as error:  # a bug must still end the run visibly
            log.exception("agent run %s crashed", run.id)
            run.status, run.error, run.error_code = (
                "failed",
                f"{type(error).__name__}: {error}",
                "internal",
            )
            await cancel.end_failed(self, run)
            await self._compensate(run)
        await self._finish(run)
        return run

    async def _execute(self, run: RunState) -> None:
        if run.reads is None:
            run.reads, run.read_trace, run.customer_id = await asyncio.to_thread(self._read, run)
            self.checkpoints.submit(self._save_reads(run))
        for step_id in sorted(run.dirty):
            self.checkpoints.submit(self._save_step(run, step_id, run.steps[step_id]))
        run.dirty.clear()
        compiled = run.compiled
        pending = [
            s
            for s in compiled.order
            if run.steps.get(s) is None or run.steps[s].status not in TERMINAL | {"waiting"}
        ]
        waiting = {s for s, r in run.steps.items() if r.status == "waiting"}
        running: dict[asyncio.Task[StepResult], str] = {}
        failure: RunFailed | None = None
        try:
            while pending or running:
                for step_id in list(pending):
                    step = compiled.steps[step_id]
                    if any(
                        n not in run.steps or run.steps[n].status not in TERMINAL
                        for n in step.step.needs
                    ):
                        continue
                    pending.remove(step_id)
                    task = asyncio.get_running_loop().create_task(self._step(run, step))
                    running[task] = step_id
                if not running:
                    break  # the rest waits for a person (or for a failed need)
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    step_id = running.pop(task)
                    result = task.result()
                    run.steps[step_id] = result
                    self.checkpoints.submit(self._save_step(run, step_id, result))
                    if result.status == "waiting":
                        waiting.add(step_id)
                    elif result.status == "failed":
                        failure = RunFailed(
                            f"step {step_id} failed: {result.error}",
                            result.error_code or "step-failed",
                        )
                if failure is not None:
                    break
        finally:
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(BaseException):
                    await task
        if failure is not None:
            raise failure
        if waiting or any(
            s not in run.steps or run.steps[s].status not in TERMINAL for s in compiled.order
        ):
            run.status = "waiting"
            return
        run.outputs = self._outputs(run)
        run.status = "succeeded"

    def _variables(self, run: RunState) -> dict[str, Any]:
        return {
            "inputs": run.inputs,
            "reads": run.reads or {},
            "steps": {
                s: r.output
                for s, r in run.steps.items()
                if r.status in TERMINAL and r.output is not None
            },
            "agent": {
                "name": run.agent,
                "version": run.version,
                "role": run.compiled.definition.role,
            },
            "run": {"id": run.id, "root": run.root_id, "mode": run.mode},
            "now": dt.datetime.now(dt.UTC),
        }

    def _outputs(self, run: RunState) -> dict[str, Any]:
        variables = self._variables(run)
        try:
            outputs = {
                name: render_value(value, variables, f"/outputs/value/{name}")
                for name, value in run.compiled.outputs.items()
            }
        except StepError as error:
            raise RunFailed(f"outputs: {error}", "outputs-invalid") from None
        schema = run.compiled.definition.outputs.schema_
        if schema is not None:
            problems = sorted(
                jsonschema.Draft202012Validator(schema).iter_errors(outputs),
                key=lambda e: list(e.path),
            )
            if problems:
                where = "/".join(str(p) for p in problems[0].path) or "(root)"
                raise RunFailed(
                    f"the outputs do not match the declared schema at {where}: "
                    f"{problems[0].message}",
                    "outputs-schema",
                )
        return plain_json(outputs)

    # -- reads ---------------------------------------------------------------------------------

    def _read(self, run: RunState) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
        """The agent's records, read as the agent (permissions, consent, grants)."""
        reads: dict[str, Any] = {}
        trace: list[dict[str, Any]] = []
        customer: str | None = None
        context = run.context()
        grants = run.compiled.definition.grants
        with self.kindred.database.read() as session:
            for compiled_read in run.compiled.reads:
                read = compiled_read.read
                variables = {**self._variables(run), "reads": reads}
                fields = list(grants.get(read.object, []))
                try:
                    if compiled_read.id is not None:
                        record_id = compiled_read.id.evaluate(variables)
                        if record_id is None and read.optional:
                            reads[read.name] = None
                            continue
                        try:
                            record = self._get(session, run, read.object, str(record_id), fields)
                        except NotFound:
                            if not read.optional:
                                raise RunFailed(
                                    f"read {read.name}: no {read.object} {record_id} "
                                    "visible to the agent",
                                    "read-not-found",
                                ) from None
                            reads[read.name] = None
                            trace.append(
                                {
                                    "read": read.name,
                                    "object": read.object,
                                    "id": str(record_id),
                                    "found": False,
                                }
                            )
                            continue
                        value: Any = _granted(record, fields)
                        trace.append(_read_entry(read.name, read.object, [record], fields))
                        if read.object == "account" and customer is None:
                            customer = record["id"]
                        elif customer is None and isinstance(record.get("account"), str):
                            customer = record["account"]
                    else:
                        filters = [
                            FieldFilter(name, "eq", str(rule.evaluate(variables)))
                            for name, rule in compiled_read.where.items()
                        ]
                        page = self.kindred.records.list_records(
                            session,
                            context,
                            read.object,
                            ListQuery(filters=filters, limit=read.limit, fields=fields),
                        )
                        value = [_granted(r, fields) for r in page.data]
                        trace.append(_read_entry(read.name, read.object, page.data, fields))
                except RuleError as error:
                    raise RunFailed(
                        f"read {read.name}: CEL failed: {error.message}", "read-invalid"
                    ) from None
                except KindredError as error:
                    raise RunFailed(f"read {read.name}: {error}", "read-refused") from None
                reads[read.name] = value
        return plain_json(reads), trace, customer

    def _get(
        self, session: Session, run: RunState, object_name: str, record_id: str, fields: list[str]
    ) -> dict[str, Any]:
        """One record for a read. Records without customer-authorized fields are read once
        per run tree (the same principal, so the same visibility) and each agent gets only its
        granted fields of it; customer-authorized data is read by each agent itself, so every
        consent decision names the agent that reads."""
        key = (object_name, record_id)
        cached = run.tree_records.get(key)
        if cached is not None:
            return cached
        compiled = self.kindred.records.registry(session).objects.get(object_name)
        shareable = compiled is not None and not compiled.customer_authorized
        record, _ = self.kindred.records.get(
            session, run.context(), object_name, record_id, fields=None if shareable else fields
        )
        if shareable:
            run.tree_records[key] = record
        return record

    async def crm_read(
        self,
        run: RunState,
        object_name: str,
        where: Mapping[str, str | list[str]],
        limit: int,
    ) -> list[dict[str, Any]]:
        grants = run.compiled.definition.grants
        if object_name not in grants:
            raise ActionFailed(
                f"the agent is not granted {object_name!r} records",
                retryable=False,
                code="not-granted",
            )
        fields = list(grants[object_name])

        def read() -> list[dict[str, Any]]:
            with self.kindred.database.read() as session:
                page = self.kindred.records.list_records(
                    session,
                    run.context(),
                    object_name,
                    ListQuery(
                        filters=[
                            FieldFilter(k, "in", ",".join(v))
                            if isinstance(v, list)
                            else FieldFilter(k, "eq", v)
                            for k, v in where.items()
                        ],
                        limit=limit,
                        sort=[("created_at", True)],
                        fields=fields,
                    ),
                )
                return [plain_json(_granted(r, fields)) for r in page.data]

        try:
            return await asyncio.to_thread(read)
        except KindredError as error:
            raise ActionFailed(
                f"CRM read refused: {error}", retryable=False, code="crm-refused"
            ) from None

    # -- steps ---------------------------------------------------------------------------------

    async def _step(self, run: RunState, step: CompiledStep) -> StepResult:
        started = time.time()
        variables = self._variables(run)
        if step.guard is not None:
            try:
                holds = step.guard.evaluate_bool(variables)
            except RuleError as error:
                return StepResult(
                    "failed",
                    error=f"when: {error.message}",
                    error_code="cel-error",
                    started=started,
                    finished=time.time(),
                )
            if not holds:
                return StepResult(
                    "skipped",
                    trace={"when": {"source": step.step.when, "value": False}},
                    started=started,
                    finished=time.time(),
                )
        kind = step.step.kind
        if kind == "human":
            return await self._open_task(run, step, variables, reason="step", started=started)
        attempts = step.step.retry.attempts if step.step.retry else 1
        result = StepResult("failed", started=started)
        # A tool step's trace keeps every attempt's requests and responses, not just the last.
        attempt_log = traces.AttemptLog() if kind == "tool" else None
        for attempt in range(1, attempts + 1):
            begun = time.time()
            result = await self._attempt(run, step, variables, attempt)
            result.started = started
            if attempt_log is not None:
                attempt_log.add(
                    attempt,
                    begun,
                    time.time(),
                    result.status,
                    result.trace,
                    result.error,
                    result.error_code,
                )
                if any(c.get("pinned") for c in result.trace.get("calls") or ()):
                    attempt_log.kept[-1]["pinned"] = True  # answered by the golden case's pin
            if (
                result.status != "failed"
                or not result.trace.get("retryable", False)
                or attempt == attempts
            ):
                break
            wait = full_jitter(attempt, step.backoff, step.max_backoff)
            if attempt_log is not None:
                attempt_log.waited(wait)
            await asyncio.sleep(wait)
        if attempt_log is not None:
            attempt_log.into(result.trace)
        result.finished = time.time()
        if result.status == "failed":
            return await self._route(run, step, variables, result)
        return result

    async def _attempt(
        self, run: RunState, step: CompiledStep, variables: dict[str, Any], attempt: int
    ) -> StepResult:
        kind = step.step.kind
        timeout = step.timeout
        remaining = run.deadline - time.time()
        budget = min(timeout, remaining) if timeout else remaining
        trace: dict[str, Any] = {"attempt": attempt}
        try:
            if kind == "rule":
                coroutine = self._rule(step, variables, trace)
            elif kind == "tool":
                coroutine = self._tool(run, step, variables, trace, budget)
            elif kind == "llm":
                coroutine = self._llm(step, variables, trace, budget)
            else:
                coroutine = self._child(run, step, variables, trace)
            output, status = await asyncio.wait_for(coroutine, timeout=max(0.001, budget))
            return StepResult(
                status, output=output, input=trace.pop("input", None), trace=trace, attempts=attempt
            )
        except TimeoutError:
            trace["retryable"] = True
            return StepResult(
                "failed",
                input=trace.pop("input", None),
                trace=trace,
                error=f"timed out after {budget:.3g} s",
                error_code="timeout",
                attempts=attempt,
            )
        except ActionFailed as error:
            trace["retryable"] = error.retryable
            return StepResult(
                "failed",
                input=trace.pop("input", None),
                trace=trace,
                error=error.detail,
                error_code=error.code,
                attempts=attempt,
            )
        except StepError as error:
            return StepResult(
                "failed",
                input=trace.pop("input", None),
                trace=trace,
                error=str(error),
                error_code="expression",
                attempts=attempt,
            )
        except RuleError as error:
            return StepResult(
                "failed",
                input=trace.pop("input", None),
                trace=trace,
                error=f"CEL failed: {error.message}",
                error_code="cel-error",
                attempts=attempt,
            )
        except RunFailed as error:
            return StepResult(
                "failed",
                input=trace.pop("input", None),
                trace=trace,
                error=error.message,
                error_code=error.code,
                attempts=attempt,
            )

    async def _rule(
        self, step: CompiledStep, variables: dict[str, Any], trace: dict[str, Any]
    ) -> tuple[Any, str]:
        evaluations = []
        hits = []
        for index, row in enumerate(step.rows):
            value = row.rule.evaluate_bool(variables)
            evaluations.append({"row": index, "when": row.source, "value": value})
            if value:
                hits.append(render_value(row.then, variables, f"{step.pointer}/rules/{index}/then"))
                if step.step.hit == "first":
                    break
        trace["rules"] = evaluations
        if hits:
            output = hits[0] if step.step.hit == "first" else {"hits": hits}
            trace["matched"] = [e["row"] for e in evaluations if e["value"]]
        elif step.default is not None:
            output = render_value(step.default, variables, f"{step.pointer}/default")
            trace["matched"] = "default"
        else:
            raise ActionFailed(
                "no rule row matched and the step has no default",
                retryable=False,
                code="no-rule-matched",
            )
        return plain_json(output), "succeeded"

    async def _tool(
        self,
        run: RunState,
        step: CompiledStep,
        variables: dict[str, Any],
        trace: dict[str, Any],
        budget: float,
    ) -> tuple[Any, str]:
        name = step.step.tool
        assert name is not None
        tool = self.tools[name]
        arguments = {
            key: render_value(value, variables, f"{step.pointer}/with/{key}")
            for key, value in step.params.items()
        }
        trace["input"] = plain_json(arguments)
        trace["tool"] = {"name": tool.name, "version": tool.version, "system": tool.system}
        context = self._tool_context(run, step.id, budget)
        context.pins = await self.pins.for_run(run.mode, run.root_id)
        trace["calls"] = context.calls
        output = await tool.call(context, arguments)
        return output, "succeeded"

    def _tool_context(self, run: RunState, key: str, budget: float) -> ToolContext:
        return ToolContext(
            self.http(),
            self.urls,
            f"{run.id}:{key}",
            time.monotonic() + budget,
            crm=CrmReader(self, run),
        )

    async def _llm(
        self, step: CompiledStep, variables: dict[str, Any], trace: dict[str, Any], budget: float
    ) -> tuple[Any, str]:
        from kindred.agents import llm as llm_port

        assert step.prompt is not None and step.fallback is not None
        prompt = render_value(step.prompt, variables, f"{step.pointer}/prompt")
        system = (
            render_value(step.system, variables, f"{step.pointer}/system") if step.system else None
        )
        trace["input"] = {"prompt": prompt, "system": system}
        language = step.step.language
        reason = "no LLM is configured"
        if self.llm is not None:
            messages = (
                *((llm_port.Message("system", str(system)),) if system else ()),
                llm_port.Message("user", str(prompt)),
            )
            request = llm_port.CompletionRequest(
                messages=messages,
                max_tokens=step.step.max_tokens,
                json_mode=step.step.json_output,
                timeout_s=max(0.05, budget - 0.05),
            )
            try:
                completion = await self.llm.complete(request)
            except llm_port.LLMError as error:
                reason = f"{type(error).__name__}: {error}"
            else:
                labelled = llm_port.label_generated(
                    completion.text,
                    completion,
                    language,
                    producer=self.kindred.settings.llm_content_producer,
                )
                trace["llm"] = {
                    "model": completion.model,
                    "provider": completion.provider,
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                    "latency_ms": completion.latency_ms,
                    "finish_reason": completion.finish_reason,
                }
                return labelled.to_dict(), "succeeded"
        text = render_value(step.fallback, variables, f"{step.pointer}/fallback")
        trace["fallback"] = reason
        return llm_port.fallback_text(str(text), reason).to_dict(), "succeeded"

    async def _child(
        self, run: RunState, step: CompiledStep, variables: dict[str, Any], trace: dict[str, Any]
    ) -> tuple[Any, str]:
        name = step.step.agent
        assert name is not None
        inputs = {
            key: render_value(value, variables, f"{step.pointer}/with/{key}")
            for key, value in step.params.items()
        }
        trace["input"] = plain_json(inputs)
        child_id = str(uuid.uuid5(RUN_NAMESPACE, f"{run.id}\n{step.id}"))
        # A run started here cannot have children yet; only a resumed one looks them up.
        looked_up = run.resumed or trace.get("attempt", 1) > 1
        existing = (
            await asyncio.to_thread(self.service.run_summary, child_id) if looked_up else None
        )
        if existing is not None and existing["status"] in FINISHED_RUN:
            child = await asyncio.to_thread(self._load, child_id)
        elif existing is not None:
            child = await asyncio.to_thread(self._load, child_id)
            child.status = "running"
            child.tree_digests = run.tree_digests
            child.tree_records = run.tree_records
            await self._drive_child(child)
        else:
            compiled, version = await asyncio.to_thread(self.service.compiled, name, None)
            values, errors = input_errors(compiled, inputs)
            if errors:
                raise ActionFailed(
                    f"invalid inputs for agent {name}: " + "; ".join(e["message"] for e in errors),
                    retryable=False,
                    code="agent-inputs",
                )
            child = RunState(
                id=child_id,
                compiled=compiled,
                version=version,
                root_id=run.root_id,
                parent_id=run.id,
                parent_step=step.id,
                inputs=values,
                trigger={"kind": "agent", "parent": run.id, "step": step.id},
                principal=run.principal,
                mode=run.mode,
                idempotency_key=f"{run.id}:{step.id}",
                deadline=min(run.deadline, time.time() + compiled.timeout),
                started_at=dt.datetime.now(dt.UTC),
                tree_digests=run.tree_digests,
                tree_records=run.tree_records,
            )
            self.checkpoints.submit(self._insert_run(child))
            await self._drive_child(child)
        trace["run"] = child.id
        trace["agent"] = {"name": name, "version": child.version}
        if child.status == "waiting":
            return {"run": child.id, "status": "waiting"}, "waiting"
        if child.status != "succeeded":
            raise ActionFailed(
                f"agent {name} failed: {child.error}",
                retryable=False,
                code=child.error_code or "agent-failed",
            )
        return child.outputs, "succeeded"

    async def _drive_child(self, child: RunState) -> None:
        try:
            await self._execute(child)
        except RunFailed as failure:
            child.status, child.error, child.error_code = "failed", failure.message, failure.code
            await cancel.end_failed(self, child)
            await self._compensate(child)
        except asyncio.CancelledError:
            raise
        await self._finish(child, wait=False)

    async def _route(
        self, run: RunState, step: CompiledStep, variables: dict[str, Any], failed: StepResult
    ) -> StepResult:
        route = step.step.on_error.route
        error = {"code": failed.error_code, "message": failed.error}
        failed.trace["error"] = error
        if route == "fallback" and step.error_value is not None:
            try:
                value = render_value(
                    step.error_value,
                    {**variables, "error": error},
                    f"{step.pointer}/on_error/value",
                )
            except StepError as problem:
                failed.error = f"{failed.error}; and the fallback failed: {problem}"
                return failed
            failed.trace["route"] = "fallback"
            return dataclasses.replace(failed, status="fallback", output=plain_json(value))
        if route == "escalate" and step.error_task is not None:
            waiting = await self._open_task(
                run,
                step,
                {**variables, "error": error},
                reason="error",
                started=failed.started or time.time(),
            )
            waiting.trace = {**failed.trace, **waiting.trace, "route": "escalate"}
            waiting.attempts = failed.attempts
            waiting.error, waiting.error_code = failed.error, failed.error_code
            return waiting
        return failed

    # -- human tasks ---------------------------------------------------------------------------

    async def _open_task(
        self,
        run: RunState,
        step: CompiledStep,
        variables: dict[str, Any],
        *,
        reason: str,
        started: float,
    ) -> StepResult:
        if reason == "error":
            assert step.error_task is not None
            title_t, details_t, sla = step.error_task
            spec = step.step.on_error.task
        else:
            assert step.task_title is not None
            title_t, details_t, sla = step.task_title, step.task_details, step.sla
            spec = step.step.task
        assert spec is not None or reason == "error"
        title = str(render_value(title_t, variables, f"{step.pointer}/task/title"))
        details = plain_json(
            {
                k: render_value(v, variables, f"{step.pointer}/task/details/{k}")
                for k, v in details_t.items()
            }
        )
        if step.outcomes:
            # What each decision makes the step's output, shown with the task; the proposal
            # (what a modification changes) is the 'modified' or else the 'approved' one.
            outcomes = plain_json(
                {
                    o: render_value(v, variables, f"{step.pointer}/task/outcomes/{o}")
                    for o, v in step.outcomes.items()
                }
            )
            details = {
                **details,
                "proposal": outcomes.get("modified", outcomes["approved"]),
                "outcomes": outcomes,
            }
        task_id = str(uuid.uuid5(RUN_NAMESPACE, f"task\n{run.id}\n{step.id}"))
        assignee = spec.assignee if spec else None
        escalate = spec.escalate_to if spec else None
        now = dt.datetime.now(dt.UTC)
        row = {
            "id": task_id,
            "run_id": run.id,
            "root_id": run.root_id,
            "step": step.id,
            "agent": run.agent,
            "reason": reason,
            "title": title[:300],
            "details": details,
            "proposal": details.get("proposal")
            if isinstance(details.get("proposal"), dict)
            else None,
            "modifiable": list(spec.modifiable) if spec else [],
            "assignee_user": assignee.user if assignee else None,
            "assignee_role": (assignee.role if assignee else None)
            or ("admin" if not assignee else None),
            "status": "open",
            "mode": run.mode,
            "due_at": now + dt.timedelta(seconds=sla),
            "on_timeout": spec.on_timeout if spec else "escalate",
            "escalate_user": escalate.user if escalate else None,
            "escalate_role": escalate.role if escalate else "admin",
            "sla_seconds": sla,
            "created_at": now,
        }

        def create(session: Session) -> None:
            if session.get(HumanTask, task_id) is None:
                session.add(HumanTask(**row))
                session.add(
                    HumanTaskEvent(
                        task_id=task_id,
                        actor=f"agent:{run.agent}",
                        action="created",
                        detail={"reason": reason},
                    )
                )

        self.checkpoints.submit(create)
        return StepResult(
            "waiting",
            output=None,
            input={"title": title, "details": details},
            trace={
                "task": task_id,
                "assignee": {"user": row["assignee_user"], "role": row["assignee_role"]},
            },
            started=started,
            finished=None,
        )

    # -- compensation and the end of a run -----------------------------------------------------

    async def _compensate(self, run: RunState) -> None:
        done = [
            (r.finished or 0.0, step_id)
            for step_id, r in run.steps.items()
            if r.status == "succeeded" and run.compiled.steps[step_id].compensate is not None
        ]
        for _, step_id in sorted(done, reverse=True):
            step = run.compiled.steps[step_id]
            spec = step.compensate
            assert spec is not None
            result = run.steps[step_id]
            variables = {**self._variables(run), "output": result.output}
            started = time.time()
            entry: dict[str, Any] = {"tool": spec["tool"]}
            try:
                arguments = {
                    k: render_value(v, variables, f"{step.pointer}/compensate/with/{k}")
                    for k, v in spec["params"].items()
                }
                entry["input"] = plain_json(arguments)
                context = self._tool_context(run, f"{step_id}:compensate", 10.0)
                entry["calls"] = context.calls
                entry["output"] = await self.tools[spec["tool"]].call(context, arguments)
                entry["status"] = "succeeded"
                result.status = "compensated"
            except (ActionFailed, StepError) as error:
                entry["status"] = "failed"
                entry["error"] = getattr(error, "detail", str(error))
            entry["ms"] = round((time.time() - started) * 1000, 3)
            result.trace = {**result.trace, "compensation": entry}
            self.checkpoints.submit(self._save_step(run, step_id, result))

    async def _finish(self, run: RunState, *, wait: bool = True) -> None:
        finished = dt.datetime.now(dt.UTC)
        final = run.status in FINISHED_RUN
        duration = (finished - run.started_at).total_seconds() * 1000 if final else None
        digest = (
            traces.digest(traces.canonical(run, finished if final else None)) if final else None
        )
        if digest is not None and run.parent_id is not None:
            run.tree_digests[run.id] = digest
        op = self._save_run(run, finished if final else None, duration, digest)
        if wait:
            await self.checkpoints.write(op)
        else:
            self.checkpoints.submit(op)

    # -- persistence (ops for the checkpointer) ------------------------------------------------

    def _run_row(self, run: RunState, **values: Any) -> dict[str, Any]:
        """The whole row of a run as it stands (written as one upsert per batch)."""
        row = {
            "id": run.id,
            "agent": run.agent,
            "version": run.version,
            "root_id": run.root_id,
            "parent_id": run.parent_id,
            "parent_step": run.parent_step,
            "status": run.status,
            "mode": run.mode,
            "idempotency_key": f"{run.agent}:{run.idempotency_key}"
            if run.parent_id is None
            else f"child:{run.id}",
            "inputs": plain_json(run.inputs),
            "reads": None
            if run.reads is None
            else {"values": run.reads, "trace": plain_json(run.read_trace)},
            "outputs": run.outputs,
            "trigger": plain_json(run.trigger),
            "customer_id": run.customer_id,
            "started_by": run.principal.user_id,
            "error": run.error,
            "error_code": run.error_code,
            "started_at": run.started_at,
            "finished_at": None,
            "duration_ms": None,
            "deadline": run.deadline,
            "lease_until": time.time() + self.lease_seconds,
            "digest": None,
        }
        row.update(values)
        return row

    def _insert_run(self, run: RunState) -> Callable[[Session], None]:
        if run.parent_id is not None:
            # A sub-agent run's id derives from its parent's step: no competing start.
            return Upsert(AgentRun, (run.id,), self._run_row(run, status="running"))
        row = self._run_row(run, status="running")

        def insert(session: Session) -> None:
            # A plain INSERT: a second start under the same idempotency key must fail here.
            session.execute(sa.insert(AgentRun).values(**row))

        return insert

    def _save_reads(self, run: RunState) -> Callable[[Session], None]:
        return Upsert(AgentRun, (run.id,), self._run_row(run))

    def _save_step(
        self, run: RunState, step_id: str, result: StepResult
    ) -> Callable[[Session], None]:
        row = {
            "run_id": run.id,
            "step": step_id,
            "kind": run.compiled.steps[step_id].step.kind,
            "status": result.status,
            "attempts": result.attempts,
            "input": plain_json(result.input),
            "output": plain_json(result.output),
            "trace": plain_json(result.trace),
            "error": result.error,
            "error_code": result.error_code,
            "started_at": result.started,
            "finished_at": result.finished,
            "duration_ms": result.ms,
        }

        return Upsert(AgentRunStep, (run.id, step_id), row)

    def _save_run(
        self,
        run: RunState,
        finished: dt.datetime | None,
        duration: float | None,
        digest: str | None,
    ) -> Callable[[Session], None]:
        row = self._run_row(
            run, finished_at=finished, duration_ms=duration, digest=digest, lease_until=None
        )
        if run.parent_id is not None or digest is None:
            return Upsert(AgentRun, (run.id,), row)
        ledger = self.kindred.ledger
        children = dict(run.tree_digests)

        def save(session: Session) -> None:
            # One entry per run tree: the root's digest and every sub-agent run's.
            index = ledger.append(
                session,
                "agent.run",
                {
                    "run": run.id,
                    "agent": run.agent,
                    "version": run.version,
                    "status": run.status,
                    "digest": digest,
                    "runs": children,
                },
            )
            upsert(session, AgentRun, [{**row, "ledger_index": index}])
            if children:
                session.execute(
                    sa.update(AgentRun)
                    .where(AgentRun.id.in_(list(children)))
                    .values(ledger_index=index)
                )

        return save

    def _set_running(self, run_id: str, until: float) -> Callable[[Session], None]:
        def save(session: Session) -> None:
            session.execute(
                sa.update(AgentRun)
                .where(AgentRun.id == run_id)
                .values(status="running", lease_until=until)
            )

        return save

    def _load(self, run_id: str) -> RunState:
        auth = self.kindred.auth
        with self.kindred.database.read() as session:
            row = session.get(AgentRun, run_id)
            if row is None:
                raise NotFound(f"no agent run {run_id}")
            compiled, version = self.service.compiled(row.agent, row.version, session=session)
            # The rights it acts with, loaded now: a demoted starter's run loses them.
            principal = (
                auth.acting_principal(session, row.started_by)
                if row.started_by and row.started_by != SYSTEM_PRINCIPAL.user_id
                else self.service.run_as_principal(session, row.agent)
            )
            run = RunState(
                id=row.id,
                compiled=compiled,
                version=version,
                root_id=row.root_id,
                parent_id=row.parent_id,
                parent_step=row.parent_step,
                inputs=dict(row.inputs),
                trigger=dict(row.trigger),
                principal=principal,
                mode=row.mode,
                idempotency_key=row.idempotency_key.split(":", 1)[-1],
                deadline=row.deadline,
                started_at=row.started_at,
                reads=(row.reads or {}).get("values") if row.reads else None,
                read_trace=(row.reads or {}).get("trace", []) if row.reads else [],
                customer_id=row.customer_id,
                status=row.status,
                outputs=row.outputs,
                error=row.error,
                error_code=row.error_code,
                resumed=True,
            )
            if row.parent_id is None:
                run.tree_digests = {
                    child_id: str(digest)
                    for child_id, digest in session.execute(
                        sa.select(AgentRun.id, AgentRun.digest).where(
                            AgentRun.root_id == row.id,
                            AgentRun.id != row.id,
                            AgentRun.digest.is_not(None),
                        )
                    ).all()
                }
            for step in session.execute(
                sa.select(AgentRunStep).where(AgentRunStep.run_id == run_id)
            ).scalars():
                run.steps[step.step] = StepResult(
                    step.status,
                    output=step.output,
                    input=step.input,
                    trace=dict(step.trace or {}),
                    error=step.error,
                    error_code=step.error_code,
                    attempts=step.attempts,
                    started=step.started_at,
                    finished=step.finished_at,
                )
            if run.status not in FINISHED_RUN:
                # A human decision lands on the task; carry it into the waiting step.
                for task in session.execute(
                    sa.select(HumanTask).where(
                        HumanTask.run_id == run_id, HumanTask.status == "decided"
                    )
                ).scalars():
                    result = run.steps.get(task.step)
                    if result is not None and result.status == "waiting":
                        result.status = "succeeded"
                        # The declared outcome of the decision, or the proposal as the
                        # person left it (modified values win), is the step's output, so
                        # later steps read it like any other step's.
                        result.output = {
                            **decided_output(task),
                            **(task.values or {}),
                            "outcome": task.outcome,
                            "values": task.values or {},
                            "comment": task.comment,
                            "by": task.decided_by,
                        }
                        result.finished = (
                            task.decided_at.timestamp() if task.decided_at else time.time()
                        )
                        result.trace = {**result.trace, "decision": result.output}
                        run.dirty.add(task.step)
                # A waiting child that has since finished: re-run the parent's step to collect it.
                for step_id, result in run.steps.items():
                    if (
                        result.status == "waiting"
                        and run.compiled.steps[step_id].step.kind == "agent"
                    ):
                        result.status = "pending"
        # Deadline extension for resumed waiting runs: a person's decision may come late.
        if run.status == "waiting":
            run.deadline = max(run.deadline, time.time() + run.compiled.timeout)
        return run

    def _summary(self, run: RunState) -> dict[str, Any]:
        return {
            "id": run.id,
            "agent": run.agent,
            "version": run.version,
            "status": run.status,
            "outputs": run.outputs,
            "error": run.error,
            "error_code": run.error_code,
            "customer_id": run.customer_id,
            "waiting_for": [
                r.trace.get("task")
                for r in run.steps.values()
                if r.status == "waiting" and r.trace.get("task")
            ],
        }


def _granted(record: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    """Only the fields the agent is granted (plus the id and why any were withheld)."""
    out = {name: record.get(name) for name in fields if name in record}
    out["id"] = record.get("id")
    withheld = (record.get("meta") or {}).get("withheld")
    if withheld:
        out["_withheld"] = withheld
    return out


def _read_entry(
    name: str, object_name: str, records: Sequence[Mapping[str, Any]], fields: list[str]
) -> dict[str, Any]:
    return {
        "read": name,
        "object": object_name,
        "ids": [r.get("id") for r in records],
        "fields": fields,
        "withheld": sorted(
            {
                w.get("field", "") if isinstance(w, dict) else str(w)
                for r in records
                for w in ((r.get("meta") or {}).get("withheld") or [])
            }
        ),
    }


def decided_output(task: HumanTask) -> dict[str, Any]:
    """The step's output a decision gives before the person's values are merged over it:
    the task's declared outcome, else its proposal."""
    declared = (task.details or {}).get("outcomes")
    if isinstance(declared, dict) and task.outcome in ("approved", "rejected"):
        chosen = declared.get(task.outcome)
        if isinstance(chosen, dict):
            return dict(chosen)
    return dict(task.proposal or {})


def task_decision_errors(
    task: HumanTask, outcome: str, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    errors = []
    if outcome not in ("approved", "rejected", "modified"):
        errors.append(field_error("/outcome", "choice", "one of: approved, rejected, modified"))
    if task.reason == "error" and task.proposal is None:
        # An escalation that declares no outcomes: only the person's values define the
        # step's output, so they must give every one of them.
        needed = ", ".join(task.modifiable) or "none"
        if outcome in ("approved", "rejected"):
            errors.append(
                field_error(
                    "/outcome",
                    "undefined-outcome",
                    f"this task declares no output for {outcome!r}: decide 'modified' with "
                    f"values for {needed}",
                )
            )
        elif outcome == "modified":
            errors.extend(
                field_error(f"/values/{name}", "required", "this task has no proposal: give it")
                for name in task.modifiable
                if name not in values
            )
    if outcome == "modified":
        if not values:
            errors.append(
                field_error("/values", "required", "a modification gives the changed values")
            )
        for name in values:
            if name not in task.modifiable:
                allowed = ", ".join(task.modifiable) or "none"
                errors.append(
                    field_error(f"/values/{name}", "not-modifiable", f"may change only: {allowed}")
                )
    elif values:
        errors.append(
            field_error("/values", "shape", "values are given only with outcome 'modified'")
        )
    if task.status == "cancelled":
        raise Conflict(f"task {task.id} was closed without a decision: {task.comment}")
    if task.status != "open":
        raise Conflict(f"task {task.id} was already decided ({task.outcome} by {task.decided_by})")
    return errors


# -- one runtime per event loop, and the scenario engine's launcher ----------------------------


def urls_from_settings(settings: Any) -> dict[str, str]:
    names = {
        "inventory": "inventory_url",
        "insurance": "insurance_url",
        "contracts": "contracts_url",
        "knowledge": "knowledge_url",
    }
    return {system: url for system, attr in names.items() if (url := getattr(settings, attr, None))}


def runtime_for(kindred: Kindred) -> AgentRuntime:
    """The agent runtime of the running event loop (aiohttp pools belong to one loop)."""
    from kindred.agents.llm import provider_from_settings

    loop = asyncio.get_running_loop()
    runtime: AgentRuntime | None = kindred.extras.get("agent_runtime")
    if runtime is None or getattr(runtime, "loop", None) is not loop:
        settings = kindred.settings
        runtime = AgentRuntime(
            kindred,
            kindred.agents,
            kindred.agents.tools,
            llm=provider_from_settings(settings),
            urls=urls_from_settings(settings),
            lease_seconds=settings.agent_lease_seconds,
        )
        runtime.loop = loop  # type: ignore[attr-defined]
        kindred.extras["agent_runtime"] = runtime
    return runtime


class ScenarioLauncher:
    """``start_agent`` scenario steps: start the agent for the step (once per step, by its
    idempotency key) and return the run id; the run continues in the background."""

    def __init__(self, kindred: Kindred) -> None:
        self.kindred = kindred

    async def start(
        self,
        workflow: str,
        inputs: Mapping[str, Any],
        *,
        idempotency_key: str,
        trigger: Mapping[str, Any],
        started_by: str | None = None,
    ) -> dict[str, Any]:
        runtime = runtime_for(self.kindred)
        try:
            principal = await asyncio.to_thread(self._principal, started_by) if started_by else None
            summary = await runtime.start(
                workflow,
                inputs,
                principal=principal,
                idempotency_key=f"scenario:{idempotency_key}",
                trigger={"kind": "scenario", **trigger},
                wait=False,
            )
        except (NotFound, ValidationFailed, Conflict, PermissionDenied, Unauthenticated) as error:
            detail = error.detail
            if error.errors:
                detail += ": " + "; ".join(f"{e['path']} {e['message']}" for e in error.errors)
            raise ActionFailed(detail, retryable=False, code="agent-refused") from None
        return {"run": summary["id"], "agent": workflow, "status": summary["status"]}

    def _principal(self, user_id: str) -> Principal:
        with self.kindred.database.read() as session:
            return self.kindred.auth.acting_principal(session, user_id)


async def maintain(kindred: Kindred, interval: float | None = None) -> None:
    """Background upkeep, run by the API server and the worker: resume runs whose runtime
    stopped (lapsed leases), apply the SLA routes of overdue human tasks and, with
    ``otlp_traces_url`` set, push finished traces to the collector (``agents.export``)."""
    runtime = runtime_for(kindred)
    interval = interval or runtime.lease_seconds
    while True:
        try:
            await runtime.resume_expired()

            def expire() -> list[dict[str, Any]]:
                with kindred.database.write() as session:
                    return kindred.agents.expire_tasks(session)

            for change in await asyncio.to_thread(expire):
                if change["resume"]:
                    await runtime.resume(change["root"])
            url = kindred.settings.otlp_traces_url
            if url:
                await export_pending(kindred, url, headers=kindred.settings.otlp_headers())
        except asyncio.CancelledError:
            raise
        except Exception:  # upkeep must go on; the next round retries
            log.exception("agent upkeep failed")
        await asyncio.sleep(interval)
