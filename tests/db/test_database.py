"""Persistence foundations on both dialects: migrations match the models, settings refuse
unsafe production secrets, and SQLite writers take the write lock up front."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import kindred.models  # noqa: F401  (registers every table)
from kindred.config import Settings
from kindred.db import Database, metadata
from kindred.db.migrate import current_revision, head_revision, upgrade
from kindred.graph.search_models import ENGINE_MANAGED
from kindred.records.storage import INDEX_PREFIX, UNIQUE_PREFIX


def test_migrations_create_exactly_the_models(empty_database: Database) -> None:
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision(empty_database)
    with empty_database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, kind, reflected, other: (
                    not (
                        kind == "index" and name and name.startswith((INDEX_PREFIX, UNIQUE_PREFIX))
                    )
                    and name not in ENGINE_MANAGED
                ),
            },
        )
        assert compare_metadata(context, metadata) == []
    upgrade(empty_database)  # idempotent


def test_production_refuses_a_missing_or_weak_secret() -> None:
    with pytest.raises(ValueError, match="KINDRED_SECRET_KEY"):
        Settings(mode="production")
    with pytest.raises(ValueError, match="at least 32"):
        Settings(mode="production", secret_key="short")
    # Long enough, but one character repeated (more: tests/security/test_auth_hardening.py).
    with pytest.raises(ValueError, match="too weak"):
        Settings(mode="production", secret_key="x" * 40)
    strong = "q7Vd-2mPx_Lk9ZtR0bWc4NyE8sHgJf3uAo6iTe1KrXaQ"
    assert Settings(mode="production", secret_key=strong).mode == "production"


def test_unsupported_database_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme 'oracle'"):
        Database("oracle://scott@localhost/orcl")


def test_concurrent_read_modify_write_transactions_do_not_lose_updates(
    empty_database: Database,
) -> None:
    """Each writer reads a counter and writes it back incremented. SQLite writers hold the
    write lock from BEGIN (IMMEDIATE), PostgreSQL uses a row lock; either way no increment
    is lost and no writer fails with 'database is locked'."""
    with empty_database.write() as session:
        session.execute(sa.text("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER)"))
        session.execute(sa.text("INSERT INTO counter VALUES (1, 0)"))
    errors: list[BaseException] = []
    lock = "" if empty_database.dialect == "sqlite" else " FOR UPDATE"

    def work() -> None:
        try:
            for _ in range(20):
                with empty_database.write() as session:
                    value = session.execute(
                        sa.text(f"SELECT value FROM counter WHERE id = 1{lock}")
                    ).scalar_one()
                    session.execute(
                        sa.text("UPDATE counter SET value = :v WHERE id = 1"), {"v": value + 1}
                    )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with empty_database.read() as session:
        assert session.execute(sa.text("SELECT value FROM counter")).scalar_one() == 80


def test_sqlite_pragmas(tmp_path: Any) -> None:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    with database.read() as session:
        assert session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(sa.text("PRAGMA busy_timeout")).scalar() == 30000
    database.dispose()


def test_autocommit_statements_are_committed(empty_database: Database) -> None:
    with empty_database.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.exec_driver_sql("CREATE TABLE kept (x INTEGER)")
        autocommit.exec_driver_sql("INSERT INTO kept VALUES (1)")
    with empty_database.read() as session:
        assert session.execute(sa.text("SELECT count(*) FROM kept")).scalar_one() == 1


def test_insert_new_tells_inserted_from_already_there(empty_database: Database) -> None:
    """On both dialects: True only for the statement that inserted the row (PostgreSQL's row
    count is -1 once the cursor closes, so the answer comes from RETURNING)."""
    from kindred.agents.models import TraceExport
    from kindred.db import insert_new

    upgrade(empty_database)
    with empty_database.write() as session:
        assert insert_new(session, TraceExport, {"run_id": "r-1", "exported_at": 1.0}) is True
        assert insert_new(session, TraceExport, {"run_id": "r-1", "exported_at": 2.0}) is False
    with empty_database.read() as session:
        assert session.get(TraceExport, "r-1").exported_at == 1.0
