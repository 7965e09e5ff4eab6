"""Tables of the agents domain: versioned definitions, durable runs with per-step traces,
human tasks with their history, golden cases and evaluation reports.

A run pins the agent version it started with; its steps' rows are its durable state (a
restarted runtime continues from the last finished step) and, with the run row, its
decision trace, whose digest goes on the ledger when the run ends.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, PortableJSON, UTCDateTime, utcnow


class AgentRow(Base):
    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    # Who may change it (with admins), and whose rights it acts with: its author's or a
    # service principal an admin granted; who turned it on (their rights covered run_as).
    owner_id: Mapped[str | None] = mapped_column(String(64))
    run_as: Mapped[str | None] = mapped_column(String(64))
    enabled_by: Mapped[str | None] = mapped_column(String(64))


class AgentVersion(Base):
    __tablename__ = "agent_versions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    run_as: Mapped[str | None] = mapped_column(String(64))  # the principal it acts as


class AgentRun(Base):
    """One run of one agent version: running → (waiting) → succeeded | failed | cancelled
    (a sub-run whose parent failed or ended, an evaluation run that reached a person)."""

    __tablename__ = "agent_runs"
    __table_args__ = (
        Index("ix_agent_runs_agent", "agent", "started_at"),
        Index("ix_agent_runs_customer", "customer_id", "started_at"),
        Index("ix_agent_runs_status", "status", "lease_until"),
        Index("ix_agent_runs_root", "root_id"),
        Index("ux_agent_runs_key", "idempotency_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    root_id: Mapped[str] = mapped_column(String(36), nullable=False)
    parent_id: Mapped[str | None] = mapped_column(String(36))
    parent_step: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    mode: Mapped[str] = mapped_column(String(20), nullable=False, default="live")
    idempotency_key: Mapped[str] = mapped_column(String(300), nullable=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    reads: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    trigger: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    customer_id: Mapped[str | None] = mapped_column(String(36))
    started_by: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(60))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    deadline: Mapped[float] = mapped_column(Float, nullable=False)
    lease_until: Mapped[float | None] = mapped_column(Float)
    digest: Mapped[str | None] = mapped_column(String(64))
    ledger_index: Mapped[int | None] = mapped_column(Integer)


class AgentRunStep(Base):
    """One step of a run, with its slice of the decision trace."""

    __tablename__ = "agent_run_steps"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    # succeeded | skipped | failed | waiting | fallback | compensated
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    input: Mapped[Any] = mapped_column(PortableJSON)
    output: Mapped[Any] = mapped_column(PortableJSON)
    trace: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(60))
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    duration_ms: Mapped[float | None] = mapped_column(Float)


class HumanTask(Base):
    """A decision a workflow waits for: approve, reject, or modify the proposed values."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_queue", "status", "assignee_role", "due_at"),
        Index("ix_human_tasks_user", "status", "assignee_user", "due_at"),
        Index("ix_human_tasks_run", "run_id", "step"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36), nullable=False)
    root_id: Mapped[str] = mapped_column(String(36), nullable=False)
    step: Mapped[str] = mapped_column(String(64), nullable=False)
    agent: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(String(20), nullable=False)  # step | error
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    proposal: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    modifiable: Mapped[list[str]] = mapped_column(PortableJSON, nullable=False)
    assignee_user: Mapped[str | None] = mapped_column(String(36))
    assignee_role: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # open | decided | cancelled
    # live, or evaluation (a golden-case run's task: never in the live queue, closed by the
    # evaluation that opened it)
    mode: Mapped[str] = mapped_column(
        String(20), nullable=False, default="live", server_default="live"
    )
    outcome: Mapped[str | None] = mapped_column(String(20))  # approved | rejected | modified
    values: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    on_timeout: Mapped[str] = mapped_column(String(20), nullable=False)
    escalate_user: Mapped[str | None] = mapped_column(String(36))
    escalate_role: Mapped[str | None] = mapped_column(String(64))
    escalations: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sla_seconds: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HumanTaskEvent(Base):
    """Every intervention on a task: created, escalated, approved, rejected, modified."""

    __tablename__ = "human_task_events"
    __table_args__ = (Index("ix_human_task_events_task", "task_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(36), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    detail: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)


class GoldenCase(Base):
    """An input with the outputs a correct agent gives for it (a subset to compare)."""

    __tablename__ = "agent_golden_cases"
    __table_args__ = (Index("ux_agent_golden_cases_name", "agent", "name", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    expected: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    # What named tools answer in this case's evaluation runs (never live ones): tool name →
    # {"fail": {"status", "times"?}} and/or {"answer": {...}}; NULL pins nothing.
    systems: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))


class Evaluation(Base):
    __tablename__ = "agent_evaluations"
    __table_args__ = (Index("ix_agent_evaluations_agent", "agent", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), nullable=False)
    versions: Mapped[list[int]] = mapped_column(PortableJSON, nullable=False)
    k: Mapped[int] = mapped_column(Integer, nullable=False)
    cases: Mapped[int] = mapped_column(Integer, nullable=False)
    pass_k: Mapped[float] = mapped_column(Float, nullable=False)
    deviation_rate: Mapped[float] = mapped_column(Float, nullable=False)
    report: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))


class TraceExport(Base):
    """A finished run tree's trace pushed to the OTLP collector (``otlp_traces_url``): the
    exporter sends the trees that have none, and records one when the collector accepted
    them — at least once, across restarts."""

    __tablename__ = "agent_trace_exports"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the root run
    exported_at: Mapped[float] = mapped_column(Float, nullable=False)
