"""Tables of the scenarios domain: definitions with every version kept.

A run pins the version it started with (``scenario_versions``), so editing a scenario never
changes what an in-flight run does, and history shows which version acted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kindred.db import Base, PortableJSON, UTCDateTime, utcnow


class ScenarioRow(Base):
    """The current state of a scenario: its latest version and whether it is enabled."""

    __tablename__ = "scenarios"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    # Who may change it (with admins), and whose rights it acts with: its author's or a
    # service principal an admin granted; who turned it on (their rights covered run_as).
    owner_id: Mapped[str | None] = mapped_column(String(64))
    run_as: Mapped[str | None] = mapped_column(String(64))
    enabled_by: Mapped[str | None] = mapped_column(String(64))


class ScenarioVersion(Base):
    """One saved version of a definition, exactly as checked and stored."""

    __tablename__ = "scenario_versions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    run_as: Mapped[str | None] = mapped_column(String(64))  # the principal it acts as


class ScenarioRun(Base):
    """One firing of one scenario version for one event: a durable state machine.

    The id is derived from (scenario, event source, event id), so a redelivered event finds
    its run again instead of starting a second one, and finished steps are not repeated.
    """

    __tablename__ = "scenario_runs"
    __table_args__ = (
        Index("ix_scenario_runs_due", "status", "next_at"),
        Index("ix_scenario_runs_scenario", "scenario", "started_at"),
        Index("ix_scenario_runs_key", "key", "started_at"),
        Index("ix_scenario_runs_wait", "wait_event", "key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scenario: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # running → (waiting) → succeeded | failed; failed runs keep every error (a dead letter).
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    key: Mapped[str] = mapped_column(String(500), nullable=False)
    event: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    variables: Mapped[dict[str, Any]] = mapped_column(PortableJSON, nullable=False)
    chain_depth: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    event_at: Mapped[float] = mapped_column(Float, nullable=False)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_at: Mapped[float | None] = mapped_column(Float)
    # The event type a `wait` step waits for (with this run's key); null when not waiting.
    wait_event: Mapped[str | None] = mapped_column(String(200))
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    run_as: Mapped[str | None] = mapped_column(String(64))  # whose rights the run acted with


class ScenarioRunStep(Base):
    """One step of a run: inputs, outputs, error and attempts — the run history's detail."""

    __tablename__ = "scenario_run_steps"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)
    pointer: Mapped[str] = mapped_column(String(500), nullable=False)
    action: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    input: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    output: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(60))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """An in-app notification to a user or to everyone with a role (``notify``); each
    reader's inbox lists it (``kindred.scenarios.inbox``). Each reader's read state is a
    ``NotificationRead`` row: one notification to a role is read or unread per person.

    A notification may name the record it is about (``object``, ``record_id``) and which of
    that record's fields its text quotes (``quoted``): its text is shown only to a reader
    whose own read of that record shows those fields."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user", "user_id", "created_at"),
        Index("ix_notifications_role", "role", "created_at"),
        Index("ix_notifications_record", "record_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(36))
    role: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    object: Mapped[str | None] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(36))
    quoted: Mapped[list[str] | None] = mapped_column(PortableJSON)
    run_id: Mapped[str | None] = mapped_column(String(36))


class NotificationRead(Base):
    """When one reader read one notification (absent: unread for them)."""

    __tablename__ = "notification_reads"

    notification_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    read_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class CustomerTag(Base):
    """A tag on a customer with its provenance: who set it (which scenario run), from what
    source, and until when it is valid."""

    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_account", "account_id", "tag"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), nullable=False)
    tag: Mapped[str] = mapped_column(String(200), nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Which scenario version and run set it, acting as whom (null on tags set before 0019).
    scenario: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(36))
    set_by: Mapped[str | None] = mapped_column(String(64))
