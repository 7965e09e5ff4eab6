"""Shared fixtures: real databases on both dialects.

Every test that touches persistence runs on SQLite *and* PostgreSQL. PostgreSQL tests get a
brand-new database each (created from the server named by ``KINDRED_TEST_POSTGRES_URL``) so
tests never see each other's rows and can run in parallel.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kindred.db import Database

SHARED = Path(__file__).resolve().parents[2] / "shared"
POSTGRES_SERVER_URL = os.environ.get(
    "KINDRED_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DIALECTS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's sibling ``shared/`` folder (conformance vectors live there)."""
    if not SHARED.is_dir():
        pytest.fail(f"conformance vectors not found: expected {SHARED} beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def postgres_admin_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except sa.exc.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_SERVER_URL} ({error.orig}); "
            "start it (scripts/services start) or set KINDRED_TEST_POSTGRES_URL"
        )
    yield engine
    engine.dispose()


@pytest.fixture
def make_database_url(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], str]]:
    """Factory: an empty, private database URL for the given dialect."""
    created: list[str] = []

    def make(dialect: str) -> str:
        if dialect == "sqlite":
            return f"sqlite:///{tmp_path / f'kindred-{uuid.uuid4().hex[:8]}.db'}"
        if dialect == "postgresql":
            admin: sa.Engine = request.getfixturevalue("postgres_admin_engine")
            name = f"kt_{uuid.uuid4().hex[:16]}"
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            created.append(name)
            return make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(
                hide_password=False
            )
        raise ValueError(dialect)

    yield make
    if created:
        admin = request.getfixturevalue("postgres_admin_engine")
        with admin.connect() as connection:
            for name in created:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over both supported dialects."""
    return str(request.param)


@pytest.fixture
def empty_database(dialect: str, make_database_url: Callable[[str], str]) -> Iterator[Database]:
    """A ``Database`` on an empty private database (no tables) of the current dialect."""
    database = Database(make_database_url(dialect))
    yield database
    database.dispose()
