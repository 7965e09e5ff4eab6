"""Prometheus metrics of the scenario engine (per process, as Prometheus clients expect)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

STARTED = Counter("kindred_scenario_runs_started_total", "Runs started", ["scenario"])
FINISHED = Counter(
    "kindred_scenario_runs_finished_total", "Runs finished, by outcome", ["scenario", "status"]
)
RUN_SECONDS = Histogram(
    "kindred_scenario_run_seconds",
    "From the triggering event's time to the run's last step",
    ["scenario"],
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600),
)
STEP_SECONDS = Histogram(
    "kindred_scenario_step_seconds",
    "Time an action took",
    ["scenario", "action"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)
STEP_FAILURES = Counter(
    "kindred_scenario_step_failures_total", "Failed action attempts", ["scenario", "action", "code"]
)
LOOPS = Counter(
    "kindred_scenario_loops_prevented_total",
    "Events not acted on because their chain was too deep",
    ["scenario"],
)
NOBODY = Counter(
    "kindred_scenario_not_fired_no_principal_total",
    "Events a scenario did not act on because its run-as principal cannot act",
    ["scenario"],
)
