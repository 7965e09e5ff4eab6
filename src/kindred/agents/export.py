"""Pushing decision traces to an OpenTelemetry collector (OTLP/HTTP, JSON encoding).

With ``KINDRED_OTLP_TRACES_URL`` set (a collector's traces endpoint, for example
``http://otel-collector:4318/v1/traces``), the agents' upkeep loop (``runtime.maintain``, in
the API server and the worker) sends every finished live run tree's spans (a span per run,
per step and per kept tool attempt) — the same document ``GET /api/v1/agent-runs/{id}/otlp``
returns — oldest first, ``BATCH`` trees per request and up to ``BATCHES_PER_ROUND`` requests
per round. A tree is marked exported (``agent_trace_exports``) only once the collector
answered 2xx, so a collector that is down or refuses loses nothing: the next round sends the
same trees again (at least once; a collector deduplicates by trace and span ids, which are
derived from the run ids and stable). ``KINDRED_OTLP_TRACES_HEADERS`` adds headers to every
request (a collector's token: ``Authorization=Bearer%20…``). Without the URL nothing is sent
and nothing is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import sqlalchemy as sa

from kindred.agents.models import AgentRun, TraceExport
from kindred.db import insert_new

log = logging.getLogger("kindred.agents")
BATCH = 50  # run trees per request
BATCHES_PER_ROUND = 40  # up to 2,000 trees per upkeep round (15 s): ~130 finished flows/s
TIMEOUT_S = 10.0


def pending(session: Any, limit: int | None = None) -> list[str]:
    """Finished live run trees (on the ledger) whose traces the collector has not accepted."""
    return list(
        session.execute(
            sa.select(AgentRun.id)
            .outerjoin(TraceExport, TraceExport.run_id == AgentRun.id)
            .where(
                AgentRun.parent_id.is_(None),
                AgentRun.mode == "live",
                AgentRun.ledger_index.is_not(None),
                TraceExport.run_id.is_(None),
            )
            .order_by(AgentRun.finished_at, AgentRun.id)
            .limit(limit if limit is not None else BATCH)
        ).scalars()
    )


def request_body(kindred: Any, session: Any, run_ids: list[str]) -> dict[str, Any]:
    """One OTLP ``ExportTraceServiceRequest`` holding every tree's resource spans."""
    resource_spans: list[Any] = []
    for run_id in run_ids:
        resource_spans += kindred.agents.otlp(session, run_id)["resourceSpans"]
    return {"resourceSpans": resource_spans}


async def export_once(
    kindred: Any,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT_S,
) -> int:
    """Send one batch of pending trees (with ``headers``); returns how many the collector
    accepted (0 when there was nothing to send or it refused — the trees stay pending)."""
    async with _client(headers, timeout) as client:
        return await _send_batch(kindred, client, url)


async def export_pending(
    kindred: Any,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    batches: int = BATCHES_PER_ROUND,
    timeout: float = TIMEOUT_S,
) -> int:
    """Send batches until nothing is pending, the collector refuses, or ``batches`` were
    sent (one upkeep round, over one HTTP session); returns how many trees the collector
    accepted."""
    sent = 0
    async with _client(headers, timeout) as client:
        for _ in range(batches):
            accepted = await _send_batch(kindred, client, url)
            sent += accepted
            if accepted < BATCH:
                break
    return sent


def _client(headers: Mapping[str, str] | None, timeout: float) -> aiohttp.ClientSession:
    # The timeout holds for each request; the headers go with every one.
    return aiohttp.ClientSession(
        headers={**(headers or {}), "Content-Type": "application/json"},
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


async def _send_batch(kindred: Any, client: aiohttp.ClientSession, url: str) -> int:
    def collect() -> tuple[list[str], dict[str, Any]]:
        with kindred.database.read() as session:
            ids = pending(session, BATCH)
            return ids, request_body(kindred, session, ids)

    run_ids, body = await asyncio.to_thread(collect)
    if not run_ids:
        return 0
    try:
        async with client.post(url, json=body) as answer:
            if answer.status // 100 != 2:
                detail = (await answer.text())[:200]
                log.warning(
                    "the OTLP collector at %s refused %d traces: %s %s",
                    url,
                    len(run_ids),
                    answer.status,
                    detail,
                )
                return 0
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("the OTLP collector at %s is unreachable: %s", url, error)
        return 0

    def mark() -> None:
        now = time.time()
        with kindred.database.write() as session:
            # Another process may have sent and marked the same trees meanwhile.
            for run_id in run_ids:
                insert_new(session, TraceExport, {"run_id": run_id, "exported_at": now})

    await asyncio.to_thread(mark)
    return len(run_ids)
