"""Multi-agent benchmark: the article's purchase-intent flow — the compliance, inventory and
service agents in parallel, over HTTP to the four reference systems on loopback, joined into
one recommendation — on the embedded default (SQLite, the runtime in-process).

    .venv/bin/python benchmarks/bench_agents.py
    .venv/bin/python benchmarks/bench_agents.py --sequential 100 --duration 5 --rate 50

Every reference system (ERP, insurance registry, contract/payment history, knowledge base)
is its own process with its own SQLite database, started with its demo data, exactly as
``kindred demo`` starts them; they share the machine's cores with Kindred. A flow is one
``purchase_intent_review`` run of a demo purchase intent (the eight demo cases in turn: most
end with a recommendation, one waits for a compliance approval — its task created, its
trace stored), measured from the call to the durable result: 4 agent runs, 21 steps, 9 HTTP
calls, 4 CRM record reads per agent, every step checkpointed, one ledger entry per flow.

Three phases, after a warm-up: (1) sequential flows — latency with nothing else running;
(2) a steady open-loop load at ``--rate`` flows/s (the target: 50) — latency under load;
(3) closed-loop saturation with ``--concurrency`` flows in flight — flows/s. Side by side:
the targets (p95 < 150 ms, ≥ 50 flows/s) and the article's 8.3 s for the same case. The
last line is JSON. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SYSTEMS = {
    "erp": "inventory_url",
    "insurance": "insurance_url",
    "contracts": "contracts_url",
    "knowledge": "knowledge_url",
}
ARTICLE_SECONDS = 8.3
TARGET_P95_MS = 150.0
TARGET_FLOWS = 50.0


@contextlib.contextmanager
def reference_system(module: str, db: Path) -> Iterator[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            f"kindred.reference.{module}",
            "--db",
            str(db),
            "--port",
            "0",
            "--seed-demo",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        if not ready:
            raise SystemExit(f"the reference {module} did not start within 30 s")
        line = process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"the reference {module} did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        process.terminate()
        process.wait(timeout=10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(latencies: list[float]) -> dict[str, float]:
    return {
        "flows": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
    }


async def run(args: argparse.Namespace, kindred: Any, intents: list[str]) -> dict[str, Any]:
    from kindred.agents.runtime import runtime_for

    runtime = runtime_for(kindred)
    counter = 0
    outcomes: dict[str, int] = {}

    async def flow() -> float:
        nonlocal counter
        intent = intents[counter % len(intents)]
        counter += 1
        started = time.perf_counter()
        summary = await runtime.start("purchase_intent_review", {"purchase_intent": intent})
        elapsed = (time.perf_counter() - started) * 1000
        if summary["status"] not in ("succeeded", "waiting"):
            raise SystemExit(f"a flow failed: {summary}")
        key = (summary.get("outputs") or {}).get("action") or summary["status"]
        outcomes[key] = outcomes.get(key, 0) + 1
        return elapsed

    for _ in range(args.warmup):
        await flow()
    sequential = [await flow() for _ in range(args.sequential)]
    print(f"sequential: {figures(sequential)}", flush=True)

    # Open loop: a flow starts every 1/rate s whatever the others do (arrivals do not wait).
    steady: list[float] = []
    tasks = []
    interval = 1.0 / args.rate
    begin = time.perf_counter()
    total = int(args.duration * args.rate)
    for index in range(total):
        delay = begin + index * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(flow()))
    steady = list(await asyncio.gather(*tasks))
    steady_seconds = time.perf_counter() - begin
    print(f"steady {args.rate}/s: {figures(steady)} over {steady_seconds:.1f} s", flush=True)

    # Closed loop: `concurrency` flows always in flight.
    saturated: list[float] = []
    stop_at = time.perf_counter() + args.duration

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            saturated.append(await flow())

    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - begin
    throughput = len(saturated) / elapsed
    print(
        f"saturation x{args.concurrency}: {throughput:.1f} flows/s, {figures(saturated)}",
        flush=True,
    )
    await runtime.checkpoints.drain()
    writes = runtime.checkpoints.writes
    batches = runtime.checkpoints.batches
    kindred.extras.pop("agent_runtime", None)
    await runtime.aclose()
    return {
        "sequential": figures(sequential),
        "steady": {
            **figures(steady),
            "rate": args.rate,
            "achieved_rate": round(len(steady) / steady_seconds, 1),
        },
        "saturation": {
            **figures(saturated),
            "concurrency": args.concurrency,
            "flows_per_s": round(throughput, 1),
        },
        "outcomes": outcomes,
        "state_writes_per_commit": round(writes / max(1, batches), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=TARGET_FLOWS, help="flows/s of the steady phase"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each load phase")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from kindred.agents.demo import seed_case
    from kindred.config import Settings
    from kindred.events.runtime import freeze_startup_heap
    from kindred.services import Kindred

    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-agents-"))
    with contextlib.ExitStack() as stack:
        urls = {
            SYSTEMS[name]: stack.enter_context(reference_system(name, folder / f"{name}.db"))
            for name in SYSTEMS
        }
        settings = Settings(
            database_url=f"sqlite:///{folder / 'kindred.db'}",
            run_consumers=False,
            scheduler_enabled=False,
            ledger_checkpoint_seconds=0,
            **urls,
        )
        kindred = Kindred.create(settings)
        kindred.bootstrap()
        with kindred.database.write() as session:
            automation = kindred.auth.create_user(
                session,
                email="automation@bench.local",
                name="Benchmark automation",
                password=None,
                roles=["integration"],
                extra={"kind": "service"},
            )
            kindred.agents.install_examples(session, run_as=automation["id"])
            intents = list(seed_case(session, kindred.records).values())
        freeze_startup_heap()  # as the server and worker do
        print(f"cores: {os.cpu_count()}, database: {settings.database_url}", flush=True)
        results = asyncio.run(run(args, kindred, intents))
        kindred.close()
    steady, saturation = results["steady"], results["saturation"]
    rows = [
        ("p50 latency, sequential", f"{results['sequential']['p50_ms']} ms", "-"),
        (
            "p95 latency, sequential",
            f"{results['sequential']['p95_ms']} ms",
            f"< {TARGET_P95_MS:g} ms",
        ),
        (f"p50 latency at {args.rate:g} flows/s", f"{steady['p50_ms']} ms", "-"),
        (
            f"p95 latency at {args.rate:g} flows/s",
            f"{steady['p95_ms']} ms",
            f"< {TARGET_P95_MS:g} ms",
        ),
        (
            f"flows/s, {args.concurrency} in flight",
            f"{saturation['flows_per_s']}",
            f">= {TARGET_FLOWS:g}",
        ),
        ("the article's figure for the same flow", f"{ARTICLE_SECONDS} s", "-"),
    ]
    print()
    print(f"{'what':<45}{'measured':>16}{'target':>14}")
    for what, measured, target in rows:
        print(f"{what:<45}{measured:>16}{target:>14}")
    summary = {
        "benchmark": "agents",
        **results,
        "targets": {"p95_ms": TARGET_P95_MS, "flows_per_s": TARGET_FLOWS},
        "article_seconds": ARTICLE_SECONDS,
        "p95_under_load_ok": steady["p95_ms"] < TARGET_P95_MS,
        "throughput_ok": saturation["flows_per_s"] >= TARGET_FLOWS,
        "cores": os.cpu_count(),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
