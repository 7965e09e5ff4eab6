"""Alembic environment: uses the caller's Database (engine per dialect) when given."""

from __future__ import annotations

from typing import Any

from alembic import context

import kindred.models  # noqa: F401  (registers every table on the metadata)
from kindred.db.base import metadata
from kindred.db.engine import Database
from kindred.graph.search_models import ENGINE_MANAGED
from kindred.records.storage import INDEX_PREFIX, UNIQUE_PREFIX

config = context.config


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Runtime field indexes follow metadata, not migrations; the search engines' own tables
    # and indexes (FTS5, GIN) are raw DDL of migration 0007, not models.
    if name in ENGINE_MANAGED:
        return False
    return not (type_ == "index" and name and name.startswith((INDEX_PREFIX, UNIQUE_PREFIX)))


def run_migrations_online() -> None:
    database = config.attributes.get("database") or Database(
        config.get_main_option("sqlalchemy.url") or ""
    )
    with database.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
