"""Ending runs that must not go on, so that no run hangs.

* **A failed run's sub-runs.** When a run fails, its sub-agent runs that are still running
  or waiting for a person are cancelled, depth first: their open steps end as
  ``cancelled``, their open tasks are closed with the reason (task status ``cancelled``, a
  ``cancelled`` task event), the compensations of their finished steps run (newest first)
  and the run ends with status ``cancelled`` and ``error_code`` ``parent-failed``. Their
  traces join the run tree's ledger entry like any finished sub-run's.
* **Sub-runs left behind.** A sub-run still ``running`` or ``waiting`` whose parent has
  already ended (a process stopped half-way through the cancellation, or an older version
  left it) is cancelled the same way by :func:`recover` (``error_code`` ``parent-ended``),
  which the agents' upkeep runs at start-up and once per lease period; their digests go on
  the ledger in an entry of their own.
* **Evaluation runs that reach a person.** Their outcome (``waiting``) is recorded by the
  evaluation, which then closes them (``error_code`` ``evaluation-ended``): evaluation
  tasks never wait in anybody's queue. Leftovers of an evaluation that stopped half-way are
  closed by :func:`recover`.

Runs found in the database (not by the runtime that is failing them) are claimed first — a
lease on the row — so two processes never cancel the same run twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from kindred.agents.models import AgentRun, HumanTask, HumanTaskEvent
from kindred.errors import NotFound

if TYPE_CHECKING:
    from kindred.agents.runtime import AgentRuntime, RunState

log = logging.getLogger(__name__)

CANCELLED = "cancelled"
ACTOR = "system:runtime"
UNFINISHED = ("running", "waiting")
ENDED = ("succeeded", "failed", CANCELLED)


async def end_failed(runtime: AgentRuntime, run: RunState) -> None:
    """A run has just failed: cancel its unfinished sub-runs and its own open steps (the
    caller then compensates its finished steps and records its end)."""
    reason = f"cancelled because run {run.id} ({run.agent}) failed: {run.error}"
    if any(s.step.kind == "agent" for s in run.compiled.steps.values()):
        try:
            await cancel_subruns(runtime, run, reason, "parent-failed")
        except Exception:  # the run still ends; the upkeep's recover() ends what is left
            log.exception("cancelling the sub-runs of agent run %s failed", run.id)
    _end_open_steps(runtime, run, reason)


async def cancel_subruns(runtime: AgentRuntime, run: RunState, reason: str, code: str) -> None:
    """Cancel every sub-run of ``run`` that has not finished, with theirs, depth first."""
    # Their last steps may still sit in the write queue: the database must show them first.
    await runtime.checkpoints.drain()
    for child_id in await asyncio.to_thread(_unfinished_children, runtime, run.id):
        try:
            child = await asyncio.to_thread(runtime._load, child_id)
        except NotFound:
            continue
        # Their digests join the tree's ledger entry; shared records stay shared.
        child.tree_digests = run.tree_digests
        child.tree_records = run.tree_records
        await cancel_run(runtime, child, reason, code)


async def cancel_run(
    runtime: AgentRuntime, run: RunState, reason: str, code: str, *, wait: bool = False
) -> None:
    """End ``run`` as cancelled: its sub-runs first, then its open steps and tasks, then the
    compensations of its finished steps."""
    await cancel_subruns(runtime, run, reason, code)
    _end_open_steps(runtime, run, reason)
    runtime.checkpoints.submit(_close_tasks(run.id, reason))
    run.status, run.error, run.error_code = CANCELLED, reason, code
    await runtime._compensate(run)
    await runtime._finish(run, wait=wait)


async def close_evaluation_run(runtime: AgentRuntime, run_id: str, evaluation: str) -> bool:
    """End an evaluation run that waits for a person once the evaluation has its outcome;
    False when there was nothing to close (finished, or another process is on it)."""
    reason = (
        f"cancelled by evaluation {evaluation}: an evaluation run records reaching a person "
        "as its outcome and does not wait for one"
    )
    await runtime.checkpoints.drain()
    if not await asyncio.to_thread(_claim, runtime, run_id):
        return False
    run = await asyncio.to_thread(runtime._load, run_id)
    await cancel_run(runtime, run, reason, "evaluation-ended", wait=True)
    return True


async def recover(runtime: AgentRuntime) -> list[str]:
    """Cancel the sub-runs whose parent has already ended and close the evaluation runs
    left waiting; returns the ids of the runs ended."""
    ended = []
    for run_id, parent_id, parent_status in await asyncio.to_thread(_orphans, runtime):
        if run_id in runtime._inflight or not await asyncio.to_thread(_claim, runtime, run_id):
            continue
        run = await asyncio.to_thread(runtime._load, run_id)
        reason = f"cancelled because its parent run {parent_id} had already ended ({parent_status})"
        digests: dict[str, str] = {}
        run.tree_digests = digests
        await cancel_run(runtime, run, reason, "parent-ended")
        runtime.checkpoints.submit(_ledger_entry(runtime, run.root_id, digests, reason))
        ended.append(run_id)
    for run_id, evaluation in await asyncio.to_thread(_left_evaluations, runtime):
        if run_id not in runtime._inflight and await close_evaluation_run(
            runtime, run_id, evaluation
        ):
            ended.append(run_id)
    await runtime.checkpoints.drain()
    return ended


# -- steps and tasks ---------------------------------------------------------------------------


def _end_open_steps(runtime: AgentRuntime, run: RunState, reason: str) -> None:
    """Steps waiting (for a person or a sub-run), or that were under way when the run
    stopped (every need finished, no result), end as ``cancelled``."""
    from kindred.agents.runtime import TERMINAL, StepResult

    for step_id in sorted(run.dirty):  # decisions carried in while loading
        runtime.checkpoints.submit(runtime._save_step(run, step_id, run.steps[step_id]))
    run.dirty.clear()
    now = time.time()
    for step_id in run.compiled.order:
        result = run.steps.get(step_id)
        if result is None:
            needs = run.compiled.steps[step_id].step.needs
            if any(n not in run.steps or run.steps[n].status not in TERMINAL for n in needs):
                continue  # it never became due
            result = StepResult(CANCELLED)
        elif result.status not in ("waiting", "pending"):
            continue
        result.status, result.error, result.error_code = CANCELLED, reason, "cancelled"
        result.finished = now
        run.steps[step_id] = result
        runtime.checkpoints.submit(runtime._save_step(run, step_id, result))


def _close_tasks(run_id: str, reason: str) -> Callable[[Session], None]:
    def close(session: Session) -> None:
        now = dt.datetime.now(dt.UTC)
        closed = session.execute(
            sa.update(HumanTask)
            .where(HumanTask.run_id == run_id, HumanTask.status == "open")
            .values(status=CANCELLED, comment=reason)
            .returning(HumanTask.id)
        ).scalars()
        for task_id in list(closed):
            session.add(
                HumanTaskEvent(
                    task_id=task_id,
                    actor=ACTOR,
                    action=CANCELLED,
                    detail={"reason": reason},
                    at=now,
                )
            )

    return close


def _ledger_entry(
    runtime: AgentRuntime, root_id: str, digests: dict[str, str], reason: str
) -> Callable[[Session], None]:
    """The traces of sub-runs cancelled after their tree's entry was written: an entry of
    their own (``runs``: id → digest, as in a tree's entry)."""
    ledger = runtime.kindred.ledger

    def save(session: Session) -> None:
        if not digests:
            return
        index = ledger.append(
            session,
            "agent.run",
            {"run": root_id, "status": CANCELLED, "reason": reason, "runs": dict(digests)},
        )
        session.execute(
            sa.update(AgentRun).where(AgentRun.id.in_(list(digests))).values(ledger_index=index)
        )

    return save


# -- finding and claiming ----------------------------------------------------------------------


def _unfinished_children(runtime: AgentRuntime, run_id: str) -> list[str]:
    with runtime.kindred.database.read() as session:
        return list(
            session.execute(
                sa.select(AgentRun.id)
                .where(AgentRun.parent_id == run_id, AgentRun.status.in_(UNFINISHED))
                .order_by(AgentRun.started_at.desc(), AgentRun.id)
            ).scalars()
        )


def _orphans(runtime: AgentRuntime) -> list[tuple[str, str, str]]:
    parent = aliased(AgentRun)
    now = time.time()
    with runtime.kindred.database.read() as session:
        rows = session.execute(
            sa.select(AgentRun.id, parent.id, parent.status)
            .join(parent, parent.id == AgentRun.parent_id)
            .where(
                AgentRun.status.in_(UNFINISHED),
                parent.status.in_(ENDED),
                sa.or_(AgentRun.lease_until.is_(None), AgentRun.lease_until < now),
            )
            .order_by(AgentRun.started_at, AgentRun.id)
        ).all()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _left_evaluations(runtime: AgentRuntime) -> list[tuple[str, str]]:
    with runtime.kindred.database.read() as session:
        rows = session.execute(
            sa.select(AgentRun.id, AgentRun.trigger).where(
                AgentRun.parent_id.is_(None),
                AgentRun.mode == "evaluation",
                AgentRun.status == "waiting",
            )
        ).all()
    return [(str(i), str((trigger or {}).get("evaluation") or "?")) for i, trigger in rows]


def _claim(runtime: AgentRuntime, run_id: str) -> bool:
    """Take an unfinished run whose lease is free (a lease of our own, for the time the
    cancellation takes): only one process ends it."""
    now = time.time()
    with runtime.kindred.database.write() as session:
        result: Any = session.execute(
            sa.update(AgentRun)
            .where(
                AgentRun.id == run_id,
                AgentRun.status.in_(UNFINISHED),
                sa.or_(AgentRun.lease_until.is_(None), AgentRun.lease_until < now),
            )
            .values(lease_until=now + runtime.lease_seconds)
        )
        return bool(result.rowcount)
