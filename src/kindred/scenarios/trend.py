"""A scenario's runs over time and its latest failure, for the health endpoint (the console's
runs-over-time chart and the operations overview).

The period is cut into equal buckets, aligned on multiples of their width since the epoch
(UTC), so the same run falls into the same bucket whenever it is asked for; the width is the
smallest of ``WIDTHS`` that keeps the period within ``MAX_BUCKETS`` buckets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.scenarios.models import ScenarioRun, ScenarioRunStep

WIDTHS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86_400, 7 * 86_400)
MAX_BUCKETS = 60


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def bucket_width(since: datetime, until: datetime) -> int:
    """Seconds per bucket for the period from ``since`` to ``until``."""
    span = max(1.0, (_utc(until) - _utc(since)).total_seconds())
    return next((w for w in WIDTHS if span / w <= MAX_BUCKETS), WIDTHS[-1])


def run_buckets(runs: Sequence[Any], since: datetime, until: datetime) -> dict[str, Any]:
    """``runs`` (rows with ``status`` and ``started_at``) counted per bucket: succeeded,
    failed, and still in progress (running or waiting), oldest bucket first."""
    width = bucket_width(since, until)
    first = math.floor(_utc(since).timestamp() / width) * width
    count = max(1, math.ceil((_utc(until).timestamp() - first) / width))
    counts = [{"succeeded": 0, "failed": 0, "in_progress": 0} for _ in range(count)]
    for run in runs:
        index = int((_utc(run.started_at).timestamp() - first) // width)
        outcome = run.status if run.status in ("succeeded", "failed") else "in_progress"
        counts[min(max(index, 0), count - 1)][outcome] += 1
    buckets = [
        {"start": datetime.fromtimestamp(first + i * width, UTC).isoformat(), **counted}
        for i, counted in enumerate(counts)
    ]
    return {"bucket_seconds": width, "buckets": buckets}


def last_failure(session: Session, name: str, since: datetime) -> dict[str, Any] | None:
    """The newest failed run of the period: when it failed, and the step that failed with
    its stable error code (never the error text: it may quote values of records)."""
    run = session.execute(
        sa.select(ScenarioRun.id, ScenarioRun.started_at, ScenarioRun.finished_at)
        .where(
            ScenarioRun.scenario == name,
            ScenarioRun.started_at >= since,
            ScenarioRun.status == "failed",
        )
        .order_by(ScenarioRun.started_at.desc(), ScenarioRun.id.desc())
        .limit(1)
    ).first()
    if run is None:
        return None
    step = session.execute(
        sa.select(ScenarioRunStep.step, ScenarioRunStep.error_code)
        .where(ScenarioRunStep.run_id == run.id, ScenarioRunStep.status == "failed")
        .order_by(ScenarioRunStep.pointer)
        .limit(1)
    ).first()
    return {
        "at": _utc(run.finished_at or run.started_at).isoformat(),
        "step": step.step if step is not None else None,
        "error_code": step.error_code if step is not None else None,
    }
