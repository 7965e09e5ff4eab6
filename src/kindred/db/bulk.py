"""Driver-level bulk inserts for the hot bulk paths (seeding, ledger batches).

Why not ``session.execute(insert(table), rows)``: at tens of thousands of rows SQLAlchemy's
per-parameter type processing costs more than the database work. Values are converted here
exactly as the column types would store them: JSON as text (cast to jsonb on PostgreSQL),
timestamps as naive UTC text on SQLite (SQLAlchemy's storage format, see ``UTCDateTime``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.orm import Session


def sqlite_timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class BulkInserter:
    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.dialect = connection.dialect.name
        dbapi = connection.connection.driver_connection
        self.cursor = dbapi.cursor()  # type: ignore[union-attr]

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        json_columns: frozenset[str] = frozenset(),
        time_columns: frozenset[str] = frozenset(),
        json_encoded: bool = False,
    ) -> None:
        """``json_encoded``: the JSON columns' values are JSON text already."""
        if not rows:
            return
        sqlite = self.dialect == "sqlite"
        markers = [
            ("?" if sqlite else "%s::jsonb") if c in json_columns else ("?" if sqlite else "%s")
            for c in columns
        ]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(markers)})"
        json_positions = (
            [] if json_encoded else [i for i, c in enumerate(columns) if c in json_columns]
        )
        time_positions = [i for i, c in enumerate(columns) if c in time_columns] if sqlite else []
        if json_positions or time_positions:
            converted = []
            for row in rows:
                values = list(row)
                for i in json_positions:
                    # None is SQL NULL (an absent value), not the JSON text 'null'.
                    if values[i] is not None:
                        values[i] = orjson.dumps(values[i]).decode()
                for i in time_positions:
                    values[i] = sqlite_timestamp(values[i])
                converted.append(values)
            rows = converted
        self.cursor.executemany(sql, rows)
