"""Agent definitions (checked, versioned, evidenced), run history and traces, the human task
queue, golden cases and evaluations.

Definitions are saved only when they have no problem at all; every save is a new version
(written to the ledger with who saved it), and a run pins the version it started with.
Human decisions are recorded on the task and in its event history; the runtime then resumes
the run from its durable state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.agents import trace as traces
from kindred.agents.definition import CompiledAgent, check_definition, load_text
from kindred.agents.models import (
    AgentRow,
    AgentRun,
    AgentRunStep,
    AgentVersion,
    GoldenCase,
    HumanTask,
    HumanTaskEvent,
)
from kindred.agents.tools import ToolRegistry
from kindred.auth.automation import Stewardship, next_run_as, object_scopes
from kindred.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, field_error
from kindred.ledger.models import LedgerPayload
from kindred.scenarios.evaluate import matches

if TYPE_CHECKING:
    from kindred.auth.permissions import Principal
    from kindred.services import Kindred

EXAMPLES = "kindred.agents.examples"
LATEST_TTL = 1.0  # seconds a process trusts its knowledge of an agent's latest version


def _digest(raw: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(dict(raw), option=orjson.OPT_SORT_KEYS)).hexdigest()


class AgentService:
    def __init__(self, kindred: Kindred, tools: ToolRegistry) -> None:
        self.kindred = kindred
        self.tools = tools
        self._compiled: dict[tuple[str, int], CompiledAgent] = {}
        self._latest: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self.stewardship = Stewardship("agent", self._load_principal, self._objects)

    # -- definitions ---------------------------------------------------------------------------

    def check(
        self, session: Session, raw: Any, *, static: bool = True
    ) -> tuple[CompiledAgent | None, list[dict[str, Any]]]:
        """``static``: also the save-time checks of what every path leaves set (not for a
        version saved earlier: its child agents may have changed since; it ran as checked)."""
        if isinstance(raw, str):
            try:
                raw = load_text(raw)
            except ValueError as error:
                return None, [field_error("", "syntax", str(error))]
        registry = self.kindred.records.registry(session)

        def known_object(name: str) -> Mapping[str, Any] | None:
            compiled = registry.objects.get(name)
            return None if compiled is None else compiled.fields

        def known_agent(name: str) -> bool:
            return session.get(AgentRow, name) is not None

        def agent_outputs(name: str) -> Mapping[str, Any] | None:
            # A child run uses the latest version: its outputs are what an agent step gives.
            row = session.get(AgentRow, name)
            stored = session.get(AgentVersion, (name, row.version)) if row is not None else None
            outputs = (stored.definition or {}).get("outputs") if stored is not None else None
            value = outputs.get("value") if isinstance(outputs, dict) else None
            return value if isinstance(value, dict) else None

        types = [t.type for t in self.kindred.events.catalog.all(session)]

        def known_type(pattern: str) -> bool:
            return any(matches([pattern], name) for name in types)

        return check_definition(
            raw,
            tools=self.tools,
            known_object=known_object,
            known_agent=known_agent,
            known_type=known_type,
            agent_outputs=agent_outputs,
            static=static,
        )

    def save(
        self,
        session: Session,
        raw: Any,
        *,
        actor_id: str | None,
        expected_version: int | None = None,
        actor: Principal | None = None,
        run_as: str | None = None,
    ) -> dict[str, Any]:
        """Save an agent (a new version if it exists). It runs — when an event, a scenario
        or the upkeep starts it — as its author (``actor``), or as ``run_as``: a service
        principal the author's rights cover; ``actor`` None is the operator's tooling."""
        if isinstance(raw, str):
            try:
                raw = load_text(raw)
            except ValueError as error:
                raise ValidationFailed(
                    str(error), errors=[field_error("", "syntax", str(error))]
                ) from None
        compiled, errors = self.check(session, raw)
        if compiled is None:
            raise ValidationFailed(
                "the agent definition has problems; nothing was saved", errors=errors
            )
        definition = compiled.definition
        cycle = self._cycle(session, definition.name, compiled.children())
        if cycle:
            raise ValidationFailed(
                "agents would call each other in a loop; nothing was saved",
                errors=[field_error("/steps", "cycle", " → ".join(cycle))],
            )
        row = session.get(AgentRow, definition.name)
        now = dt.datetime.now(dt.UTC)
        if run_as is not None and actor is not None:
            self.stewardship.check_grant(session, actor, run_as)
        if row is None:
            if expected_version not in (None, 0):
                raise Conflict(f"agent {definition.name} does not exist yet")
            row = AgentRow(
                name=definition.name,
                title=definition.title,
                role=definition.role,
                version=1,
                created_by=actor_id,
                updated_by=actor_id,
                created_at=now,
                updated_at=now,
                owner_id=actor_id,
                run_as=run_as or actor_id,
            )
            session.add(row)
        else:
            self.stewardship.check_change(session, row, actor)
            if run_as is not None:
                row.run_as = run_as
            elif actor is not None:
                row.run_as = next_run_as(session, actor, row.run_as)
            if expected_version is not None and expected_version != row.version:
                raise Conflict(
                    f"agent {row.name} is at version {row.version}, not {expected_version}; "
                    "reload it and apply your change again"
                )
            current = session.get(AgentVersion, (row.name, row.version))
            if current is not None and current.digest == _digest(raw):
                return self._describe(session, row)  # unchanged: no new version
            row.version += 1
            row.title, row.role = definition.title, definition.role
            row.updated_by, row.updated_at = actor_id, now
        session.add(
            AgentVersion(
                name=row.name,
                version=row.version,
                definition=dict(raw),
                digest=_digest(raw),
                created_by=actor_id,
                created_at=now,
                run_as=row.run_as,
            )
        )
        session.flush()
        self._latest.pop(row.name, None)
        self.kindred.ledger.append(
            session,
            "agent.definition",
            {"agent": row.name, "version": row.version, "digest": _digest(raw)},
            [s for s in (actor_id,) if s],
        )
        return self._describe(session, row)

    def _cycle(self, session: Session, name: str, children: set[str]) -> list[str]:
        """A path name → … → name through saved agents' agent steps, if one exists."""
        graph: dict[str, set[str]] = {}
        for row in session.execute(sa.select(AgentRow)).scalars():
            version = session.get(AgentVersion, (row.name, row.version))
            steps = (version.definition if version else {}).get("steps", [])
            graph[row.name] = {
                s.get("agent") for s in steps if s.get("kind") == "agent" and s.get("agent")
            }
        graph[name] = set(children)
        stack = [(child, [name, child]) for child in children]
        seen = set()
        while stack:
            node, path = stack.pop()
            if node == name:
                return path
            if node in seen:
                continue
            seen.add(node)
            stack.extend((n, [*path, n]) for n in graph.get(node, ()))
        return []

    # -- who may change it (kindred.auth.automation) -----------------------------------------

    def _load_principal(self, session: Session, user_id: str) -> Principal:
        return self.kindred.auth.acting_principal(session, user_id)

    def _objects(self, session: Session) -> dict[str, bool]:
        return object_scopes(self.kindred.records.registry(session).objects)

    def run_as_principal(self, session: Session, name: str) -> Principal:
        """Whom a run started by an event, a schedule or the upkeep acts as: the agent's
        run-as principal with its current rights."""
        row = self._row(session, name)
        if row.run_as is None:
            raise PermissionDenied(
                f"agent {name} has nobody to run as: save a new version or grant it a "
                "service principal first"
            )
        return self.kindred.auth.acting_principal(session, row.run_as)

    def set_run_as(
        self, session: Session, name: str, principal_id: str, actor: Principal
    ) -> dict[str, Any]:
        row = self._row(session, name)
        self.stewardship.check_change(session, row, actor)
        self.stewardship.check_grant(session, actor, principal_id)
        if row.run_as != principal_id:
            row.run_as = principal_id
            row.updated_by, row.updated_at = actor.user_id, dt.datetime.now(dt.UTC)
            self.kindred.ledger.append(
                session,
                "agent.run_as",
                {"agent": name, "version": row.version, "run_as": principal_id},
                [actor.user_id, principal_id],
            )
            session.flush()
        return self._describe(session, row)

    def set_enabled(
        self,
        session: Session,
        name: str,
        enabled: bool,
        actor_id: str | None,
        actor: Principal | None = None,
    ) -> dict[str, Any]:
        row = self._row(session, name)
        self.stewardship.check_change(session, row, actor)
        if enabled and not row.enabled:
            row.enabled_by = actor_id
        row.enabled = enabled
        self._latest.pop(name, None)
        row.updated_by, row.updated_at = actor_id, dt.datetime.now(dt.UTC)
        session.flush()
        return self._describe(session, row)

    def _row(self, session: Session, name: str) -> AgentRow:
        row = session.get(AgentRow, name)
        if row is None:
            raise NotFound(f"no agent {name!r}")
        return row

    def _describe(self, session: Session, row: AgentRow) -> dict[str, Any]:
        version = session.get(AgentVersion, (row.name, row.version))
        return {
            "name": row.name,
            "title": row.title,
            "role": row.role,
            "version": row.version,
            "enabled": row.enabled,
            "definition": version.definition if version else None,
            "updated_at": row.updated_at.isoformat() if row.updated_at else None,
            "updated_by": row.updated_by,
            "owner": row.owner_id,
            "run_as": row.run_as,
            "enabled_by": row.enabled_by,
        }

    def get(self, session: Session, name: str) -> dict[str, Any]:
        return self._describe(session, self._row(session, name))

    def all(self, session: Session) -> list[dict[str, Any]]:
        rows = session.execute(sa.select(AgentRow).order_by(AgentRow.name)).scalars()
        return [self._describe(session, r) for r in rows]

    def versions(self, session: Session, name: str) -> list[dict[str, Any]]:
        self._row(session, name)
        rows = session.execute(
            sa.select(AgentVersion).where(AgentVersion.name == name).order_by(AgentVersion.version)
        ).scalars()
        return [
            {
                "version": r.version,
                "digest": r.digest,
                "created_at": r.created_at.isoformat(),
                "created_by": r.created_by,
            }
            for r in rows
        ]

    def compiled(
        self, name: str, version: int | None, *, session: Session | None = None
    ) -> tuple[CompiledAgent, int]:
        """The compiled definition of ``version`` (None: the latest enabled one)."""
        if session is None:
            with self.kindred.database.read() as own:
                return self.compiled(name, version, session=own)
        if version is None:
            latest = self._latest.get(name)
            if latest is not None and latest[1] > time.monotonic():
                version = latest[0]
            else:
                row = self._row(session, name)
                if not row.enabled:
                    raise Conflict(f"agent {name} is disabled")
                version = row.version
                # New runs see another process's new version (or disabling) within a second.
                self._latest[name] = (version, time.monotonic() + LATEST_TTL)
        key = (name, version)
        cached = self._compiled.get(key)
        if cached is not None:
            return cached, version
        stored = session.get(AgentVersion, key)
        if stored is None:
            raise NotFound(f"agent {name} has no version {version}")
        compiled, errors = self.check(session, stored.definition, static=False)
        if compiled is None:
            # A version saved earlier no longer checks (e.g. a field it reads was removed).
            raise Conflict(
                f"agent {name} version {version} no longer checks: "
                + "; ".join(f"{e['path']}: {e['message']}" for e in errors[:3])
            )
        with self._lock:
            self._compiled[key] = compiled
        return compiled, version

    def install_examples(self, session: Session, run_as: str | None = None) -> list[str]:
        """Save the bundled example agents (children first) unless present."""
        from importlib import resources

        import yaml

        folder = resources.files(EXAMPLES)
        texts = {}
        for entry in folder.iterdir():
            if entry.name.endswith((".yaml", ".yml")):
                raw = yaml.safe_load(entry.read_text(encoding="utf-8"))
                texts[raw["name"]] = raw
        saved = []
        pending = dict(texts)
        while pending:
            progressed = False
            for name, raw in list(pending.items()):
                children = {
                    s.get("agent") for s in raw.get("steps", []) if s.get("kind") == "agent"
                }
                if any(c in pending for c in children):
                    continue
                if session.get(AgentRow, name) is None:
                    self.save(session, raw, actor_id=None, run_as=run_as)
                    saved.append(name)
                del pending[name]
                progressed = True
            if not progressed:
                raise ValueError(f"example agents call each other in a loop: {sorted(pending)}")
        return saved

    # -- runs and traces -----------------------------------------------------------------------

    def run_summary(self, run_id: str) -> dict[str, Any] | None:
        with self.kindred.database.read() as session:
            row = session.get(AgentRun, run_id)
            if row is None:
                return None
            waiting = list(
                session.execute(
                    sa.select(HumanTask.id).where(
                        HumanTask.run_id == run_id, HumanTask.status == "open"
                    )
                ).scalars()
            )
            return {**self._run_dict(row), "waiting_for": waiting}

    @staticmethod
    def _run_dict(row: AgentRun) -> dict[str, Any]:
        return {
            "id": row.id,
            "agent": row.agent,
            "version": row.version,
            "status": row.status,
            "mode": row.mode,
            "root_id": row.root_id,
            "parent_id": row.parent_id,
            "parent_step": row.parent_step,
            "inputs": row.inputs,
            "outputs": row.outputs,
            "error": row.error,
            "error_code": row.error_code,
            "customer_id": row.customer_id,
            "trigger": row.trigger,
            "started_by": row.started_by,
            "started_at": row.started_at.isoformat() if row.started_at else None,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "duration_ms": row.duration_ms,
            "digest": row.digest,
            "ledger_index": row.ledger_index,
        }

    @staticmethod
    def _step_dict(row: AgentRunStep) -> dict[str, Any]:
        return {
            "step": row.step,
            "kind": row.kind,
            "status": row.status,
            "attempts": row.attempts,
            "input": row.input,
            "output": row.output,
            "trace": row.trace,
            "error": row.error,
            "error_code": row.error_code,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
            "duration_ms": row.duration_ms,
        }

    def run(self, session: Session, run_id: str) -> dict[str, Any]:
        """A run with its steps, reads and sub-agent runs: the decision trace."""
        row = session.get(AgentRun, run_id)
        if row is None:
            raise NotFound(f"no agent run {run_id}")
        steps = session.execute(
            sa.select(AgentRunStep)
            .where(AgentRunStep.run_id == run_id)
            .order_by(AgentRunStep.started_at)
        ).scalars()
        children = session.execute(
            sa.select(AgentRun).where(AgentRun.parent_id == run_id).order_by(AgentRun.started_at)
        ).scalars()
        tasks = session.execute(sa.select(HumanTask).where(HumanTask.run_id == run_id)).scalars()
        return {
            **self._run_dict(row),
            "reads": row.reads,
            "steps": [self._step_dict(s) for s in steps],
            "children": [self.run(session, c.id) for c in children],
            "tasks": [self._task_dict(t) for t in tasks],
        }

    def runs(
        self,
        session: Session,
        *,
        agent: str | None = None,
        customer: str | None = None,
        status: str | None = None,
        top_level: bool = True,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        statement = sa.select(AgentRun).order_by(AgentRun.started_at.desc()).limit(limit)
        if agent:
            statement = statement.where(AgentRun.agent == agent)
        if customer:
            statement = statement.where(AgentRun.customer_id == customer)
        if status:
            statement = statement.where(AgentRun.status == status)
        if top_level and not agent:
            statement = statement.where(AgentRun.parent_id.is_(None))
        return [self._run_dict(r) for r in session.execute(statement).scalars()]

    def _tree(
        self, session: Session, run_id: str
    ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        root = session.get(AgentRun, run_id)
        if root is None:
            raise NotFound(f"no agent run {run_id}")
        rows = [root]
        rows += (
            list(
                session.execute(
                    sa.select(AgentRun).where(
                        AgentRun.root_id == root.root_id, AgentRun.id != root.id
                    )
                ).scalars()
            )
            if root.parent_id is None
            else []
        )
        ids = [r.id for r in rows]
        steps: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for step in session.execute(
            sa.select(AgentRunStep).where(AgentRunStep.run_id.in_(ids))
        ).scalars():
            steps[step.run_id].append({**self._step_dict(step), "run_id": step.run_id})
        runs = [
            {
                **self._run_dict(r),
                "reads": r.reads,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
            }
            for r in rows
        ]
        return runs, steps

    def otlp(
        self, session: Session, run_id: str, redact: Callable[[Any], Any] | None = None
    ) -> dict[str, Any]:
        """The run tree as OTLP/JSON spans; ``redact`` (a reader's
        ``records.redaction.Redactor.value``) is applied to the rows first, so the spans show
        no more than the decision trace does."""
        runs, steps = self._tree(session, run_id)
        if redact is not None:
            runs = redact(runs)
            steps = redact(steps)
        return traces.otlp_spans(runs, steps)

    def verify(self, session: Session, run_id: str) -> dict[str, Any]:
        """Recompute a finished run's trace digest from the stored rows and compare it with
        the digest on the ledger; includes the entry's offline-verifiable proof bundle."""
        row = session.get(AgentRun, run_id)
        if row is None:
            raise NotFound(f"no agent run {run_id}")
        if row.ledger_index is None or row.digest is None:
            raise Conflict(
                f"run {run_id} is not on the ledger yet: a run's trace goes there when the "
                "run it belongs to has finished"
            )
        steps = {
            s.step: {k: getattr(s, k) for k in traces.STEP_FIELDS}
            for s in session.execute(
                sa.select(AgentRunStep).where(AgentRunStep.run_id == run_id)
            ).scalars()
        }
        document = traces.canonical_from_rows(self._run_dict(row) | {"reads": row.reads}, steps)
        recomputed = traces.digest(document)
        payload = session.get(LedgerPayload, row.ledger_index)
        entry = (payload.payload or {}) if payload is not None else {}
        # The root's entry holds its own digest and those of its sub-agent runs.
        on_ledger = (
            entry.get("digest") if row.parent_id is None else (entry.get("runs") or {}).get(run_id)
        )
        problems = []
        if recomputed != row.digest:
            problems.append(
                "the stored trace does not match the digest recorded when the run ended"
            )
        if on_ledger != recomputed:
            problems.append("the ledger entry's digest does not match the stored trace")
        return {
            "run": run_id,
            "intact": not problems,
            "problems": problems,
            "digest": recomputed,
            "ledger_index": row.ledger_index,
            "bundle": self.kindred.ledger.bundle(session, row.ledger_index),
        }

    # -- human tasks ---------------------------------------------------------------------------

    @staticmethod
    def _task_dict(task: HumanTask) -> dict[str, Any]:
        return {
            "id": task.id,
            "run_id": task.run_id,
            "root_id": task.root_id,
            "step": task.step,
            "agent": task.agent,
            "reason": task.reason,
            "title": task.title,
            "details": task.details,
            "modifiable": task.modifiable,
            "assignee": {"user": task.assignee_user, "role": task.assignee_role},
            "status": task.status,
            "mode": task.mode,
            "outcome": task.outcome,
            "values": task.values,
            "comment": task.comment,
            "decided_by": task.decided_by,
            "decided_at": task.decided_at.isoformat() if task.decided_at else None,
            "due_at": task.due_at.isoformat(),
            "overdue": task.status == "open" and task.due_at < dt.datetime.now(dt.UTC),
            "escalations": task.escalations,
            "created_at": task.created_at.isoformat() if task.created_at else None,
        }

    @staticmethod
    def _may_decide(task: HumanTask, principal: Principal) -> bool:
        if "admin" in principal.roles:
            return True
        if task.assignee_user is not None:
            return task.assignee_user == principal.user_id
        return task.assignee_role in principal.roles

    def tasks(
        self,
        session: Session,
        principal: Principal,
        *,
        status: str | None = "open",
        mine: bool = True,
        limit: int = 50,
        mode: str = "live",
    ) -> list[dict[str, Any]]:
        """The task queue; ``mode`` ``live`` (the default) leaves out the tasks of
        evaluation runs, ``evaluation`` lists only those."""
        statement = (
            sa.select(HumanTask)
            .where(HumanTask.mode == mode)
            .order_by(HumanTask.due_at)
            .limit(limit)
        )
        if status:
            statement = statement.where(HumanTask.status == status)
        if mine and "admin" not in principal.roles:
            statement = statement.where(
                sa.or_(
                    HumanTask.assignee_user == principal.user_id,
                    sa.and_(
                        HumanTask.assignee_user.is_(None),
                        HumanTask.assignee_role.in_(principal.roles),
                    ),
                )
            )
        return [self._task_dict(t) for t in session.execute(statement).scalars()]

    def task(self, session: Session, principal: Principal, task_id: str) -> dict[str, Any]:
        task = session.get(HumanTask, task_id)
        if task is None or not (
            self._may_decide(task, principal) or "compliance" in principal.roles
        ):
            raise NotFound(f"no task {task_id}")
        events = session.execute(
            sa.select(HumanTaskEvent)
            .where(HumanTaskEvent.task_id == task_id)
            .order_by(HumanTaskEvent.id)
        ).scalars()
        return {
            **self._task_dict(task),
            "history": [
                {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail}
                for e in events
            ],
        }

    def decide(
        self,
        session: Session,
        principal: Principal,
        task_id: str,
        outcome: str,
        values: Mapping[str, Any] | None = None,
        comment: str | None = None,
    ) -> dict[str, Any]:
        from kindred.agents.runtime import task_decision_errors

        task = session.get(HumanTask, task_id)
        if task is None:
            raise NotFound(f"no task {task_id}")
        if not self._may_decide(task, principal):
            raise PermissionDenied(
                f"task {task_id} is assigned to "
                f"{task.assignee_user or task.assignee_role}, not to you"
            )
        errors = task_decision_errors(task, outcome, values or {})
        if errors:
            raise ValidationFailed("the decision is not valid; nothing was recorded", errors=errors)
        now = dt.datetime.now(dt.UTC)
        task.status, task.outcome = "decided", outcome
        task.values, task.comment = dict(values or {}), comment
        task.decided_by, task.decided_at = principal.user_id, now
        session.add(
            HumanTaskEvent(
                task_id=task_id,
                actor=principal.user_id,
                action=outcome,
                detail={"values": dict(values or {}), "comment": comment},
                at=now,
            )
        )
        session.execute(
            sa.update(AgentRun)
            .where(AgentRun.id == task.run_id, AgentRun.status == "waiting")
            .values(status="waiting")
        )
        self.kindred.ledger.append(
            session,
            "agent.intervention",
            {"task": task_id, "run": task.run_id, "outcome": outcome, "by": principal.user_id},
            [principal.user_id],
        )
        session.flush()
        return self._task_dict(task)

    def expire_tasks(
        self, session: Session, now: dt.datetime | None = None
    ) -> list[dict[str, Any]]:
        """Apply each overdue task's SLA route: escalate (reassign, new due time) or decide
        automatically (recorded as by ``system:sla``). Returns what changed."""
        now = now or dt.datetime.now(dt.UTC)
        changed = []
        for task in session.execute(
            sa.select(HumanTask).where(HumanTask.status == "open", HumanTask.due_at < now)
        ).scalars():
            if task.on_timeout == "escalate":
                before = {"user": task.assignee_user, "role": task.assignee_role}
                task.assignee_user, task.assignee_role = task.escalate_user, task.escalate_role
                task.escalations += 1
                task.due_at = now + dt.timedelta(seconds=task.sla_seconds)
                session.add(
                    HumanTaskEvent(
                        task_id=task.id,
                        actor="system:sla",
                        action="escalated",
                        detail={
                            "from": before,
                            "to": {"user": task.assignee_user, "role": task.assignee_role},
                        },
                        at=now,
                    )
                )
                changed.append(
                    {"task": task.id, "action": "escalated", "resume": False, "root": task.root_id}
                )
            else:
                outcome = "approved" if task.on_timeout == "approve" else "rejected"
                task.status, task.outcome = "decided", outcome
                task.decided_by, task.decided_at = "system:sla", now
                task.comment = "decided automatically: the SLA passed"
                session.add(
                    HumanTaskEvent(
                        task_id=task.id,
                        actor="system:sla",
                        action=outcome,
                        detail={"reason": "sla"},
                        at=now,
                    )
                )
                changed.append(
                    {"task": task.id, "action": outcome, "resume": True, "root": task.root_id}
                )
        session.flush()
        return changed

    # -- golden cases, evaluation and metrics --------------------------------------------------

    def add_case(
        self,
        session: Session,
        agent: str,
        name: str,
        inputs: Mapping[str, Any],
        expected: Mapping[str, Any],
        actor_id: str | None,
        systems: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Save a golden case; ``systems`` pins what named tools answer in its evaluation
        runs (see :mod:`kindred.agents.evaluation`)."""
        compiled, _ = self.compiled(agent, None, session=session)
        from kindred.agents.definition import input_errors
        from kindred.agents.pins import systems_errors

        _, errors = input_errors(compiled, inputs)
        # `_status` is the run's status (e.g. "waiting" for a case that must reach a person).
        unknown = [
            k for k in expected if k != "_status" and k not in compiled.definition.outputs.value
        ]
        errors += [
            field_error(f"/expected/{k}", "unknown-output", f"the agent has no output {k!r}")
            for k in unknown
        ]
        if not expected:
            errors.append(field_error("/expected", "required", "name at least one expected output"))
        systems = {} if systems is None else systems
        errors += systems_errors(self.tools, systems)
        if errors:
            raise ValidationFailed("the golden case is not valid; nothing was saved", errors=errors)
        existing = session.execute(
            sa.select(GoldenCase).where(GoldenCase.agent == agent, GoldenCase.name == name)
        ).scalar_one_or_none()
        if existing is not None:
            existing.inputs, existing.expected = dict(inputs), dict(expected)
            existing.systems = dict(systems)
            case = existing
        else:
            case = GoldenCase(
                id=str(uuid.uuid4()),
                agent=agent,
                name=name,
                inputs=dict(inputs),
                expected=dict(expected),
                systems=dict(systems),
                created_by=actor_id,
            )
            session.add(case)
        session.flush()
        return {
            "id": case.id,
            "agent": agent,
            "name": name,
            "inputs": case.inputs,
            "expected": case.expected,
            "systems": case.systems or {},
        }

    def cases(self, session: Session, agent: str) -> list[dict[str, Any]]:
        rows = session.execute(
            sa.select(GoldenCase).where(GoldenCase.agent == agent).order_by(GoldenCase.name)
        ).scalars()
        return [
            {
                "id": c.id,
                "name": c.name,
                "inputs": c.inputs,
                "expected": c.expected,
                "systems": c.systems or {},
            }
            for c in rows
        ]

    def metrics(self, session: Session, agent: str | None = None) -> dict[str, Any]:
        """Live (not evaluation) top-level runs: volume, outcomes, latency, and the human
        intervention rate (share of finished-or-waiting runs in which a person decided or
        was asked to)."""
        statement = sa.select(
            AgentRun.id, AgentRun.status, AgentRun.duration_ms, AgentRun.root_id
        ).where(AgentRun.mode == "live")
        statement = (
            statement.where(AgentRun.agent == agent)
            if agent
            else statement.where(AgentRun.parent_id.is_(None))
        )
        rows = session.execute(statement).all()
        roots = {r.root_id for r in rows}
        with_task = (
            set(
                session.execute(
                    sa.select(HumanTask.root_id).where(HumanTask.root_id.in_(roots))
                ).scalars()
            )
            if roots
            else set()
        )
        durations = sorted(r.duration_ms for r in rows if r.duration_ms is not None)
        counted = [r for r in rows if r.status in ("succeeded", "failed", "waiting")]
        intervened = sum(1 for r in counted if r.root_id in with_task)
        by_status: dict[str, int] = {}
        for r in rows:
            by_status[r.status] = by_status.get(r.status, 0) + 1

        def pct(q: float) -> float | None:
            if not durations:
                return None
            return durations[min(len(durations) - 1, int(q * len(durations)))]

        return {
            "agent": agent,
            "runs": len(rows),
            "by_status": by_status,
            "success_rate": (by_status.get("succeeded", 0) / len(counted)) if counted else None,
            "intervention_rate": (intervened / len(counted)) if counted else None,
            "intervention_target": 0.08,
            "p50_ms": pct(0.5),
            "p95_ms": pct(0.95),
            "mean_ms": statistics.fmean(durations) if durations else None,
        }
