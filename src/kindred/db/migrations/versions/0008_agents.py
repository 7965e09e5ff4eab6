"""agent workflows (definitions, runs, steps, traces, human tasks, evaluations)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kindred.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_evaluations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column(
            "versions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("pass_k", sa.Float(), nullable=False),
        sa.Column("deviation_rate", sa.Float(), nullable=False),
        sa.Column(
            "report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_evaluations")),
    )
    op.create_index(
        "ix_agent_evaluations_agent", "agent_evaluations", ["agent", "created_at"], unique=False
    )
    op.create_table(
        "agent_golden_cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "expected",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_golden_cases")),
    )
    op.create_index(
        "ux_agent_golden_cases_name", "agent_golden_cases", ["agent", "name"], unique=True
    )
    op.create_table(
        "agent_run_steps",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "input",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "output",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "trace",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "step", name=op.f("pk_agent_run_steps")),
    )
    op.create_table(
        "agent_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.String(length=36), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("parent_step", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "reads",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "outputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "trigger",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("started_by", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("started_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", kindred.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("deadline", sa.Float(), nullable=False),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("ledger_index", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_runs")),
    )
    op.create_index("ix_agent_runs_agent", "agent_runs", ["agent", "started_at"], unique=False)
    op.create_index(
        "ix_agent_runs_customer", "agent_runs", ["customer_id", "started_at"], unique=False
    )
    op.create_index("ix_agent_runs_root", "agent_runs", ["root_id"], unique=False)
    op.create_index("ix_agent_runs_status", "agent_runs", ["status", "lease_until"], unique=False)
    op.create_index("ux_agent_runs_key", "agent_runs", ["idempotency_key"], unique=True)
    op.create_table(
        "agent_versions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_agent_versions")),
    )
    op.create_table(
        "agents",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_agents")),
    )
    op.create_table(
        "human_task_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_human_task_events")),
    )
    op.create_index(
        "ix_human_task_events_task", "human_task_events", ["task_id", "at"], unique=False
    )
    op.create_table(
        "human_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("root_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "proposal",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "modifiable",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("assignee_user", sa.String(length=36), nullable=True),
        sa.Column("assignee_role", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column(
            "values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", kindred.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("on_timeout", sa.String(length=20), nullable=False),
        sa.Column("escalate_user", sa.String(length=36), nullable=True),
        sa.Column("escalate_role", sa.String(length=64), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("sla_seconds", sa.Float(), nullable=False),
        sa.Column("created_at", kindred.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_human_tasks")),
    )
    op.create_index(
        "ix_human_tasks_queue", "human_tasks", ["status", "assignee_role", "due_at"], unique=False
    )
    op.create_index("ix_human_tasks_run", "human_tasks", ["run_id", "step"], unique=False)
    op.create_index(
        "ix_human_tasks_user", "human_tasks", ["status", "assignee_user", "due_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_human_tasks_user", table_name="human_tasks")
    op.drop_index("ix_human_tasks_run", table_name="human_tasks")
    op.drop_index("ix_human_tasks_queue", table_name="human_tasks")
    op.drop_table("human_tasks")
    op.drop_index("ix_human_task_events_task", table_name="human_task_events")
    op.drop_table("human_task_events")
    op.drop_table("agents")
    op.drop_table("agent_versions")
    op.drop_index("ux_agent_runs_key", table_name="agent_runs")
    op.drop_index("ix_agent_runs_status", table_name="agent_runs")
    op.drop_index("ix_agent_runs_root", table_name="agent_runs")
    op.drop_index("ix_agent_runs_customer", table_name="agent_runs")
    op.drop_index("ix_agent_runs_agent", table_name="agent_runs")
    op.drop_table("agent_runs")
    op.drop_table("agent_run_steps")
    op.drop_index("ux_agent_golden_cases_name", table_name="agent_golden_cases")
    op.drop_table("agent_golden_cases")
    op.drop_index("ix_agent_evaluations_agent", table_name="agent_evaluations")
    op.drop_table("agent_evaluations")
