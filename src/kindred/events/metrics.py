"""Prometheus metrics of the event bus (process-wide, as Prometheus clients expect).

Lag and dead-letter counts are gauges filled in at scrape time from the bus and the database,
so they are right even when another process (a worker) did the work.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INGESTED = Counter(
    "kindred_events_ingested_total",
    "Events durably stored, by type and channel (duplicates excluded)",
    ["type", "channel"],
)
DUPLICATES = Counter(
    "kindred_events_duplicates_total",
    "Events received again with a known source+id (stored once, acknowledged again)",
    ["channel"],
)
REJECTED = Counter(
    "kindred_events_rejected_total",
    "Events refused and dead-lettered, by type and reason",
    ["type", "reason"],
)
INGEST_LATENCY = Histogram(
    "kindred_events_ingest_seconds",
    "Time from receiving a request (or message) to its durable acknowledgement",
    ["channel"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CONSUMER_LAG = Gauge(
    "kindred_events_consumer_lag", "Events not yet acknowledged by a consumer group", ["group"]
)
DEAD_LETTERS = Gauge("kindred_events_dead_letters", "Dead letters by status", ["status"])
CONSUMED = Counter(
    "kindred_events_consumed_total", "Deliveries handled and acknowledged", ["group"]
)
CONSUMER_FAILURES = Counter(
    "kindred_events_consumer_failures_total", "Deliveries whose handler failed", ["group"]
)
