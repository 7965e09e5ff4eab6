"""Taking SQLite's write lock with short retries instead of its busy handler.

Why: SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25 … ms between tries. A write lock is
held for one transaction (a millisecond or two), so a waiting writer usually sleeps far longer
than it needed to, and with several writers (server threads, the scenario engine, other
processes) that showed up as throughput collapsing and latency spikes. Retrying every
0.1–2 ms takes the lock soon after it is free.
"""

from __future__ import annotations

import sqlite3
import time

WAIT_SECONDS = 30.0


def begin_immediate(connection: sqlite3.Connection, *, wait_seconds: float = WAIT_SECONDS) -> None:
    """``BEGIN IMMEDIATE`` on a pysqlite connection, retrying while the database is locked.

    The connection's own busy timeout is switched off for the attempt (and restored), so
    each try answers at once.
    """
    restore = connection.execute("PRAGMA busy_timeout").fetchone()[0]
    connection.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + wait_seconds
        delay = 0.0001
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.002)
    finally:
        connection.execute(f"PRAGMA busy_timeout={int(restore)}")
