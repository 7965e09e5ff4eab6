"""Shared fixtures: real databases on both dialects.

Every test that touches persistence runs on SQLite *and* PostgreSQL. PostgreSQL tests get a
brand-new database each (created from the server named by ``KINDRED_TEST_POSTGRES_URL``) so
tests never see each other's rows and can run in parallel.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kindred.db import Database

SHARED = Path(__file__).resolve().parents[2] / "shared"
POSTGRES_SERVER_URL = os.environ.get(
    "KINDRED_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DIALECTS = ["sqlite", "postgresql"]
TEST_SECRET = "test-secret-" + "x" * 40  # shared by the fixture services and CLI runs


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
            return (
                make_url(POSTGRES_SERVER_URL)
                .set(database=name)
                .render_as_string(hide_password=False)
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


# -- application fixtures ------------------------------------------------------------------------


def _bootstrap(url: str) -> None:
    from kindred.services import Kindred

    services = Kindred.create(settings=make_test_settings(url))
    services.bootstrap()
    if services.database.dialect == "sqlite":
        with services.database.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    services.close()


@pytest.fixture(scope="session")
def sqlite_template_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database with standard objects and roles, built once per session;
    tests get file copies of it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
    _bootstrap(url)
    return url


@pytest.fixture(scope="session")
def postgresql_template_url(postgres_admin_engine: sa.Engine) -> Iterator[str]:
    """The PostgreSQL counterpart; tests get ``CREATE DATABASE … TEMPLATE`` copies."""
    name = f"kt_template_{uuid.uuid4().hex[:12]}"
    with postgres_admin_engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    _bootstrap(url)
    yield url
    with postgres_admin_engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Directories make_test_settings creates (bus files, ledger witnesses): removed when the
# session ends, so runs leave no kindred-bus-*/kindred-witness-* behind in the temp dir.
_PRIVATE_DIRS: list[str] = []


def _private_dir(prefix: str) -> str:
    path = tempfile.mkdtemp(prefix=prefix)
    _PRIVATE_DIRS.append(path)
    return path


@pytest.fixture(scope="session", autouse=True)
def _remove_private_dirs() -> Iterator[None]:
    """Session-wide: torn down after every other fixture, once no service uses the dirs."""
    yield
    while _PRIVATE_DIRS:
        shutil.rmtree(_PRIVATE_DIRS.pop(), ignore_errors=True)


def make_test_settings(url: str, **overrides: Any) -> Any:
    """Settings for a test. Background work (consumers, scheduler) is off unless a test asks:
    it would make unrelated tests slower and their database contents less predictable."""
    from kindred.config import Settings

    values: dict[str, Any] = {
        "mode": "test",
        "database_url": url,
        "secret_key": TEST_SECRET,
        "password_time_cost": 1,
        "password_memory_kib": 64,
        "run_consumers": False,
        "scheduler_enabled": False,
        "ledger_checkpoint_seconds": 0,
        # The suite's own receivers (webhooks, reference services) listen on loopback.
        "scenario_outbound_allow": ["127.0.0.1", "::1", "localhost"],
    }
    if not url.startswith("sqlite"):
        # Only when not given: a subprocess handed the parent's bus would leave an unused dir.
        if "bus_url" not in overrides:
            values["bus_url"] = f"sqlite:///{_private_dir('kindred-bus-')}/events.db"
        # Each test's own ledger witness (for SQLite it sits beside the database file).
        if "ledger_witness_dir" not in overrides:
            values["ledger_witness_dir"] = _private_dir("kindred-witness-")
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def database_url(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A private, bootstrapped database of the current dialect."""
    template = request.getfixturevalue(f"{dialect}_template_url")
    if dialect == "sqlite":
        source = Path(make_url(template).database or "")
        target = tmp_path / f"kindred-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(source, target)
        yield f"sqlite:///{target}"
        return
    admin: sa.Engine = request.getfixturevalue("postgres_admin_engine")
    name = f"kt_{uuid.uuid4().hex[:16]}"
    template_name = make_url(template).database
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    yield make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def kindred(database_url: str) -> Iterator[Any]:
    """All services over a private bootstrapped database (both dialects)."""
    from kindred.services import Kindred

    services = Kindred.create(settings=make_test_settings(database_url))
    yield services
    services.close()


@pytest.fixture
def client(kindred: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from kindred.app import create_app

    with TestClient(create_app(kindred, bootstrap=False)) as test_client:
        yield test_client


def service_principal(
    kindred: Any, roles: tuple[str, ...] = ("admin",), email: str = "automation@test.local"
) -> str:
    """A service principal (a user of kind ``service``, no password) that tests' scenarios
    and agents run as; made once per database. Call it outside any open write session."""
    with kindred.database.write() as session:
        found = kindred.auth.find_user_id(session, email)
        if found:
            return str(found)
        user = kindred.auth.create_user(
            session,
            email=email,
            name="Test automation",
            password=None,
            roles=list(roles),
            extra={"kind": "service"},
        )
        return str(user["id"])
