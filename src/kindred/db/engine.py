"""Database engines per dialect behind one small interface.

Why two engines over one pool: SQLite allows one writer at a time, and a transaction that
starts as a reader and later writes can fail with SQLITE_BUSY mid-way. Writers therefore take
the write lock up front (``BEGIN IMMEDIATE``) and wait ``busy_timeout`` for it; readers use a
plain deferred ``BEGIN`` and run concurrently under WAL. PostgreSQL needs none of this.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from kindred.db.sqlite_lock import begin_immediate

WRITE_OPTION = "kindred_write"


def _json_serializer(value: Any) -> str:
    # orjson is several times faster than json.dumps on the bulk paths (imports, seeds).
    return orjson.dumps(value).decode()


JSON_OPTIONS: dict[str, Any] = {
    "json_serializer": _json_serializer,
    "json_deserializer": orjson.loads,
}


class DialectConfiguration(abc.ABC):
    """How to build and tune an engine for one database dialect."""

    name: str

    @abc.abstractmethod
    def create(self, url: str, **engine_kwargs: Any) -> Engine: ...


class SQLiteConfiguration(DialectConfiguration):
    name = "sqlite"
    busy_timeout_ms = 30_000

    def create(self, url: str, **engine_kwargs: Any) -> Engine:
        parsed = make_url(url)
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # As many pooled connections as the server's worker threads: opening a SQLite
        # connection (and running its pragmas) per request costs more than the query.
        if database and database != ":memory:":
            engine_kwargs.setdefault("pool_size", 40)
            engine_kwargs.setdefault("max_overflow", 20)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": self.busy_timeout_ms / 1000},
            **JSON_OPTIONS,
            **engine_kwargs,
        )
        busy_timeout = self.busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy (not pysqlite) decide when transactions begin, so that writers
            # can say BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
            # Durable after commit with WAL, at a fraction of FULL's fsync cost.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA cache_size=-65536")
            # Sorts for index builds and ORDER BY stay in memory instead of temp files.
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            options = connection.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":
                return  # each statement commits by itself; a BEGIN here would never commit
            if options.get(WRITE_OPTION, False):
                begin_immediate(connection.connection.driver_connection)
            else:
                connection.exec_driver_sql("BEGIN")

        return engine


class PostgresConfiguration(DialectConfiguration):
    name = "postgresql"

    def create(self, url: str, **engine_kwargs: Any) -> Engine:
        parsed = make_url(url)
        if parsed.drivername in ("postgresql", "postgres"):
            # psycopg 3 is the supported driver; plain postgresql:// URLs default to it.
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine_kwargs.setdefault("pool_size", 20)
        engine_kwargs.setdefault("max_overflow", 20)
        engine_kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **JSON_OPTIONS, **engine_kwargs)


CONFIGURATIONS: dict[str, DialectConfiguration] = {
    "sqlite": SQLiteConfiguration(),
    "postgresql": PostgresConfiguration(),
    "postgres": PostgresConfiguration(),
}


def configuration_for(url: str) -> DialectConfiguration:
    backend = make_url(url).get_backend_name()
    try:
        return CONFIGURATIONS[backend]
    except KeyError:
        supported = ", ".join(sorted({c.name for c in CONFIGURATIONS.values()}))
        raise ValueError(
            f"unsupported database URL scheme {backend!r}; supported: {supported}"
        ) from None


class Database:
    """Engines and sessions for one database URL.

    Services receive a ``Database`` (or a session from it) explicitly; nothing in the domain
    packages reaches for a module-global engine.
    """

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        # SQL parameters are the data (names, phones …): errors must not carry them to logs.
        engine_kwargs.setdefault("hide_parameters", True)
        self.configuration = configuration_for(url)
        self.engine = self.configuration.create(url, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; rolled back on exit (it must not write)."""
        with self._read_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session that commits on success and rolls back everything on any error."""
        with self._write_sessions() as session, session.begin():
            yield session

    def checkpoint(self) -> None:
        """SQLite: fold the write-ahead log back into the database file after a bulk load.

        Readers must consult every WAL frame index; after a load of hundreds of MB they do so
        on every page read until a checkpoint runs, which made list queries 10× slower.
        """
        if self.dialect == "sqlite":
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        self.engine.dispose()


_INSERT_NEW: dict[tuple[type[Any], str], Any] = {}


def _insert_new_statement(model: type[Any], dialect: str) -> Any:
    found = _INSERT_NEW.get((model, dialect))
    if found is None:
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # RETURNING tells "inserted" from "already there" on both dialects; the row count
        # cannot (psycopg reports -1 for it once the statement's cursor is closed).
        key = list(model.__table__.primary_key.columns)
        found = _INSERT_NEW[(model, dialect)] = make(model).on_conflict_do_nothing().returning(*key)
    return found


def insert_new(session: Session, model: type[Any], values: dict[str, Any]) -> bool:
    """INSERT a row unless one with the same key exists (no read first, no error); True when
    it was inserted. SQLite and PostgreSQL both say ``ON CONFLICT DO NOTHING``. The
    statement is built once per model: building one costs more than running it."""
    statement = _insert_new_statement(model, session.get_bind().dialect.name)
    # The connection, not the session: a Core statement needs no ORM processing.
    return session.connection().execute(statement, values).first() is not None


_UPSERT: dict[tuple[type[Any], str, tuple[str, ...]], Any] = {}


def upsert(
    session: Session, model: type[Any], values: dict[str, Any] | list[dict[str, Any]]
) -> None:
    """INSERT rows, or UPDATE the given columns of the row with the same primary key — one
    statement (``ON CONFLICT (pk) DO UPDATE``) on both dialects, built once per shape; a list
    of rows (all with the same keys) goes out as one executemany."""
    if isinstance(values, list) and not values:
        return
    first = values[0] if isinstance(values, list) else values
    dialect = session.get_bind().dialect.name
    key = (model, dialect, tuple(sorted(first)))
    statement = _UPSERT.get(key)
    if statement is None:
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        insert = make(model)
        primary = [c.name for c in model.__table__.primary_key.columns]
        statement = _UPSERT[key] = insert.on_conflict_do_update(
            index_elements=primary,
            set_={name: insert.excluded[name] for name in key[2] if name not in primary},
        )
    session.connection().execute(statement, values)


def driver_rows(
    session: Session, sql: str, parameters: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Run a plain SQL query on the session's own connection (same transaction) through the
    DB-API cursor, skipping SQLAlchemy's compile and execute layers; ``?`` placeholders.

    For the few queries on every read of a hot path, where SQLAlchemy's per-call overhead
    costs several times the lookup itself.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        sql = sql.replace("?", "%s")
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(parameters))
        return list(cursor.fetchall())
    finally:
        cursor.close()
