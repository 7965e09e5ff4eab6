"""Ledger benchmark: durable batched appends on SQLite and PostgreSQL, then proof generation
and verification at N entries (default 1,000,000), side by side with the targets.

    .venv/bin/python benchmarks/bench_ledger.py
    .venv/bin/python benchmarks/bench_ledger.py --entries 100000 --dialects sqlite

Ends with one JSON line of every figure. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_records import scratch_database
from kindred.config import Settings
from kindred.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from kindred.services import Kindred

TARGETS = {"sqlite_appends_per_s": 50_000, "proof_ms": 1.0, "verify_ms": 0.2}
BATCH = 5_000


def run(dialect: str, entries: int) -> dict[str, Any]:
    with scratch_database(dialect) as url:
        kindred = Kindred.create(Settings(mode="test", database_url=url))
        kindred.bootstrap()
        payload = {"ticket": "T-1", "engineer": "u-42", "hours": 3.5, "outcome": "resolved"}
        started = time.perf_counter()
        done = 0
        while done < entries:
            count = min(BATCH, entries - done)
            # Each batch is one durable transaction (committed, fsync'd per the dialect).
            with kindred.database.write() as session:
                kindred.ledger.append_many(
                    session,
                    [("service.fulfilled", payload, [f"s-{done + i}"]) for i in range(count)],
                )
            done += count
        append_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with kindred.database.write() as session:
            tree = kindred.ledger.tree(session)
            checkpoint = kindred.ledger.checkpoint(session)
        build_seconds = time.perf_counter() - started
        size = tree.size
        root = tree.root()
        rng = random.Random(1)
        indexes = [rng.randrange(size) for _ in range(2000)]
        proof_times, verify_times = [], []
        for index in indexes:
            t0 = time.perf_counter()
            proof = tree.inclusion_proof(index, size)
            t1 = time.perf_counter()
            verify_inclusion(index, size, tree.levels[0][index], proof, root)
            t2 = time.perf_counter()
            proof_times.append((t1 - t0) * 1000)
            verify_times.append((t2 - t1) * 1000)
        consistency_times = []
        for _ in range(500):
            first = rng.randrange(1, size)
            t0 = time.perf_counter()
            proof = tree.consistency_proof(first, size)
            verify_consistency(first, size, proof, tree.root(first), root)
            consistency_times.append((time.perf_counter() - t0) * 1000)
        assert leaf_hash(b"") != root
        kindred.close()
        return {
            "dialect": dialect,
            "entries": size,
            "checkpoint_size": checkpoint.size,
            "appends_per_s": round(entries / append_seconds),
            "tree_load_s": round(build_seconds, 2),
            "inclusion_proof_ms_p50": round(statistics.median(proof_times), 4),
            "inclusion_proof_ms_p99": round(sorted(proof_times)[int(0.99 * len(proof_times))], 4),
            "inclusion_verify_ms_p50": round(statistics.median(verify_times), 4),
            "inclusion_verify_ms_p99": round(
                sorted(verify_times)[int(0.99 * len(verify_times))], 4
            ),
            "consistency_prove_and_verify_ms_p50": round(statistics.median(consistency_times), 4),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--dialects", default="sqlite,postgresql")
    arguments = parser.parse_args()
    results = []
    for dialect in arguments.dialects.split(","):
        print(
            f"[{dialect}] appending {arguments.entries:,} entries in batches of {BATCH:,} …",
            flush=True,
        )
        result = run(dialect.strip(), arguments.entries)
        print(f"[{dialect}] {result}", flush=True)
        results.append(result)
    print()
    print(
        f"{'dialect':<11}{'appends/s':>11}{'proof p50 ms':>14}{'proof p99 ms':>14}"
        f"{'verify p50 ms':>15}{'verify p99 ms':>15}"
    )
    for r in results:
        print(
            f"{r['dialect']:<11}{r['appends_per_s']:>11,}{r['inclusion_proof_ms_p50']:>14}"
            f"{r['inclusion_proof_ms_p99']:>14}{r['inclusion_verify_ms_p50']:>15}"
            f"{r['inclusion_verify_ms_p99']:>15}"
        )
    print(
        f"targets: ≥ {TARGETS['sqlite_appends_per_s']:,} appends/s batched on SQLite; proof "
        f"generation < {TARGETS['proof_ms']} ms; verification < {TARGETS['verify_ms']} ms"
    )
    print(json.dumps({"benchmark": "ledger", "targets": TARGETS, "results": results}))


if __name__ == "__main__":
    main()
