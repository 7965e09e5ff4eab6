"""Records benchmark: bulk CSV import throughput, and HTTP latency/throughput of GET by id
and of a filtered, sorted page of 50 over N seeded accounts (filter and sort on an indexed
custom field), under C concurrent clients — on SQLite and PostgreSQL, side by side with the
targets.

    .venv/bin/python benchmarks/bench_records.py         # 100k customers, both dialects
    .venv/bin/python benchmarks/bench_records.py --customers 20000 --duration 5 --dialects sqlite

Ends with one JSON line of every figure. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.config import Settings
from kindred.records.seed import seed_demo_data
from kindred.records.service import RequestContext
from kindred.records.storage import refresh_statistics
from kindred.records.transfer import Importer
from kindred.services import Kindred

TARGETS = {"import_rows_per_s": 20_000, "get_p99_ms": 20.0, "page_p95_ms": 50.0}
POSTGRES_SERVER = os.environ.get(
    "KINDRED_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_database(dialect: str) -> Any:
    if dialect == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'bench.db'}"
        return
    admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    name = f"kindred_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(kindred: Kindred, customers: int) -> tuple[float, int]:
    """Seed, add an indexed custom field with values, refresh planner statistics."""
    started = time.perf_counter()
    counts = seed_demo_data(kindred.database, customers=customers, seed=7)
    seed_seconds = time.perf_counter() - started
    with kindred.database.write() as session:
        kindred.metadata.add_field(
            session,
            "account",
            {"name": "credit_score", "type": "number", "indexed": True, "minimum": 0},
            expected_version=None,
            actor_id=None,
            request_id="bench",
        )
    with kindred.database.write() as session:
        if kindred.database.dialect == "sqlite":
            session.execute(
                sa.text(
                    "UPDATE records SET data = "
                    "json_set(data, '$.credit_score', abs(random()) % 1000) "
                    "WHERE object = 'account'"
                )
            )
        else:
            session.execute(
                sa.text(
                    "UPDATE records SET data = jsonb_set(data, '{credit_score}', "
                    "to_jsonb(floor(random() * 1000)::int)) WHERE object = 'account'"
                )
            )
    with kindred.database.write() as session:
        refresh_statistics(session.connection())
    return seed_seconds, sum(counts.values())


def bench_import(kindred: Kindred, rows: int) -> float:
    buffer = io.StringIO()
    buffer.write("First Name,Last Name,Email,Phone Number,Job Title,City\n")
    for index in range(rows):
        buffer.write(
            f"Wei{index},Zhang{index},bench.{index}@example.com,+86 21 5555 {index % 10000:04d},"
            f"Engineer,Shanghai\n"
        )
    buffer.seek(0)
    importer = Importer(kindred.records)
    started = time.perf_counter()
    with kindred.database.write() as session:
        report = importer.run(
            session,
            RequestContext(SYSTEM_PRINCIPAL, request_id="bench"),
            "contact",
            buffer,
            preset="hubspot-contacts",
        )
    elapsed = time.perf_counter() - started
    assert report.created == rows and not report.errors, report.errors[:3]
    return rows / elapsed


def api_key(kindred: Kindred) -> str:
    with kindred.database.write() as session:
        user = kindred.auth.create_user(
            session, email="bench@example.com", name="Bench", password=None, roles=["admin"]
        )
        _, key = kindred.auth.create_api_key(session, user["id"], "bench")
    return key


def account_ids(kindred: Kindred, limit: int = 20_000) -> list[str]:
    with kindred.database.read() as session:
        return list(
            session.execute(
                sa.text(f"SELECT id FROM records WHERE object = 'account' LIMIT {limit}")
            ).scalars()
        )


async def load(
    base: str,
    key: str,
    make_path: Any,
    concurrency: int,
    duration: float,
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        base, connector=connector, headers={"X-API-Key": key}
    ) as session:

        async def worker(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                path = make_path(rng)
                started = time.perf_counter()
                async with session.get(path) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarize(latencies: list[float], errors: int, elapsed: float) -> dict[str, float]:
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


def run_dialect(dialect: str, arguments: argparse.Namespace) -> dict[str, Any]:
    with scratch_database(dialect) as url:
        settings = Settings(mode="test", database_url=url)
        kindred = Kindred.create(settings)
        kindred.bootstrap()
        print(f"[{dialect}] seeding {arguments.customers:,} customers …", flush=True)
        seed_seconds, seeded_rows = prepare(kindred, arguments.customers)
        print(f"[{dialect}] seeded {seeded_rows:,} rows in {seed_seconds:.1f}s", flush=True)
        import_rate = bench_import(kindred, arguments.import_rows)
        print(f"[{dialect}] import: {import_rate:,.0f} rows/s", flush=True)
        key = api_key(kindred)
        ids = account_ids(kindred)
        # As `kindred seed` and `kindred import` do after bulk loads (see Database.checkpoint).
        kindred.database.checkpoint()
        kindred.close()

        port = free_port()
        environment = {**os.environ, "KINDRED_DATABASE_URL": url, "KINDRED_MODE": "test"}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "kindred.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(arguments.workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=environment,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    time.sleep(0.5)
            time.sleep(1.0)

            def by_id(rng: random.Random) -> str:
                return f"/api/v1/objects/account/records/{rng.choice(ids)}"

            def page(rng: random.Random) -> str:
                return (
                    f"/api/v1/objects/account/records?filter[kind]=hospital"
                    f"&filter[credit_score][gte]={rng.randrange(0, 900)}"
                    "&sort=-credit_score&limit=50"
                )

            results: dict[str, Any] = {
                "dialect": dialect,
                "customers": arguments.customers,
                "seeded_rows": seeded_rows,
                "seed_rows_per_s": round(seeded_rows / seed_seconds),
                "import_rows_per_s": round(import_rate),
            }
            for name, make_path in (("get_by_id", by_id), ("filtered_page", page)):
                asyncio.run(load(base, key, make_path, arguments.concurrency, 2.0))  # warm-up
                latencies, errors, elapsed = asyncio.run(
                    load(base, key, make_path, arguments.concurrency, arguments.duration)
                )
                results[name] = summarize(latencies, errors, elapsed)
                print(f"[{dialect}] {name}: {results[name]}", flush=True)
            return results
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=50_000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--dialects", default="sqlite,postgresql")
    arguments = parser.parse_args()
    all_results = [run_dialect(d.strip(), arguments) for d in arguments.dialects.split(",")]

    print()
    print(
        f"{'dialect':<11}{'import rows/s':>15}{'GET p50':>9}{'GET p99':>9}{'GET rps':>9}"
        f"{'page p50':>10}{'page p95':>10}{'page rps':>10}"
    )
    for r in all_results:
        get, page = r["get_by_id"], r["filtered_page"]
        print(
            f"{r['dialect']:<11}{r['import_rows_per_s']:>15,}{get['p50_ms']:>9}"
            f"{get['p99_ms']:>9}{get['rps']:>9}{page['p50_ms']:>10}{page['p95_ms']:>10}"
            f"{page['rps']:>10}"
        )
    print(
        f"targets: import ≥ {TARGETS['import_rows_per_s']:,} rows/s, GET p99 < "
        f"{TARGETS['get_p99_ms']} ms, filtered page p95 < {TARGETS['page_p95_ms']} ms "
        f"({arguments.concurrency} concurrent clients, {os.cpu_count()} cores)"
    )
    for r in all_results:
        r["meets"] = {
            "import": r["import_rows_per_s"] >= TARGETS["import_rows_per_s"],
            "get_p99": r["get_by_id"]["p99_ms"] < TARGETS["get_p99_ms"],
            "page_p95": r["filtered_page"]["p95_ms"] < TARGETS["page_p95_ms"],
        }
    print(json.dumps({"benchmark": "records", "targets": TARGETS, "results": all_results}))


if __name__ == "__main__":
    main()
